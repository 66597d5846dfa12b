"""Quotes, jobs and invoices (B3): exact totals, state machines, bad input, journey and hooks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from crm.services import billing
from dossier import Settings
from graph.ids import global_id_text
from plugins import hookimpl
from plugins.manager import builtin_names
from tests.conftest import Api, AppFactory, Tenant, make_tenant

QUOTE = """
    id number title currency status validUntil notes subtotal tax total sentAt decidedAt
    createdBy { name } contact { id }
    lineItems { description quantity unitPrice taxRate subtotal tax total }
"""
JOB = """
    id title status scheduledStart scheduledEnd completedAt notes assignee { id name }
    quote { id number } contact { id } createdBy { name }
"""
INVOICE = """
    id number title currency status subtotal tax total amountPaid balanceDue dueDate overdue
    issuedAt paidAt voidedAt notes quote { id } job { id } contact { id }
    lineItems { description quantity unitPrice taxRate subtotal tax total }
"""
CREATE_CONTACT = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
CREATE_QUOTE = f"mutation($i: CreateQuoteInput!) {{ createQuote(input: $i) {{ {QUOTE} }} }}"
UPDATE_QUOTE = f"mutation($i: UpdateQuoteInput!) {{ updateQuote(input: $i) {{ {QUOTE} }} }}"
QUOTE_STATUS = f"mutation($i: SetQuoteStatusInput!) {{ setQuoteStatus(input: $i) {{ {QUOTE} }} }}"
CREATE_JOB = f"mutation($i: CreateJobInput!) {{ createJob(input: $i) {{ {JOB} }} }}"
UPDATE_JOB = f"mutation($i: UpdateJobInput!) {{ updateJob(input: $i) {{ {JOB} }} }}"
JOB_STATUS = f"mutation($i: SetJobStatusInput!) {{ setJobStatus(input: $i) {{ {JOB} }} }}"
CREATE_INVOICE = f"mutation($i: CreateInvoiceInput!) {{ createInvoice(input: $i) {{ {INVOICE} }} }}"
UPDATE_INVOICE = f"mutation($i: UpdateInvoiceInput!) {{ updateInvoice(input: $i) {{ {INVOICE} }} }}"
INVOICE_STATUS = f"mutation($i: SetInvoiceStatusInput!) {{ setInvoiceStatus(input: $i) {{ {INVOICE} }} }}"
PAY = f"mutation($i: RecordInvoicePaymentInput!) {{ recordInvoicePayment(input: $i) {{ {INVOICE} }} }}"
CARD = f"""
query($id: ID!) {{
  contact(id: $id) {{
    quotes {{ nodes {{ {QUOTE} }} pageInfo {{ hasNextPage endCursor }} }}
    jobs {{ nodes {{ {JOB} }} }}
    invoices {{ nodes {{ {INVOICE} }} }}
    journey(first: 50) {{ nodes {{ kind summary subjectId changes {{ field before after }} }} }}
  }}
}}
"""
ARCHIVE = "mutation($i: ArchiveContactsInput!) { archiveContacts(input: $i) { archivedIds } }"
TAXED = [{"description": "Widget", "quantity": "3", "unitPrice": "19.99", "taxRate": "8.25"}]


def future(days: int = 3, hours: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(days=days, hours=hours)).replace(microsecond=0).isoformat()


def today(days: int = 0) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


async def new_contact(api: Api, name: str = "Ada") -> str:
    return (await api.data(CREATE_CONTACT, {"i": {"firstName": name, "lastName": "Lovelace"}}))[
        "createContact"
    ]["id"]


async def quote(api: Api, contact_id: str, **overrides: Any) -> dict[str, Any]:
    values = {
        "contactId": contact_id,
        "title": "Roof repair",
        "currency": "USD",
        "lineItems": TAXED,
        **overrides,
    }
    return (await api.data(CREATE_QUOTE, {"i": values}))["createQuote"]


async def set_quote(api: Api, quote_id: str, status: str) -> dict[str, Any]:
    return (await api.data(QUOTE_STATUS, {"i": {"id": quote_id, "status": status}}))["setQuoteStatus"]


async def accepted_quote(api: Api, contact_id: str, **overrides: Any) -> dict[str, Any]:
    made = await quote(api, contact_id, **overrides)
    await set_quote(api, made["id"], "SENT")
    return await set_quote(api, made["id"], "ACCEPTED")


async def job(api: Api, contact_id: str, **overrides: Any) -> dict[str, Any]:
    values = {
        "contactId": contact_id,
        "title": "Install",
        "scheduledStart": future(2),
        "scheduledEnd": future(2, 3),
        **overrides,
    }
    return (await api.data(CREATE_JOB, {"i": values}))["createJob"]


async def invoice(api: Api, **values: Any) -> dict[str, Any]:
    return (await api.data(CREATE_INVOICE, {"i": values}))["createInvoice"]


async def set_invoice(api: Api, invoice_id: str, status: str) -> dict[str, Any]:
    return (await api.data(INVOICE_STATUS, {"i": {"id": invoice_id, "status": status}}))["setInvoiceStatus"]


async def pay(api: Api, invoice_id: str, amount: str, **more: Any) -> dict[str, Any]:
    return (await api.data(PAY, {"i": {"id": invoice_id, "amount": amount, **more}}))["recordInvoicePayment"]


async def card(api: Api, contact_id: str) -> dict[str, Any]:
    return (await api.data(CARD, {"id": contact_id}))["contact"]


async def refused(api: Api, query: str, values: dict[str, Any], code: str, *words: str) -> dict[str, Any]:
    error = await api.error(query, {"i": values})
    assert error["extensions"]["code"] == code, error
    for word in words:
        assert word in error["message"], error["message"]
    return error


# --------------------------------------------------------------------------------------
# Money: exact, rounded per line half-up, shown in minor units
# --------------------------------------------------------------------------------------


async def test_quote_totals_are_exact_and_rounded_per_line(as_admin: Api) -> None:
    contact_id = await new_contact(as_admin)
    made = await quote(
        as_admin,
        contact_id,
        lineItems=[
            *TAXED,
            {"description": "Labour", "quantity": "1.5", "unitPrice": "80", "taxRate": "0"},
            {"description": "Half cent", "quantity": "1", "unitPrice": "0.125"},  # 0.125 -> 0.13
        ],
    )
    assert made["number"] == "Q-0001" and made["status"] == "DRAFT"
    assert made["lineItems"][0] == {
        "description": "Widget",
        "quantity": "3",
        "unitPrice": "19.99",
        "taxRate": "8.25",
        "subtotal": "59.97",
        "tax": "4.95",  # 4.947525 half-up
        "total": "64.92",
    }
    assert made["lineItems"][1]["subtotal"] == "120.00" and made["lineItems"][1]["tax"] == "0.00"
    assert made["lineItems"][2]["unitPrice"] == "0.125" and made["lineItems"][2]["total"] == "0.13"
    assert (made["subtotal"], made["tax"], made["total"]) == ("180.10", "4.95", "185.05")
    assert made["createdBy"] == {"name": "Acme Admin"} and made["contact"]["id"] == contact_id


async def test_minor_units_follow_the_currency() -> None:
    assert billing.line_totals(Decimal(3), Decimal("19.99"), Decimal("8.25"), "USD").total == Decimal("64.92")
    yen = billing.line_totals(Decimal(1), Decimal("1999"), Decimal("10.05"), "JPY")
    assert (yen.subtotal, yen.tax, yen.total) == (Decimal(1999), Decimal(201), Decimal(2200))  # 200.8995
    dinar = billing.line_totals(Decimal(1), Decimal("1.2345"), Decimal("10"), "BHD")
    assert (dinar.subtotal, dinar.tax) == (Decimal("1.235"), Decimal("0.124"))  # half-up at 3 places
    assert billing.round_money(Decimal("2.5"), "JPY") == Decimal(3)


async def test_yen_totals_have_no_decimals(as_admin: Api) -> None:
    contact_id = await new_contact(as_admin)
    made = await quote(
        as_admin,
        contact_id,
        currency="jpy",
        lineItems=[{"description": "Plan", "quantity": "1", "unitPrice": "1999.5", "taxRate": "10"}],
    )
    assert made["currency"] == "JPY"
    assert (made["subtotal"], made["tax"], made["total"]) == ("2000", "200", "2200")


async def test_numbers_are_per_account_and_never_reused(api: Api, acme: Tenant, globex: Tenant) -> None:
    a, g = api.as_(acme.admin_key), api.as_(globex.admin_key)
    acme_contact, globex_contact = await new_contact(a), await new_contact(g)
    assert [(await quote(a, acme_contact))["number"] for _ in range(2)] == ["Q-0001", "Q-0002"]
    assert (await quote(g, globex_contact))["number"] == "Q-0001"
    accepted = await accepted_quote(a, acme_contact)
    assert accepted["number"] == "Q-0003"
    first = await invoice(a, quoteId=accepted["id"])
    assert first["number"] == "INV-0001"
    # A deleted contact's numbers are not handed out again.
    doomed = await new_contact(a, "Doomed")
    assert (await quote(a, doomed))["number"] == "Q-0004"
    await a.data(ARCHIVE, {"i": {"ids": [doomed]}})
    await a.data(
        "mutation($i: DeleteContactsInput!) { deleteContacts(input: $i) { deletedIds } }",
        {"i": {"ids": [doomed]}},
    )
    assert (await quote(a, acme_contact))["number"] == "Q-0005"


# --------------------------------------------------------------------------------------
# Quotes: state machine and edits
# --------------------------------------------------------------------------------------


async def test_quote_moves_through_its_states_and_the_journey_records_them(as_admin: Api) -> None:
    contact_id = await new_contact(as_admin)
    made = await quote(as_admin, contact_id, validUntil=today(30), notes="Two storeys")
    updated = (
        await as_admin.data(
            UPDATE_QUOTE,
            {
                "i": {
                    "id": made["id"],
                    "lineItems": [{"description": "Tiles", "quantity": "10", "unitPrice": "12.5"}],
                }
            },
        )
    )["updateQuote"]
    assert updated["total"] == "125.00" and len(updated["lineItems"]) == 1
    sent = await set_quote(as_admin, made["id"], "SENT")
    assert sent["status"] == "SENT" and sent["sentAt"] is not None
    accepted = await set_quote(as_admin, made["id"], "ACCEPTED")
    assert accepted["status"] == "ACCEPTED" and accepted["decidedAt"] is not None

    entries = (await card(as_admin, contact_id))["journey"]["nodes"]
    kinds = [e["kind"] for e in entries]
    assert kinds[:4] == ["QUOTE_STATUS_CHANGED", "QUOTE_STATUS_CHANGED", "QUOTE_UPDATED", "QUOTE_CREATED"]
    changes = {c["field"]: [c["before"], c["after"]] for c in entries[2]["changes"]}
    assert changes["total"] == ["64.92", "125.00"]
    assert changes["lineItems"][1][0]["description"] == "Tiles"
    status = {c["field"]: [c["before"], c["after"]] for c in entries[0]["changes"]}
    assert status["status"] == ["SENT", "ACCEPTED"]
    assert entries[3]["summary"] == "Acme Admin drafted quote Q-0001: Roof repair, 64.92 USD"


async def test_quote_bad_input_and_illegal_moves_change_nothing(as_admin: Api) -> None:
    contact_id = await new_contact(as_admin)
    base = {"contactId": contact_id, "title": "Roof", "currency": "USD", "lineItems": TAXED}

    def line(**values: Any) -> list[dict[str, Any]]:
        return [{**TAXED[0], **values}]

    cases = [
        ({"lineItems": line(quantity="-1")}, "lineItems[0].quantity must be more than 0"),
        ({"lineItems": line(quantity="0")}, "lineItems[0].quantity must be more than 0"),
        ({"lineItems": line(quantity="1.00001")}, "more than 4 decimal places"),
        ({"lineItems": line(unitPrice="-5")}, "lineItems[0].unitPrice cannot be negative"),
        ({"lineItems": line(taxRate="101")}, "taxRate is a percentage from 0 to 100"),
        ({"lineItems": line(taxRate="-1")}, "taxRate is a percentage from 0 to 100"),
        ({"lineItems": line(description="  ")}, "lineItems[0].description cannot be empty"),
        ({"lineItems": []}, "give at least one line item"),
        ({"lineItems": TAXED * 101}, "the limit is 100"),
        ({"currency": "ZZZ"}, "not an ISO 4217 currency code"),
        ({"title": ""}, "title cannot be empty"),
        ({"validUntil": today(-1)}, "is in the past"),
    ]
    for values, words in cases:
        await refused(as_admin, CREATE_QUOTE, {**base, **values}, "BAD_USER_INPUT", words)
    assert (await card(as_admin, contact_id))["quotes"]["nodes"] == []

    made = await quote(as_admin, contact_id)
    await refused(as_admin, QUOTE_STATUS, {"id": made["id"], "status": "ACCEPTED"}, "CONFLICT", "DRAFT")
    await set_quote(as_admin, made["id"], "SENT")
    # Editing a SENT quote's lines is refused; its title can still change.
    await refused(
        as_admin,
        UPDATE_QUOTE,
        {"id": made["id"], "lineItems": line(quantity="9")},
        "CONFLICT",
        "only a DRAFT",
    )
    await refused(as_admin, UPDATE_QUOTE, {"id": made["id"], "currency": "EUR"}, "CONFLICT", "only a DRAFT")
    renamed = (await as_admin.data(UPDATE_QUOTE, {"i": {"id": made["id"], "title": "Roof, v2"}}))[
        "updateQuote"
    ]
    assert renamed["title"] == "Roof, v2" and renamed["total"] == "64.92"
    await set_quote(as_admin, made["id"], "DECLINED")
    await refused(as_admin, QUOTE_STATUS, {"id": made["id"], "status": "SENT"}, "CONFLICT", "it is final")
    kept = (await card(as_admin, contact_id))["quotes"]["nodes"][0]
    assert kept["status"] == "DECLINED" and kept["lineItems"][0]["quantity"] == "3"


async def test_a_sent_quote_past_valid_until_cannot_be_accepted(as_admin: Api) -> None:
    from crm.models import Quote as QuoteModel

    contact_id = await new_contact(as_admin)
    made = await quote(as_admin, contact_id, validUntil=today(0))
    await set_quote(as_admin, made["id"], "SENT")
    # Two days later (the quote's validity is moved back rather than the clock forward).
    await QuoteModel.filter(number=made["number"]).update(
        valid_until=datetime.now(UTC).date() - timedelta(days=2)
    )
    await refused(
        as_admin, QUOTE_STATUS, {"id": made["id"], "status": "ACCEPTED"}, "CONFLICT", "set it EXPIRED"
    )
    assert (await set_quote(as_admin, made["id"], "EXPIRED"))["status"] == "EXPIRED"


async def test_archived_contacts_take_no_new_documents(as_admin: Api) -> None:
    contact_id = await new_contact(as_admin)
    await as_admin.data(ARCHIVE, {"i": {"ids": [contact_id]}})
    base = {"contactId": contact_id, "title": "Roof", "currency": "USD", "lineItems": TAXED}
    await refused(as_admin, CREATE_QUOTE, base, "BAD_USER_INPUT", "is archived", "restoreContacts")
    window = {"contactId": contact_id, "title": "x", "scheduledStart": future(1), "scheduledEnd": future(2)}
    await refused(as_admin, CREATE_JOB, window, "BAD_USER_INPUT", "is archived")
    items = {"contactId": contact_id, "currency": "USD", "lineItems": TAXED}
    await refused(as_admin, CREATE_INVOICE, items, "BAD_USER_INPUT", "is archived")


# --------------------------------------------------------------------------------------
# Jobs
# --------------------------------------------------------------------------------------


async def test_job_window_assignee_quote_and_completion(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    accepted = await accepted_quote(as_admin, contact_id)
    rep = global_id_text("User", acme.user_ids["rep"])
    made = await job(as_admin, contact_id, assigneeId=rep, quoteId=accepted["id"], notes="Bring ladder")
    assert made["status"] == "SCHEDULED" and made["completedAt"] is None
    assert made["assignee"]["name"] == "Acme Rep" and made["quote"]["number"] == accepted["number"]

    started = (await as_admin.data(JOB_STATUS, {"i": {"id": made["id"], "status": "IN_PROGRESS"}}))[
        "setJobStatus"
    ]
    assert started["status"] == "IN_PROGRESS"
    done = (await as_admin.data(JOB_STATUS, {"i": {"id": made["id"], "status": "DONE"}}))["setJobStatus"]
    assert done["status"] == "DONE" and done["completedAt"] is not None
    reopened = (await as_admin.data(JOB_STATUS, {"i": {"id": made["id"], "status": "IN_PROGRESS"}}))[
        "setJobStatus"
    ]
    assert reopened["completedAt"] is None

    moved = (
        await as_admin.data(
            UPDATE_JOB,
            {"i": {"id": made["id"], "scheduledEnd": future(2, 5), "assigneeId": None, "quoteId": None}},
        )
    )["updateJob"]
    assert moved["assignee"] is None and moved["quote"] is None
    journey = (await card(as_admin, contact_id))["journey"]["nodes"]
    updated = next(e for e in journey if e["kind"] == "JOB_UPDATED")
    fields = {c["field"] for c in updated["changes"]}
    assert fields == {"scheduledEnd", "assigneeId", "quoteId"}
    kinds = [e["kind"] for e in journey]
    assert kinds.count("JOB_STATUS_CHANGED") == 3 and "JOB_CREATED" in kinds


async def test_job_bad_input(api: Api, acme: Tenant, globex: Tenant) -> None:
    a, g = api.as_(acme.admin_key), api.as_(globex.admin_key)
    contact_id, other_contact = await new_contact(a), await new_contact(a, "Grace")
    base = {
        "contactId": contact_id,
        "title": "Install",
        "scheduledStart": future(2),
        "scheduledEnd": future(2, 3),
    }
    await refused(
        a, CREATE_JOB, {**base, "scheduledEnd": future(1)}, "BAD_USER_INPUT", "must be after scheduledStart"
    )
    await refused(
        a, CREATE_JOB, {**base, "scheduledEnd": base["scheduledStart"]}, "BAD_USER_INPUT", "must be after"
    )
    naive = datetime.now().replace(microsecond=0).isoformat()
    await refused(a, CREATE_JOB, {**base, "scheduledStart": naive}, "BAD_USER_INPUT", "timezone offset")
    stranger = global_id_text("User", globex.user_ids["rep"])
    await refused(a, CREATE_JOB, {**base, "assigneeId": stranger}, "NOT_FOUND", "no user")
    others = await accepted_quote(a, other_contact)
    await refused(
        a, CREATE_JOB, {**base, "quoteId": others["id"]}, "BAD_USER_INPUT", "belongs to another contact"
    )
    draft = await quote(a, contact_id)
    await refused(a, CREATE_JOB, {**base, "quoteId": draft["id"]}, "BAD_USER_INPUT", "ACCEPTED quote")
    foreign = await accepted_quote(g, await new_contact(g))
    await refused(a, CREATE_JOB, {**base, "quoteId": foreign["id"]}, "NOT_FOUND")
    assert (await card(a, contact_id))["jobs"]["nodes"] == []

    made = await job(a, contact_id)
    await a.data(JOB_STATUS, {"i": {"id": made["id"], "status": "CANCELLED"}})
    await refused(a, JOB_STATUS, {"id": made["id"], "status": "DONE"}, "CONFLICT", "CANCELLED")
    await refused(
        a, UPDATE_JOB, {"id": made["id"], "scheduledStart": future(9)}, "BAD_USER_INPUT", "must be after"
    )
    # Another account's job is not found, whatever the input.
    await refused(g, JOB_STATUS, {"id": made["id"], "status": "SCHEDULED"}, "NOT_FOUND")


# --------------------------------------------------------------------------------------
# Invoices
# --------------------------------------------------------------------------------------


async def test_invoice_from_a_quote_copies_it_and_payments_move_it_to_paid(as_admin: Api) -> None:
    contact_id = await new_contact(as_admin)
    accepted = await accepted_quote(as_admin, contact_id)
    made = await invoice(as_admin, quoteId=accepted["id"], dueDate=today(14))
    assert made["number"] == "INV-0001" and made["status"] == "DRAFT" and made["title"] == "Roof repair"
    assert made["lineItems"] == accepted["lineItems"] and made["total"] == "64.92"
    assert (made["amountPaid"], made["balanceDue"], made["overdue"]) == ("0.00", "64.92", False)
    assert made["quote"]["id"] == accepted["id"] and made["contact"]["id"] == contact_id

    await refused(as_admin, PAY, {"id": made["id"], "amount": "10"}, "CONFLICT", "send it first")
    sent = await set_invoice(as_admin, made["id"], "SENT")
    assert sent["issuedAt"] is not None
    part = await pay(as_admin, made["id"], "14.92")
    assert (part["status"], part["amountPaid"], part["balanceDue"]) == ("PARTIALLY_PAID", "14.92", "50.00")
    await refused(
        as_admin, PAY, {"id": made["id"], "amount": "50.01"}, "BAD_USER_INPUT", "overpayments are refused"
    )
    await refused(as_admin, PAY, {"id": made["id"], "amount": "0"}, "BAD_USER_INPUT", "more than 0")
    await refused(as_admin, PAY, {"id": made["id"], "amount": "1.001"}, "BAD_USER_INPUT", "decimal place")
    await refused(
        as_admin, PAY, {"id": made["id"], "amount": "1", "paidAt": future(1)}, "BAD_USER_INPUT", "future"
    )
    await refused(
        as_admin, INVOICE_STATUS, {"id": made["id"], "status": "VOID"}, "CONFLICT", "cannot be voided"
    )
    paid_at = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    paid = await pay(as_admin, made["id"], "50", paidAt=paid_at.isoformat())
    assert (paid["status"], paid["balanceDue"]) == ("PAID", "0.00")
    assert datetime.fromisoformat(paid["paidAt"]) == paid_at
    await refused(as_admin, PAY, {"id": made["id"], "amount": "1"}, "CONFLICT", "final")
    await refused(as_admin, UPDATE_INVOICE, {"id": made["id"], "title": "x"}, "CONFLICT", "final")

    entries = (await card(as_admin, contact_id))["journey"]["nodes"]
    payment = next(e for e in entries if e["kind"] == "INVOICE_PAYMENT_RECORDED")
    changes = {c["field"]: [c["before"], c["after"]] for c in payment["changes"]}
    assert changes["amountPaid"] == ["14.92", "64.92"] and changes["status"] == ["PARTIALLY_PAID", "PAID"]
    assert changes["payment"][1]["amount"] == "50.00"


async def test_invoice_from_a_job_and_from_items(as_admin: Api) -> None:
    contact_id = await new_contact(as_admin)
    accepted = await accepted_quote(as_admin, contact_id)
    worked = await job(as_admin, contact_id, quoteId=accepted["id"])
    from_job = await invoice(as_admin, jobId=worked["id"])
    assert from_job["job"]["id"] == worked["id"] and from_job["quote"]["id"] == accepted["id"]
    assert from_job["total"] == "64.92" and from_job["title"] == "Install"
    own_items = await invoice(
        as_admin,
        jobId=worked["id"],
        lineItems=[{"description": "Extra hour", "quantity": "1", "unitPrice": "90", "taxRate": "10"}],
    )
    assert own_items["total"] == "99.00" and own_items["currency"] == "USD"
    direct = await invoice(
        as_admin, contactId=contact_id, currency="EUR", lineItems=TAXED, title="Parts", dueDate=today(-3)
    )
    assert (direct["currency"], direct["total"], direct["title"]) == ("EUR", "64.92", "Parts")
    sent = await set_invoice(as_admin, direct["id"], "SENT")
    assert sent["overdue"] is True  # SENT and due three days ago


async def test_invoice_bad_input(api: Api, acme: Tenant, globex: Tenant) -> None:
    a = api.as_(acme.admin_key)
    contact_id, other = await new_contact(a), await new_contact(a, "Grace")
    draft = await quote(a, contact_id)
    await refused(a, CREATE_INVOICE, {"quoteId": draft["id"]}, "BAD_USER_INPUT", "invoice an ACCEPTED quote")
    accepted = await accepted_quote(a, contact_id)
    await refused(
        a,
        CREATE_INVOICE,
        {"quoteId": accepted["id"], "contactId": other},
        "BAD_USER_INPUT",
        "another contact",
    )
    await refused(
        a, CREATE_INVOICE, {"quoteId": accepted["id"], "lineItems": TAXED}, "BAD_USER_INPUT", "copies"
    )
    bare = await job(a, contact_id)
    await refused(a, CREATE_INVOICE, {"jobId": bare["id"]}, "BAD_USER_INPUT", "has no linked quote")
    await refused(
        a, CREATE_INVOICE, {"contactId": contact_id, "lineItems": TAXED}, "BAD_USER_INPUT", "currency"
    )
    await refused(a, CREATE_INVOICE, {}, "BAD_USER_INPUT", "give a quoteId")
    await refused(
        a,
        CREATE_INVOICE,
        {"contactId": contact_id, "currency": "USD", "lineItems": []},
        "BAD_USER_INPUT",
        "at least",
    )
    assert (await card(a, contact_id))["invoices"]["nodes"] == []

    made = await invoice(a, contactId=contact_id, currency="USD", lineItems=TAXED)
    await refused(
        a, INVOICE_STATUS, {"id": made["id"], "status": "PAID"}, "BAD_USER_INPUT", "recordInvoicePayment"
    )
    await set_invoice(a, made["id"], "SENT")
    await refused(a, UPDATE_INVOICE, {"id": made["id"], "lineItems": TAXED * 2}, "CONFLICT", "only a DRAFT")
    moved = (await a.data(UPDATE_INVOICE, {"i": {"id": made["id"], "dueDate": today(5)}}))["updateInvoice"]
    assert moved["dueDate"] == today(5)
    # Reps may not void; managers may.
    await refused(api.as_(acme.rep_key), INVOICE_STATUS, {"id": made["id"], "status": "VOID"}, "FORBIDDEN")
    voided = await set_invoice(api.as_(acme.manager_key), made["id"], "VOID")
    assert voided["status"] == "VOID" and voided["voidedAt"] is not None
    await refused(api.as_(globex.admin_key), PAY, {"id": made["id"], "amount": "1"}, "NOT_FOUND")


async def test_reps_create_and_edit_everything(api: Api, acme: Tenant) -> None:
    rep = api.as_(acme.rep_key)
    contact_id = await new_contact(rep)
    accepted = await accepted_quote(rep, contact_id)
    worked = await job(rep, contact_id, quoteId=accepted["id"])
    await rep.data(JOB_STATUS, {"i": {"id": worked["id"], "status": "DONE"}})
    made = await invoice(rep, jobId=worked["id"])
    await set_invoice(rep, made["id"], "SENT")
    assert (await pay(rep, made["id"], "64.92"))["status"] == "PAID"


async def test_overdue_flag_and_the_root_invoices_list(as_admin: Api) -> None:
    contact_id = await new_contact(as_admin)
    items = {"contactId": contact_id, "currency": "USD", "lineItems": TAXED}
    late = await invoice(as_admin, **items, dueDate=today(-1))
    due_today = await invoice(as_admin, **items, dueDate=today(0))
    draft_late = await invoice(as_admin, **items, dueDate=today(-10))
    late_partly = await invoice(as_admin, **items, dueDate=today(-2))
    for made in (late, due_today, late_partly):
        await set_invoice(as_admin, made["id"], "SENT")
    await pay(as_admin, late_partly["id"], "1")
    query = """query($overdue: Boolean, $status: InvoiceStatus, $first: Int!, $after: String) {
      invoices(overdue: $overdue, status: $status, first: $first, after: $after) {
        nodes { number overdue status } pageInfo { hasNextPage endCursor } } }"""

    async def listed(**args: Any) -> dict[str, Any]:
        return (await as_admin.data(query, {"first": 20, **args}))["invoices"]

    overdue = await listed(overdue=True)
    assert [(n["number"], n["overdue"]) for n in overdue["nodes"]] == [("INV-0004", True), ("INV-0001", True)]
    assert {n["number"] for n in (await listed(overdue=False))["nodes"]} == {"INV-0002", "INV-0003"}
    assert [n["number"] for n in (await listed(status="DRAFT"))["nodes"]] == [draft_late["number"]]
    page = await listed(first=3)
    assert [n["number"] for n in page["nodes"]] == ["INV-0004", "INV-0003", "INV-0002"]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await listed(first=3, after=page["pageInfo"]["endCursor"])
    assert [n["number"] for n in rest["nodes"]] == ["INV-0001"] and rest["pageInfo"]["hasNextPage"] is False


async def test_card_connections_page_and_filter(as_admin: Api) -> None:
    contact_id = await new_contact(as_admin)
    first = await quote(as_admin, contact_id)
    second = await quote(as_admin, contact_id)
    await set_quote(as_admin, second["id"], "SENT")
    query = """query($id: ID!, $after: String, $status: QuoteStatus) { contact(id: $id) {
      quotes(first: 1, after: $after, status: $status) {
        edges { cursor node { number } } pageInfo { hasNextPage hasPreviousPage endCursor } } } }"""
    page = (await as_admin.data(query, {"id": contact_id}))["contact"]["quotes"]
    assert [e["node"]["number"] for e in page["edges"]] == [second["number"]]
    assert page["pageInfo"]["hasNextPage"] is True
    after = page["pageInfo"]["endCursor"]
    rest = (await as_admin.data(query, {"id": contact_id, "after": after}))["contact"]["quotes"]
    assert [e["node"]["number"] for e in rest["edges"]] == [first["number"]]
    drafts = (await as_admin.data(query, {"id": contact_id, "status": "DRAFT"}))["contact"]["quotes"]
    assert [e["node"]["number"] for e in drafts["edges"]] == [first["number"]]
    node = await as_admin.data(
        "query($id: ID!) { node(id: $id) { ... on Quote { number } } }", {"id": first["id"]}
    )
    assert node["node"]["number"] == first["number"]
    error = await as_admin.error(query, {"id": contact_id, "after": "nope"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


# --------------------------------------------------------------------------------------
# Hooks: every mutation fires one, with a full snapshot
# --------------------------------------------------------------------------------------

HOOKS = (
    "quote_created", "quote_updated", "quote_status_changed", "job_created", "job_updated",
    "job_status_changed", "invoice_created", "invoice_updated", "invoice_status_changed",
    "invoice_payment_recorded",
)  # fmt: skip


class Books:
    name = "books"

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []


def _recording(hook: str) -> Any:
    def impl(self: Books, event: Any) -> None:
        self.calls.append((hook, event))

    impl.__name__ = hook
    return hookimpl(impl)


for _hook in HOOKS:
    setattr(Books, _hook, _recording(_hook))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, disabled_plugins=builtin_names())


async def test_every_mutation_fires_its_hook_with_the_document(running_app: AppFactory) -> None:
    books = Books()
    async with running_app(plugins=(books,)) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        contact_id = await new_contact(api)

        async def fired() -> tuple[str, Any]:
            await api.runtime.dispatcher.drain()
            calls, books.calls = books.calls, []
            assert len(calls) == 1, calls
            return calls[0]

        made = await quote(api, contact_id)
        hook, event = await fired()
        assert hook == "quote_created" and event.kind == "QUOTE_CREATED" and event.subject_type == "Quote"
        assert event.subject["contactId"] == contact_id and event.subject["id"] == made["id"]
        assert event.subject["lineItems"] == [
            {
                "description": "Widget", "quantity": "3", "unitPrice": "19.99", "taxRate": "8.25",
                "subtotal": "59.97", "tax": "4.95", "total": "64.92",
            }
        ]  # fmt: skip
        assert (event.subject["number"], event.subject["currency"], event.subject["total"]) == (
            "Q-0001",
            "USD",
            "64.92",
        )
        await api.data(UPDATE_QUOTE, {"i": {"id": made["id"], "notes": "Call first"}})
        hook, event = await fired()
        assert hook == "quote_updated" and event.changes == {"notes": [None, "Call first"]}
        await set_quote(api, made["id"], "SENT")
        assert (await fired())[0] == "quote_status_changed"
        await set_quote(api, made["id"], "ACCEPTED")
        hook, event = await fired()
        assert event.subject["status"] == "ACCEPTED" and event.changes["status"] == ["SENT", "ACCEPTED"]

        worked = await job(api, contact_id, quoteId=made["id"])
        hook, event = await fired()
        assert hook == "job_created" and event.subject["quoteId"] == made["id"]
        await api.data(UPDATE_JOB, {"i": {"id": worked["id"], "title": "Install v2"}})
        assert (await fired())[0] == "job_updated"
        await api.data(JOB_STATUS, {"i": {"id": worked["id"], "status": "DONE"}})
        hook, event = await fired()
        assert hook == "job_status_changed" and event.subject["completedAt"] is not None

        bill = await invoice(api, jobId=worked["id"], dueDate=today(7))
        hook, event = await fired()
        assert hook == "invoice_created" and event.subject["jobId"] == worked["id"]
        assert (event.subject["number"], event.subject["amountPaid"], event.subject["balanceDue"]) == (
            "INV-0001",
            "0.00",
            "64.92",
        )
        await api.data(UPDATE_INVOICE, {"i": {"id": bill["id"], "dueDate": today(10)}})
        hook, event = await fired()
        assert hook == "invoice_updated" and event.changes == {"dueDate": [today(7), today(10)]}
        await set_invoice(api, bill["id"], "SENT")
        assert (await fired())[0] == "invoice_status_changed"
        await pay(api, bill["id"], "64.92")
        hook, event = await fired()
        assert hook == "invoice_payment_recorded" and event.subject["status"] == "PAID"
        assert event.subject["payment"]["amount"] == "64.92"

        # A mutation that changes nothing writes nothing and fires nothing.
        await api.data(UPDATE_JOB, {"i": {"id": worked["id"], "title": "Install v2"}})
        await api.runtime.dispatcher.drain()
        assert books.calls == []


def test_the_snapshot_ids_are_the_api_global_ids() -> None:
    assert billing.api_id("Contact", 42) == global_id_text("Contact", 42)
    assert billing.api_id("Invoice", 7) == global_id_text("Invoice", 7)


# --------------------------------------------------------------------------------------
# Reads: constant statements for a card or a page of cards; both executors agree
# --------------------------------------------------------------------------------------

SECTIONS = """
  quotes(first: 10) {
    nodes { id number status total createdBy { name } lineItems { description total } }
    pageInfo { hasNextPage endCursor }
  }
  jobs(first: 10) {
    edges { cursor node { id title status completedAt assignee { name } quote { number total } } }
  }
  invoices(first: 10) {
    nodes {
      id number status total amountPaid balanceDue overdue dueDate
      lineItems { description quantity unitPrice taxRate total }
      quote { number lineItems { description } } job { title assignee { name } }
    }
  }
"""
ONE_CARD = "query($id: ID!) { contact(id: $id) { id " + SECTIONS + " } }"
PAGE = "query($first: Int!) { contacts(first: $first) { edges { node { id " + SECTIONS + " } } } }"


async def seed_billing(account_id: int, contact_ids: list[int], per: int, users: list[int]) -> None:
    """`per` quotes (accepted), jobs (linked, half DONE) and invoices (from both, some paid, some
    overdue) on each contact, each document with two lines."""
    from crm.models import Invoice as InvoiceModel
    from crm.models import Job as JobModel
    from crm.models import LineItem
    from crm.models import Quote as QuoteModel

    now = datetime.now(UTC)
    money = {"currency": "USD", "subtotal": Decimal(120), "tax": Decimal("9.90"), "total": Decimal("129.90")}
    lines: list[LineItem] = []
    for n, contact_id in enumerate(contact_ids):
        for i in range(per):
            q = await QuoteModel.create(
                account_id=account_id,
                contact_id=contact_id,
                number=f"Q-{contact_id}-{i}",
                title=f"Quote {i}",
                status="ACCEPTED",
                created_by_id=users[n % len(users)],
                **money,
            )
            j = await JobModel.create(
                account_id=account_id,
                contact_id=contact_id,
                title=f"Job {i}",
                status="DONE" if i % 2 else "SCHEDULED",
                scheduled_start=now,
                scheduled_end=now + timedelta(hours=2),
                completed_at=now if i % 2 else None,
                assignee_id=users[(n + i) % len(users)],
                quote_id=q.id,
            )
            inv = await InvoiceModel.create(
                account_id=account_id,
                contact_id=contact_id,
                number=f"INV-{contact_id}-{i}",
                title=f"Invoice {i}",
                status="PAID" if i % 3 == 0 else "PARTIALLY_PAID",
                amount_paid=Decimal("129.90") if i % 3 == 0 else Decimal(20),
                quote_id=q.id,
                job_id=j.id,
                due_date=(now - timedelta(days=5)).date(),
                **money,
            )
            for owner in ({"quote_id": q.id}, {"invoice_id": inv.id}):
                for position, (what, quantity, price) in enumerate((("Labour", 2, 50), ("Parts", 1, 20))):
                    lines.append(
                        LineItem(
                            position=position,
                            description=what,
                            quantity=Decimal(quantity),
                            unit_price=Decimal(price),
                            tax_rate=Decimal("8.25"),
                            **owner,
                        )
                    )
    await LineItem.bulk_create(lines)


async def test_a_card_costs_the_same_with_1_or_10_documents_per_section(
    as_admin: Api, acme: Tenant, count_statements: Any
) -> None:
    from tests.test_statement_counts import account_of, add_contacts, add_users, measure_card, same_cost

    account_id = await account_of(acme)
    users = await add_users(account_id, 4, "billing")
    small_id, big_id = await add_contacts(account_id, [(None, None, None)] * 2)
    await seed_billing(account_id, [small_id], 1, users[:1])
    await seed_billing(account_id, [big_id], 10, users)
    small = await measure_card(as_admin, count_statements, ONE_CARD, small_id)
    big = await measure_card(as_admin, count_statements, ONE_CARD, big_id)

    assert len(big.data["quotes"]["nodes"]) == 10 and len(big.data["invoices"]["nodes"]) == 10
    assert {len(q["lineItems"]) for q in big.data["quotes"]["nodes"]} == {2}
    first_invoice = big.data["invoices"]["nodes"][0]
    assert first_invoice["lineItems"][0] == {
        "description": "Labour", "quantity": "2", "unitPrice": "50.00", "taxRate": "8.25", "total": "108.25",
    }  # fmt: skip
    assert first_invoice["quote"]["lineItems"] == [{"description": "Labour"}, {"description": "Parts"}]
    assert {j["node"]["assignee"]["name"] for j in big.data["jobs"]["edges"]} == {
        f"billing User {i}" for i in range(4)
    }
    assert small.count == big.count, same_cost("1 document per section", small, "10", big)
    # The API key, the contact, three sections, line items, quotes and jobs by id (one batch per
    # nesting level at which the query asks for them).
    assert big.count <= 10, big.listing()


async def test_a_page_of_50_cards_costs_the_same_as_a_page_of_1(
    as_admin: Api, acme: Tenant, count_statements: Any
) -> None:
    from tests.test_statement_counts import account_of, add_contacts, add_users, measure, same_cost

    account_id = await account_of(acme)
    users = await add_users(account_id, 5, "billing")
    contact_ids = await add_contacts(account_id, [(None, None, None)] * 50)
    await seed_billing(account_id, contact_ids, 2, users)
    one = await measure(as_admin, count_statements, PAGE, {"first": 1})
    fifty = await measure(as_admin, count_statements, PAGE, {"first": 50})
    cards = [edge["node"] for edge in fifty.data["contacts"]["edges"]]
    assert len(cards) == 50
    for card_ in cards:
        assert len(card_["quotes"]["nodes"]) == 2 and len(card_["jobs"]["edges"]) == 2
        assert [len(i["lineItems"]) for i in card_["invoices"]["nodes"]] == [2, 2]
    assert one.count == fifty.count, same_cost("contacts(first: 1)", one, "contacts(first: 50)", fifty)
    assert fifty.count <= 10, fifty.listing()


FAST = """
query Billing($id: ID!, $quote: ID!, $job: ID!, $invoice: ID!, $bad: String!) {
  contact(id: $id) {
    firstName
    quotes(first: 2) {
      nodes { number status total lineItems { quantity unitPrice taxRate subtotal tax total } }
    }
    sent: quotes(status: SENT) { edges { cursor node { number } } pageInfo { hasNextPage } }
    jobs { nodes { title status scheduledStart assignee { name } quote { id number } contact { firstName } } }
    invoices(status: PARTIALLY_PAID) { nodes { number amountPaid balanceDue overdue dueDate job { title } } }
  }
  q: node(id: $quote) { __typename id ... on Quote { number validUntil createdBy { name } } }
  j: node(id: $job) { ... on Job { title completedAt } }
  i: node(id: $invoice) { ... on Invoice { number lineItems { description } quote { title } } }
  invoices(overdue: true, first: 5) { nodes { number overdue contact { id } } pageInfo { endCursor } }
  broken: contact(id: $id) { invoices(after: $bad) { nodes { id } } }
}
"""


async def test_billing_answers_the_same_on_both_executors(as_admin: Api, acme: Tenant) -> None:
    from tests.test_fast_execution import both_over_http

    contact_id = await new_contact(as_admin)
    accepted = await accepted_quote(as_admin, contact_id, validUntil=today(10))
    await set_quote(as_admin, (await quote(as_admin, contact_id))["id"], "SENT")
    rep = global_id_text("User", acme.user_ids["rep"])
    worked = await job(as_admin, contact_id, quoteId=accepted["id"], assigneeId=rep)
    bill = await invoice(as_admin, jobId=worked["id"], dueDate=today(-2))
    await set_invoice(as_admin, bill["id"], "SENT")
    await pay(as_admin, bill["id"], "10")
    variables = {
        "id": contact_id, "quote": accepted["id"], "job": worked["id"], "invoice": bill["id"], "bad": "nope",
    }  # fmt: skip
    graphql_core, compiled = await both_over_http(as_admin, FAST, variables)
    assert compiled == graphql_core
    data = compiled["data"]
    assert data["contact"]["invoices"]["nodes"][0]["overdue"] is True
    assert data["invoices"]["nodes"][0]["number"] == bill["number"]
    assert data["q"]["__typename"] == "Quote" and data["j"]["title"] == "Install"
    assert [e["extensions"]["code"] for e in compiled["errors"]] == ["BAD_USER_INPUT"]
    assert data["broken"] is None


async def test_the_demo_gives_rich_cards_quotes_jobs_and_invoices(api: Api) -> None:
    from dossier.demo import ensure_demo
    from tests.test_demo import SMALL

    demo = await ensure_demo(**SMALL)
    query = """{ contacts(first: 10) { nodes { quotes { nodes { number status total } }
      jobs { nodes { status completedAt } } invoices { nodes { number status overdue balanceDue } } } } }"""
    cards = [
        c for c in (await api.data(query, key=demo.api_key))["contacts"]["nodes"] if c["quotes"]["nodes"]
    ]
    assert cards, "no card has quotes"
    quotes = [q for c in cards for q in c["quotes"]["nodes"]]
    assert {q["status"] for q in quotes} == {"ACCEPTED", "SENT"}
    assert "2164.46" in {q["total"] for q in quotes}  # 1999.50 + 8.25 % tax (164.95875 -> 164.96)
    jobs = [j for c in cards for j in c["jobs"]["nodes"]]
    assert {j["status"] for j in jobs} == {"DONE", "SCHEDULED"} and any(j["completedAt"] for j in jobs)
    invoices = [i for c in cards for i in c["invoices"]["nodes"]]
    assert {i["status"] for i in invoices} >= {"PAID", "SENT"}
    assert any(i["overdue"] for i in invoices)
    if len(cards) > 1:
        assert "PARTIALLY_PAID" in {i["status"] for i in invoices}
    numbers = [q["number"] for q in quotes]
    assert len(set(numbers)) == len(numbers)


async def test_the_readme_example_works(as_admin: Api) -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("### Quotes, jobs and invoices", 1)[1]
    example = re.search(r"```graphql\n(.*?)```", section, flags=re.DOTALL).group(1)  # type: ignore[union-attr]
    contact_id = await new_contact(as_admin)
    made = (await as_admin.data(example.replace("Q29udGFjdDox", contact_id)))["createQuote"]
    assert (made["number"], made["subtotal"], made["tax"], made["total"]) == (
        "Q-0001",
        "59.97",
        "4.95",
        "64.92",
    )


async def test_merging_moves_the_documents_and_unmerging_gives_them_back(as_admin: Api) -> None:
    primary, duplicate = await new_contact(as_admin), await new_contact(as_admin, "Ada2")
    accepted = await accepted_quote(as_admin, duplicate)
    worked = await job(as_admin, duplicate, quoteId=accepted["id"])
    await invoice(as_admin, jobId=worked["id"])
    merged = await as_admin.data(
        "mutation($i: MergeContactsInput!) {"
        " mergeContacts(input: $i) { merge { id moved { kind count } } } }",
        {"i": {"primaryId": primary, "duplicateIds": [duplicate]}},
    )
    moved = {m["kind"]: m["count"] for m in merged["mergeContacts"]["merge"]["moved"]}
    assert (moved["Quote"], moved["Job"], moved["Invoice"]) == (1, 1, 1)
    held = await card(as_admin, primary)
    assert [q["number"] for q in held["quotes"]["nodes"]] == [accepted["number"]]
    assert held["jobs"]["nodes"][0]["quote"]["number"] == accepted["number"]
    assert held["invoices"]["nodes"][0]["contact"]["id"] == primary
    await as_admin.data(
        "mutation($i: UnmergeContactsInput!) { unmergeContacts(input: $i) { contacts { id } } }",
        {"i": {"mergeId": merged["mergeContacts"]["merge"]["id"]}},
    )
    back = await card(as_admin, duplicate)
    assert [q["number"] for q in back["quotes"]["nodes"]] == [accepted["number"]]
    assert len(back["jobs"]["nodes"]) == 1 and len(back["invoices"]["nodes"]) == 1
    assert (await card(as_admin, primary))["quotes"]["nodes"] == []
