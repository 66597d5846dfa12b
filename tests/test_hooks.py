"""Plugin hooks: every mutation fires its hook after commit, with a CardEvent snapshot."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pluggy import PluginValidationError
from strawberry import relay

from crm.clock import utcnow
from crm.events import ActorSnapshot, CardEvent
from crm.journey import HOOK_FOR_KIND, JourneyKind
from crm.models import Account, Call, Contact, OutboxRow
from dossier import Settings, create_app
from plugins import hookimpl, hookspecs
from plugins.manager import ENTRY_POINT_GROUP, builtin_names
from tests.conftest import Api, AppFactory, make_tenant

EVENT_HOOKS = tuple(dict.fromkeys(HOOK_FOR_KIND.values()))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """These tests count outbox rows and hook calls: only their own plugins may subscribe."""
    return replace(settings, disabled_plugins=builtin_names())


class Recorder:
    """A plugin implementing every event hook synchronously; it keeps what it was given."""

    def __init__(self, name: str = "recorder") -> None:
        self.name = name
        self.calls: list[tuple[str, CardEvent]] = []

    def take(self) -> list[tuple[str, CardEvent]]:
        calls, self.calls = self.calls, []
        return calls


def _recording(hook: str) -> Callable[..., None]:
    def impl(self: Recorder, event: CardEvent) -> None:
        self.calls.append((hook, event))

    impl.__name__ = hook
    return hookimpl(impl)


for _hook in EVENT_HOOKS:
    setattr(Recorder, _hook, _recording(_hook))


def gid(type_name: str, node_id: int) -> str:
    return str(relay.GlobalID(type_name, str(node_id)))


def db_id(global_id: str) -> int:
    return int(relay.GlobalID.from_id(global_id).node_id)


async def fired(api: Api, recorder: Recorder) -> tuple[str, CardEvent]:
    """Deliver the outbox and return the one hook call the last mutation caused."""
    await api.runtime.dispatcher.drain()
    calls = recorder.take()
    assert len(calls) == 1, calls
    return calls[0]


CREATE = "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"
UPDATE = "mutation($input: UpdateContactInput!) { updateContact(input: $input) { id } }"
SET_STATUS = "mutation($input: SetContactStatusInput!) { setContactStatus(input: $input) { status } }"
ASSIGN = "mutation($input: AssignOwnersInput!) { assignOwners(input: $input) { id } }"
ADD_TAG = "mutation($input: TagInput!) { addTag(input: $input) { id } }"
REMOVE_TAG = "mutation($input: TagInput!) { removeTag(input: $input) { id } }"
SCHEDULE = "mutation($input: ScheduleCallInput!) { scheduleCall(input: $input) { id } }"
RESCHEDULE = "mutation($input: RescheduleCallInput!) { rescheduleCall(input: $input) { id } }"
CANCEL = "mutation($input: CancelCallInput!) { cancelCall(input: $input) { id } }"
OUTCOME = "mutation($input: SetCallOutcomeInput!) { setCallOutcome(input: $input) { id } }"
ADD_DEAL = "mutation($input: AddDealInput!) { addDeal(input: $input) { id } }"
UPDATE_DEAL = "mutation($input: UpdateDealInput!) { updateDeal(input: $input) { id } }"
ADD_NOTE = "mutation($input: AddNoteInput!) { addNote(input: $input) { id body } }"
EDIT_NOTE = "mutation($input: EditNoteInput!) { editNote(input: $input) { id body } }"
DELETE_NOTE = "mutation($input: DeleteNoteInput!) { deleteNote(input: $input) { id } }"


async def new_contact(api: Api, **fields: Any) -> str:
    data = await api.data(CREATE, {"input": {"firstName": "Ada", "lastName": "Lovelace", **fields}})
    return data["createContact"]["id"]


# --------------------------------------------------------------------------------------
# The contract
# --------------------------------------------------------------------------------------


def test_every_kind_but_bookkeeping_fires_a_documented_hook() -> None:
    # Journaled for people only: a plugin's own failure, a line check that could not run, and the
    # email plugin's outcome of mailing a conversion (conversion_sent already went to plugins).
    silent = {
        JourneyKind.PLUGIN_DELIVERY_FAILED,
        JourneyKind.PHONE_CHECK_SKIPPED,
        JourneyKind.CONVERSION_EMAILED,
        JourneyKind.CONVERSION_EMAIL_FAILED,
    }
    # Not silent, but not one hook per kind: a reminder fires task_due or call_reminder itself,
    # with a ReminderEvent (crm/services/reminders.py; tests/test_notifications.py).
    silent.add(JourneyKind.NOTIFICATION_SENT)
    # An import journals each contact a row created or merged into, and fires contacts_imported
    # once for the whole file when its job ends (crm/services/imports.py), not once per row.
    silent.add(JourneyKind.CONTACT_IMPORTED)
    assert set(HOOK_FOR_KIND) == set(JourneyKind) - silent
    for kind, hook in HOOK_FOR_KIND.items():
        spec = getattr(hookspecs, hook, None)
        assert spec is not None, f"{kind} names {hook!r}, which plugins/hookspecs.py does not define"
        assert hasattr(spec, "dossier_spec"), f"{hook} is not marked as a hookspec"
        assert (spec.__doc__ or "").strip(), f"hookspec {hook} has no docstring"
    # Only the status kinds of one message channel share a hook.
    shared = {h for h in HOOK_FOR_KIND.values() if list(HOOK_FOR_KIND.values()).count(h) > 1}
    assert shared == {"sms_status_changed", "email_status_changed"}


# --------------------------------------------------------------------------------------
# Every mutation fires its hook, with the right snapshot
# --------------------------------------------------------------------------------------


async def test_contact_mutations_fire_their_hooks(running_app: AppFactory) -> None:
    recorder = Recorder()
    async with running_app(plugins=(recorder,)) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        account_id = (await Account.get(name="Acme")).id
        admin = ActorSnapshot("USER", "Acme Admin", acme.user_ids["admin"])

        contact_id = await new_contact(
            api,
            email="ada@example.com",
            utm={"source": "google", "campaign": "spring"},
            formAnswers=[{"question": "Budget?", "answer": "10k", "form": "Intake"}],
        )
        hook, event = await fired(api, recorder)
        assert hook == "contact_created"
        assert isinstance(event, CardEvent)
        assert event.kind == "CONTACT_CREATED"
        assert event.account_id == account_id
        assert event.contact_id == db_id(contact_id)
        assert event.actor == admin
        assert event.summary == "Acme Admin created Ada Lovelace from Intake"
        assert event.changes == {
            "firstName": [None, "Ada"],
            "lastName": [None, "Lovelace"],
            "email": [None, "ada@example.com"],
            "status": [None, "lead"],
        }
        assert event.subject == {
            "utms": [
                {"source": "google", "medium": None, "campaign": "spring", "term": None, "content": None}
            ],
            "formAnswers": [{"question": "Budget?", "answer": "10k", "form": "Intake"}],
        }
        assert event.contact.id == db_id(contact_id)
        assert event.contact.display_name == "Ada Lovelace"
        assert event.contact.email == "ada@example.com"
        assert event.contact.status == "lead"
        uuid.UUID(event.id)  # a unique id plugins can deduplicate on
        with pytest.raises(dataclasses.FrozenInstanceError):
            event.kind = "TAMPERED"  # type: ignore[misc]

        await api.data(UPDATE, {"input": {"id": contact_id, "lastName": "Byron", "title": "Countess"}})
        hook, event = await fired(api, recorder)
        assert hook == "contact_updated"
        assert event.kind == "CONTACT_UPDATED"
        assert event.changes == {"lastName": ["Lovelace", "Byron"], "title": [None, "Countess"]}
        assert event.contact.last_name == "Byron"  # the snapshot is the card after the change
        assert event.contact.display_name == "Ada Byron"

        data = await api.data(SET_STATUS, {"input": {"contactId": contact_id, "status": "Customer"}})
        assert data["setContactStatus"]["status"] == "customer"
        hook, event = await fired(api, recorder)
        assert hook == "contact_status_changed"
        assert event.kind == "STATUS_CHANGED"
        assert event.changes["status"] == ["lead", "customer"]
        assert event.changes["convertedAt"][0] is None
        assert event.changes["convertedAt"][1]
        assert event.contact.status == "customer"

        owners = {
            "contactId": contact_id,
            "setterOwnerId": gid("User", acme.user_ids["rep"]),
            "assignedToId": gid("User", acme.user_ids["manager"]),
        }
        await api.data(ASSIGN, {"input": owners})
        hook, event = await fired(api, recorder)
        assert hook == "contact_owners_changed"
        assert event.kind == "OWNER_CHANGED"
        assert event.changes == {"setterOwner": [None, "Acme Rep"], "assignedTo": [None, "Acme Manager"]}

        await api.data(ADD_TAG, {"input": {"contactId": contact_id, "name": "VIP"}})
        hook, event = await fired(api, recorder)
        assert hook == "tag_added"
        assert (event.kind, event.subject_type, event.subject) == ("TAG_ADDED", "Tag", {"name": "VIP"})
        assert event.changes == {"tags": [None, "VIP"]}
        tag_id = event.subject_id

        await api.data(REMOVE_TAG, {"input": {"contactId": contact_id, "name": "vip"}})
        hook, event = await fired(api, recorder)
        assert hook == "tag_removed"
        assert (event.kind, event.subject_type, event.subject) == ("TAG_REMOVED", "Tag", {"name": "VIP"})
        assert event.subject_id == tag_id
        assert event.changes == {"tags": ["VIP", None]}


async def test_call_mutations_fire_their_hooks(running_app: AppFactory) -> None:
    recorder = Recorder()
    async with running_app(plugins=(recorder,)) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.rep_key)
        contact_id = await new_contact(api)
        await fired(api, recorder)
        soon = (utcnow() + timedelta(days=7)).replace(microsecond=0)
        later = soon + timedelta(days=1, hours=2)

        data = await api.data(
            SCHEDULE,
            {
                "input": {
                    "contactId": contact_id,
                    "scheduledAt": soon.isoformat(),
                    "eventName": "Discovery",
                    "durationMinutes": 45,
                }
            },
        )
        call_id = data["scheduleCall"]["id"]
        hook, event = await fired(api, recorder)
        assert hook == "call_scheduled"
        assert event.kind == "CALL_SCHEDULED"
        assert event.actor == ActorSnapshot("USER", "Acme Rep", acme.user_ids["rep"])
        assert (event.subject_type, event.subject_id) == ("Call", db_id(call_id))
        assert event.subject["eventName"] == "Discovery"
        assert event.subject["scheduledAt"] == soon.isoformat()
        assert event.subject["durationMinutes"] == 45
        assert event.changes == {"scheduledAt": [None, soon.isoformat()]}

        await api.data(RESCHEDULE, {"input": {"id": call_id, "scheduledAt": later.isoformat()}})
        hook, event = await fired(api, recorder)
        assert hook == "call_rescheduled"
        assert event.kind == "CALL_RESCHEDULED"
        assert event.changes == {"scheduledAt": [soon.isoformat(), later.isoformat()]}
        assert event.subject["scheduledAt"] == later.isoformat()

        data = await api.data(
            SCHEDULE,
            {"input": {"contactId": contact_id, "scheduledAt": soon.isoformat(), "eventName": "Follow-up"}},
        )
        second_id = data["scheduleCall"]["id"]
        await fired(api, recorder)
        await api.data(CANCEL, {"input": {"id": second_id, "reason": "Lead asked to postpone"}})
        hook, event = await fired(api, recorder)
        assert hook == "call_cancelled"
        assert event.kind == "CALL_CANCELLED"
        assert event.subject_id == db_id(second_id)
        assert event.changes == {
            "status": ["SCHEDULED", "CANCELLED"],
            "cancelReason": [None, "Lead asked to postpone"],
        }

        # The call has happened: move it into the past, as time would.
        await Call.filter(id=db_id(call_id)).update(scheduled_at=utcnow() - timedelta(hours=1))
        await api.data(OUTCOME, {"input": {"id": call_id, "outcome": "SPOKE"}})
        hook, event = await fired(api, recorder)
        assert hook == "call_outcome_set"
        assert event.kind == "CALL_OUTCOME_SET"
        assert event.changes == {"outcome": [None, "SPOKE"]}
        assert event.subject["outcome"] == "SPOKE"


async def test_deal_and_note_mutations_fire_their_hooks(running_app: AppFactory) -> None:
    recorder = Recorder()
    async with running_app(plugins=(recorder,)) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.manager_key)
        contact_id = await new_contact(api)
        await fired(api, recorder)

        data = await api.data(
            ADD_DEAL,
            {
                "input": {
                    "contactId": contact_id,
                    "productName": "Coaching",
                    "amount": "1500.50",
                    "currency": "usd",
                    "paymentType": "ONE_TIME",
                }
            },
        )
        deal_id = data["addDeal"]["id"]
        hook, event = await fired(api, recorder)
        assert hook == "deal_added"
        assert event.kind == "DEAL_ADDED"
        assert (event.subject_type, event.subject_id) == ("Deal", db_id(deal_id))
        assert event.subject["productName"] == "Coaching"
        assert Decimal(event.subject["amount"]) == Decimal("1500.50")
        assert event.subject["currency"] == "USD"
        assert event.subject["status"] == "OPEN"
        assert event.actor.name == "Acme Manager"

        await api.data(UPDATE_DEAL, {"input": {"id": deal_id, "status": "WON"}})
        hook, event = await fired(api, recorder)
        assert hook == "deal_updated"
        assert event.kind == "DEAL_UPDATED"
        assert event.changes == {"status": ["OPEN", "WON"]}
        assert event.subject["status"] == "WON"

        data = await api.data(ADD_NOTE, {"input": {"contactId": contact_id, "body": "<b>Call</b> back"}})
        note_id, first_body = data["addNote"]["id"], data["addNote"]["body"]
        assert "<b>Call</b>" in first_body
        hook, event = await fired(api, recorder)
        assert hook == "note_added"
        assert (event.kind, event.subject_type, event.subject_id) == ("NOTE_ADDED", "Note", db_id(note_id))
        assert event.subject == {"body": first_body}
        assert event.changes == {"body": [None, first_body]}

        data = await api.data(EDIT_NOTE, {"input": {"id": note_id, "body": "<i>Called</i> back"}})
        second_body = data["editNote"]["body"]
        hook, event = await fired(api, recorder)
        assert hook == "note_edited"
        assert event.kind == "NOTE_EDITED"
        assert event.changes == {"body": [first_body, second_body]}

        await api.data(DELETE_NOTE, {"input": {"id": note_id}})
        hook, event = await fired(api, recorder)
        assert hook == "note_deleted"
        assert event.kind == "NOTE_DELETED"
        assert event.subject == {"body": second_body}  # what the deleted note said
        assert event.changes == {"body": [second_body, None]}


# --------------------------------------------------------------------------------------
# Sync and async implementations; failed mutations fire nothing
# --------------------------------------------------------------------------------------


class SyncPlugin:
    name = "sync-partner"

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl
    def contact_created(self, event: CardEvent) -> None:
        self.seen.append(event.contact.display_name)


class AsyncPlugin:
    name = "async-partner"

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl
    async def contact_created(self, event: CardEvent) -> None:
        self.seen.append(event.contact.display_name)


async def test_sync_and_async_implementations_are_both_called(running_app: AppFactory) -> None:
    sync, async_ = SyncPlugin(), AsyncPlugin()
    async with running_app(plugins=(sync, async_)) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        await new_contact(api)
        assert (sync.seen, async_.seen) == ([], [])  # nothing before the dispatcher runs
        assert await api.runtime.dispatcher.drain() == 2
        assert sync.seen == ["Ada Lovelace"]
        assert async_.seen == ["Ada Lovelace"]


async def test_a_failed_mutation_fires_nothing(running_app: AppFactory) -> None:
    recorder = Recorder()
    async with running_app(plugins=(recorder,)) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)

        error = await api.error(CREATE, {"input": {"title": "CEO"}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "name, business name, email or phone" in error["message"]
        assert await OutboxRow.all().count() == 0
        assert await Contact.all().count() == 0
        assert await api.runtime.dispatcher.drain() == 0
        assert recorder.calls == []

        contact_id = await new_contact(api)
        await fired(api, recorder)
        error = await api.error(SET_STATUS, {"input": {"contactId": contact_id, "status": "Dormant"}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "'Dormant' is not one of this account's statuses" in error["message"]
        assert (await Contact.get(id=db_id(contact_id))).status == "lead"
        assert await OutboxRow.all().count() == 1  # only the creation's
        assert await api.runtime.dispatcher.drain() == 0
        assert recorder.calls == []


# --------------------------------------------------------------------------------------
# Start-up: validation, disabling, entry points
# --------------------------------------------------------------------------------------


class Misspelt:
    name = "typo-partner"

    @hookimpl
    def contact_createdd(self, event: CardEvent) -> None:  # not a hook: one "d" too many
        pass


def test_a_misspelt_hook_implementation_fails_at_start_up() -> None:
    settings = Settings(run_dispatcher=False, load_entry_points=False)
    with pytest.raises(PluginValidationError, match="contact_createdd"):
        create_app(settings, plugins=(Misspelt(),))


async def test_a_disabled_plugin_is_not_called(running_app: AppFactory) -> None:
    recorder, other = Recorder("muted"), Recorder("listening")
    async with running_app(plugins=(recorder, other), disabled_plugins=("muted",)) as app:
        assert not app.runtime.plugins.has_plugin("muted")
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        await new_contact(api)
        await fired(api, other)
        assert recorder.calls == []
        assert await OutboxRow.filter(plugin="muted").count() == 0


@dataclasses.dataclass
class FakeEntryPoint:
    name: str
    value: str
    load: Callable[[], object]


class PartnerPlugin:
    def __init__(self) -> None:
        self.created: list[int] = []

    @hookimpl
    async def contact_created(self, event: CardEvent) -> None:
        self.created.append(event.contact_id)


async def test_entry_points_a_broken_package_is_skipped_and_a_good_one_loaded(
    running_app: AppFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    partner = PartnerPlugin()

    def broken_import() -> object:
        raise ImportError("No module named 'dossier_broken_partner'")

    entry_points = [
        FakeEntryPoint("broken-partner", "dossier_broken_partner:plugin", broken_import),
        FakeEntryPoint("good-partner", "dossier_good_partner:plugin", lambda: partner),
    ]

    def fake_entry_points(**selection: str) -> list[FakeEntryPoint]:
        return entry_points if selection.get("group") == ENTRY_POINT_GROUP else []

    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points)
    caplog.set_level(logging.ERROR, logger="dossier.plugins")
    async with running_app(load_entry_points=True) as app:
        pm = app.runtime.plugins
        assert pm.has_plugin("good-partner")
        assert not pm.has_plugin("broken-partner")
        failures = [r for r in caplog.records if "broken-partner" in r.getMessage()]
        assert failures and "failed to import" in failures[0].getMessage()
        assert failures[0].exc_info is not None

        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        contact_id = await new_contact(api)
        await api.runtime.dispatcher.drain()
        assert partner.created == [db_id(contact_id)]


# --------------------------------------------------------------------------------------
# Provider hooks that feed a read: a failing provider gives way to the next
# --------------------------------------------------------------------------------------


class FactsProvider:
    def __init__(self, name: str, fail: bool) -> None:
        self.name, self.fail, self.asked = name, fail, 0

    @hookimpl
    async def property_facts(self, address: Any) -> Any:
        from crm.contracts import PropertyFacts

        self.asked += 1
        if self.fail:
            raise RuntimeError(f"{self.name} is down")
        return PropertyFacts(source=self.name, estimate=Decimal("350000"), beds=3)


PROPERTY = "query($id: ID!) { contact(id: $id) { displayName property { source estimate beds } } }"
HOME = {"street": "123 Main St", "city": "Springfield", "state": "IL", "zip": "62704", "country": "US"}


@pytest.mark.parametrize("both_fail", [False, True], ids=["second-answers", "none-answers"])
async def test_a_failing_property_provider_gives_way_to_the_next(
    running_app: AppFactory, caplog: pytest.LogCaptureFixture, both_fail: bool
) -> None:
    second, first = FactsProvider("backup-facts", fail=both_fail), FactsProvider("flaky-facts", fail=True)
    # Registered last, asked first: the flaky one.
    async with running_app(plugins=(second, first)) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        contact_id = await new_contact(api, address=HOME)
        with caplog.at_level(logging.ERROR, logger="dossier.plugins"):
            card = (await api.data(PROPERTY, {"id": contact_id}))["contact"]
        assert card["displayName"] == "Ada Lovelace"  # the card is never lost to a provider
        expected = None if both_fail else {"source": "backup-facts", "estimate": "350000", "beds": 3.0}
        assert card["property"] == expected
        assert (first.asked, second.asked) == (1, 1)
        assert "plugin flaky-facts failed in property_facts" in caplog.text
