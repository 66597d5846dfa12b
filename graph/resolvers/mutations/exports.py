"""exportContacts and exportContact."""

from __future__ import annotations

from typing import Annotated

import strawberry

from crm import file_links
from crm.services import exports as service
from crm.services.targets import Target
from graph.context import Info
from graph.ids import decode_id
from graph.resolvers.mutations import changed
from graph.schema.contact_filter import filter_to_domain
from graph.schema.exports import EXPIRES_HELP, ContactExport, ExportContactsInput
from graph.schema.jobs import BulkJob, load_job


def export_target(input: ExportContactsInput) -> Target:
    """The input's one target (the service checks that exactly one is given)."""
    ids = [decode_id(value, "Contact", "ids") for value in input.ids] if input.ids is not None else None
    segment = decode_id(input.segment_id, "Segment", "segmentId") if input.segment_id is not None else None
    return Target(ids=ids, filter=filter_to_domain(input.filter), segment_id=segment, archived=input.archived)


@strawberry.type
class ExportMutations:
    @strawberry.mutation(
        description="Export contacts as a CSV or XLSX file, in the background (admins and managers): "
        "returns the job; its `file.downloadUrl` appears when it is DONE (job(id:) or the job "
        "subscription follow its progress). Fires contacts_exported once; no card changes."
    )
    async def export_contacts(self, info: Info, input: ExportContactsInput) -> BulkJob:
        job = await service.start_export(
            info.context.require_actor(), export_target(input), input.columns, input.format.value
        )
        changed(info)
        return await load_job(info, job.id)  # type: ignore[return-value]

    @strawberry.mutation(
        description="Everything tied to one contact, as a JSON document and a ZIP with its files (a GDPR "
        "access request; admins and managers). Journaled as CONTACT_EXPORTED."
    )
    async def export_contact(
        self,
        info: Info,
        id: strawberry.ID,
        expires_in: Annotated[
            int, strawberry.argument(description=EXPIRES_HELP)
        ] = file_links.DEFAULT_EXPIRES_IN,
    ) -> ContactExport:
        done = await service.export_contact(
            info.context.require_actor(),
            decode_id(id, "Contact"),
            base_url=str(info.context.request.base_url),
            expires_in=expires_in,
        )
        changed(info)
        job = await load_job(info, done.job.id)
        assert isinstance(job, BulkJob) and job.file is not None
        return ContactExport(document=done.document, file=job.file, job=job)
