"""The contact roll-ups the database keeps (migration 0024: `last_interaction_at`, `deal_total`)
and the contacts table's counts from a filter's memberships (crm/contact_count.py), on both
backends. Roll-ups are checked after every kind of write against a recomputation in Python from
the rows; counts against the contacts a reader would count by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from crm.contact_count import disjoint_parts, scoped_count
from crm.contact_filters import filter_compiler
from crm.models import (
    Account,
    Call,
    Contact,
    ContactTag,
    CustomField,
    CustomFieldValue,
    Deal,
    Form,
    Lead,
    Message,
    Tag,
)
from crm.models.contacts import every_contact
from graph.ids import global_id_text
from graph.schema.contact_filter import filter_to_client
from tests.conftest import Api, Tenant

NOW = datetime.now(UTC).replace(microsecond=0)


async def expected(contact_id: int) -> tuple[datetime | None, Decimal | None]:
    """The roll-ups by their definitions, from the rows (not SQL)."""
    times = [
        c.scheduled_at
        for c in await Call.filter(contact_id=contact_id)
        if c.direction is not None or c.outcome is not None
    ]
    times += [m.created_at for m in await Message.filter(contact_id=contact_id)]
    times += [lead.submitted_at for lead in await Lead.filter(contact_id=contact_id)]
    amounts = [d.amount for d in await Deal.filter(contact_id=contact_id) if d.status in ("OPEN", "WON")]
    return (max(times) if times else None), (sum(amounts, Decimal(0)) if amounts else None)


async def assert_rollups(*contact_ids: int) -> None:
    for contact_id in contact_ids:
        row = await every_contact().get(id=contact_id)
        last, total = await expected(contact_id)
        assert row.last_interaction_at == last, contact_id
        assert (None if row.deal_total is None else Decimal(row.deal_total)) == total, contact_id


async def add_deal(contact: Contact, amount: str, status: str, currency: str = "USD") -> Deal:
    return await Deal.create(
        contact_id=contact.id,
        account_id=contact.account_id,  # type: ignore[attr-defined]
        product_name="Plan",
        amount=Decimal(amount),
        currency=currency,
        payment_type="ONE_TIME",
        status=status,
    )


async def new_contact(account_id: int, name: str, **fields: Any) -> Contact:
    return await Contact.create(account_id=account_id, first_name=name, **{"status": "lead", **fields})


async def test_rollups_follow_every_write(acme: Tenant) -> None:
    account = await Account.get(name=acme.name)
    ann, bob = await new_contact(account.id, "Ann"), await new_contact(account.id, "Bob")
    await assert_rollups(ann.id, bob.id)  # nothing yet: both null

    # Calls count once they happened (logged with a direction, or given an outcome).
    upcoming = await Call.create(
        contact_id=ann.id, event_name="Intro", scheduled_at=NOW + timedelta(days=2), duration_minutes=30
    )
    await assert_rollups(ann.id)
    assert (await Contact.get(id=ann.id)).last_interaction_at is None
    await Call.filter(id=upcoming.id).update(outcome="SPOKE")
    await assert_rollups(ann.id)
    assert (await Contact.get(id=ann.id)).last_interaction_at == NOW + timedelta(days=2)
    logged = await Call.create(
        contact_id=ann.id,
        event_name="Call",
        scheduled_at=NOW - timedelta(days=3),
        duration_minutes=5,
        direction="INBOUND",
    )
    await assert_rollups(ann.id)

    # Messages and leads, newer and older; an update of the time recomputes.
    message = await Message.create(
        contact_id=ann.id, channel="SMS", direction="OUTBOUND", status="SENT", to_address="+1", body="hi"
    )
    await Message.filter(id=message.id).update(created_at=NOW + timedelta(days=5))
    await assert_rollups(ann.id)
    form = await Form.create(account_id=account.id, name="Quote", key=f"k-{account.id}")
    lead = await Lead.create(
        account_id=account.id,
        contact_id=bob.id,
        form_id=form.id,
        form_name="Quote",
        submitted_at=NOW - timedelta(days=1),
        status="NEW",
        match_reason="NEW",
        fingerprint="b",
    )
    await assert_rollups(ann.id, bob.id)

    # Deals: OPEN and WON add up, LOST does not; a status change or a delete recomputes.
    open_deal = await add_deal(ann, "100.25", "OPEN")
    await add_deal(ann, "50", "WON", currency="EUR")
    await add_deal(ann, "1000", "LOST")
    await assert_rollups(ann.id)
    assert Decimal((await Contact.get(id=ann.id)).deal_total) == Decimal("150.25")
    await Deal.filter(id=open_deal.id).update(status="LOST")
    await assert_rollups(ann.id)

    # A contact object loaded before the writes and saved after them keeps the database's
    # values: the ORM never writes the roll-ups.
    stale = await Contact.get(id=bob.id)
    await Call.create(
        contact_id=bob.id, event_name="Late", scheduled_at=NOW, duration_minutes=5, outcome="NO_ANSWER"
    )
    stale.first_name = "Robert"
    await stale.save()
    await assert_rollups(bob.id)
    assert (await Contact.get(id=bob.id)).last_interaction_at == NOW

    # Rows moved between contacts (as a merge does) recompute both; deletes recompute.
    await Message.filter(id=message.id).update(contact_id=bob.id)
    await Deal.filter(contact_id=ann.id).update(contact_id=bob.id)
    await assert_rollups(ann.id, bob.id)
    await Call.filter(id=logged.id).delete()
    await Lead.filter(id=lead.id).delete()
    await Message.filter(id=message.id).delete()
    await assert_rollups(ann.id, bob.id)
    await Deal.filter(contact_id=bob.id).delete()
    await Call.filter(contact_id__in=[ann.id, bob.id]).delete()
    await assert_rollups(ann.id, bob.id)
    for contact in (ann, bob):
        row = await Contact.get(id=contact.id)
        assert row.last_interaction_at is None and row.deal_total is None


async def test_merging_moves_the_rollups(as_admin: Api, acme: Tenant) -> None:
    account = await Account.get(name=acme.name)
    primary, duplicate = await new_contact(account.id, "Ann"), await new_contact(account.id, "Ann")
    await add_deal(duplicate, "70", "OPEN")
    await Call.create(
        contact_id=duplicate.id, event_name="Call", scheduled_at=NOW, duration_minutes=5, outcome="SPOKE"
    )
    await as_admin.data(
        "mutation($i: MergeContactsInput!) { mergeContacts(input: $i) { contact { id } } }",
        {
            "i": {
                "primaryId": global_id_text("Contact", primary.id),
                "duplicateIds": [global_id_text("Contact", duplicate.id)],
            }
        },
    )
    await assert_rollups(primary.id, duplicate.id)
    row = await Contact.get(id=primary.id)
    assert row.last_interaction_at == NOW and Decimal(row.deal_total) == Decimal("70")


TABLE = """query($f: ContactFilter, $archived: Boolean! = false) {
  contacts(first: 100, filter: $f, archived: $archived) { totalCount edges { node { id } } }
}"""


async def test_counts_from_memberships_leave_out_archived_merged_and_other_accounts(
    as_admin: Api, acme: Tenant, globex: Tenant
) -> None:
    """A filter of memberships only is counted from them (crm/contact_count.py): the archived
    and merged contacts and another account's rows that hold the same tag, field value or form
    must not be counted, and the count must be the page's."""
    account = await Account.get(name=acme.name)
    other = await Account.get(name=globex.name)
    vip = await Tag.create(account_id=account.id, name="VIP", key="vip")
    hot = await Tag.create(account_id=account.id, name="Hot", key="hot")
    their_vip = await Tag.create(account_id=other.id, name="VIP", key="vip")
    tier = await CustomField.create(account_id=account.id, key="tier", label="Tier", type="SELECT",
                                    options=["gold", "silver"])  # fmt: skip
    form = await Form.create(account_id=account.id, name="Quote", key=f"q-{account.id}")

    live = [await new_contact(account.id, f"Live {i}") for i in range(4)]
    archived = await new_contact(account.id, "Archived", archived_at=NOW)
    merged = await new_contact(account.id, "Merged")
    theirs = await new_contact(other.id, "Theirs")
    for contact in (*live[:3], archived, merged):
        await ContactTag.create(contact_id=contact.id, tag_id=vip.id)
    await ContactTag.create(contact_id=live[0].id, tag_id=hot.id)  # two of the tags: counted once
    await ContactTag.create(contact_id=live[3].id, tag_id=hot.id)
    await ContactTag.create(contact_id=theirs.id, tag_id=their_vip.id)
    for contact in (live[0], live[1], live[3], archived, merged):
        await CustomFieldValue.create(field_id=tier.id, contact_id=contact.id, value_text="gold")
    for index, contact in enumerate((live[0], live[0], live[2], archived, merged)):  # two leads for one
        await Lead.create(
            account_id=account.id,
            contact_id=contact.id,
            form_id=form.id,
            form_name="Quote",
            submitted_at=NOW,
            status="NEW",
            match_reason="NEW",
            fingerprint=f"{index}",
        )
    for contact in (live[1], live[1], archived, merged, theirs):  # two deals for one
        await add_deal(contact, "10", "OPEN")
    await every_contact().filter(id=merged.id).update(merged_into_id=live[0].id)

    form_id = global_id_text("Form", form.id)
    cases = [
        ({"tags": {"any": ["VIP"]}}, {0, 1, 2}, {"Archived"}),
        ({"tags": {"any": ["vip", "Hot"]}}, {0, 1, 2, 3}, {"Archived"}),
        ({"tags": {"all": ["VIP", "hot"]}}, {0}, set()),
        ({"customFields": [{"key": "tier", "eq": "gold"}]}, {0, 1, 3}, {"Archived"}),
        ({"customFields": [{"key": "tier", "isNull": False}], "tags": {"any": ["VIP"]}}, {0, 1},
         {"Archived"}),
        ({"leads": {"form": {"in": [form_id]}}}, {0, 2}, {"Archived"}),
        ({"deals": {"status": {"in": ["OPEN"]}}}, {1}, {"Archived"}),
        ({"leads": {"form": {"in": [form_id]}}, "tags": {"any": ["VIP", "Hot"]}}, {0, 2}, {"Archived"}),
    ]  # fmt: skip
    compiler = await filter_compiler(account.id)
    for spec, want, want_archived in cases:
        # The membership count is what answers (not the fallback COUNT over contacts).
        domain = {**spec}
        if "leads" in domain:
            domain = {**domain, "leads": {"form": {"in": [form.id]}}}
        assert scoped_count(account.id, await compiler.compile(domain), False) is not None, spec
        page = (await as_admin.data(TABLE, {"f": spec}))["contacts"]
        names = {e["node"]["id"] for e in page["edges"]}
        assert names == {global_id_text("Contact", live[i].id) for i in want}, spec
        assert page["totalCount"] == len(want), spec
        archive = (await as_admin.data(TABLE, {"f": spec, "archived": True}))["contacts"]
        assert archive["totalCount"] == len(want_archived) == len(archive["edges"]), spec

    # Anything that needs the contact rows is counted on them.
    for domain in ({"tags": {"any": ["VIP"]}, "firstName": {"eq": "Live 0"}},
                   {"calls": {"upcoming": True}},
                   {"tags": {"none": ["VIP"]}},
                   {"or": [{"tags": {"any": ["VIP"]}}, {"city": {"eq": "Paris"}}]}):  # fmt: skip
        assert scoped_count(account.id, await compiler.compile(domain), False) is None, domain


async def test_owner_filter_counted_in_disjoint_parts_counts_each_contact_once(
    as_admin: Api, acme: Tenant
) -> None:
    """`owner: {in: [...]}` is counted as three parts that add up (crm/contact_count.DisjointAny:
    setter; closer, not setter; assigned, neither): a contact a rep owns in two or three roles
    is one match, a contact with no owner at all or with null owner columns is none, and the
    split stays out of `not` and `or`."""
    account = await Account.get(name=acme.name)
    rep, other = acme.user_ids["rep"], acme.user_ids["manager"]
    cases = [  # (setter, closer, assigned, status)
        (rep, rep, rep, "lead"),  # all three roles: once
        (rep, None, rep, "lead"),
        (None, rep, None, "lead"),
        (other, rep, rep, "lead"),
        (other, None, rep, "lead"),
        (other, other, None, "lead"),  # not the rep's
        (None, None, None, "lead"),
        (rep, rep, None, "customer"),  # the rep's, another status
    ]
    made = [
        await new_contact(
            account.id, f"C{i}", setter_owner_id=s, closer_owner_id=c, assigned_to_id=a, status=status
        )
        for i, (s, c, a, status) in enumerate(cases)
    ]
    await new_contact(account.id, "Archived", setter_owner_id=rep, archived_at=NOW)
    compiler = await filter_compiler(account.id)
    checks = [  # in the domain form (user ids as ints); the API gets filter_to_client's JSON
        ({"owner": {"in": [rep]}}, {0, 1, 2, 3, 4, 7}, True),
        ({"owner": {"in": [rep]}, "status": {"in": ["lead"]}}, {0, 1, 2, 3, 4}, True),
        ({"owner": {"in": [rep, other]}}, {0, 1, 2, 3, 4, 5, 7}, True),
        ({"not": {"owner": {"in": [rep]}}}, {5, 6}, False),
        ({"or": [{"owner": {"in": [rep]}}, {"firstName": {"eq": "C6"}}]}, {0, 1, 2, 3, 4, 6, 7}, False),
    ]
    for spec, want, split in checks:
        parts = disjoint_parts(await compiler.compile(spec))
        assert (parts is not None and len(parts) == 3) is split, spec
        page = (await as_admin.data(TABLE, {"f": filter_to_client(spec)}))["contacts"]
        assert {e["node"]["id"] for e in page["edges"]} == {
            global_id_text("Contact", made[i].id) for i in want
        }, spec
        assert page["totalCount"] == len(want), spec
