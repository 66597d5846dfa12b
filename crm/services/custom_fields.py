"""Custom fields (A6): the account's definitions (admins), each contact's values, "apply to all".

Rules (the README says the same):

- A key is a lowercase slug `[a-z][a-z0-9_]{0,62}`, unique in the account (archived fields
  included); key and type never change (create another field instead).
- SELECT and MULTI_SELECT need 1 to 100 distinct options (each 1 to 100 characters); the other
  types take none. Removing an option that contacts hold is refused (CONFLICT naming how many
  contacts hold it): clear or change their values first. Renaming is removing plus adding.
- At most 200 definitions per account, archived ones included.
- `defaultValue` is checked by the type. A contact without a value shows the default
  (`isSet: false`); setting null clears the contact's value (refused for required fields).
- Archiving hides the field from cards and `setCustomFieldValues` refuses its key; the values
  are kept, and `restoreCustomField` brings the field back with them.
- `setCustomFieldValues` is atomic (every value is checked before anything is written), takes
  at most 100 values and journals one CUSTOM_FIELD_CHANGED entry with [before, after] per key
  that changed; its hook is `custom_field_values_changed`.
- `applyCustomFieldToAll` queues a background job (crm/jobs.py) that gives every live contact
  without a value this one, in batches of one transaction each: one multi-row insert of values
  and one of journey entries per batch (no hook per contact; no live update per entry), then
  one `custom_field_applied` account event with the counts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from tortoise.backends.base.client import BaseDBAsyncClient

from crm import jobs, regions
from crm import validation as v
from crm.account_events import queue_account_event
from crm.actor import Actor, ActorKind, Role
from crm.clock import utcnow
from crm.custom_values import CHOICE_TYPES, Context, Definition, FieldType, ValueError_, clean, shown, stored
from crm.errors import BadInput, Conflict, Forbidden, NotFound
from crm.journey import JourneyKind
from crm.models import Account, Contact, CustomField, CustomFieldValue, JourneyEvent
from crm.services import _scoped
from crm.uow import display_name, unit_of_work

MAX_FIELDS = 200
MAX_OPTIONS = 100
MAX_OPTION_LENGTH = 100
MAX_VALUES = 100
MAX_LABEL = 120
KEY = re.compile(r"[a-z][a-z0-9_]{0,62}")
APPLY_KIND = "custom_field.apply_to_all"
APPLIED_HOOK = "custom_field_applied"


def _admin(actor: Actor, what: str) -> None:
    if actor.kind is ActorKind.USER and actor.role is not Role.ADMIN:
        raise Forbidden(f"only admins can {what}")


def definition(field: CustomField) -> Definition:
    return Definition(field.key, FieldType(field.type), tuple(field.options or ()))


async def context(account_id: int) -> Context:
    """The account's region (phones) and currency (MONEY without one)."""
    currency = await Account.filter(id=account_id).values_list("currency", flat=True)
    return Context(await regions.phone_region(account_id), (currency[0] if currency else None) or "USD")


# --------------------------------------------------------------------------------------
# Definitions
# --------------------------------------------------------------------------------------


def clean_key(key: Any, field: str = "key") -> str:
    if not isinstance(key, str) or not KEY.fullmatch(key):
        shown_key = v.quoted(key) if isinstance(key, str) else repr(key)
        raise BadInput(
            f"{field} {shown_key} is not a key: a lowercase letter, then up to 62 lowercase letters, "
            "digits or underscores (e.g. favourite_colour)",
            field=field,
        )
    return key


def _clean_options(type_: FieldType, options: Sequence[str] | None) -> list[str]:
    if type_ not in CHOICE_TYPES:
        if options:
            raise BadInput(
                f"options are only for SELECT and MULTI_SELECT fields, not {type_.value}", field="options"
            )
        return []
    if not options:
        raise BadInput(f"a {type_.value} field needs options: 1 to {MAX_OPTIONS} choices", field="options")
    if len(options) > MAX_OPTIONS:
        raise BadInput(f"{len(options)} options given; at most {MAX_OPTIONS}", field="options")
    cleaned: list[str] = []
    for option in options:
        text = v.clean_text(option, "options", max_length=MAX_OPTION_LENGTH, identity=True)
        if text is None:
            raise BadInput("an option cannot be empty", field="options")
        if text in cleaned:
            raise BadInput(f"option {text!r} is given twice; options must be distinct", field="options")
        cleaned.append(text)
    return cleaned


def _clean_default(d: Definition, raw: Any, ctx: Context) -> Any:
    """The default in the form a value is shown in (None: no default)."""
    if raw is None:
        return None
    return shown(d.type, clean(d, raw, ctx, field="defaultValue"))


async def list_fields(account_id: int, include_archived: bool = False) -> list[CustomField]:
    query = CustomField.filter(account_id=account_id)
    if not include_archived:
        query = query.filter(archived_at__isnull=True)
    return await query.order_by("id")


async def create_field(
    actor: Actor,
    *,
    label: str,
    key: str,
    type: FieldType,
    options: Sequence[str] | None = None,
    required: bool = False,
    default_value: Any = None,
) -> CustomField:
    _admin(actor, "define custom fields")
    key = clean_key(key)
    label_text = v.clean_text(label, "label", max_length=MAX_LABEL, required=True, identity=True)
    type_ = FieldType(type)
    choices = _clean_options(type_, options)
    default = _clean_default(
        Definition(key, type_, tuple(choices)), default_value, await context(actor.account_id)
    )
    async with unit_of_work(actor) as uow:
        count = await CustomField.filter(account_id=actor.account_id).using_db(uow.conn).count()
        if count >= MAX_FIELDS:
            raise Conflict(
                f"this account has {count} custom fields, the most it can have ({MAX_FIELDS}, archived "
                "ones included)"
            )
        taken = await CustomField.filter(account_id=actor.account_id, key=key).using_db(uow.conn).first()
        if taken is not None:
            state = " (archived: restoreCustomField brings it back)" if taken.archived_at else ""
            raise Conflict(f"key {key!r} is already a custom field of this account{state}", field="key")
        return await CustomField.create(
            account_id=actor.account_id,
            key=key,
            label=label_text,
            type=type_.value,
            options=choices,
            required=bool(required),
            default_value=json_value(default),
            using_db=uow.conn,
        )


async def _locked_field(
    conn: BaseDBAsyncClient, actor: Actor, *, field_id: int | None = None, key: str | None = None
) -> CustomField:
    if field_id is None and key is None:
        raise BadInput("give the field's id or its key", field="id")
    scope: dict[str, Any] = {"account_id": actor.account_id}
    if field_id is not None:
        scope["id"] = field_id
    else:
        scope["key"] = key
    found = await CustomField.filter(**scope).using_db(conn).select_for_update().first()
    if found is None:
        what = f"id {field_id}" if field_id is not None else f"key {key!r}"
        raise NotFound(f"no custom field with {what} in this account")
    return found


async def _holders(conn: BaseDBAsyncClient, field: CustomField, removed: list[str]) -> int:
    """How many contacts hold one of the `removed` options of a choice field."""
    if field.type == FieldType.SELECT:
        return await CustomFieldValue.filter(field_id=field.id, value_text__in=removed).using_db(conn).count()
    postgres = conn.capabilities.dialect == "postgres"
    if postgres:  # the GIN index (value_json jsonb_path_ops) serves @>
        anyof = " OR ".join(f"value_json @> ${i + 2}::jsonb" for i in range(len(removed)))
        params: list[Any] = [field.id, *(f'["{_json_text(o)}"]' for o in removed)]
        sql = f"SELECT COUNT(*) AS n FROM custom_field_value WHERE field_id = $1 AND ({anyof})"
    else:
        marks = ", ".join("?" for _ in removed)
        sql = (
            "SELECT COUNT(*) AS n FROM custom_field_value WHERE field_id = ? AND EXISTS "
            f"(SELECT 1 FROM json_each(value_json) j WHERE j.value IN ({marks}))"
        )
        params = [field.id, *removed]
    rows = await conn.execute_query_dict(sql, params)
    return int(rows[0]["n"])


def _json_text(option: str) -> str:
    return orjson.dumps(option).decode()[1:-1]


def json_value(value: Any) -> dict[str, Any] | None:
    """The stored form of a default: {"value": default}. A JSONField takes a plain string for
    JSON text (and would refuse "red"), so the value is never stored bare."""
    return None if value is None else {"value": value}


def default_of(stored_default: Any) -> Any:
    return stored_default["value"] if stored_default else None


async def update_field(
    actor: Actor,
    *,
    field_id: int | None = None,
    key: str | None = None,
    type: FieldType | None = None,
    changes: Mapping[str, Any],
) -> CustomField:
    """Change label, options, required, defaultValue (those given in `changes`). The field is
    found by id, or by key; `key` with an id, or `type`, must be the field's own: neither changes."""
    _admin(actor, "change custom fields")
    if key is not None:
        clean_key(key)
    ctx = await context(actor.account_id)
    async with unit_of_work(actor) as uow:
        field = await _locked_field(uow.conn, actor, field_id=field_id, key=key if field_id is None else None)
        if key is not None and key != field.key:
            raise BadInput(
                f"a custom field's key cannot change (this one's is {field.key!r}): create a new field "
                "with the new key instead",
                field="key",
            )
        if type is not None and FieldType(type).value != field.type:
            raise BadInput(
                f"a custom field's type cannot change (this one is {field.type}): create a new field "
                "of the new type instead",
                field="type",
            )
        if "label" in changes:
            field.label = v.clean_text(
                changes["label"], "label", max_length=MAX_LABEL, required=True, identity=True
            )
        if "options" in changes:
            options = _clean_options(FieldType(field.type), changes["options"])
            removed = [o for o in field.options or () if o not in options]
            if removed:
                holders = await _holders(uow.conn, field, removed)
                if holders:
                    names = ", ".join(repr(o) for o in removed[:5])
                    raise Conflict(
                        f"{holders} contact{'s hold' if holders != 1 else ' holds'} {names} of "
                        f"{field.key!r}: change or clear their values before removing the option",
                        field="options",
                    )
            field.options = options
        if "required" in changes:
            if changes["required"] is None:
                raise BadInput("required cannot be null", field="required")
            field.required = bool(changes["required"])
        if "default_value" in changes:
            field.default_value = json_value(_clean_default(definition(field), changes["default_value"], ctx))
        elif "options" in changes and field.default_value is not None:
            # The default must still be one of the options.
            _clean_default(definition(field), default_of(field.default_value), ctx)
        await field.save(using_db=uow.conn)
    return field


async def set_archived(actor: Actor, key: str, archived: bool) -> CustomField:
    _admin(actor, "archive custom fields" if archived else "restore custom fields")
    clean_key(key)
    async with unit_of_work(actor) as uow:
        field = await _locked_field(uow.conn, actor, key=key)
        if archived and field.archived_at is None:
            field.archived_at = utcnow()
        elif not archived and field.archived_at is not None:
            field.archived_at = None
        await field.save(using_db=uow.conn)
    return field


# --------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------


async def _definitions(actor: Actor, keys: Sequence[str], field: str = "values") -> dict[str, CustomField]:
    found = {f.key: f for f in await CustomField.filter(account_id=actor.account_id, key__in=list(keys))}
    for key in keys:
        definition_ = found.get(key)
        if definition_ is None:
            raise ValueError_(key, "no custom field with this key in this account", field)
        if definition_.archived_at is not None:
            raise ValueError_(
                key, "the field is archived: an admin can restore it (restoreCustomField)", field
            )
    return found


def _check_keys(values: Sequence[tuple[str, Any]], field: str) -> list[str]:
    if len(values) > MAX_VALUES:
        raise BadInput(f"{len(values)} values given; at most {MAX_VALUES} per call", field=field)
    keys = [key for key, _ in values]
    for key in keys:
        if not isinstance(key, str) or not KEY.fullmatch(key):
            raise ValueError_(str(key)[:70], "not a custom field key", field)
    repeated = next((k for i, k in enumerate(keys) if k in keys[:i]), None)
    if repeated is not None:
        raise ValueError_(repeated, "the key is given twice", field)
    return keys


async def prepare_for_new_contact(
    actor: Actor, values: Sequence[tuple[str, Any]]
) -> list[tuple[CustomField, dict[str, Any]]]:
    """Check the custom field values createContact was given (`customFields`), before its
    transaction: every required field without a default must be among them, not null."""
    keys = _check_keys(values, "customFields")
    fields = await _definitions(actor, keys, "customFields") if keys else {}
    ctx = await context(actor.account_id) if keys else None
    prepared = []
    for key, raw in values:
        columns = clean(definition(fields[key]), raw, ctx, field="customFields")  # type: ignore[arg-type]
        if columns is not None:
            prepared.append((fields[key], columns))
    given = {field.key for field, _ in prepared}
    required = await CustomField.filter(account_id=actor.account_id, required=True, archived_at__isnull=True)
    for field in required:
        if field.key not in given and default_of(field.default_value) is None:
            raise ValueError_(
                field.key, "the field is required and has no default: give it a value", "customFields"
            )
    return prepared


async def write_for_new_contact(
    conn: BaseDBAsyncClient, contact: Contact, prepared: Sequence[tuple[CustomField, dict[str, Any]]]
) -> dict[str, list[Any]]:
    """Store what `prepare_for_new_contact` checked; the changes for CONTACT_CREATED's entry
    (`customFields.<key>: [None, value]`)."""
    if not prepared:
        return {}
    await CustomFieldValue.bulk_create(
        [
            CustomFieldValue(field_id=field.id, contact_id=contact.id, **stored(columns))
            for field, columns in prepared
        ],
        using_db=conn,
    )
    return {f"customFields.{field.key}": [None, shown(field.type, columns)] for field, columns in prepared}


async def set_values(actor: Actor, contact_id: int, values: Sequence[tuple[str, Any]]) -> Contact:
    """Set, change or clear (None) some custom field values of one contact, all or none."""
    if not values:
        raise BadInput("give at least one value", field="values")
    keys = _check_keys(values, "values")
    # Another account's contact is NOT_FOUND before anything is said about the keys.
    if not await Contact.filter(id=contact_id, account_id=actor.account_id).exists():
        raise NotFound(f"no contact with id {contact_id} in this account")
    fields = await _definitions(actor, keys)
    ctx = await context(actor.account_id)
    cleaned: dict[str, dict[str, Any] | None] = {}
    for key, raw in values:
        field = fields[key]
        columns = clean(definition(field), raw, ctx)
        if columns is None and field.required:
            raise ValueError_(key, "the field is required: it cannot be cleared")
        cleaned[key] = columns
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)
        ids = [fields[k].id for k in keys]
        existing = {
            row.field_id: row  # type: ignore[attr-defined]
            for row in await CustomFieldValue.filter(contact_id=contact.id, field_id__in=ids).using_db(
                uow.conn
            )
        }
        changes: dict[str, list[Any]] = {}
        new_rows: list[CustomFieldValue] = []
        for key in keys:
            field, columns = fields[key], cleaned[key]
            row = existing.get(field.id)
            before = shown(field.type, _columns(row)) if row is not None else None
            after = shown(field.type, columns)
            if before == after:
                continue
            changes[key] = [before, after]
            if columns is None:
                await CustomFieldValue.filter(id=row.id).using_db(uow.conn).delete()  # type: ignore[union-attr]
            elif row is None:
                new_rows.append(CustomFieldValue(field_id=field.id, contact_id=contact.id, **stored(columns)))
            else:
                await (
                    CustomFieldValue.filter(id=row.id)
                    .using_db(uow.conn)
                    .update(**stored(columns), updated_at=utcnow())
                )
        if new_rows:
            await CustomFieldValue.bulk_create(new_rows, using_db=uow.conn)
        if changes:
            labels = ", ".join(fields[k].label for k in changes)
            await uow.record(
                contact,
                JourneyKind.CUSTOM_FIELD_CHANGED,
                f"{actor.name} changed {labels} on {_name(contact)}",
                changes,
                subject={"keys": list(changes)},
            )
    return contact


def _columns(row: CustomFieldValue) -> dict[str, Any]:
    return {column: getattr(row, column) for column in stored(None)}


def _name(contact: Contact) -> str:
    return display_name(contact.first_name, contact.last_name, contact.business_name, contact.email)


# --------------------------------------------------------------------------------------
# Apply to all (a background job)
# --------------------------------------------------------------------------------------


async def apply_to_all(actor: Actor, key: str, value: Any) -> Any:
    """Queue a job giving every live contact without a value of `key` this value. The contacts
    are those that exist when it is queued (ids up to the highest then): a contact created
    later gets the field's default, not this job's value."""
    _admin(actor, "apply a custom field to all contacts")
    clean_key(key)
    field = (await _definitions(actor, [key]))[key]
    columns = clean(definition(field), value, await context(actor.account_id), field="value")
    if columns is None:
        raise ValueError_(key, "give a value to apply: null would change nothing", "value")
    async with unit_of_work(actor) as uow:
        live = Contact.filter(account_id=actor.account_id, archived_at__isnull=True).using_db(uow.conn)
        top = next(iter(await live.order_by("-id").limit(1).values_list("id", flat=True)), 0)
        count = await live.count()
        params = {
            "field_id": field.id,
            "key": field.key,
            "label": field.label,
            "value": shown(field.type, columns),
            "upto_id": top,
            "actor": {"kind": actor.kind.value, "name": actor.name, "user_id": actor.user_id},
        }
        job = await jobs.enqueue(uow.conn, actor, APPLY_KIND, params, total=count, cursor={"after_id": 0})
    jobs.queued()
    return job


async def _apply_step(job: Any, conn: BaseDBAsyncClient, size: int) -> jobs.StepOutcome:
    params = job.params
    field = await CustomField.filter(id=params["field_id"], account_id=job.account_id).using_db(conn).first()
    if field is None or field.archived_at is not None:
        raise jobs.JobFailed(f"the custom field {params['key']!r} was archived or deleted; the job stopped")
    value = params["value"]
    currency = value.get("currency") if isinstance(value, dict) else None
    columns = clean(definition(field), value, Context("US", currency or "USD"))
    after = int(job.cursor.get("after_id", 0))
    ids = (
        await Contact.filter(
            account_id=job.account_id, id__gt=after, id__lte=params["upto_id"], archived_at__isnull=True
        )
        .using_db(conn)
        .order_by("id")
        .limit(size)
        .values_list("id", flat=True)
    )
    if not ids:
        return jobs.StepOutcome(cursor={"after_id": after}, finished=True)
    # A range on the (field_id, contact_id) unique index, however stale the planner's statistics.
    having = set(
        await CustomFieldValue.filter(field_id=field.id, contact_id__gt=after, contact_id__lte=ids[-1])
        .using_db(conn)
        .values_list("contact_id", flat=True)
    )
    todo = [contact_id for contact_id in ids if contact_id not in having]
    if todo:
        # One multi-row INSERT of values and one of journey entries per batch (crm.jobs.insert_many).
        actor, now = params["actor"], utcnow()
        value_row = {"field_id": field.id, **stored(columns), "updated_at": now, "contact_id": None}
        await jobs.insert_many(conn, CustomFieldValue, value_row, "contact_id", todo)
        entry = {
            "account_id": job.account_id,
            "kind": JourneyKind.CUSTOM_FIELD_CHANGED.value,
            "occurred_at": now,
            "actor_kind": actor["kind"],
            "actor_user_id": actor["user_id"],
            "actor_name": actor["name"][:120],
            "summary": f"{actor['name']} applied {field.label} to all contacts"[:500],
            "changes": {field.key: [None, shown(field.type, columns)]},
            "subject_type": "BackgroundJob",
            "subject_id": job.id,
            "contact_id": None,
        }
        await jobs.insert_many(conn, JourneyEvent, entry, "contact_id", todo)
    return jobs.StepOutcome(
        cursor={"after_id": ids[-1]}, done=len(todo), skipped=len(having), finished=len(ids) < size
    )


async def _apply_finished(job: Any, conn: BaseDBAsyncClient) -> None:
    params, who = job.params, job.params["actor"]
    actor = Actor(job.account_id, ActorKind(who["kind"]), who["name"], who["user_id"])
    await queue_account_event(
        conn,
        actor,
        APPLIED_HOOK,
        f"{who['name']} applied {params['label']} to {job.done} contacts ({job.skipped} already had a value)",
        subject_type="BackgroundJob",
        subject_id=job.id,
        subject={
            "jobId": job.id,
            "key": params["key"],
            "label": params["label"],
            "value": params["value"],
            "filled": job.done,
            "skipped": job.skipped,
        },
    )


jobs.register(APPLY_KIND, _apply_step, _apply_finished)
