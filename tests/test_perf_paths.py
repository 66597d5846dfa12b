"""The card's speed-ups for issue 12's sections answer exactly what the plain resolvers answer.

- graph/prepared.py: a connection fills in its items' fields ahead (a document's line items,
  linked quote and job; rewards, referral and insight figures); the same field on an object
  made elsewhere (node(id:), a mutation's payload) still loads by itself.
- graph/execution.py / graph/codegen.py: a union whose value is an instance of a member's own
  class is completed like an object; a `strawberry.cast` or an unknown class is not.
- graph/resolvers/selection.py: what counts as "the query asks for it".
"""

from __future__ import annotations

from typing import Annotated, Any

import pytest
import strawberry
from graphql import parse

from graph.execution import Kind, field_access, union_members
from graph.prepared import NOT_READ, prepared
from graph.resolvers.selection import selects
from tests.conftest import Api
from tests.test_billing import accepted_quote, invoice, job, new_contact
from tests.test_fast_execution import both, both_over_http

LINES = "lineItems { description quantity unitPrice taxRate subtotal tax total }"
DOCUMENTS = f"""
query($id: ID!) {{
  contact(id: $id) {{
    quotes(first: 5) {{ nodes {{ id number total {LINES} }} }}
    jobs(first: 5) {{ edges {{ node {{ id title quote {{ id number {LINES} }} }} }} }}
    invoices(first: 5) {{
      nodes {{ id number quote {{ number }} job {{ title quote {{ number }} }} {LINES} }}
    }}
  }}
}}
"""
BY_ID = f"""
query($q: ID!, $j: ID!, $i: ID!) {{
  q: node(id: $q) {{ ... on Quote {{ id number total {LINES} }} }}
  j: node(id: $j) {{ ... on Job {{ id title quote {{ id number {LINES} }} }} }}
  i: node(id: $i) {{
    ... on Invoice {{ id number quote {{ number }} job {{ title quote {{ number }} }} {LINES} }}
  }}
}}
"""


async def test_prepared_document_fields_answer_as_the_fields_that_load_themselves(as_admin: Api) -> None:
    contact_id = await new_contact(as_admin)
    accepted = await accepted_quote(as_admin, contact_id)
    made_job = await job(as_admin, contact_id, quoteId=accepted["id"])
    made_invoice = await invoice(as_admin, jobId=made_job["id"])  # the job's quote comes with it
    plain, fast = await both_over_http(as_admin, DOCUMENTS, {"id": contact_id})
    assert plain == fast and "errors" not in fast
    card = fast["data"]["contact"]
    ids = {"q": accepted["id"], "j": made_job["id"], "i": made_invoice["id"]}
    plain_ids, fast_ids = await both_over_http(as_admin, BY_ID, ids)
    assert plain_ids == fast_ids and "errors" not in fast_ids
    by_id = fast_ids["data"]
    # The card's (prepared) documents and the same documents read one by one (loading).
    assert card["quotes"]["nodes"] == [by_id["q"]]
    assert card["jobs"]["edges"] == [{"node": by_id["j"]}]
    assert card["invoices"]["nodes"] == [by_id["i"]]
    assert by_id["i"]["job"] == {"title": made_job["title"], "quote": {"number": accepted["number"]}}
    assert by_id["q"]["lineItems"][0]["total"] == "64.92"  # 3 x 19.99 = 59.97, + 8.25 % tax 4.95


async def test_prepared_card_figures_answer_as_the_fields_that_load_themselves(as_admin: Api) -> None:
    contact_id = await new_contact(as_admin)
    figures = """
    query($id: ID!) { contact(id: $id) {
      insights { customerSince jobsCompleted lifetimeValue { amount currency } mostCommonChannel
                 lastInteraction { at channel summary } }
      only: insights { jobsCompleted }
      rewards { toBeIssued { amount currency } totalEarned { amount } amountIssued { amount }
                lastIssuedAt balance { amount } promosRedeemed preferredReward }
      referral { referralCode inviter { id } referralCount flowLink }
    } }
    """
    plain, fast = await both_over_http(as_admin, figures, {"id": contact_id})
    assert plain == fast and "errors" not in fast
    got = fast["data"]["contact"]
    assert got["only"] == {"jobsCompleted": 0}
    assert got["insights"]["mostCommonChannel"] is None and got["insights"]["lastInteraction"] is None
    assert got["rewards"]["preferredReward"] == "USD" and got["rewards"]["promosRedeemed"] == 0
    assert got["referral"]["inviter"] is None and got["referral"]["referralCount"] == 0


def test_the_executor_reads_prepared_fields_and_compiles_the_history_union() -> None:
    from graph.schema import build_schema
    from graph.schema.billing import Invoice, Job, Quote
    from graph.schema.calls import Call
    from graph.schema.leads import Lead
    from graph.schema.messages import Message

    schema = build_schema(fast_path=True)
    core, converter = schema._schema, schema.schema_converter
    members = union_members(core.get_type("Communication"))
    assert members is not None and {cls: t.name for cls, t in members.items()} == {
        Call: "Call",
        Message: "Message",
        Lead: "Lead",
    }
    prepared_fields = {
        ("Quote", "lineItems"): Quote,
        ("Job", "quote"): Job,
        ("Invoice", "lineItems"): Invoice,
        ("Invoice", "quote"): Invoice,
        ("Invoice", "job"): Invoice,
        ("Rewards", "balance"): None,
        ("Referral", "referralCount"): None,
        ("Insights", "lastInteraction"): None,
    }
    for type_name, field in prepared_fields:
        access = field_access(core.get_type(type_name).fields[field], converter)
        assert access.kind is Kind.PREPARED, (type_name, field)
    assert field_access(core.get_type("CommunicationEdge").fields["node"], converter).kind is Kind.METHOD


@strawberry.type
class Apple:
    name: str


@strawberry.type
class Pear:
    name: str
    ripe: bool


Fruit = Annotated[Apple | Pear, strawberry.union("Fruit")]


class Looks:  # not a strawberry type: only a cast makes it one
    def __init__(self, name: str) -> None:
        self.name = name
        self.ripe = False


@strawberry.type
class Basket:
    _stored: strawberry.Private[Any] = NOT_READ

    @strawberry.field
    @prepared("_stored")
    async def count(self) -> int:
        return 7 if self._stored is NOT_READ else self._stored


@strawberry.type
class Query:
    @strawberry.field
    def fruits(self) -> list[Fruit]:
        return [Apple(name="a"), Pear(name="p", ripe=True), strawberry.cast(Pear, Looks("cast"))]

    @strawberry.field
    def one(self) -> Fruit:
        return Pear(name="solo", ripe=False)

    @strawberry.field
    def baskets(self) -> list[Basket]:
        return [Basket(), Basket(_stored=3), Basket()]


SCHEMA = strawberry.Schema(Query)
FRUITS = """{
  fruits { __typename ... on Apple { name } ... on Pear { name ripe } }
  one { __typename ... on Pear { ripe } }
  baskets { count }
}"""


async def test_unions_and_prepared_fields_on_both_executors() -> None:
    plain, fast = await both(SCHEMA, FRUITS)
    assert plain == fast
    assert fast["data"] == {
        "fruits": [
            {"__typename": "Apple", "name": "a"},
            {"__typename": "Pear", "name": "p", "ripe": True},
            {"__typename": "Pear", "name": "cast", "ripe": False},
        ],
        "one": {"__typename": "Pear", "ripe": False},
        "baskets": [{"count": 7}, {"count": 3}, {"count": 7}],
    }
    core = SCHEMA._schema
    members = union_members(core.get_type("Fruit"))
    assert members == {Apple: core.get_type("Apple"), Pear: core.get_type("Pear")}
    converter = SCHEMA.schema_converter
    assert field_access(core.get_type("Basket").fields["count"], converter).kind is Kind.PREPARED
    assert field_access(core.get_type("Query").fields["one"], converter).kind is Kind.METHOD


class _Info:
    def __init__(self, document: str) -> None:
        parsed = parse(document)
        operation = parsed.definitions[0]
        self.field_nodes = [operation.selection_set.selections[0]]  # type: ignore[attr-defined]
        self.fragments = {d.name.value: d for d in parsed.definitions[1:]}  # type: ignore[attr-defined]


class _Wrapper:
    def __init__(self, document: str) -> None:
        self._raw_info = _Info(document)


@pytest.mark.parametrize(
    ("document", "path", "expected"),
    [
        ("{ c { edges { node { id } } } }", ("edges", "node"), True),
        ("{ c { edges { cursor } } }", ("edges", "node"), False),
        ("{ c { e: edges { n: node { id } } } }", ("edges", "node"), True),
        ("{ c { ...F } } fragment F on C { edges { ... on E { node { id } } } }", ("edges", "node"), True),
        ("{ c { ...F } } fragment F on C { edges { cursor } }", ("edges", "node"), False),
        ("{ c { nodes { lineItems { total } } } }", ("nodes", "lineItems"), True),
        ("{ c { node { lineItems { total } } } }", ("nodes", "lineItems"), False),
    ],
)
def test_selects_reads_aliases_and_fragments(document: str, path: tuple[str, ...], expected: bool) -> None:
    assert selects(_Wrapper(document), *path) is expected
