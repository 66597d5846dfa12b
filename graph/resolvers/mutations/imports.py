"""importContacts, previewImport, clearNewData; the importTemplate query."""

from __future__ import annotations

import strawberry

from crm.errors import BadInput
from crm.services import imports as import_service
from graph.context import Info
from graph.ids import decode_id
from graph.resolvers.loaders import CONTACT_COLUMNS, CONTACT_USERS
from graph.resolvers.mutations import changed, joined_row
from graph.schema.contacts import Contact
from graph.schema.imports import (
    ClearNewDataInput,
    ImportColumn,
    ImportContactsInput,
    ImportFormat,
    ImportPreview,
    ImportTemplate,
    PreviewImportInput,
)
from graph.schema.jobs import BulkJob, load_job
from graph.uploads import upload_chunks


@strawberry.type
class ImportMutations:
    @strawberry.mutation(
        description="Import contacts or leads from a .csv, .xlsx or legacy .xls file, as a job (BulkJob): "
        "bad rows are reported (errors, and a CSV report in file) and skipped, good rows imported. The "
        "file is read before the job is queued: an unreadable file or a bad mapping is BAD_USER_INPUT."
    )
    async def import_contacts(self, info: Info, input: ImportContactsInput) -> BulkJob:
        mapping = None
        if input.mapping is not None:
            mapping = {m.column: m.field for m in input.mapping}
            if len(mapping) != len(input.mapping):
                raise BadInput("mapping names a column twice", field="mapping")
        job = await import_service.start_import(
            info.context.require_actor(),
            stream=upload_chunks(input.file),
            filename=getattr(input.file, "filename", None),
            mode=input.mode.value,
            mapping=mapping,
            dry_run=input.dry_run,
        )
        changed(info)
        return await load_job(info, job.id)  # type: ignore[return-value]

    @strawberry.mutation(
        description="Read a file as importContacts would, importing nothing: its columns, the field each "
        "would fill, suggestions for the others, a few rows (a mutation: only mutations take uploads)."
    )
    async def preview_import(self, info: Info, input: PreviewImportInput) -> ImportPreview:
        found = await import_service.preview(
            info.context.require_actor(), upload_chunks(input.file), getattr(input.file, "filename", None)
        )
        return ImportPreview(
            filename=found.filename,
            format=found.format,
            sheet=found.sheet,
            rows=found.rows,
            columns=[
                ImportColumn(column=g.column, field=g.field, suggestions=g.suggestions) for g in found.columns
            ],
            sample=found.sample,
        )

    @strawberry.mutation(
        description="Clear a contact's new-data mark (hasNewData) once its new data was seen."
    )
    async def clear_new_data(self, info: Info, input: ClearNewDataInput) -> Contact:
        contact = await import_service.clear_new_data(
            info.context.require_actor(), decode_id(input.contact_id, "Contact", "contactId")
        )
        changed(info)
        return Contact.from_row(await joined_row(info, contact, CONTACT_COLUMNS, CONTACT_USERS))


@strawberry.type
class ImportQueries:
    @strawberry.field(
        description="The example file for importContacts: the sheet name and columns (every importable "
        "contact field and the account's custom fields) and a signed download link."
    )
    async def import_template(self, info: Info, format: ImportFormat = ImportFormat.XLSX) -> ImportTemplate:
        actor = info.context.require_actor()
        found = await import_service.template_columns(actor.account_id, format.value)
        return ImportTemplate(
            name=found.name,
            content_type=found.content_type,
            sheet_name=found.sheet_name,
            columns=found.columns,
            _format=format.value,
            _account_id=actor.account_id,
        )
