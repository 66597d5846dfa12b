"""Custom fields (A6): definitions, typed values on the card, apply-to-all as a background job."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from crm import jobs, outbox
from crm.clock import utcnow
from crm.events import AccountEvent, CardEvent
from crm.models import Account, BackgroundJob, Contact, CustomFieldValue, JourneyEvent, OutboxRow
from dossier import Settings
from graph.ids import global_id_text
from plugins import hookimpl
from plugins.manager import builtin_names
from tests.conftest import Api, AppFactory, Tenant, make_tenant
from tests.test_fast_execution import both_over_http
from tests.test_statement_counts import account_of, add_contacts, measure

CREATE_FIELD = """mutation($i: CreateCustomFieldInput!) { createCustomField(input: $i) {
  id key label type options required defaultValue archived } }"""
UPDATE_FIELD = """mutation($i: UpdateCustomFieldInput!) { updateCustomField(input: $i) {
  id key label options required defaultValue } }"""
ARCHIVE = "mutation($i: CustomFieldKeyInput!) { archiveCustomField(input: $i) { key archived archivedAt } }"
RESTORE = "mutation($i: CustomFieldKeyInput!) { restoreCustomField(input: $i) { key archived } }"
SET = """mutation($i: SetCustomFieldValuesInput!) { setCustomFieldValues(input: $i) {
  customFields { field { key } value isSet } } }"""
APPLY = """mutation($i: ApplyCustomFieldToAllInput!) { applyCustomFieldToAll(input: $i) {
  id kind status total done skipped failed progress startedBy { name } } }"""
CANCEL = "mutation($i: CancelJobInput!) { cancelJob(input: $i) { id status } }"
JOB = """query($id: ID!) { job(id: $id) {
  id kind status total done skipped failed progress startedBy { name } createdAt startedAt finishedAt
  error } }"""
FIELDS = "query($a: Boolean!) { customFields(includeArchived: $a) { key label type archived } }"
CARD = """query($id: ID!) { contact(id: $id) {
  customFields { field { key label type options } value isSet }
  journey(first: 50, kinds: [CUSTOM_FIELD_CHANGED]) { nodes { kind summary changes { field before after } } }
} }"""
CREATE_CONTACT = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    @hookimpl
    def custom_field_values_changed(self, event: CardEvent) -> None:
        self.calls.append(("custom_field_values_changed", event))

    @hookimpl
    def custom_field_applied(self, event: AccountEvent) -> None:
        self.calls.append(("custom_field_applied", event))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, disabled_plugins=builtin_names(), job_batch_size=2)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def api(running_app: AppFactory, recorder: Recorder) -> Any:
    async with running_app(plugins=(recorder,)) as started:
        yield started


async def define(api: Api, key: str, type_: str, **extra: Any) -> dict[str, Any]:
    data = await api.data(
        CREATE_FIELD, {"i": {"label": key.replace("_", " ").title(), "key": key, "type": type_, **extra}}
    )
    return data["createCustomField"]


async def new_contact(api: Api, name: str = "Ada") -> str:
    return (await api.data(CREATE_CONTACT, {"i": {"firstName": name}}))["createContact"]["id"]


async def set_values(api: Api, contact_id: str, **values: Any) -> dict[str, Any]:
    pairs = [{"key": k, "value": v} for k, v in values.items()]
    return await api.post(SET, {"i": {"contactId": contact_id, "values": pairs}})


async def card(api: Api, contact_id: str) -> dict[str, Any]:
    return (await api.data(CARD, {"id": contact_id}))["contact"]


def values_of(contact: dict[str, Any]) -> dict[str, Any]:
    return {entry["field"]["key"]: entry["value"] for entry in contact["customFields"]}


ALL_TYPES = [
    ("note_text", "TEXT", {}),
    ("score", "NUMBER", {}),
    ("budget", "MONEY", {}),
    ("birthday", "DATE", {}),
    ("met_at", "DATETIME", {}),
    ("vip", "BOOLEAN", {}),
    ("colour", "SELECT", {"options": ["red", "green", "blue"]}),
    ("channels", "MULTI_SELECT", {"options": ["email", "sms", "phone"]}),
    ("website", "URL", {}),
    ("work_email", "EMAIL", {}),
    ("mobile", "PHONE", {}),
]


async def define_all(api: Api) -> None:
    for key, type_, extra in ALL_TYPES:
        await define(api, key, type_, **extra)


# Given -> shown, per type.
GOOD = {
    "note_text": ("  Likes\nboats  ", "Likes\nboats"),
    "score": ("12.50", 12.5),
    "budget": ({"amount": "1999.5", "currency": "EUR"}, {"amount": "1999.50", "currency": "EUR"}),
    "birthday": ("1990-02-28", "1990-02-28"),
    "met_at": ("2026-12-06T09:30:00+01:00", "2026-12-06T08:30:00+00:00"),
    "vip": (True, True),
    "colour": ("green", "green"),
    "channels": (["phone", "email"], ["email", "phone"]),
    "website": ("https://example.com/a?b=1", "https://example.com/a?b=1"),
    "work_email": ("Ada@EXAMPLE.com", "Ada@example.com"),
    "mobile": ("(415) 555-0123", "+14155550123"),
}


# --------------------------------------------------------------------------------------
# Values of every type
# --------------------------------------------------------------------------------------


async def test_every_type_is_checked_stored_and_shown(as_admin: Api, recorder: Recorder) -> None:
    await define_all(as_admin)
    contact_id = await new_contact(as_admin)
    await as_admin.runtime.dispatcher.drain()
    recorder.calls.clear()

    body = await set_values(as_admin, contact_id, **{k: given for k, (given, _) in GOOD.items()})
    assert "errors" not in body, body
    shown = {k: after for k, (_, after) in GOOD.items()}
    assert values_of(body["data"]["setCustomFieldValues"]) == shown

    contact = await card(as_admin, contact_id)
    assert values_of(contact) == shown
    assert [e["field"]["key"] for e in contact["customFields"]] == [k for k, _, _ in ALL_TYPES]
    assert all(e["isSet"] for e in contact["customFields"])
    [entry] = contact["journey"]["nodes"]
    assert entry["kind"] == "CUSTOM_FIELD_CHANGED"
    assert {c["field"]: [c["before"], c["after"]] for c in entry["changes"]} == {
        k: [None, v] for k, v in shown.items()
    }

    await as_admin.runtime.dispatcher.drain()
    [(hook, event)] = recorder.calls
    assert hook == "custom_field_values_changed"
    assert event.kind == "CUSTOM_FIELD_CHANGED" and event.changes["budget"] == [None, shown["budget"]]


async def test_numbers_money_defaults_and_changes(as_admin: Api) -> None:
    await define(as_admin, "score", "NUMBER")
    await define(as_admin, "budget", "MONEY")
    await define(as_admin, "yen", "MONEY")
    contact_id = await new_contact(as_admin)
    body = await set_values(
        as_admin, contact_id, score=3, budget="10", yen={"amount": 2000, "currency": "JPY"}
    )
    assert values_of(body["data"]["setCustomFieldValues"]) == {
        # 3 is an integer (not 3.0); MONEY without a currency is in the account's (USD).
        "score": 3,
        "budget": {"amount": "10.00", "currency": "USD"},
        "yen": {"amount": "2000", "currency": "JPY"},
    }
    await Account.filter().update(currency="EUR")
    body = await set_values(as_admin, contact_id, score="-0.125", budget=7.5)
    assert values_of(body["data"]["setCustomFieldValues"])["score"] == -0.125
    assert values_of(body["data"]["setCustomFieldValues"])["budget"] == {"amount": "7.50", "currency": "EUR"}
    contact = await card(as_admin, contact_id)
    newest = contact["journey"]["nodes"][0]
    assert {c["field"]: [c["before"], c["after"]] for c in newest["changes"]} == {
        "score": [3, -0.125],
        "budget": [{"amount": "10.00", "currency": "USD"}, {"amount": "7.50", "currency": "EUR"}],
    }
    # The same values again change nothing and journal nothing.
    await set_values(as_admin, contact_id, score="-0.125")
    assert len((await card(as_admin, contact_id))["journey"]["nodes"]) == 2


BAD = [
    ("note_text", 12, "not a number"),
    ("note_text", "x" * 1001, "at most 1000"),
    ("score", "twelve", "is not a number"),
    ("score", True, "not a boolean"),
    ("score", "1234567890.123456", "significant digits"),
    ("score", "0.00000000001", "decimal places"),
    ("score", "1e20", "between"),
    ("score", "NaN", "finite"),
    ("budget", {"amount": "19.999", "currency": "USD"}, "round it"),
    ("budget", {"amount": "-1"}, "negative"),
    ("budget", {"amount": "1", "currency": "EURO"}, "ISO 4217"),
    ("budget", {"currency": "USD"}, "needs an amount"),
    ("budget", {"amount": "1", "cents": 5}, "not cents"),
    ("birthday", "28/02/1990", "YYYY-MM-DD"),
    ("birthday", "1990-02-30", "YYYY-MM-DD"),
    ("birthday", 19900228, "not a number"),
    ("met_at", "2026-12-06T09:30:00", "no UTC offset"),
    ("met_at", "yesterday", "not an ISO 8601 time"),
    ("vip", "true", "true or false"),
    ("vip", 1, "true or false"),
    ("colour", "purple", "not one of its options"),
    ("colour", ["red"], "not a list"),
    ("channels", "email", "list of options"),
    ("channels", ["email", "email"], "given twice"),
    ("channels", ["fax"], "not one of its options"),
    ("website", "ftp://example.com", "http(s) URL"),
    ("website", "https://", "http(s) URL"),
    ("website", "https://exa mple.com", "http(s) URL"),
    ("work_email", "not-an-email", "not a valid email"),
    ("mobile", "12", "phone"),
]


@pytest.mark.parametrize(("key", "value", "says"), BAD, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(BAD)])
async def test_a_wrong_value_names_the_key_and_changes_nothing(
    as_admin: Api, key: str, value: Any, says: str
) -> None:
    await define_all(as_admin)
    contact_id = await new_contact(as_admin)
    # A good value first: the call is atomic, so it is not written either.
    body = await set_values(as_admin, contact_id, **{"vip": False, key: value})
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["key"] == key
    assert key in error["message"] and says in error["message"], error["message"]
    contact = await card(as_admin, contact_id)
    assert not any(e["isSet"] for e in contact["customFields"])
    assert contact["journey"]["nodes"] == []


async def test_bad_calls_to_set_values(as_admin: Api, acme: Tenant) -> None:
    await define(as_admin, "vip", "BOOLEAN")
    await define(as_admin, "tier", "SELECT", options=["gold", "silver"], required=True, defaultValue="silver")
    contact_id = await new_contact(as_admin)

    error = (await set_values(as_admin, contact_id, nope=True))["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "values", "key": "nope"}
    assert "no custom field with this key" in error["message"]

    error = (await set_values(as_admin, contact_id, tier=None))["errors"][0]
    assert error["extensions"]["key"] == "tier" and "required" in error["message"]

    pairs = [{"key": "vip", "value": True}, {"key": "vip", "value": False}]
    error = (await as_admin.post(SET, {"i": {"contactId": contact_id, "values": pairs}}))["errors"][0]
    assert error["extensions"]["key"] == "vip" and "twice" in error["message"]

    error = (await as_admin.post(SET, {"i": {"contactId": contact_id, "values": []}}))["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    many = [{"key": "vip", "value": True}] * 101
    error = (await as_admin.post(SET, {"i": {"contactId": contact_id, "values": many}}))["errors"][0]
    assert "at most 100" in error["message"]

    # Another account's contact is NOT_FOUND; so is an unknown one.
    globex = await make_tenant("Globex")
    theirs = await new_contact(as_admin.as_(globex.admin_key))
    error = (await set_values(as_admin, theirs, vip=True))["errors"][0]
    assert error["extensions"]["code"] == "NOT_FOUND"
    # ...and Globex cannot use Acme's keys.
    error = (await set_values(as_admin.as_(globex.admin_key), theirs, vip=True))["errors"][0]
    assert error["extensions"]["key"] == "vip" and "no custom field" in error["message"]

    # Any role may set values; the required field's default shows while unset.
    body = await set_values(as_admin.as_(acme.rep_key), contact_id, vip=True)
    assert values_of(body["data"]["setCustomFieldValues"]) == {"vip": True, "tier": "silver"}
    flags = {e["field"]["key"]: e["isSet"] for e in body["data"]["setCustomFieldValues"]["customFields"]}
    assert flags == {"vip": True, "tier": False}
    body = await set_values(as_admin, contact_id, vip=None)
    assert values_of(body["data"]["setCustomFieldValues"])["vip"] is None


# --------------------------------------------------------------------------------------
# Definitions
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "says"),
    [
        ({"key": "Colour"}, "is not a key"),
        ({"key": "1colour"}, "is not a key"),
        ({"key": "a" * 64}, "is not a key"),
        ({"key": "my-field"}, "is not a key"),
        ({"label": "  "}, "label cannot be empty"),
        ({"type": "TEXT", "options": ["a"]}, "only for SELECT and MULTI_SELECT"),
        ({"type": "SELECT", "options": []}, "needs options"),
        ({"type": "SELECT"}, "needs options"),
        ({"type": "SELECT", "options": ["a", "a"]}, "given twice"),
        ({"type": "SELECT", "options": ["a", " "]}, "cannot be empty"),
        ({"type": "SELECT", "options": [str(i) for i in range(101)]}, "at most 100"),
        ({"type": "SELECT", "options": ["x" * 101]}, "limit is 100"),
        ({"type": "SELECT", "options": ["a"], "defaultValue": "b"}, "not one of its options"),
        ({"type": "NUMBER", "defaultValue": "many"}, "is not a number"),
    ],
)
async def test_bad_definitions(as_admin: Api, field: dict[str, Any], says: str) -> None:
    given = {"label": "Colour", "key": "colour", "type": "TEXT", **field}
    error = await as_admin.error(CREATE_FIELD, {"i": given})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert says in error["message"], error["message"]
    assert (await as_admin.data(FIELDS, {"a": True}))["customFields"] == []


async def test_definitions_are_for_admins_and_keys_are_unique(as_admin: Api, acme: Tenant) -> None:
    field = await define(as_admin, "colour", "SELECT", options=["red", "green"], defaultValue="red")
    assert field["options"] == ["red", "green"] and field["defaultValue"] == "red"
    for key in (acme.manager_key, acme.rep_key):
        error = await as_admin.error(CREATE_FIELD, {"i": {"label": "X", "key": "x", "type": "TEXT"}}, key=key)
        assert error["extensions"]["code"] == "FORBIDDEN"
        error = await as_admin.error(UPDATE_FIELD, {"i": {"key": "colour", "label": "Hue"}}, key=key)
        assert error["extensions"]["code"] == "FORBIDDEN"
        error = await as_admin.error(ARCHIVE, {"i": {"key": "colour"}}, key=key)
        assert error["extensions"]["code"] == "FORBIDDEN"
        error = await as_admin.error(APPLY, {"i": {"key": "colour", "value": "red"}}, key=key)
        assert error["extensions"]["code"] == "FORBIDDEN"
    error = await as_admin.error(CREATE_FIELD, {"i": {"label": "Again", "key": "colour", "type": "TEXT"}})
    assert error["extensions"]["code"] == "CONFLICT" and "already" in error["message"]
    # Another account may use the same key.
    globex = await make_tenant("Globex")
    await define(as_admin.as_(globex.admin_key), "colour", "TEXT")
    listed = (await as_admin.data(FIELDS, {"a": False}))["customFields"]
    assert listed == [{"key": "colour", "label": "Colour", "type": "SELECT", "archived": False}]


async def test_the_number_of_definitions_is_capped(as_admin: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from crm.services import custom_fields

    monkeypatch.setattr(custom_fields, "MAX_FIELDS", 2)
    await define(as_admin, "a", "TEXT")
    await define(as_admin, "b", "TEXT")
    await as_admin.data(ARCHIVE, {"i": {"key": "b"}})
    error = await as_admin.error(CREATE_FIELD, {"i": {"label": "C", "key": "c", "type": "TEXT"}})
    assert error["extensions"]["code"] == "CONFLICT" and "(2, archived ones included)" in error["message"]


async def test_update_keeps_key_and_type_and_options_in_use(as_admin: Api) -> None:
    colour = await define(as_admin, "colour", "SELECT", options=["red", "green", "blue"])
    await define(as_admin, "channels", "MULTI_SELECT", options=["email", "sms", "phone"])
    first, second = await new_contact(as_admin, "A"), await new_contact(as_admin, "B")
    await set_values(as_admin, first, colour="red", channels=["sms", "phone"])
    await set_values(as_admin, second, colour="red", channels=["sms"])

    error = await as_admin.error(UPDATE_FIELD, {"i": {"id": colour["id"], "key": "hue"}})
    assert "key cannot change" in error["message"] and error["extensions"]["field"] == "key"
    error = await as_admin.error(UPDATE_FIELD, {"i": {"key": "colour", "type": "TEXT"}})
    assert "type cannot change" in error["message"] and error["extensions"]["field"] == "type"
    error = await as_admin.error(UPDATE_FIELD, {"i": {"key": "colour", "options": ["green", "blue"]}})
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["message"].startswith("2 contacts hold 'red' of 'colour'"), error["message"]
    error = await as_admin.error(UPDATE_FIELD, {"i": {"key": "channels", "options": ["email", "sms"]}})
    assert error["message"].startswith("1 contact holds 'phone' of 'channels'"), error["message"]
    error = await as_admin.error(UPDATE_FIELD, {"i": {"key": "nothing", "label": "X"}})
    assert error["extensions"]["code"] == "NOT_FOUND"
    error = await as_admin.error(UPDATE_FIELD, {"i": {"label": "X"}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"

    updated = (
        await as_admin.data(
            UPDATE_FIELD,
            {
                "i": {
                    "id": colour["id"],
                    "label": "Hue",
                    "options": ["red", "green", "teal"],
                    "defaultValue": "teal",
                }
            },
        )
    )["updateCustomField"]
    assert updated == {
        "id": colour["id"], "key": "colour", "label": "Hue", "options": ["red", "green", "teal"],
        "required": False, "defaultValue": "teal",
    }  # fmt: skip
    # Removing the option the default names is refused too.
    error = await as_admin.error(UPDATE_FIELD, {"i": {"key": "colour", "options": ["red", "green"]}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "not one of its options" in error["message"]
    # Not another account's field.
    globex = await make_tenant("Globex")
    error = await as_admin.error(
        UPDATE_FIELD, {"i": {"id": colour["id"], "label": "Mine"}}, key=globex.admin_key
    )
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_archive_hides_keeps_values_and_restore_brings_them_back(as_admin: Api) -> None:
    await define(as_admin, "vip", "BOOLEAN")
    await define(as_admin, "score", "NUMBER")
    contact_id = await new_contact(as_admin)
    await set_values(as_admin, contact_id, vip=True, score=7)

    archived = (await as_admin.data(ARCHIVE, {"i": {"key": "vip"}}))["archiveCustomField"]
    assert archived["archived"] and archived["archivedAt"]
    assert values_of(await card(as_admin, contact_id)) == {"score": 7}
    error = (await set_values(as_admin, contact_id, vip=False))["errors"][0]
    assert error["extensions"]["key"] == "vip" and "archived" in error["message"]
    error = await as_admin.error(APPLY, {"i": {"key": "vip", "value": True}})
    assert "archived" in error["message"]
    assert [f["key"] for f in (await as_admin.data(FIELDS, {"a": False}))["customFields"]] == ["score"]
    assert [f["key"] for f in (await as_admin.data(FIELDS, {"a": True}))["customFields"]] == ["vip", "score"]
    error = await as_admin.error(CREATE_FIELD, {"i": {"label": "VIP", "key": "vip", "type": "TEXT"}})
    assert "restoreCustomField" in error["message"]

    assert (await as_admin.data(RESTORE, {"i": {"key": "vip"}}))["restoreCustomField"]["archived"] is False
    assert values_of(await card(as_admin, contact_id)) == {"vip": True, "score": 7}


# --------------------------------------------------------------------------------------
# Apply to all: a background job
# --------------------------------------------------------------------------------------


async def _contacts(api: Api, tenant: Tenant, count: int) -> list[int]:
    return await add_contacts(await account_of(tenant), [(None, None, None)] * count)


async def test_apply_to_all_fills_contacts_without_a_value(
    as_admin: Api, acme: Tenant, recorder: Recorder
) -> None:
    await define(as_admin, "tier", "SELECT", options=["gold", "silver"])
    ids = await _contacts(as_admin, acme, 5)
    has_one = global_id_text("Contact", ids[1])
    await set_values(as_admin, has_one, tier="gold")
    archived = ids[4]
    await Contact.filter(id=archived).update(archived_at=utcnow())
    await as_admin.runtime.dispatcher.drain()
    recorder.calls.clear()

    job = (await as_admin.data(APPLY, {"i": {"key": "tier", "value": "silver"}}))["applyCustomFieldToAll"]
    assert job["status"] == "QUEUED" and job["kind"] == "custom_field.apply_to_all"
    assert (job["total"], job["done"], job["progress"], job["startedBy"]["name"]) == (4, 0, 0.0, "Acme Admin")

    await as_admin.runtime.dispatcher.drain()
    job = (await as_admin.data(JOB, {"id": job["id"]}))["job"]
    assert (job["status"], job["total"], job["done"], job["skipped"], job["failed"], job["progress"]) == (
        "DONE", 4, 3, 1, 0, 1.0,
    )  # fmt: skip
    assert job["startedAt"] and job["finishedAt"] and job["error"] is None
    values = dict(await CustomFieldValue.filter(contact_id__in=ids).values_list("contact_id", "value_text"))
    assert values == {ids[0]: "silver", ids[1]: "gold", ids[2]: "silver", ids[3]: "silver"}
    entries = await JourneyEvent.filter(kind="CUSTOM_FIELD_CHANGED", contact_id__in=ids).values(
        "contact_id", "changes", "actor_name", "subject_type"
    )
    filled = sorted(e["contact_id"] for e in entries if e["subject_type"] == "BackgroundJob")
    assert filled == [ids[0], ids[2], ids[3]]
    assert all(e["changes"] == {"tier": [None, "silver"]} for e in entries if e["subject_type"])
    # One hook for the whole job, none per contact.
    [(hook, event)] = recorder.calls
    assert hook == "custom_field_applied"
    assert event.subject == {
        "jobId": event.subject_id, "key": "tier", "label": "Tier", "value": "silver",
        "filled": 3, "skipped": 1,
    }  # fmt: skip
    # The card shows it.
    assert values_of(await card(as_admin, global_id_text("Contact", ids[0]))) == {"tier": "silver"}


async def test_a_worker_killed_between_batches_resumes_without_doing_anything_twice(
    as_admin: Api, acme: Tenant
) -> None:
    await define(as_admin, "vip", "BOOLEAN")
    ids = await _contacts(as_admin, acme, 5)
    await as_admin.runtime.dispatcher.drain()
    job = (await as_admin.data(APPLY, {"i": {"key": "vip", "value": True}}))["applyCustomFieldToAll"]

    # A worker claims the first step, commits its batch... and dies before marking the row done.
    [delivery] = [d for d in await outbox.claim_due(10, 0) if d.plugin == jobs.JOB_PLUGIN]
    assert await jobs.run_step(delivery.payload)
    assert await CustomFieldValue.filter(contact_id__in=ids).count() == 2
    row = await BackgroundJob.get(id=delivery.payload["job_id"])
    assert (row.status, row.done, row.step, row.cursor) == ("RUNNING", 2, 1, {"after_id": ids[1]})
    # The same step delivered again does nothing.
    assert not await jobs.run_step(delivery.payload)

    # Another worker takes over: the stale row again (its lease is over), then the next steps.
    await as_admin.runtime.dispatcher.drain()
    job = (await as_admin.data(JOB, {"id": job["id"]}))["job"]
    assert (job["status"], job["done"], job["skipped"], job["progress"]) == ("DONE", 5, 0, 1.0)
    assert await CustomFieldValue.filter(contact_id__in=ids).count() == 5
    assert await JourneyEvent.filter(kind="CUSTOM_FIELD_CHANGED", contact_id__in=ids).count() == 5
    assert await OutboxRow.filter(plugin=jobs.JOB_PLUGIN, status="PENDING").count() == 0


async def test_cancel_stops_before_the_next_batch(as_admin: Api, acme: Tenant) -> None:
    await define(as_admin, "vip", "BOOLEAN")
    ids = await _contacts(as_admin, acme, 6)
    job = (await as_admin.data(APPLY, {"i": {"key": "vip", "value": False}}))["applyCustomFieldToAll"]
    [delivery] = [d for d in await outbox.claim_due(10, 0) if d.plugin == jobs.JOB_PLUGIN]
    await jobs.run_step(delivery.payload)

    # Only an admin or who started it may cancel.
    error = await as_admin.error(CANCEL, {"i": {"id": job["id"]}}, key=acme.rep_key)
    assert error["extensions"]["code"] == "FORBIDDEN"
    cancelled = (await as_admin.data(CANCEL, {"i": {"id": job["id"]}}))["cancelJob"]
    assert cancelled["status"] == "CANCELLED"
    await as_admin.runtime.dispatcher.drain()
    job = (await as_admin.data(JOB, {"id": job["id"]}))["job"]
    assert (job["status"], job["done"], job["total"]) == ("CANCELLED", 2, 6)
    assert 0 < job["progress"] < 1 and job["finishedAt"]
    assert await CustomFieldValue.filter(contact_id__in=ids).count() == 2
    error = await as_admin.error(CANCEL, {"i": {"id": job["id"]}})
    assert error["extensions"]["code"] == "CONFLICT" and "already CANCELLED" in error["message"]
    # Another account's job is NOT_FOUND, to read and to cancel.
    globex = await make_tenant("Globex")
    for query, variables in ((JOB, {"id": job["id"]}), (CANCEL, {"i": {"id": job["id"]}})):
        error = await as_admin.error(query, variables, key=globex.admin_key)
        assert error["extensions"]["code"] == "NOT_FOUND"


async def test_contacts_created_after_the_job_was_queued_are_left_to_the_default(
    as_admin: Api, acme: Tenant
) -> None:
    await define(as_admin, "score", "NUMBER", defaultValue=1)
    ids = await _contacts(as_admin, acme, 3)
    job = (await as_admin.data(APPLY, {"i": {"key": "score", "value": 5}}))["applyCustomFieldToAll"]
    late = await new_contact(as_admin, "Late")
    await as_admin.runtime.dispatcher.drain()
    job = (await as_admin.data(JOB, {"id": job["id"]}))["job"]
    assert (job["status"], job["total"], job["done"]) == ("DONE", 3, 3)
    late_card = await card(as_admin, late)
    assert late_card["customFields"][0]["value"] == 1 and late_card["customFields"][0]["isSet"] is False
    assert values_of(await card(as_admin, global_id_text("Contact", ids[0]))) == {"score": 5}


async def test_apply_to_all_bad_inputs(as_admin: Api) -> None:
    await define(as_admin, "score", "NUMBER")
    error = await as_admin.error(APPLY, {"i": {"key": "score", "value": "lots"}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["extensions"]["key"] == "score"
    error = await as_admin.error(APPLY, {"i": {"key": "score", "value": None}})
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"  # value is JSON!
    error = await as_admin.error(APPLY, {"i": {"key": "unknown", "value": 1}})
    assert error["extensions"]["key"] == "unknown"
    assert await BackgroundJob.all().count() == 0
    error = await as_admin.error(JOB, {"id": global_id_text("BackgroundJob", 999)})
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_a_field_archived_while_its_job_runs_fails_the_job(as_admin: Api, acme: Tenant) -> None:
    await define(as_admin, "vip", "BOOLEAN")
    await _contacts(as_admin, acme, 3)
    job = (await as_admin.data(APPLY, {"i": {"key": "vip", "value": True}}))["applyCustomFieldToAll"]
    await as_admin.data(ARCHIVE, {"i": {"key": "vip"}})
    await as_admin.runtime.dispatcher.drain()
    job = (await as_admin.data(JOB, {"id": job["id"]}))["job"]
    assert job["status"] == "FAILED" and "archived" in job["error"]


# --------------------------------------------------------------------------------------
# Cost and both executors
# --------------------------------------------------------------------------------------

PAGE = """query($first: Int!) { contacts(first: $first) { edges { node {
  id customFields { field { id key label type options required defaultValue } value isSet }
} } } }"""


async def test_custom_fields_cost_the_same_statements_for_one_card_or_fifty(
    as_admin: Api, acme: Tenant, count_statements: Any
) -> None:
    await define_all(as_admin)
    ids = await _contacts(as_admin, acme, 50)
    for contact_id in ids[:3]:
        body = await set_values(
            as_admin, global_id_text("Contact", contact_id), **{k: g for k, (g, _) in GOOD.items()}
        )
        assert "errors" not in body
    one = await measure(as_admin, count_statements, PAGE, {"first": 1})
    fifty = await measure(as_admin, count_statements, PAGE, {"first": 50})
    assert len(fifty.data["contacts"]["edges"]) == 50
    assert one.count == fifty.count, (one.listing(), fifty.listing())
    card_query = "query($id: ID!) { contact(id: $id) { customFields { field { key } value } } }"
    single = await measure(as_admin, count_statements, card_query, {"id": global_id_text("Contact", ids[0])})
    # The API key, the contact, the definitions, the values: nothing per field or per value.
    assert single.count == 4, single.listing()


async def test_both_executors_answer_the_same(as_admin: Api, acme: Tenant) -> None:
    await define_all(as_admin)
    await define(as_admin, "tier", "SELECT", options=["a", "b"], defaultValue="b", required=True)
    ids = await _contacts(as_admin, acme, 3)
    await set_values(as_admin, global_id_text("Contact", ids[0]), **{k: g for k, (g, _) in GOOD.items()})
    await set_values(as_admin, global_id_text("Contact", ids[1]), score=2, vip=False)
    job = (await as_admin.data(APPLY, {"i": {"key": "score", "value": 9}}))["applyCustomFieldToAll"]
    await as_admin.runtime.dispatcher.drain()
    queries = [
        (PAGE, {"first": 3}),
        (FIELDS, {"a": True}),
        (JOB, {"id": job["id"]}),
        (CARD, {"id": global_id_text("Contact", ids[0])}),
        # Errors too: another type's id, an unknown job.
        (JOB, {"id": global_id_text("Contact", ids[0])}),
        (JOB, {"id": global_id_text("BackgroundJob", 4242)}),
        (
            "query($id: ID!) { node(id: $id) { id ... on BackgroundJob { status progress } } }",
            {"id": job["id"]},
        ),
    ]
    for query, variables in queries:
        slow, fast = await both_over_http(as_admin, query, variables)
        assert slow == fast, (query, slow, fast)
    slow, _ = await both_over_http(as_admin, PAGE, {"first": 3})
    nodes = {edge["node"]["id"]: edge["node"] for edge in slow["data"]["contacts"]["edges"]}
    assert values_of(nodes[global_id_text("Contact", ids[0])])["budget"] == GOOD["budget"][1]


# --------------------------------------------------------------------------------------
# createContact(customFields:), and the README's example
# --------------------------------------------------------------------------------------

CREATE_WITH = """mutation($i: CreateContactInput!) { createContact(input: $i) {
  id customFields { field { key } value isSet }
  journey(first: 5) { nodes { kind changes { field before after } } } } }"""


async def test_create_contact_takes_custom_fields_and_needs_required_ones(
    as_admin: Api, acme: Tenant
) -> None:
    await define(as_admin, "budget", "MONEY", required=True)
    await define(as_admin, "tier", "SELECT", options=["gold", "silver"], required=True, defaultValue="silver")
    await define(as_admin, "vip", "BOOLEAN")

    error = await as_admin.error(CREATE_WITH, {"i": {"firstName": "Ada"}})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "customFields", "key": "budget"}
    assert "required and has no default" in error["message"]
    error = await as_admin.error(
        CREATE_WITH, {"i": {"firstName": "Ada", "customFields": [{"key": "budget", "value": "1.999"}]}}
    )
    assert error["extensions"]["key"] == "budget" and "round it" in error["message"]
    error = await as_admin.error(
        CREATE_WITH, {"i": {"firstName": "Ada", "customFields": [{"key": "budget", "value": None}]}}
    )
    assert error["extensions"]["key"] == "budget"
    assert await Contact.filter(first_name="Ada").count() == 0

    given = [{"key": "budget", "value": {"amount": "250", "currency": "EUR"}}, {"key": "vip", "value": True}]
    created = (await as_admin.data(CREATE_WITH, {"i": {"firstName": "Ada", "customFields": given}}))[
        "createContact"
    ]
    assert [(e["field"]["key"], e["value"], e["isSet"]) for e in created["customFields"]] == [
        ("budget", {"amount": "250.00", "currency": "EUR"}, True),
        ("tier", "silver", False),
        ("vip", True, True),
    ]
    [entry] = created["journey"]["nodes"]
    changes = {c["field"]: [c["before"], c["after"]] for c in entry["changes"]}
    assert entry["kind"] == "CONTACT_CREATED"
    assert changes["customFields.budget"] == [None, {"amount": "250.00", "currency": "EUR"}]
    assert changes["customFields.vip"] == [None, True]


async def test_the_readme_example_works(as_admin: Api) -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    example = re.search(r"```graphql\n(mutation \{\n  createCustomField.*?)```", readme, re.S)
    assert example is not None, "the README lost its custom fields example"
    contact_id = await new_contact(as_admin)
    data = await as_admin.data(example.group(1).replace("Q29udGFjdDox", contact_id))
    assert data["createCustomField"]["key"] == "budget"
    [entry] = data["setCustomFieldValues"]["customFields"]
    assert entry == {
        "field": {"key": "budget", "label": "Budget", "type": "MONEY"},
        "value": {"amount": "1999.50", "currency": "EUR"},
        "isSet": True,
    }


async def test_a_step_that_keeps_failing_fails_its_job(as_admin: Api, acme: Tenant) -> None:
    from tortoise.transactions import in_transaction

    from crm.actor import Actor

    calls: list[int] = []

    async def explode(job: Any, conn: Any, size: int) -> jobs.StepOutcome:
        calls.append(job.step)
        raise RuntimeError("the disk is full")

    jobs.register("test.explode", explode)
    actor = Actor.user(await account_of(acme), acme.user_ids["admin"], "Acme Admin", "admin")
    async with in_transaction() as conn:
        job = await jobs.enqueue(conn, actor, "test.explode", {}, total=10)
    await as_admin.runtime.dispatcher.drain()
    row = await BackgroundJob.get(id=job.id)
    # Retried like any outbox row (3 attempts in tests), then FAILED with the error.
    assert calls == [0, 0, 0]
    assert (row.status, row.done, row.error) == ("FAILED", 0, "RuntimeError: the disk is full")
    assert row.finished_at is not None
    shown = (await as_admin.data(JOB, {"id": global_id_text("BackgroundJob", job.id)}))["job"]
    assert (shown["status"], shown["progress"], shown["error"]) == (
        "FAILED",
        0.0,
        "RuntimeError: the disk is full",
    )
