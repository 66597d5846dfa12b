"""Archive, restore and delete for good (D5): the archive leaves the contacts list and refuses
new calls, SMS and email; only archived contacts can be deleted, with everything tied to them,
and `contact_deleted` still reaches plugins and webhooks after the card is gone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from tortoise import Tortoise

from crm.events import CardEvent
from crm.models import (
    Call,
    Contact,
    ContactTag,
    Deal,
    FormAnswer,
    JourneyEvent,
    Message,
    Note,
    OutboxRow,
    Tag,
    Utm,
    WebhookDelivery,
)
from crm.services.lifecycle import MAX_IDS
from dossier import Settings
from graph.ids import decode_id, global_id_text
from plugins import hookimpl
from plugins.manager import builtin_names
from tests.conftest import Api, AppFactory, Tenant, make_tenant
from tests.fakes.webhook_receiver import WebhookReceiver, webhook_receiver

PROVIDERS = {
    "DOSSIER_SMTP_HOST": "127.0.0.1",
    "DOSSIER_SMTP_PORT": "9",
    "DOSSIER_SMTP_TLS": "none",
    "DOSSIER_SMTP_FROM": "crm@example.com",
    "DOSSIER_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "DOSSIER_TWILIO_AUTH_TOKEN": "archive-token",
    "DOSSIER_TWILIO_FROM": "+15005550006",
    "DOSSIER_TWILIO_BASE_URL": "http://127.0.0.1:9",
    "DOSSIER_WEBHOOKS_ALLOW_PRIVATE": "true",
}

CREATE = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
ARCHIVE = """mutation($i: ArchiveContactsInput!) {
  archiveContacts(input: $i) { contacts { id archivedAt } archivedIds skippedIds }
}"""
RESTORE = """mutation($i: RestoreContactsInput!) {
  restoreContacts(input: $i) { contacts { id archivedAt } restoredIds skippedIds }
}"""
DELETE = "mutation($i: DeleteContactsInput!) { deleteContacts(input: $i) { deletedIds } }"
LIST = """query($archived: Boolean! = false, $search: String) {
  contacts(first: 50, archived: $archived, search: $search) { totalCount nodes { id archivedAt } }
}"""
CARD = """query($id: ID!) {
  contact(id: $id) {
    id archivedAt
    journey(first: 20) { nodes { kind summary changes { field before after } } }
  }
}"""
SCHEDULE = "mutation($i: ScheduleCallInput!) { scheduleCall(input: $i) { id } }"
SMS = "mutation($i: SendSmsInput!) { sendSms(input: $i) { id } }"
EMAIL = "mutation($i: SendEmailInput!) { sendEmail(input: $i) { id } }"
LOG_CALL = "mutation($i: LogCallInput!) { logCall(input: $i) { id } }"
TAG = "mutation($i: TagInput!) { addTag(input: $i) { id } }"
CONSENT = "mutation($i: SetSmsConsentInput!) { setSmsConsent(input: $i) { okToSms } }"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, env={**settings.env, **PROVIDERS})


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as started:
        yield started


async def new_contact(api: Api, first: str = "Ada", **fields: Any) -> str:
    data = await api.data(CREATE, {"i": {"firstName": first, "lastName": "Lovelace", **fields}})
    return data["createContact"]["id"]


async def listed(api: Api, **variables: Any) -> tuple[int, list[str]]:
    page = (await api.data(LIST, variables))["contacts"]
    return page["totalCount"], [n["id"] for n in page["nodes"]]


def journey_kinds(card: dict[str, Any]) -> list[str]:
    return [n["kind"] for n in card["journey"]["nodes"]]


# --------------------------------------------------------------------------------------
# Archive and restore
# --------------------------------------------------------------------------------------


async def test_archived_contacts_leave_the_list_count_and_search_and_come_back(as_admin: Api) -> None:
    ada = await new_contact(as_admin, "Ada")
    bob = await new_contact(as_admin, "Bob")
    cy = await new_contact(as_admin, "Cy")
    assert await listed(as_admin) == (3, [cy, bob, ada])

    done = (await as_admin.data(ARCHIVE, {"i": {"ids": [ada, cy, ada]}}))["archiveContacts"]
    assert [c["id"] for c in done["contacts"]] == [ada, cy]  # repeats count once, input order
    assert all(c["archivedAt"] for c in done["contacts"])
    assert (done["archivedIds"], done["skippedIds"]) == ([ada, cy], [])

    assert await listed(as_admin) == (1, [bob])
    assert await listed(as_admin, search="Lovelace") == (1, [bob])
    assert await listed(as_admin, archived=True) == (2, [cy, ada])
    assert await listed(as_admin, archived=True, search="Ada") == (1, [ada])

    # An archived card still answers by id, with the time it was archived.
    card = (await as_admin.data(CARD, {"id": ada}))["contact"]
    assert card["archivedAt"] == done["contacts"][0]["archivedAt"]
    assert journey_kinds(card)[0] == "CONTACT_ARCHIVED"
    assert card["journey"]["nodes"][0]["summary"] == "Acme Admin archived Ada Lovelace"
    assert card["journey"]["nodes"][0]["changes"][0]["field"] == "archivedAt"

    # Archiving again is skipped and reported: nothing new in the journey.
    again = (await as_admin.data(ARCHIVE, {"i": {"ids": [ada, bob]}}))["archiveContacts"]
    assert (again["archivedIds"], again["skippedIds"]) == ([bob], [ada])
    card_again = (await as_admin.data(CARD, {"id": ada}))["contact"]
    assert journey_kinds(card_again).count("CONTACT_ARCHIVED") == 1
    assert card_again["archivedAt"] == card["archivedAt"]

    back = (await as_admin.data(RESTORE, {"i": {"ids": [ada, bob]}}))["restoreContacts"]
    assert (back["restoredIds"], back["skippedIds"]) == ([ada, bob], [])
    assert [c["archivedAt"] for c in back["contacts"]] == [None, None]
    assert await listed(as_admin) == (2, [bob, ada])
    card = (await as_admin.data(CARD, {"id": ada}))["contact"]
    assert journey_kinds(card)[:2] == ["CONTACT_RESTORED", "CONTACT_ARCHIVED"]
    # Restoring a live contact is skipped.
    live = (await as_admin.data(RESTORE, {"i": {"ids": [ada]}}))["restoreContacts"]
    assert (live["restoredIds"], live["skippedIds"]) == ([], [ada])


async def test_a_rep_may_archive_and_restore(api: Api, acme: Tenant) -> None:
    rep = api.as_(acme.rep_key)
    ada = await new_contact(rep)
    assert (await rep.data(ARCHIVE, {"i": {"ids": [ada]}}))["archiveContacts"]["archivedIds"] == [ada]
    assert (await rep.data(RESTORE, {"i": {"ids": [ada]}}))["restoreContacts"]["restoredIds"] == [ada]


async def test_bad_id_lists_are_refused_and_change_nothing(api: Api, acme: Tenant, globex: Tenant) -> None:
    admin = api.as_(acme.admin_key)
    ada = await new_contact(admin)
    theirs = await new_contact(api.as_(globex.admin_key), "Eve")
    for mutation in (ARCHIVE, RESTORE, DELETE):
        error = await admin.error(mutation, {"i": {"ids": []}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and "at least one" in error["message"]
        too_many = [global_id_text("Contact", n) for n in range(1, MAX_IDS + 2)]
        error = await admin.error(mutation, {"i": {"ids": too_many}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert f"at most {MAX_IDS}" in error["message"]
        error = await admin.error(mutation, {"i": {"ids": [ada, "not-an-id"]}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        # Another account's contact is answered like a missing one, and ours is left alone.
        error = await admin.error(mutation, {"i": {"ids": [ada, theirs]}})
        assert error["extensions"]["code"] == "NOT_FOUND"
        assert str(decode_id(theirs, "Contact")) in error["message"]
        assert "nothing was changed" in error["message"]
    assert (await Contact.get(id=decode_id(ada, "Contact"))).archived_at is None
    assert (await Contact.get(id=decode_id(theirs, "Contact"))).archived_at is None
    assert await listed(admin) == (1, [ada])


async def test_an_archived_contact_refuses_new_calls_sms_and_email(as_admin: Api) -> None:
    ada = await new_contact(as_admin, email="ada@example.com", phone="+14155550123")
    await as_admin.data(CONSENT, {"i": {"contactId": ada, "okToSms": True}})
    await as_admin.data(ARCHIVE, {"i": {"ids": [ada]}})
    soon = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    earlier = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    attempts = [
        (SCHEDULE, {"contactId": ada, "scheduledAt": soon, "eventName": "Demo"}, "booking a call"),
        (SMS, {"contactId": ada, "body": "Hello"}, "texting it"),
        (EMAIL, {"contactId": ada, "subject": "Hi", "body": "Hello"}, "emailing it"),
        (
            LOG_CALL,
            {"contactId": ada, "occurredAt": earlier, "direction": "INBOUND", "durationSeconds": 60,
             "outcome": "SPOKE"},
            "logging a call",
        ),
    ]  # fmt: skip
    for mutation, values, action in attempts:
        error = await as_admin.error(mutation, {"i": values})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert error["extensions"]["field"] == "contactId"
        assert "is archived since" in error["message"] and "restoreContacts" in error["message"]
        assert action in error["message"]
    contact_id = decode_id(ada, "Contact")
    assert await Call.filter(contact_id=contact_id).count() == 0
    assert await Message.filter(contact_id=contact_id).count() == 0
    # Restored, it takes calls and messages again.
    await as_admin.data(RESTORE, {"i": {"ids": [ada]}})
    for mutation, values, _ in attempts:
        await as_admin.data(mutation, {"i": values})
    assert await Call.filter(contact_id=contact_id).count() == 2
    assert await Message.filter(contact_id=contact_id).count() == 2


# --------------------------------------------------------------------------------------
# Delete
# --------------------------------------------------------------------------------------


async def _fill(contact_id: int, tag: Tag) -> None:
    """A card with a row in every section (test set-up, straight into the tables)."""
    now = datetime.now(UTC)
    await Call.create(contact_id=contact_id, event_name="Demo", scheduled_at=now, duration_minutes=30)
    await Deal.create(
        contact_id=contact_id, account_id=tag.account_id, product_name="Plan",  # type: ignore[attr-defined]
        amount=Decimal("10"), currency="USD", payment_type="ONE_TIME", status="OPEN",
    )  # fmt: skip
    await Note.create(contact_id=contact_id, body="<p>secret</p>", text_length=6)
    await Message.create(
        contact_id=contact_id, channel="EMAIL", direction="OUTBOUND", status="SENT",
        to_address="ada@example.com", body="Hi",
    )  # fmt: skip
    await Utm.create(contact_id=contact_id, source="google")
    await FormAnswer.create(contact_id=contact_id, question="Budget?", answer="10k")
    await ContactTag.create(contact_id=contact_id, tag_id=tag.id)


SECTIONS = (Call, Deal, Note, Message, Utm, FormAnswer, ContactTag, JourneyEvent)


async def test_only_archived_contacts_are_deleted_with_everything_tied_to_them(
    api: Api, acme: Tenant
) -> None:
    admin = api.as_(acme.admin_key)
    ada = await new_contact(admin, "Ada", email="ada@example.com")
    bob = await new_contact(admin, "Bob")
    keep = await new_contact(admin, "Cy")
    ids = {gid: decode_id(gid, "Contact") for gid in (ada, bob, keep)}
    await admin.data(TAG, {"i": {"contactId": ada, "name": "VIP"}})
    vip = await Tag.get(name="VIP")
    gold = await Tag.create(account_id=vip.account_id, name="Gold", key="gold")  # type: ignore[attr-defined]
    for contact_id in ids.values():
        await _fill(contact_id, gold)

    await admin.data(ARCHIVE, {"i": {"ids": [ada]}})
    # A live contact in the list: refused, named, nothing deleted.
    error = await admin.error(DELETE, {"i": {"ids": [ada, bob]}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert f"{ids[bob]} (Bob Lovelace)" in error["message"] and "archiveContacts" in error["message"]
    assert "Nothing was deleted" in error["message"]
    assert await Contact.filter(id=ids[ada]).exists()
    # Reps may not delete, even archived contacts.
    error = await api.as_(acme.rep_key).error(DELETE, {"i": {"ids": [ada]}})
    assert error["extensions"]["code"] == "FORBIDDEN"

    await admin.data(ARCHIVE, {"i": {"ids": [bob]}})
    done = await api.as_(acme.manager_key).data(DELETE, {"i": {"ids": [ada, bob]}})
    assert done["deleteContacts"]["deletedIds"] == [ada, bob]
    for gone in (ada, bob):
        error = await admin.error(CARD, {"id": gone})
        assert error["extensions"]["code"] == "NOT_FOUND"
        for model in SECTIONS:
            assert await model.filter(contact_id=ids[gone]).count() == 0, model.__name__
        assert await OutboxRow.filter(contact_id=ids[gone]).exclude(hook="contact_deleted").count() == 0
    # Every table that points at a contact (the sections above, and leads, conversions, merges
    # and whatever comes later) keeps no row of theirs.
    gone_ids = [ids[ada], ids[bob]]
    for model in Tortoise.apps["models"].values():
        for name in model._meta.fk_fields:
            field = model._meta.fields_map[name]
            if field.related_model is Contact:
                column = field.source_field or f"{name}_id"
                left = await model.filter(**{f"{column}__in": gone_ids}).count()
                assert left == 0, (model.__name__, name)
    # The untouched card keeps every row; the account keeps its tag list.
    for model in SECTIONS:
        assert await model.filter(contact_id=ids[keep]).count() >= 1, model.__name__
    assert await Tag.filter(name="VIP").exists()
    assert await listed(admin, archived=True) == (0, [])
    assert await listed(admin) == (1, [keep])
    # Deleted ids are gone: deleting again is NOT_FOUND.
    error = await admin.error(DELETE, {"i": {"ids": [ada]}})
    assert error["extensions"]["code"] == "NOT_FOUND"


class DeletionRecorder:
    name = "deletion-recorder"

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.events: list[tuple[str, CardEvent]] = []

    def _keep(self, hook: str, event: CardEvent) -> None:
        self.events.append((hook, event))

    @hookimpl
    def contact_archived(self, event: CardEvent) -> None:
        self._keep("contact_archived", event)

    @hookimpl
    def contact_restored(self, event: CardEvent) -> None:
        self._keep("contact_restored", event)

    @hookimpl
    def contact_deleted(self, event: CardEvent) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("erasure service unavailable")
        self._keep("contact_deleted", event)


async def test_hooks_fire_and_contact_deleted_carries_the_last_snapshot(
    running_app: AppFactory, receiver: WebhookReceiver
) -> None:
    recorder = DeletionRecorder(failures=1)  # the first delivery fails: the retry still works
    async with running_app(
        plugins=(recorder,), disabled_plugins=tuple(n for n in builtin_names() if n != "webhooks")
    ) as app:
        acme = await make_tenant("Acme")
        admin = app.as_(acme.admin_key)
        await admin.data(
            "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }",
            {"i": {"url": receiver.url("/erase"), "events": ["contact_deleted", "contact_created"]}},
        )
        ada = await new_contact(
            admin, "Ada", email="ada@example.com", phone="+14155550123", address={"city": "London"}
        )
        await admin.data(TAG, {"i": {"contactId": ada, "name": "VIP"}})
        await app.runtime.dispatcher.drain()
        assert [r.json()["type"] for r in receiver.to("/erase")] == ["contact_created"]
        contact_id = decode_id(ada, "Contact")
        assert await WebhookDelivery.filter().count() == 1

        await admin.data(ARCHIVE, {"i": {"ids": [ada]}})
        await admin.data(RESTORE, {"i": {"ids": [ada]}})
        await admin.data(ARCHIVE, {"i": {"ids": [ada]}})
        await app.runtime.dispatcher.drain()
        assert [h for h, _ in recorder.events] == ["contact_archived", "contact_restored", "contact_archived"]
        archived = recorder.events[0][1]
        assert archived.kind == "CONTACT_ARCHIVED" and archived.contact_id == contact_id
        assert archived.changes["archivedAt"][0] is None
        assert recorder.events[1][1].changes["archivedAt"][1] is None
        recorder.events.clear()

        await admin.data(DELETE, {"i": {"ids": [ada]}})
        assert not await Contact.filter(id=contact_id).exists()
        # The earlier events' webhook deliveries went with the card; the deletion's is new.
        assert await WebhookDelivery.filter().count() == 0
        await app.runtime.dispatcher.drain()
        ((hook, event),) = recorder.events
        assert hook == "contact_deleted" and event.kind == "CONTACT_DELETED"
        assert event.contact_id == contact_id and event.contact.display_name == "Ada Lovelace"
        assert (event.subject_type, event.subject_id) == ("Contact", contact_id)
        snapshot = event.subject
        assert snapshot["email"] == "ada@example.com" and snapshot["phone"] == "+14155550123"
        assert snapshot["city"] == "London" and snapshot["tags"] == ["VIP"]
        assert snapshot["archivedAt"] and snapshot["status"] == "lead"
        assert snapshot["displayName"] == "Ada Lovelace"
        posted = [r.json() for r in receiver.to("/erase")]
        assert [p["type"] for p in posted] == ["contact_created", "contact_deleted"]
        assert posted[1]["data"]["subject"]["email"] == "ada@example.com"
        assert posted[1]["data"]["contact_id"] == contact_id
        # Everything delivered; the failed first attempt could not be journaled (no card) and did not crash.
        assert await OutboxRow.filter(contact_id=contact_id, status="PENDING").count() == 0
        assert await OutboxRow.filter(contact_id=contact_id, hook="contact_deleted").count() == 2


class CreationRecorder:
    """Subscribes to contact_created so each new card leaves an outbox row."""

    name = "creation-recorder"

    @hookimpl
    def contact_created(self, event: CardEvent) -> None:
        pass


MERGE = "mutation($i: MergeContactsInput!) { mergeContacts(input: $i) { contact { id } } }"


async def test_deleting_a_merged_card_erases_what_the_absorbed_cards_left_too(
    running_app: AppFactory,
) -> None:
    async with running_app(plugins=(CreationRecorder(),), disabled_plugins=builtin_names()) as app:
        acme = await make_tenant("Acme")
        admin = app.as_(acme.admin_key)
        primary = await new_contact(admin, "Ada", email="ada@example.com")
        absorbed = await new_contact(admin, "Ada", email="ada.l@example.com")
        keep = await new_contact(admin, "Bob")
        await app.runtime.dispatcher.drain()
        ids = {gid: decode_id(gid, "Contact") for gid in (primary, absorbed, keep)}
        assert await OutboxRow.filter(contact_id=ids[absorbed]).count() == 1
        await admin.data(MERGE, {"i": {"primaryId": primary, "duplicateIds": [absorbed]}})
        await admin.data(ARCHIVE, {"i": {"ids": [primary]}})
        done = await admin.data(DELETE, {"i": {"ids": [primary]}})
        assert done["deleteContacts"]["deletedIds"] == [primary]
        # The absorbed card went with its primary, and so did its events' outbox rows.
        assert await OutboxRow.filter(contact_id=ids[absorbed]).count() == 0
        assert await OutboxRow.filter(contact_id=ids[primary]).exclude(hook="contact_deleted").count() == 0
        assert await OutboxRow.filter(contact_id=ids[keep]).count() == 1
