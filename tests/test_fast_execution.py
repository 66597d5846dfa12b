"""The compiled execution path (graph/execution.py) answers exactly what graphql-core answers.

Every query of the corpus runs twice on the same data, once per executor, and the two
responses must be equal: same data, same errors (message, path, locations, extensions), in
the same order. Part one is Dossier's own schema on seeded cards; part two is a small schema
built to reach the corners the card never does on good data: nulls in non-null positions,
scalars that refuse a value, resolvers that raise, async fields inside lists of objects,
unions, interfaces, generators and permission classes.
"""

from __future__ import annotations

import asyncio
import enum
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, NewType

import pytest
import strawberry
from strawberry import relay
from strawberry.permission import BasePermission
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from crm.actor import Actor
from crm.clock import utcnow
from crm.models import Contact, ContactProfile, Conversion, Invoice, Lead, RewardEntry
from crm.services.call_log import CallDirection, log_call
from crm.services.calls import CallOutcome
from crm.services.chat import record_chat_message
from graph.execution import FastExecutionContext, execution_context_class, fast_path_from_env
from graph.ids import encode_cursor, global_id
from tests.conftest import Api, Tenant
from tests.test_statement_counts import (
    A_FEW,
    CARD_FIELDS,
    account_of,
    add_contacts,
    add_tags,
    add_users,
    fill_sections,
)

# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def responses_of(result: Any) -> dict[str, Any]:
    return {"data": result.data, "errors": [e.formatted for e in result.errors or ()]}


async def both(schema: strawberry.Schema, query: str, variables: dict[str, Any] | None = None, **kw: Any):
    """The response through graphql-core's executor, then through the compiled one."""
    answers = []
    for executor in (StrawberryGraphQLCoreExecutionContext, FastExecutionContext):
        schema.execution_context_class = executor
        answers.append(responses_of(await schema.execute(query, variable_values=variables, **kw)))
    return answers


def in_any_error_order(response: dict[str, Any]) -> dict[str, Any]:
    """The response with its errors sorted: sibling fields resolve concurrently, so the order their
    errors are listed in follows timing (the spec gives the list no order); the set must match."""
    errors = response.get("errors")
    if not errors:
        return response
    return response | {"errors": sorted(errors, key=lambda e: json.dumps(e, sort_keys=True, default=str))}


async def both_over_http(api: Api, query: str, variables: dict[str, Any] | None = None):
    schema = api.runtime.schema
    original = schema.execution_context_class
    answers = []
    try:
        for executor in (StrawberryGraphQLCoreExecutionContext, FastExecutionContext):
            schema.execution_context_class = executor
            answers.append(await api.post(query, variables))
    finally:
        schema.execution_context_class = original
    return answers


# --------------------------------------------------------------------------------------
# Part one: Dossier's schema
# --------------------------------------------------------------------------------------


@pytest.fixture
async def seeded(acme: Tenant) -> list[int]:
    account_id = await account_of(acme)
    users = await add_users(account_id, 3, "fast")
    tags = await add_tags(account_id, 4)
    # The third contact has no owners: null objects where the others have users.
    contact_ids = await add_contacts(
        account_id, [(users[0], users[1], users[2]), (users[1], None, users[0]), (None, None, None)]
    )
    await fill_sections(account_id, contact_ids, A_FEW, users, tags)
    # Through the services, as a chat plugin and a rep would: a chat message and a logged call
    # join the first card's communication history (fill_sections' rows are inserted directly).
    admin = Actor.user(account_id, acme.user_ids["admin"], "Acme Admin", "admin")
    said = utcnow() - timedelta(hours=2)
    await record_chat_message(
        Actor.plugin(account_id, "webchat"), contact_ids[0], "INBOUND", "Is Tuesday ok?", said
    )
    await log_call(
        admin,
        contact_ids[0],
        said - timedelta(hours=1),
        CallDirection.OUTBOUND,
        240,
        CallOutcome.SPOKE,
        "Booked Tuesday",
    )
    return contact_ids


CARD = "query Card($id: ID!) { contact(id: $id) { ...Card } }" + CARD_FIELDS
PAGE = (
    """
query Page($first: Int!) {
  contacts(first: $first) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { __typename ...Card } }
  }
}"""
    + CARD_FIELDS
)
ALIASES_AND_MERGES = """
query Aliases($id: ID!) {
  contact(id: $id) {
    a: firstName b: firstName firstName
    owner: setterOwner { id } owner: setterOwner { name email }
    latest: journey(first: 3) { edges { node { kind } } }
    latest: journey(first: 3) { edges { node { summary actor { name } } } }
    oldest: journey(first: 2, order: OLDEST_FIRST) { edges { cursor c2: cursor node { k: kind } } }
    ... on Contact { lastName email }
    ...Names
    ...Names
    calls { id ... on Call { when: scheduledAt badges } eventName }
  }
}
fragment Names on Contact { firstName lastName displayName tags { name id } }
"""
DIRECTIVES = """
query Directives($id: ID!, $yes: Boolean!, $no: Boolean!) {
  contact(id: $id) {
    firstName @include(if: $yes)
    lastName @include(if: $no)
    email @skip(if: $yes)
    phone @skip(if: $no)
    notes @include(if: $yes) { id body @skip(if: $yes) author @include(if: $yes) { name } }
    deals @skip(if: $yes) { id }
    ...Owners @include(if: $no)
    ... @skip(if: $no) { closerOwner { name } }
    journey(first: 4) { edges { node { kind @include(if: $yes) summary @include(if: $no) } } }
  }
}
fragment Owners on Contact { setterOwner { name } }
"""
TYPENAMES_AND_NODES = """
query Typenames($id: ID!, $call: ID!) {
  __typename
  contact(id: $id) {
    __typename
    journey(first: 5) {
      __typename
      edges {
        __typename
        node { __typename actor { __typename user { __typename } } changes { __typename field } }
      }
    }
    calls { __typename id }
  }
  node(id: $call) { __typename id ... on Call { eventName bookedBy { name } contact { displayName } } }
  viewer { user { id name role } account { name } }
  users { id name email }
}
"""
ERRORS = """
query Errors($id: ID!, $missing: ID!) {
  contact(id: $id) { firstName journey(first: 1) { edges { node { kind } } } }
  gone: contact(id: $missing) { firstName }
  bad: node(id: "not an id") { id }
}
"""
FORBIDDEN = "{ viewer { user { name } } plugins { name } }"
# Bounded lists: aliases slicing the same list of one contact differently, and the errors of
# bad bounds beside good data (an `after` of one card, asked of every card of a page).
SLICES = """
query Slices($id: ID!, $note: ID!, $call: ID!, $tag: ID!, $utm: String!) {
  contact(id: $id) {
    a: notes(first: 1) { id body author { name } createdBy { kind name user { id name } } }
    b: notes(first: 2, after: $note) { id text }
    c: notes { id }
    soon: calls(when: UPCOMING, first: 1) { id eventName bookedBy { name } }
    all: calls(first: 2, after: $call) { id scheduledAt }
    past: calls(when: PAST, first: 1, after: $call) { id }
    t1: tags(first: 2) { id name }
    t2: tags(first: 2, after: $tag) { id name }
    u1: utms(first: 1) { cursor source }
    u2: utms(after: $utm) { cursor campaign }
    formAnswers(first: 2) { cursor question }
    deals(first: 1) { id amount }
    lastBookedEvent
  }
}
"""
SLICE_ERRORS = """
query SliceErrors($id: ID!, $note: ID!) {
  contact(id: $id) { firstName notes(first: 0) { id } }
  wrongType: contact(id: $id) { calls(after: $note) { id } }
  tooMany: contact(id: $id) { tags(first: 101) { id } utms(after: "nope") { source } }
}
"""
# A list item's error that reaches the root: `contacts` is non-null, so `data` is null. In its
# own operation, since once `data` is null the spec leaves which sibling fields' errors were
# recorded to timing (a loaded machine lost the aliased `contact` errors above on either path),
# and with one item, for the same reason between list items.
SLICE_LIST_ERRORS = """
query SliceListErrors($deal: ID!) {
  contacts(first: 1) { edges { node { id deals(first: 1, after: $deal) { id } } } }
}
"""

# Conversions: the root list, a status filter, node(), a card's page, and a bad cursor's error
# beside good data.
CONVERSIONS = """
query Conversions($id: ID!, $conversion: ID!) {
  conversions(first: 3) {
    nodes { id status routing record { name value } contact { id displayName } createdBy { name } }
    pageInfo { hasNextPage endCursor }
  }
  sent: conversions(status: SENT, first: 2) { edges { cursor node { id status reviewedBy { name } } } }
  node(id: $conversion) {
    __typename id ... on Conversion { routing fields { name value } contact { firstName } }
  }
  contact(id: $id) {
    c1: conversions(first: 1) { edges { cursor node { id rep } } pageInfo { hasNextPage endCursor } }
  }
  bad: contact(id: $id) { firstName conversions(after: "nope") { nodes { id } } }
}
"""
# The incoming-call lookup (by a secondary phone, in a national format), a miss, a bad number,
# and the archive's list: the card's lifecycle fields on both paths.
LIFECYCLE = """
query Lifecycle($phone: String!) {
  contactByPhone(phone: $phone) {
    id displayName archivedAt tags { name }
    past: calls(when: PAST) { id direction durationSeconds summary outcome }
  }
  nobody: contactByPhone(phone: "+1 212 555 0199") { id }
  bad: contactByPhone(phone: "12") { id }
  contacts(first: 5, archived: true) { totalCount nodes { id archivedAt } }
}
"""

# Leads: the root list and its filters, node(), a card's slice after a lead, the touches, and a
# bad cursor's error beside good data.
LEADS = """
query Leads($id: ID!, $lead: ID!) {
  leads(first: 3) {
    nodes { id formName status matchReason identity contact { id displayName } answers { question } }
    pageInfo { hasNextPage endCursor }
  }
  dups: leads(status: DUPLICATE, formName: "Form 1", first: 2) { edges { cursor node { id variant } } }
  node(id: $lead) { __typename id ... on Lead { submittedAt utms { source } contact { firstName } } }
  contact(id: $id) {
    older: leads(first: 1, after: $lead) { id formName }
    firstTouch { formName utm { campaign } lead { id } }
    lastTouch { submittedAt variant utm { source } }
  }
  bad: contact(id: $id) { firstName leads(after: "nope") { id } }
}
"""

# Merges: a card's merges (one undone), a page after one, node(), the hint for an absorbed id,
# duplicate candidates, and a bad bound beside good data.
MERGES = """
query Merges($id: ID!, $merge: ID!, $absorbed: ID!) {
  contact(id: $id) {
    merges {
      id createdAt undoneAt undoneBy actor { kind name user { name } } absorbed { id displayName }
      moved { kind count } filled { field fromContactId value } primary { id displayName }
    }
    m1: merges(first: 1, after: $merge) { id }
    duplicateCandidates(first: 5) { reason contact { id displayName email } }
  }
  node(id: $merge) { __typename id ... on ContactMerge { createdAt absorbed { displayName } } }
  gone: contact(id: $absorbed) { id }
  bad: contact(id: $id) { firstName duplicateCandidates(first: 50) { reason } }
}
"""

# Issue 12's card sections: a communications page, the page after it and a channels filter
# (union members with their nested lists), insights, documents by status with line items and
# links, node() of an invoice, and bad input beside good data (a bad cursor, no channels).
COMMUNICATIONS = """
query Communications($id: ID!, $after: String!, $invoice: ID!) {
  contact(id: $id) {
    communications(first: 3) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges {
        cursor channel at direction
        node {
          __typename
          ... on Call { id outcome summary callDirection: direction durationSeconds bookedBy { name } }
          ... on Message { id channel body messageDirection: direction author { name } contact { id } }
          ... on Lead { id formName answers { question } utms { source } }
        }
      }
    }
    next: communications(first: 3, after: $after) {
      edges { cursor channel node { __typename ... on Call { id } ... on Message { id } ... on Lead { id } } }
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
    said: communications(channels: [CHAT, WEBFORM]) {
      totalCount
      edges { channel node { __typename ... on Message { body subject } ... on Lead { formName status } } }
    }
    insights {
      customerSince jobsCompleted lifetimeValue { amount currency } mostCommonChannel
      lastInteraction { at channel summary }
    }
    quotes(status: ACCEPTED) { nodes { id number status total lineItems { description quantity total } } }
    jobs(status: DONE, first: 1) {
      edges { cursor node { id status completedAt assignee { name } quote { number lineItems { tax } } } }
      pageInfo { hasNextPage endCursor }
    }
    invoices(status: PAID) {
      nodes {
        id number amountPaid balanceDue paidAt overdue job { title } quote { number } lineItems { total }
      }
    }
  }
  node(id: $invoice) { __typename id ... on Invoice { number total contact { id } job { status } } }
  bad: contact(id: $id) { firstName communications(after: "nope") { totalCount } }
  noChannels: contact(id: $id) { firstName communications(channels: []) { totalCount } }
  badQuote: contact(id: $id) { firstName quotes(first: 2, after: "nope") { nodes { id } } }
}
"""


async def communication_ids(admin: Api, contact_id: int) -> dict[str, str]:
    """The cursor of the first page's last item, and the contact's first invoice."""
    query = "query($id: ID!) { contact(id: $id) { communications(first: 3) { edges { cursor } } } }"
    edges = (await admin.data(query, {"id": contact_gid(contact_id)}))["contact"]["communications"]["edges"]
    invoice = await Invoice.filter(contact_id=contact_id).order_by("id").first()
    assert invoice is not None
    return {
        "id": contact_gid(contact_id),
        "after": edges[-1]["cursor"],
        "invoice": str(global_id("Invoice", invoice.id)),
    }


# Issue 12's header, profile, referrals, rewards and opt-ins: a card's (deal likelihoods, the
# opportunity, every kind of profile value, its inviter's and its invited contacts' own
# referrals, the next page of invited and of the ledger), a bare card's nulls and empties
# (no profile row, no inviter, an empty ledger: the account's currency), and bad input
# beside good data (a bad invited cursor, a ledger page of 0).
REFERRALS = """
query Referrals($id: ID!, $bare: ID!, $after: String!, $line: String!) {
  contact(id: $id) {
    leadSource actionPlan salesCycle
    deals { status likelihood closeDate }
    opportunity {
      dealSize { amount currency } quoted { amount } closed { amount } likelihood closeDate excludedDeals
    }
    profile {
      age birthDate netWorth { amount currency } marketValue { amount currency } anniversary1 { date label }
      gender homeOwnerStatus children lengthOfResidence linkedinUrl
    }
    referral {
      referralCode referralCount flowLink
      inviter { id displayName referral { referralCount invited(first: 5) { nodes { id } } } }
      invited(first: 1) {
        edges { cursor node { id displayName referral { inviter { id } } } }
        pageInfo { hasNextPage hasPreviousPage endCursor }
      }
      later: invited(first: 1, after: $after) { nodes { id } pageInfo { hasNextPage hasPreviousPage } }
    }
    rewards {
      toBeIssued { amount currency } balance { amount } promosRedeemed preferredReward lastIssuedAt
      ledger(first: 2) {
        edges { cursor node { kind amount { amount currency } direct promoCode createdBy { name } } }
        pageInfo { hasNextPage }
      }
      older: ledger(first: 2, after: $line) { edges { node { kind reason } } }
    }
    privacyOptIn { optedIn at source }
    communicationOptIn { optedIn source }
  }
  bare: contact(id: $bare) {
    profile { netWorth { amount } age anniversary1 { date } gender }
    referral { inviter { id } invited { nodes { id } } referralCount }
    rewards { balance { amount currency } preferredReward lastIssuedAt ledger { edges { cursor } } }
    privacyOptIn { optedIn at source }
  }
  bad: contact(id: $id) { firstName referral { invited(after: "nope") { nodes { id } } } }
  noLines: contact(id: $id) { firstName rewards { ledger(first: 0) { edges { cursor } } } }
}
"""


async def referral_ids(contact_id: int, bare_id: int) -> dict[str, str]:
    """The first card's first invited contact and newest ledger line as cursors; the bare card
    loses its profile row, ledger, inviter, invited contacts and opt-ins."""
    await ContactProfile.filter(contact_id=bare_id).delete()
    await RewardEntry.filter(contact_id=bare_id).delete()
    await Contact.filter(inviter_id=bare_id).update(inviter_id=None)
    await Contact.filter(id=bare_id).update(
        inviter_id=None, privacy_opt_in=False, privacy_opt_in_at=None, privacy_opt_in_source=None,
        preferred_reward=None,
    )  # fmt: skip
    invited = await Contact.filter(inviter_id=contact_id).order_by("id").first()
    line = await RewardEntry.filter(contact_id=contact_id).order_by("-id").first()
    assert invited is not None and line is not None
    return {
        "id": contact_gid(contact_id),
        "bare": contact_gid(bare_id),
        "after": encode_cursor("invited", invited.id),
        "line": encode_cursor("reward", line.id),
    }


# Issue 13's card sections: tasks filtered by status, the page after a cursor, upcoming actions
# (both members of the union, with aliases and __typename), files and the page after one, the
# past calls' recordings and their share links, node() of a task and a file, the caller's own
# tasks, and bad input beside good data (bad cursors, no statuses, a bound out of range, a link
# that would expire at once).
TASKS_AND_FILES = """
query TasksAndFiles($id: ID!, $after: String!, $file: String!, $task: ID!, $attachment: ID!) {
  contact(id: $id) {
    open: tasks(status: [OPEN], first: 2) {
      edges { cursor node { id title dueAt overdue kind assignee { name } } }
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
    rest: tasks(first: 2, after: $after) {
      nodes { id title taskStatus: status completedAt completedBy { name } contact { id } }
      pageInfo { hasNextPage hasPreviousPage }
    }
    closed: tasks(status: [DONE, CANCELLED]) { nodes { t: title s: status } }
    soon: upcomingActions(first: 3) {
      __typename
      ... on Task { id title due: dueAt kind owner { name } endsAt }
      ... on Call { id eventName at: scheduledAt isUpcoming bookedBy { name } recording { duration } }
    }
    first: upcomingActions(first: 1) { kind: __typename ... on Task { id } ... on Call { id } }
    attachments(first: 2) {
      edges {
        cursor
        node {
          id kind title filename contentType size sha256 uploadedBy { name } contact { id }
          link: downloadUrl(expiresIn: 60)
        }
      }
      pageInfo { hasNextPage endCursor }
    }
    older: attachments(first: 2, after: $file) { nodes { id kind title } }
    past: calls(when: PAST) {
      id
      recording {
        duration filename attachmentId downloadUrl shareUrl
        shares { createdByName active url call { id } }
      }
    }
  }
  node(id: $task) { __typename id ... on Task { title status contact { id } } }
  file: node(id: $attachment) { __typename ... on Attachment { title kind } }
  myTasks(due: ANY, first: 3) { nodes { id } }
  badTask: contact(id: $id) { firstName tasks(after: "nope") { nodes { id } } }
  badFile: contact(id: $id) { firstName attachments(after: "nope") { nodes { id } } }
  tooMany: contact(id: $id) { firstName upcomingActions(first: 101) { __typename } }
  noStatus: contact(id: $id) { firstName tasks(status: []) { nodes { id } } }
  badLink: contact(id: $id) { firstName attachments(first: 1) { nodes { id downloadUrl(expiresIn: 0) } } }
}
"""


# Issue 14's saved views and segments: a card's segments (static and dynamic), the account's
# segments with their counts and members, a segment and a view by id, the caller's views (a
# shared one's filter and order as JSON), and bad input beside good data.
SEGMENTS_AND_VIEWS = """
query SegmentsAndViews($id: ID!, $segment: ID!, $view: ID!) {
  contact(id: $id) {
    segments { __typename id name kind filter createdBy { name } }
    one: segments(first: 1) { name }
  }
  segments(first: 5) {
    edges { cursor node { id name kind filter count createdAt } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
  node(id: $segment) {
    __typename
    ... on Segment {
      name count contacts(first: 2) { totalCount nodes { id firstName } pageInfo { hasNextPage } }
    }
  }
  views { id name filter orderBy columns filterCount shared owner { name } }
  view: node(id: $view) { ... on View { name shared } }
  badMembers: node(id: $segment) { ... on Segment { contacts(after: "nope") { totalCount } } }
  tooMany: contact(id: $id) { firstName segments(first: 101) { id } }
}
"""


async def segment_and_view_ids(admin: Api, contact_id: int) -> dict[str, str]:
    """The seeded account's dynamic segment, and a shared view the admin saves."""
    create = "mutation($i: CreateViewInput!) { createView(input: $i) { id } }"
    view = await admin.data(
        create,
        {
            "i": {
                "name": "Named",
                "filter": {"lastName": {"isNull": False}, "tags": {"any": ["tag-0"]}},
                "orderBy": [{"field": "LAST_NAME", "direction": "DESC"}],
                "columns": ["displayName", "segments"],
                "shared": True,
            }
        },
    )
    found = await admin.data("{ segments(first: 5) { nodes { id kind } } }")
    dynamic = next(n["id"] for n in found["segments"]["nodes"] if n["kind"] == "DYNAMIC")
    return {"id": contact_gid(contact_id), "segment": dynamic, "view": view["createView"]["id"]}


async def task_and_file_ids(admin: Api, contact_id: int) -> dict[str, str]:
    """The cursors of the first page's last task and last file, and the first of each by id."""
    query = """query($id: ID!) { contact(id: $id) {
      tasks(first: 2) { pageInfo { endCursor } nodes { id } }
      attachments(first: 2) { pageInfo { endCursor } nodes { id } }
    } }"""
    card = (await admin.data(query, {"id": contact_gid(contact_id)}))["contact"]
    return {
        "id": contact_gid(contact_id),
        "after": card["tasks"]["pageInfo"]["endCursor"],
        "file": card["attachments"]["pageInfo"]["endCursor"],
        "task": card["tasks"]["nodes"][0]["id"],
        "attachment": card["attachments"]["nodes"][0]["id"],
    }


@pytest.fixture
def frozen_links(monkeypatch: pytest.MonkeyPatch) -> None:
    """Download links carry their expiry in whole seconds: both paths must sign at one time."""
    import time
    from types import SimpleNamespace

    from crm import file_links

    at = time.time()
    monkeypatch.setattr(file_links, "time", SimpleNamespace(time=lambda: at))


async def merged(admin: Api, contact_id: int) -> dict[str, str]:
    """Two merges into the card (the latest undone) and a contact that shares its phone."""
    create = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
    merge = "mutation($i: MergeContactsInput!) { mergeContacts(input: $i) { merge { id } } }"
    unmerge = "mutation($i: UnmergeContactsInput!) { unmergeContacts(input: $i) { merge { id } } }"
    ids = []
    for name in ("Twin", "Triplet"):
        twin = (await admin.data(create, {"i": {"firstName": name, "title": "CFO"}}))["createContact"]["id"]
        done = await admin.data(merge, {"i": {"primaryId": contact_gid(contact_id), "duplicateIds": [twin]}})
        ids.append((done["mergeContacts"]["merge"]["id"], twin))
    await admin.data(unmerge, {"i": {"mergeId": ids[1][0]}})
    phone = (await Contact.get(id=contact_id)).phone
    await admin.data(create, {"i": {"firstName": "Shared line", "phone": phone}})
    return {"id": contact_gid(contact_id), "merge": ids[1][0], "absorbed": ids[0][1]}


def contact_gid(contact_id: int) -> str:
    return str(global_id("Contact", contact_id))


async def test_the_card_corpus_answers_the_same_on_both_paths(
    api: Api, acme: Tenant, seeded: list[int], frozen_links: None
) -> None:
    rep = api.as_(acme.rep_key)
    admin = api.as_(acme.admin_key)
    first, _, ownerless = seeded
    call_id = await first_call(first)
    items = await first_items(first)
    slices = {"id": contact_gid(first), "utm": encode_cursor("utm", items["utm"])}
    slices |= {name: str(global_id(name.title(), items[name])) for name in ("note", "call", "tag")}
    slice_errors = {"id": contact_gid(first), "note": str(global_id("Note", items["note"]))}
    slice_list_errors = {"deal": str(global_id("Deal", items["deal"]))}
    cases: list[tuple[Api, str, dict[str, Any]]] = [
        (admin, CARD, {"id": contact_gid(first)}),
        (admin, CARD, {"id": contact_gid(ownerless)}),
        (admin, PAGE, {"first": 3}),
        (admin, PAGE, {"first": 1}),
        (admin, ALIASES_AND_MERGES, {"id": contact_gid(first)}),
        (admin, DIRECTIVES, {"id": contact_gid(first), "yes": True, "no": False}),
        (admin, DIRECTIVES, {"id": contact_gid(first), "yes": False, "no": True}),
        (admin, TYPENAMES_AND_NODES, {"id": contact_gid(first), "call": str(global_id("Call", call_id))}),
        # A missing contact and a bad id are errors beside good data.
        (rep, ERRORS, errors_of := {"id": contact_gid(first), "missing": contact_gid(10**9)}),
        # A rep may not list plugins, a non-null root field: the whole data is null.
        (rep, FORBIDDEN, {}),
        (rep, SLICES, slices),
        (rep, SLICE_ERRORS, slice_errors),
        (rep, SLICE_LIST_ERRORS, slice_list_errors),
        (rep, LIFECYCLE, {"phone": "(415) 666-0000"}),
        (rep, LEADS, leads := {"id": contact_gid(first), "lead": await last_lead(first)}),
        (
            rep,
            CONVERSIONS,
            conversions := {"id": contact_gid(first), "conversion": await first_conversion(first)},
        ),
    ]
    cases.append((rep, COMMUNICATIONS, communicated := await communication_ids(admin, first)))
    cases.append((rep, MERGES, merge_ids := await merged(admin, first)))
    cases.append((rep, REFERRALS, referred := await referral_ids(first, seeded[2])))
    cases.append((rep, TASKS_AND_FILES, tasked := await task_and_file_ids(admin, first)))
    cases.append((rep, SEGMENTS_AND_VIEWS, segmented := await segment_and_view_ids(admin, first)))
    for client, query, variables in cases:
        graphql_core, compiled = await both_over_http(client, query, variables)
        assert in_any_error_order(compiled) == in_any_error_order(graphql_core), (
            f"paths differ for {query[:40]!r} with {variables}"
        )
    # The corpus reaches errors and nulls, not only clean data.
    errors = (await both_over_http(rep, ERRORS, errors_of))[1]["errors"]
    assert {e["extensions"]["code"] for e in errors} == {"NOT_FOUND", "BAD_USER_INPUT"}
    forbidden = (await both_over_http(rep, FORBIDDEN))[1]
    assert forbidden["data"] is None and forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    sliced = (await both_over_http(rep, SLICES, slices))[1]["data"]["contact"]
    assert len(sliced["a"]) == 1 and len(sliced["b"]) == 1 and len(sliced["c"]) == 3
    assert len(sliced["t1"]) == 2 and sliced["t2"] and sliced["t2"][0] != sliced["t1"][0]
    converted = (await both_over_http(rep, CONVERSIONS, conversions))[1]
    assert len(converted["data"]["conversions"]["nodes"]) == 3 and converted["data"]["node"]["routing"]
    assert converted["data"]["bad"] is None and converted["errors"][0]["extensions"]["field"] == "after"
    lifecycle = (await both_over_http(rep, LIFECYCLE, {"phone": "(415) 666-0000"}))[1]
    assert lifecycle["data"]["contactByPhone"]["id"] == contact_gid(first)
    assert any(c["direction"] == "INBOUND" for c in lifecycle["data"]["contactByPhone"]["past"])
    assert [e["path"] for e in lifecycle["errors"]] == [["bad"]]
    led = (await both_over_http(rep, LEADS, leads))[1]
    assert len(led["data"]["leads"]["nodes"]) == 3 and led["data"]["node"]["__typename"] == "Lead"
    assert len(led["data"]["contact"]["older"]) == 1 and led["data"]["contact"]["firstTouch"]["utm"]
    assert led["data"]["bad"] is None and led["errors"][0]["extensions"]["field"] == "after"
    merges = (await both_over_http(rep, MERGES, merge_ids))[1]
    card = merges["data"]["contact"]
    # Newest first: the two made here, then the two each seeded card has (A_FEW).
    assert [m["undoneAt"] is None for m in card["merges"]] == [False, True, False, True]
    assert card["m1"] == [{"id": card["merges"][1]["id"]}]
    assert [c["reason"] for c in card["duplicateCandidates"]] == ["PHONE"]
    assert merges["data"]["node"]["absorbed"] == [{"displayName": "Triplet"}]
    assert sorted((e["path"], e["extensions"]["code"]) for e in merges["errors"]) == [
        (["bad", "duplicateCandidates"], "BAD_USER_INPUT"),
        (["gone"], "NOT_FOUND"),
    ]
    talked = (await both_over_http(rep, COMMUNICATIONS, communicated))[1]
    history = talked["data"]["contact"]
    assert history["communications"]["totalCount"] == 11  # 4 calls + 1 logged, 3 + 1 messages, 2 leads
    assert len(history["next"]["edges"]) == 3 and history["next"]["pageInfo"]["hasPreviousPage"] is True
    assert {
        e["node"]["__typename"] for e in history["communications"]["edges"] + history["next"]["edges"]
    } == {
        "Call",
        "Message",
        "Lead",
    }
    assert [e["channel"] for e in history["said"]["edges"]] == ["WEBFORM", "WEBFORM", "CHAT", "CHAT"]
    assert history["said"]["edges"][2]["node"]["body"] == "Is Tuesday ok?"
    assert history["insights"]["jobsCompleted"] == 1 and history["insights"]["lastInteraction"]
    assert history["quotes"]["nodes"] and history["quotes"]["nodes"][0]["lineItems"]
    assert history["jobs"]["edges"][0]["node"]["quote"]["number"]
    assert history["invoices"]["nodes"][0]["job"] and talked["data"]["node"]["__typename"] == "Invoice"
    assert sorted(
        (e["path"][0], e["extensions"]["code"], e["extensions"].get("field")) for e in talked["errors"]
    ) == [
        ("bad", "BAD_USER_INPUT", "after"),
        ("badQuote", "BAD_USER_INPUT", "after"),
        ("noChannels", "BAD_USER_INPUT", "channels"),
    ]
    bad_bounds = (await both_over_http(rep, SLICE_ERRORS, slice_errors))[1]["errors"]
    assert {e["extensions"].get("field") for e in bad_bounds} == {"first", "after"}, bad_bounds
    list_error = await both_over_http(rep, SLICE_LIST_ERRORS, slice_list_errors)
    assert list_error[1]["data"] is None
    assert [e["path"] for e in list_error[1]["errors"]] == [["contacts", "edges", 0, "node", "deals"]]
    referrals = (await both_over_http(rep, REFERRALS, referred))[1]
    card, bare = referrals["data"]["contact"], referrals["data"]["bare"]
    assert card["leadSource"] == "Referral" and [d["likelihood"] for d in card["deals"]] == [None, 10, 20]
    # OPEN deals 0 and 2 (1499.50 and 1501.50); only deal 2 has a likelihood.
    assert card["opportunity"]["quoted"]["amount"] == "3001.00" and card["opportunity"]["likelihood"] == 20
    assert card["profile"]["anniversary1"] == {"date": "2005-06-01", "label": "Wedding"}
    assert card["profile"]["marketValue"] == {"amount": "410000.00", "currency": "EUR"}
    referral = card["referral"]
    assert referral["inviter"]["referral"]["invited"]["nodes"] == [{"id": referred["id"]}]
    assert referral["invited"]["edges"][0]["node"]["referral"]["inviter"] == {"id": referred["id"]}
    assert referral["invited"]["pageInfo"]["hasNextPage"] is True and referral["later"]["nodes"]
    assert referral["later"]["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": True}
    assert [e["node"]["kind"] for e in card["rewards"]["ledger"]["edges"]] == ["PROMO_REDEEMED", "ISSUED"]
    assert [e["node"]["kind"] for e in card["rewards"]["older"]["edges"]] == ["ISSUED", "EARNED"]
    assert bare["profile"] == {"netWorth": None, "age": None, "anniversary1": None, "gender": None}
    assert bare["referral"] == {"inviter": None, "invited": {"nodes": []}, "referralCount": 0}
    assert bare["rewards"] == {
        "balance": {"amount": "0.00", "currency": "USD"},
        "preferredReward": "USD",
        "lastIssuedAt": None,
        "ledger": {"edges": []},
    }
    assert bare["privacyOptIn"] == {"optedIn": False, "at": None, "source": None}
    assert sorted(
        (e["path"][0], e["extensions"]["code"], e["extensions"].get("field")) for e in referrals["errors"]
    ) == [("bad", "BAD_USER_INPUT", "after"), ("noLines", "BAD_USER_INPUT", "first")]
    # A_FEW's tasks in the task order: 0 (overdue), 3 (due later), 1 (undated), 2 (done).
    worked = (await both_over_http(rep, TASKS_AND_FILES, tasked))[1]
    card = worked["data"]["contact"]
    assert [e["node"]["title"] for e in card["open"]["edges"]] == ["Follow up 0", "Follow up 3"]
    assert card["open"]["edges"][0]["node"]["overdue"] is True and card["open"]["pageInfo"]["hasNextPage"]
    assert [(t["title"], t["taskStatus"]) for t in card["rest"]["nodes"]] == [
        ("Follow up 1", "OPEN"),
        ("Follow up 2", "DONE"),
    ]
    assert card["rest"]["nodes"][1]["completedBy"] and card["closed"]["nodes"] == [
        {"t": "Follow up 2", "s": "DONE"}
    ]
    assert [a["__typename"] for a in card["soon"]] == ["Task", "Call", "Call"]
    assert card["first"] == [{"kind": "Task", "id": card["soon"][0]["id"]}]
    assert [e["node"]["kind"] for e in card["attachments"]["edges"]] == ["FILE", "FILE"]
    assert [n["kind"] for n in card["older"]["nodes"]] == ["RECORDING", "RECORDING"]
    recorded = [c["recording"] for c in card["past"] if c["recording"]]
    assert len(recorded) == 2 and all(r["shareUrl"] and r["shares"][0]["active"] for r in recorded)
    assert worked["data"]["node"]["title"] == "Follow up 0" and worked["data"]["file"]["kind"] == "FILE"
    assert sorted(
        (e["path"][0], e["extensions"]["code"], e["extensions"].get("field")) for e in worked["errors"]
    ) == [
        ("badFile", "BAD_USER_INPUT", "after"),
        ("badLink", "BAD_USER_INPUT", "expiresIn"),
        ("badTask", "BAD_USER_INPUT", "after"),
        ("noStatus", "BAD_USER_INPUT", "status"),
        ("tooMany", "BAD_USER_INPUT", "first"),
    ]
    # The seeded account's segments (fill_sections): every card is in both.
    grouped = (await both_over_http(rep, SEGMENTS_AND_VIEWS, segmented))[1]
    data = grouped["data"]
    card_segments = [(g["name"], g["kind"]) for g in data["contact"]["segments"]]
    assert card_segments == [("Named", "DYNAMIC"), ("Picked", "STATIC")]
    assert data["contact"]["one"] == [{"name": "Named"}]
    counts = [(e["node"]["name"], e["node"]["count"]) for e in data["segments"]["edges"]]
    assert counts == [("Picked", 3), ("Named", 3)]
    assert data["node"]["count"] == 3 and data["node"]["contacts"]["pageInfo"]["hasNextPage"] is True
    assert data["views"][0]["orderBy"] == [{"field": "LAST_NAME", "direction": "DESC"}]
    assert data["views"][0]["filterCount"] == 2 and data["view"] == {"name": "Named", "shared": True}
    assert sorted((e["path"][0], e["extensions"].get("field")) for e in grouped["errors"]) == [
        ("badMembers", "after"),
        ("tooMany", "first"),
    ]


async def last_lead(contact_id: int) -> str:
    lead = await Lead.filter(contact_id=contact_id).order_by("-id").first()
    assert lead is not None
    return str(global_id("Lead", lead.id))


async def first_conversion(contact_id: int) -> str:
    conversion = await Conversion.filter(contact_id=contact_id).order_by("id").first()
    assert conversion is not None
    return str(global_id("Conversion", conversion.id))


async def first_items(contact_id: int) -> dict[str, int]:
    """The row id of the second item (by id; by name for tags) of each of the contact's lists."""
    from crm.models import Call, ContactTag, Deal, Note, Utm

    items = {}
    for name, model in (("note", Note), ("call", Call), ("deal", Deal), ("utm", Utm)):
        row = await model.filter(contact_id=contact_id).order_by("id").offset(1).first()
        assert row is not None
        items[name] = row.id
    link = await ContactTag.filter(contact_id=contact_id).order_by("tag__name").offset(1).first()
    assert link is not None
    items["tag"] = link.tag_id  # type: ignore[attr-defined]
    return items


async def first_call(contact_id: int) -> int:
    from crm.models import Call

    call = await Call.filter(contact_id=contact_id).order_by("id").first()
    assert call is not None
    return call.id


async def test_the_app_runs_the_compiled_path_unless_switched_off(running_app: Any) -> None:
    async with running_app(fast_path=True) as on:
        assert on.runtime.schema.execution_context_class is FastExecutionContext
    async with running_app(fast_path=False) as off:
        assert off.runtime.schema.execution_context_class is StrawberryGraphQLCoreExecutionContext


def test_the_switch_reads_dossier_fast_path() -> None:
    assert fast_path_from_env({}) is True
    assert fast_path_from_env({"DOSSIER_FAST_PATH": "on"}) is True
    for off in ("off", "0", "false", "No"):
        assert fast_path_from_env({"DOSSIER_FAST_PATH": off}) is False
    assert execution_context_class(False) is StrawberryGraphQLCoreExecutionContext
    assert execution_context_class(True) is FastExecutionContext


# --------------------------------------------------------------------------------------
# Part two: the corners
# --------------------------------------------------------------------------------------


@strawberry.enum
class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


def _serialize_even(value: int) -> int:
    if value % 2:
        raise ValueError(f"{value} is odd")
    return value


Even = NewType("Even", int)
EVEN = strawberry.scalar(name="Even", serialize=_serialize_even, parse_value=int)


class Denied(BasePermission):
    message = "not for you"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.input
class Window:
    start: int
    size: int = 2


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Leaf(Named):
    name: str
    color: Color
    even: Even | None
    maybe: str | None
    required: str  # None on purpose in some rows: a non-null violation
    at: datetime
    tags: list[str]
    grid: list[list[int | None]]
    strict_items: list[str] | None

    @strawberry.field
    def shout(self) -> str:
        if self.name == "boom":
            raise RuntimeError("shout failed")
        return self.name.upper()

    @strawberry.field
    async def later(self) -> str:
        await asyncio.sleep(0)
        if self.name == "late-boom":
            raise RuntimeError("later failed")
        return f"{self.name} later"

    @strawberry.field
    def handed_back(self) -> str:
        # A plain def that returns an awaitable: graphql-core awaits it.
        return self._eventually()

    async def _eventually(self) -> str:
        await asyncio.sleep(0)
        if self.name == "late-boom":
            raise RuntimeError("handed back failed")
        return f"{self.name} eventually"

    @strawberry.field
    def greet(self, greeting: str = "hi") -> str:
        return f"{greeting} {self.name}"

    @strawberry.field(permission_classes=[Denied])
    def secret(self) -> str:
        return "secret"

    @strawberry.field
    def tagged(self, info: strawberry.Info, tags: list[str], color: Color = Color.RED) -> list[str]:
        tags.append(self.name)  # changes its own argument: no other object may see that
        return [*tags, color.value, info.field_name, info.path.key]

    @strawberry.field
    def sliced(self, window: Window) -> list[str]:
        window.start += 1  # likewise for an input object
        return list(self.name[window.start - 1 : window.start - 1 + window.size])

    @strawberry.field
    async def colored(self, color: Color | None = None) -> str:
        if color is Color.BLUE and self.name == "boom":
            raise RuntimeError("blue boom")
        return f"{self.name}:{color.value if color else '-'}"

    @strawberry.field
    def lazy_items(self) -> list[str]:
        return list(self._gen())

    def _gen(self) -> Iterator[str]:
        yield from ("x", "y")

    @strawberry.field
    def generated(self) -> list[int]:
        return (i for i in range(3))  # type: ignore[return-value]

    @strawberry.field
    async def stream_like(self) -> list[int]:
        return [1, 2]


@strawberry.type
class Other(Named):
    name: str
    size: int


Thing = Annotated[Leaf | Other, strawberry.union("Thing")]


@strawberry.type
class Plain(relay.Node):
    code: relay.NodeID[str]
    label: str


@strawberry.type
class Custom(relay.Node):
    code: relay.NodeID[int]

    @classmethod
    def resolve_id(cls, root: Custom, *, info: Any) -> str:
        return f"custom-{root.code}"


@strawberry.type
class Box:
    label: str
    leaves: list[Leaf]
    strict: list[Leaf]
    soft: list[Leaf | None]  # an item's error nulls only that item
    maybe_leaf: Leaf | None
    must_leaf: Leaf
    plain: list[Plain | None] = strawberry.field(default_factory=list)
    custom: list[Custom] = strawberry.field(default_factory=list)

    @strawberry.field
    def things(self) -> list[Thing]:  # type: ignore[valid-type]
        return [self.leaves[0], Other(name="other", size=3)]

    @strawberry.field
    def named(self) -> list[Named]:
        return [self.leaves[0], Other(name="o2", size=4)]


def leaf(name: str, **overrides: Any) -> Leaf:
    values: dict[str, Any] = {
        "name": name,
        "color": Color.RED,
        "even": 2,
        "maybe": None,
        "required": "here",
        "at": datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
        "tags": ["a", "b"],
        "grid": [[1, None], [], [3]],
        "strict_items": ["s"],
    }
    values.update(overrides)
    return Leaf(**values)


def good_box() -> Box:
    good = [leaf("one"), leaf("two", color=Color.BLUE, maybe="m")]
    return Box(
        label="box",
        leaves=good,
        strict=good,
        soft=[*good, None],
        maybe_leaf=good[0],
        must_leaf=good[1],
        plain=[Plain(code="p1", label="one"), Plain(code=None, label="no id")],  # type: ignore[arg-type]
        custom=[Custom(code=7)],
    )


def broken_box() -> Box:
    bad = [
        leaf("boom"),
        leaf("odd", even=3),
        leaf("nulls", required=None, strict_items=["ok", None]),
        leaf("late-boom"),
        leaf("fine"),
    ]
    return Box(label="broken", leaves=bad, strict=bad, soft=bad, maybe_leaf=bad[2], must_leaf=bad[0])


@strawberry.type
class Pair(Named):
    """Shared by many holders: the generated code completes it once per list and site."""

    name: str
    right: str | None
    size: int  # 2**40 in one of them: Int refuses it


class LookAlike:
    """Not a Pair: only a `strawberry.cast` makes it one."""

    def __init__(self, name: str) -> None:
        self.name, self.right, self.size = name, "r", 1


@strawberry.type
class Holder:
    name: str
    pair: Pair
    pairs: list[Pair]
    inner: Holder | None = None


def holders() -> list[Holder]:
    shared = Pair(name="shared", right=None, size=2)
    huge = Pair(name="huge", right="r", size=2**40)
    cast = strawberry.cast(Pair, LookAlike("cast"))
    impostor = LookAlike("impostor")
    pairs = [shared, huge, cast]
    result = []
    for index, pair in enumerate([shared, shared, huge, cast, shared, impostor, shared]):
        inner = Holder(name=f"inner{index}", pair=pair, pairs=pairs)
        result.append(Holder(name=f"h{index}", pair=shared, pairs=pairs, inner=inner))
    return result


@strawberry.type
class Query:
    @strawberry.field
    def box(self) -> Box:
        return good_box()

    @strawberry.field
    def holders(self) -> list[Holder]:
        return holders()

    @strawberry.field
    def broken_box(self) -> Box | None:
        return broken_box()

    @strawberry.field
    def boxes(self) -> list[Box | None]:
        return [good_box(), broken_box(), None]

    @strawberry.field
    async def async_box(self) -> Box:
        await asyncio.sleep(0)
        return good_box()


corner_schema = strawberry.Schema(
    query=Query, types=[Leaf, Other, Plain, Custom, Pair], config=StrawberryConfig(scalar_map={Even: EVEN})
)

LEAF_FIELDS = """
  __typename name color even maybe required at tags grid strictItems shout later handedBack
  greet(greeting: "hello") lazyItems generated streamLike
"""
CORNER_QUERIES = [
    # Clean data: every kind of step, aliases and a fragment.
    "{ box { label leaves { ...L } strict { n: name } maybeLeaf { name } mustLeaf { ...L } } }"
    f" fragment L on Leaf {{ {LEAF_FIELDS} }}",
    # Errors everywhere: raising resolvers, refused scalar values, nulls in non-null
    # positions inside nullable and non-null lists, an async field failing inside a list.
    f"{{ brokenBox {{ label leaves {{ {LEAF_FIELDS} }} }} }}",
    "{ brokenBox { label strict { name required } } }",
    "{ brokenBox { label mustLeaf { shout } maybeLeaf { required } } }",
    "{ brokenBox { leaves { strictItems } } }",
    f"{{ brokenBox {{ soft {{ {LEAF_FIELDS} }} }} }}",
    "{ brokenBox { soft { name even } s2: soft { later } s3: soft { required } s4: soft { strictItems }"
    " s5: soft { handedBack } } }",
    "{ box { soft { name } } }",
    "{ boxes { label leaves { name even later } } }",
    # Permission classes, unions and interfaces go through graphql-core's own path.
    "{ box { leaves { secret } } }",
    "{ box { plain { id label __typename } custom { id } } }",
    "{ box { things { __typename ... on Leaf { name color } ... on Other { size } } } }",
    "{ box { named { __typename name ... on Other { size } } } }",
    "{ asyncBox { leaves { name later tags } mustLeaf { at } } }",
    "query($yes: Boolean!) { box { leaves { name @include(if: $yes) color @skip(if: $yes) } } }",
    # One object shared by many list items, under aliases selecting different fields; a
    # shared object that fails, a cast look-alike and an impostor among them.
    "{ holders { name inner { a: pair { name right } b: pair { size } c: pair { __typename name right }"
    " pairs { name right } more: pairs { name size } } } }",
    "{ holders { inner { pair { name right } } again: inner { pair { right name } } } }",
    # Resolvers with arguments and info, called by the executor itself: arguments converted
    # once and shared across the list only when nothing in them can change.
    'query($tags: [String!]!, $c: Color) { box { leaves { tagged(tags: ["a"])'
    " t2: tagged(tags: $tags, color: BLUE) sliced(window: {start: 1}) colored c2: colored(color: $c) } } }",
    "query($c: Color) { brokenBox { leaves { name colored(color: $c) } } }",
]


@pytest.mark.parametrize("query", CORNER_QUERIES)
async def test_the_corners_answer_the_same_on_both_paths(query: str) -> None:
    graphql_core, compiled = await both(corner_schema, query, corner_variables(query))
    assert compiled == graphql_core


def corner_variables(query: str) -> dict[str, Any] | None:
    variables: dict[str, Any] = {}
    if "$yes" in query:
        variables["yes"] = True
    if "$tags" in query:
        variables["tags"] = ["v"]
    if "$c" in query:
        variables["c"] = "BLUE"
    return variables or None


async def test_the_corner_corpus_really_reaches_errors() -> None:
    messages = []
    for query in CORNER_QUERIES:
        _, compiled = await both(corner_schema, query, corner_variables(query))
        messages += [e["message"] for e in compiled["errors"]]
    text = " | ".join(messages)
    for expected in (
        "shout failed",
        "3 is odd",
        "Cannot return null for non-nullable field Leaf.required.",
        "Cannot return null for non-nullable field Leaf.strictItems.",
        "later failed",
        "handed back failed",
        "not for you",
        "Int cannot represent non 32-bit signed integer value: 1099511627776",
        "Expected value of type 'Pair' but got: <LookAlike instance>.",
        "blue boom",
    ):
        assert expected in text


async def test_literal_arguments_kept_across_requests_stay_with_their_document(as_admin: Api) -> None:
    """Literal arguments are converted once per process for a cached document; the same
    document sent again (another contact), a document that differs only in a literal, and one
    that passes the value as a variable each get their own answer."""
    ids = []
    for name, notes in (("Ada", 4), ("Bea", 1)):
        contact = await as_admin.data(
            f'mutation {{ createContact(input: {{firstName: "{name}"}}) {{ id }} }}'
        )
        contact_id = contact["createContact"]["id"]
        for n in range(notes):
            await as_admin.data(
                "mutation($i: AddNoteInput!) { addNote(input: $i) { id } }",
                {"i": {"contactId": contact_id, "body": f"<p>note {n}</p>"}},
            )
        ids.append(contact_id)
    two = "query($c: ID!) { contact(id: $c) { notes(first: 2) { body } } }"
    three = "query($c: ID!) { contact(id: $c) { notes(first: 3) { body } } }"
    variable = "query($c: ID!, $n: Int!) { contact(id: $c) { notes(first: $n) { body } } }"

    async def count(query: str, contact_id: str, **extra: Any) -> int:
        data = await as_admin.data(query, {"c": contact_id, **extra})
        return len(data["contact"]["notes"])

    for _ in range(2):
        assert await count(two, ids[0]) == 2
        assert await count(three, ids[0]) == 3
        assert await count(two, ids[1]) == 1
        assert await count(variable, ids[0], n=4) == 4
        assert await count(variable, ids[0], n=1) == 1
