"""The tenant probe: the schema walked by itself, every ID slot aimed at another account's objects.

tests/test_tenancy.py holds hand-written probes; this one is generic, so a field, mutation or
subscription added tomorrow is probed the day it lands, without anyone remembering to.

Two accounts. The victim gets one object of every node type (a recipe per type below; a node
type without one fails the run). Then the attacker, an admin (the role with the most rights),
runs every root query field, mutation and subscription that takes an `ID` (as an argument or
anywhere inside an input object, lists included) and every object field with an `ID` argument,
once per ID slot, with the victim's object of the slot's type in that slot and valid values of
its own everywhere else. Each must answer NOT_FOUND (a cursor slot such as `after` may answer
BAD_USER_INPUT on itself: the id is no position in that list), show none of the victim's data and leave
every row of the victim's (found through the foreign keys, see `victim_rows`) as it was.
Mutations and root query fields without an ID run once as the attacker under the same checks.
A slot the probe cannot map to a type, or a required value it cannot generate, fails the run:
add a recipe, a name to ID_FIELD_TYPES or a value to the overrides, never a skip.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    build_schema,
    get_named_type,
    parse,
)
from starlette.testclient import TestClient
from tortoise import Tortoise

from crm.models import Account
from dossier import Settings, create_app
from graph.cost import DEFAULT_COST_LIMIT, document_cost
from graph.ids import MAX_DB_ID, global_id_text
from tests.conftest import Tenant, make_tenant

PROTOCOL = ["graphql-transport-ws"]
# Every string the victim's objects hold that a client could read carries this token, so a leak
# shows up as the token in a response.
TOKEN = "qzvictim"
LIST = "[]"  # a list step in a slot's path

# --------------------------------------------------------------------------------------
# Naming: which type an ID slot wants
# --------------------------------------------------------------------------------------

# ID fields whose name does not say their type (`contactId` says Contact; these do not).
ID_FIELD_TYPES: dict[str, str] = {
    "setterOwnerId": "User",
    "closerOwnerId": "User",
    "assignedToId": "User",
    "authorId": "User",
    "bookedById": "User",
    "endpointId": "WebhookEndpoint",
    "primaryId": "Contact",  # mergeContacts
    "duplicateIds": "Contact",
    "mergeId": "ContactMerge",  # unmergeContacts
    "inviterId": "Contact",  # setInviter
    "assigneeId": "User",  # createJob, updateJob
}
# `id` (or `ids`) slots of root fields whose name does not say the type.
ROOT_ID_TYPES: dict[str, str] = {
    "rotateWebhookSecret": "WebhookEndpoint",
    # Background jobs (job, cancelJob), not the field-service Job their names would point at.
    "job": "BackgroundJob",
    "cancelJob": "BackgroundJob",
    # bulkAction(input: {target: {ids}}): the contacts it acts on.
    "bulkAction": "Contact",
}
# Operator fields of a filter input (ContactFilter's `setterOwner: {in: [ID!]}`, `segment: {in}`,
# `leads: {form: {in}}`): the operator says nothing, the field holding it names the type. A parent
# `x` wants what an `xId` field wants (ID_FIELD_TYPES, `X` when that is a type), or PARENT_ID_TYPES.
OPERATOR_SLOTS = ("in",)
PARENT_ID_TYPES: dict[str, str] = {
    "owner": "User",  # ContactFilter.owner: any of setterOwner, closerOwner, assignedTo
}
CURSORS = ("after", "before")
# Root fields the probe handles itself: node(id:) takes an id of any type (see the node test).
ANY_TYPE_ROOTS = {"node"}

# Values for required arguments and input fields that validation wants in a given shape.
STRING_VALUES: dict[str, str] = {
    "email": "probe@attacker.example.com",
    "secondaryEmail": "probe2@attacker.example.com",
    "phone": "+14155550142",
    "secondaryPhone": "+14155550143",
    "number": "+14155550144",
    "url": "https://hooks.example.com/probe",
    "recordingUrl": "https://recordings.example.com/probe",
    "currency": "USD",
    "status": "lead",
    "country": "US",
    "ipAddress": "203.0.113.9",
    "search": "probe",
    "referralLandingUrl": "https://refer.example.com/probe",
}
INT_VALUES: dict[str, int] = {"durationMinutes": 30, "first": 5, "last": 5}
# Whole arguments for operations whose required fields alone are not a valid request.
ARGUMENT_VALUES: dict[str, dict[str, Any]] = {
    # The attacker's own custom field (its recipe) and a value of its type.
    "Mutation.applyCustomFieldToAll": {"input": {"key": "colour", "value": "red"}},
    "Mutation.createContact": {"input": {"firstName": "Probe", "email": "probe@attacker.example.com"}},
    # The attacker's contacts hold the default statuses: a valid list keeps them.
    "Mutation.setStatusList": {
        "input": {
            "statuses": [
                {"name": name, "converts": name == "customer"}
                for name in ("lead", "contacted", "qualified", "customer", "lost", "probe")
            ]
        }
    },
}


def future(days: int = 3) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()


# Times that must lie in the past (logCall records a call that already happened).
PAST_TIMES = {"occurredAt"}


def scalar_value(type_name: str, name: str) -> Any:
    """A valid value of a scalar for an argument or input field of this name."""
    if type_name == "String":
        return STRING_VALUES.get(name, "probe")
    if type_name == "Int":
        return INT_VALUES.get(name, 1)
    if type_name == "Float":
        return 1.0
    if type_name == "Boolean":
        return True
    if type_name == "DateTime":
        return future(-1) if name in PAST_TIMES else future()
    if type_name == "Decimal":
        return "12.50"
    if type_name == "JSON":
        return {}
    if type_name == "Upload":
        # A mark: an operation without ids sends UPLOAD_FILE there (a multipart request, see
        # Client.post). One with an id sends the mark as JSON: the resolvers check every id before
        # reading the file, so a foreign id still answers NOT_FOUND first.
        return UPLOAD
    raise CannotFill(f"no value for scalar {type_name} ({name}): add one to scalar_value")


class CannotFill(Exception):
    pass


UPLOAD = "probe-upload"
# The file an operation without ids gets for each Upload (importContacts, previewImport): a valid
# one, as the attacker's own operation must work; one contact row of the attacker's own.
UPLOAD_FILE = (
    "probe.csv",
    b"firstName,lastName,email\nProbe,Attacker,probe@attacker.example.com\n",
    "text/csv",
)


def upload_paths(value: Any, path: str) -> Iterator[str]:
    """The multipart spec's paths (`variables.input.file`) of every UPLOAD mark in the variables."""
    if value == UPLOAD:
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from upload_paths(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from upload_paths(item, f"{path}.{index}")


# --------------------------------------------------------------------------------------
# The plan: every ID slot in the schema, as an operation to run
# --------------------------------------------------------------------------------------


def unwrap(type_: Any) -> Any:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def is_required(type_: Any, thing: Any) -> bool:
    """Non-null without a default (graphql-core 3.3 keeps an SDL default in `default`, a Python one in
    `default_value`)."""
    has_default = thing.default_value is not Undefined or getattr(thing, "default", None) is not None
    return isinstance(type_, GraphQLNonNull) and not has_default


def id_slots(type_: Any, seen: frozenset[str] = frozenset()) -> list[tuple[str, ...]]:
    """Paths to every ID inside a value of this input type: () for the value itself."""
    inner = unwrap(type_)
    if isinstance(inner, GraphQLList):
        return [(LIST, *path) for path in id_slots(inner.of_type, seen)]
    if isinstance(inner, GraphQLScalarType):
        return [()] if inner.name == "ID" else []
    if isinstance(inner, GraphQLInputObjectType) and inner.name not in seen:
        return [
            (name, *path)
            for name, input_field in inner.fields.items()
            for path in id_slots(input_field.type, seen | {inner.name})
        ]
    return []


def node_types(schema: GraphQLSchema) -> list[str]:
    node = schema.get_type("Node")
    assert isinstance(node, GraphQLInterfaceType), "the schema has no Node interface"
    return sorted(t.name for t in schema.get_possible_types(node))


def element_type(type_: Any) -> GraphQLNamedType:
    """What a field returns, looking through lists and connections (`nodes`)."""
    named = get_named_type(type_)
    if isinstance(named, GraphQLObjectType) and "nodes" in named.fields:
        return get_named_type(named.fields["nodes"].type)
    return named


@dataclass
class Slot:
    """One ID slot of a field: where it is and the type of object it wants."""

    owner: str  # "Mutation.updateDeal", "Contact.calls", ...
    arg: str
    path: tuple[str, ...]  # inside the argument's value; LIST steps included
    wants: str

    @property
    def cursor(self) -> str | None:
        last = [self.arg, *(p for p in self.path if p != LIST)][-1]
        return last if last in CURSORS else None

    def __str__(self) -> str:
        inner = ".".join(p for p in self.path if p != LIST)
        return f"{self.owner}({self.arg}{'.' + inner if inner else ''}) -> {self.wants}"


def slot_type(
    schema: GraphQLSchema,
    owner: str,
    field_def: GraphQLField,
    arg: str,
    path: tuple[str, ...],
    known: set[str],
) -> str:
    """The type an ID slot wants, from its name; CannotFill if the name does not say."""
    names = [arg, *(p for p in path if p != LIST)]
    last = names[-1]
    if last in OPERATOR_SLOTS and len(names) > 1:
        return parent_slot_type(owner, names, known)
    if last in ID_FIELD_TYPES:
        return ID_FIELD_TYPES[last]
    for suffix in ("Ids", "Id"):
        if last.endswith(suffix) and len(last) > len(suffix):
            base = last[: -len(suffix)]
            candidate = base[0].upper() + base[1:]
            if candidate in known:
                return candidate
    field_name = owner.split(".", 1)[1]
    if last in ("id", "ids"):
        if field_name in ROOT_ID_TYPES:
            return ROOT_ID_TYPES[field_name]
        # The longest type name inside the field's name: updateWebhookEndpoint -> WebhookEndpoint.
        lowered = field_name.lower()
        named = sorted((t for t in known if t.lower() in lowered), key=len, reverse=True)
        if named:
            return named[0]
        returned = element_type(field_def.type)
        if returned.name in known:
            return returned.name
    if last in CURSORS:  # an ID cursor into a list of nodes: the list's own type
        returned = element_type(field_def.type)
        if returned.name in known:
            return returned.name
    raise CannotFill(
        f"{owner}: cannot tell which type the ID slot {'.'.join(names)} wants; "
        "add it to ID_FIELD_TYPES or ROOT_ID_TYPES in tests/test_tenant_probe.py"
    )


def parent_slot_type(owner: str, names: list[str], known: set[str]) -> str:
    """The type an operator slot (`filter.setterOwner.in`) wants: the one its parent's name says."""
    parent = names[-2]
    if parent in PARENT_ID_TYPES:
        return PARENT_ID_TYPES[parent]
    if f"{parent}Id" in ID_FIELD_TYPES:
        return ID_FIELD_TYPES[f"{parent}Id"]
    candidate = parent[0].upper() + parent[1:]
    if candidate in known:
        return candidate
    raise CannotFill(
        f"{owner}: cannot tell which type the ID slot {'.'.join(names)} wants; "
        "add its parent to PARENT_ID_TYPES in tests/test_tenant_probe.py"
    )


def field_slots(schema: GraphQLSchema, owner: str, field_def: GraphQLField, known: set[str]) -> list[Slot]:
    slots = []
    for arg_name, arg in field_def.args.items():
        for path in id_slots(arg.type):
            wants = slot_type(schema, owner, field_def, arg_name, path, known)
            slots.append(Slot(owner, arg_name, path, wants))
    return slots


def type_fields_with_ids(schema: GraphQLSchema) -> list[tuple[str, str]]:
    """(type, field) for every field of a non-root object type that takes an ID argument."""
    roots = {t.name for t in (schema.query_type, schema.mutation_type, schema.subscription_type) if t}
    found = []
    for name, named in sorted(schema.type_map.items()):
        if name.startswith("__") or name in roots or not isinstance(named, GraphQLObjectType):
            continue
        for field_name, field_def in named.fields.items():
            if any(id_slots(arg.type) for arg in field_def.args.values()):
                found.append((name, field_name))
    return found


# --------------------------------------------------------------------------------------
# Building operations
# --------------------------------------------------------------------------------------


@dataclass
class Ids:
    """Global ids of each type: the attacker's own and the victim's."""

    own: dict[str, str]
    victim: dict[str, str]


def fill(
    type_: Any,
    name: str,
    ids: Ids,
    wants: Callable[[tuple[str, ...]], str],
    path: tuple[str, ...] | None,
    trail: tuple[str, ...] = (),
) -> Any:
    """A valid value of an input type; `path` (when given) leads to the slot that gets the victim's id.

    `trail` is the names from the argument down to `name` (the argument's own name when empty);
    `wants(trail)` tells the type of an ID field there (for the attacker's own ids).
    """
    trail = trail or (name,)
    inner = unwrap(type_)
    if isinstance(inner, GraphQLList):
        rest = path[1:] if path else None
        if rest == ():  # a list of ids: one of ours and the victim's, so a partial write shows
            return [
                fill(inner.of_type, name, ids, wants, None, trail),
                fill(inner.of_type, name, ids, wants, (), trail),
            ]
        return [fill(inner.of_type, name, ids, wants, rest, trail)]
    if isinstance(inner, GraphQLScalarType) and inner.name == "ID":
        table = ids.victim if path == () else ids.own
        type_name = wants(trail)
        if type_name not in table:
            raise CannotFill(f"no {type_name} object to put in {name}")
        return table[type_name]
    if isinstance(inner, GraphQLScalarType):
        return scalar_value(inner.name, name)
    if isinstance(inner, GraphQLEnumType):
        return next(iter(inner.values))
    if isinstance(inner, GraphQLInputObjectType):
        value = {}
        for field_name, input_field in inner.fields.items():
            on_path = path is not None and len(path) > 0 and path[0] == field_name
            inside = (*trail, field_name)
            if on_path:
                value[field_name] = fill(input_field.type, field_name, ids, wants, path[1:], inside)  # type: ignore[index]
            elif is_required(input_field.type, input_field):
                value[field_name] = fill(input_field.type, field_name, ids, wants, None, inside)
        return value
    raise CannotFill(f"cannot fill {name} of type {inner}")


def selection(type_: Any, depth: int = 2) -> str:
    """Every leaf without required arguments, objects down to `depth`: a leak would show."""
    named = get_named_type(type_)
    if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
        return ""
    if isinstance(named, GraphQLUnionType):
        return "{ __typename }"
    parts = ["__typename"]
    for name, field_def in named.fields.items():
        if any(is_required(a.type, a) for a in field_def.args.values()):
            continue
        inner = get_named_type(field_def.type)
        if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
            parts.append(name)
        elif depth > 0:
            parts.append(f"{name} {selection(inner, depth - 1)}")
    return "{ " + " ".join(parts) + " }"


def fitted(schema: GraphQLSchema, build: Callable[[int], str], variables: dict[str, Any]) -> str:
    """The document with the widest selection (depth 2, else 1, else 0) the API's cost limit admits:
    a payload of 100 full cards at depth 2 is refused before it runs, which would probe nothing."""
    for depth in (2, 1, 0):
        document = build(depth)
        if document_cost(schema, parse(document), variables) <= DEFAULT_COST_LIMIT:
            break
    return document


@dataclass
class Operation:
    label: str
    kind: str  # query | mutation | subscription
    document: str
    variables: dict[str, Any]
    sent: str | None = None  # the victim's id it carries, if any
    # A cursor slot (`after`, `before`) may also answer BAD_USER_INPUT on that field: another
    # account's id is no position in this list, the same answer as for any id not in it.
    cursor: str | None = None


def root_operation(
    schema: GraphQLSchema, kind: str, field_name: str, ids: Ids, slot: Slot | None, wants_for: Callable
) -> Operation:
    root = {"query": schema.query_type, "mutation": schema.mutation_type}.get(
        kind
    ) or schema.subscription_type
    field_def = root.fields[field_name]  # type: ignore[union-attr]
    variables: dict[str, Any] = {}
    declared, passed = [], []
    for arg_name, arg in field_def.args.items():
        on_slot = slot is not None and slot.arg == arg_name
        if not on_slot and not is_required(arg.type, arg):
            continue
        owner = f"{root.name}.{field_name}"  # type: ignore[union-attr]
        if not on_slot and arg_name in ARGUMENT_VALUES.get(owner, {}):
            variables[arg_name] = ARGUMENT_VALUES[owner][arg_name]
        else:
            variables[arg_name] = fill(
                arg.type, arg_name, ids, wants_for(owner, field_def), slot.path if on_slot else None
            )
        declared.append(f"${arg_name}: {arg.type}")
        passed.append(f"{arg_name}: ${arg_name}")
    head = f"{kind}({', '.join(declared)})" if declared else kind
    args = f"({', '.join(passed)})" if passed else ""
    document = fitted(
        schema, lambda depth: f"{head} {{ {field_name}{args} {selection(field_def.type, depth)} }}", variables
    )
    label = str(slot) if slot else f"{root.name}.{field_name}"  # type: ignore[union-attr]
    if slot is None:
        return Operation(label, kind, document, variables)
    return Operation(label, kind, document, variables, ids.victim[slot.wants], slot.cursor)


def type_field_operation(
    schema: GraphQLSchema, type_name: str, field_name: str, ids: Ids, slot: Slot, wants_for: Callable
) -> Operation:
    """`node(id: own) { ... on T { field(slot: victim's) } }`: the field reached through an own object."""
    if type_name not in ids.own:
        raise CannotFill(f"{type_name}.{field_name} takes an ID but the probe cannot reach a {type_name}")
    owner_type = schema.get_type(type_name)
    field_def = owner_type.fields[field_name]  # type: ignore[union-attr]
    variables: dict[str, Any] = {"owner": ids.own[type_name]}
    declared, passed = ["$owner: ID!"], []
    for arg_name, arg in field_def.args.items():
        on_slot = slot.arg == arg_name
        if not on_slot and not is_required(arg.type, arg):
            continue
        wants = wants_for(f"{type_name}.{field_name}", field_def)
        variables[arg_name] = fill(arg.type, arg_name, ids, wants, slot.path if on_slot else None)
        declared.append(f"${arg_name}: {arg.type}")
        passed.append(f"{arg_name}: ${arg_name}")
    head = f"query({', '.join(declared)}) {{ node(id: $owner) {{ ... on {type_name} {{ {field_name}"
    call = f"{head}({', '.join(passed)})"
    document = fitted(schema, lambda depth: f"{call} {selection(field_def.type, depth)} }} }} }}", variables)
    return Operation(str(slot), "query", document, variables, ids.victim[slot.wants], slot.cursor)


@dataclass
class Plan:
    probes: list[Operation] = field(default_factory=list)  # each must be NOT_FOUND
    plain: list[Operation] = field(default_factory=list)  # without ids: must not reach the victim
    problems: list[str] = field(default_factory=list)
    wanted_types: set[str] = field(default_factory=set)


def plan(schema: GraphQLSchema, ids: Ids, known: set[str]) -> Plan:
    """Every probe the schema calls for; what cannot be built lands in `problems`."""
    result = Plan()

    def wants_for(owner: str, field_def: GraphQLField) -> Callable[[tuple[str, ...]], str]:
        def wants(trail: tuple[str, ...]) -> str:
            return slot_type(schema, owner, field_def, trail[0], trail[1:], known)

        return wants

    for kind, root in (
        ("query", schema.query_type),
        ("mutation", schema.mutation_type),
        ("subscription", schema.subscription_type),
    ):
        if root is None:
            continue
        for field_name, field_def in root.fields.items():
            if field_name in ANY_TYPE_ROOTS:
                continue
            try:
                slots = field_slots(schema, f"{root.name}.{field_name}", field_def, known)
                result.wanted_types.update(s.wants for s in slots)
                if not slots and kind != "subscription":
                    result.plain.append(root_operation(schema, kind, field_name, ids, None, wants_for))
                for slot in slots:
                    result.probes.append(root_operation(schema, kind, field_name, ids, slot, wants_for))
            except CannotFill as problem:
                result.problems.append(str(problem))
    for type_name, field_name in type_fields_with_ids(schema):
        field_def = schema.get_type(type_name).fields[field_name]  # type: ignore[union-attr]
        try:
            for slot in field_slots(schema, f"{type_name}.{field_name}", field_def, known):
                result.wanted_types.add(slot.wants)
                result.probes.append(
                    type_field_operation(schema, type_name, field_name, ids, slot, wants_for)
                )
        except CannotFill as problem:
            result.problems.append(str(problem))
    return result


# --------------------------------------------------------------------------------------
# The planner on a schema of its own: new kinds of slots are found, unknown ones fail
# --------------------------------------------------------------------------------------

TOY_SCHEMA = """
interface Node { id: ID! }
type Contact implements Node { id: ID! calls(after: ID, first: Int! = 20): [Call!]! }
type Call implements Node { id: ID! }
type Widget { id: ID! }
input Owners { contactId: ID!, userIds: [ID!], nested: [Inner!] }
input Inner { callId: ID }
input Mystery { id: ID!, gizmoId: ID }
input IdIn { in: [ID!] }
input Finder { call: IdIn, owner: IdIn, setterOwner: IdIn }
input Vague { thing: IdIn }
type Query {
  contact(id: ID!): Contact
  node(id: ID!): Node
  calls(filter: Finder): [Call!]!
  things(filter: Vague): [Call!]!
}
type Mutation {
  setOwners(input: Owners!): Contact!
  frobnicate(input: Mystery!): Widget!
}
"""


def test_the_planner_finds_every_slot_and_refuses_what_it_cannot_map() -> None:
    schema = build_schema(TOY_SCHEMA)
    known = {"Contact", "Call", "User"}
    ids = Ids(own={t: f"own-{t}" for t in known}, victim={t: f"victim-{t}" for t in known})
    result = plan(schema, ids, known)
    assert sorted(op.label for op in result.probes) == [
        "Contact.calls(after) -> Call",
        "Mutation.setOwners(input.contactId) -> Contact",
        "Mutation.setOwners(input.nested.callId) -> Call",
        "Mutation.setOwners(input.userIds) -> User",
        "Query.calls(filter.call.in) -> Call",
        "Query.calls(filter.owner.in) -> User",
        "Query.calls(filter.setterOwner.in) -> User",
        "Query.contact(id) -> Contact",
    ]
    by_label = {op.label: op for op in result.probes}
    # Lists get one of ours and the victim's; nested lists and optional fields on the path are built.
    assert by_label["Mutation.setOwners(input.userIds) -> User"].variables == {
        "input": {"contactId": "own-Contact", "userIds": ["own-User", "victim-User"]}
    }
    assert by_label["Mutation.setOwners(input.nested.callId) -> Call"].variables == {
        "input": {"contactId": "own-Contact", "nested": [{"callId": "victim-Call"}]}
    }
    # An operator slot takes its type from its parent, for the victim's id and our own beside it.
    assert by_label["Query.calls(filter.setterOwner.in) -> User"].variables == {
        "filter": {"setterOwner": {"in": ["own-User", "victim-User"]}}
    }
    calls = by_label["Contact.calls(after) -> Call"]
    assert calls.variables == {"owner": "own-Contact", "after": "victim-Call"}
    assert "node(id: $owner) { ... on Contact { calls(after: $after)" in calls.document
    # A slot whose name says nothing fails the run instead of being skipped.
    assert result.problems == [
        "Query.things: cannot tell which type the ID slot filter.thing.in wants; "
        "add its parent to PARENT_ID_TYPES in tests/test_tenant_probe.py",
        "Mutation.frobnicate: cannot tell which type the ID slot input.id wants; "
        "add it to ID_FIELD_TYPES or ROOT_ID_TYPES in tests/test_tenant_probe.py",
    ]


# --------------------------------------------------------------------------------------
# Seeding: one object of every node type per account
# --------------------------------------------------------------------------------------


class Client:
    def __init__(self, http: TestClient, key: str) -> None:
        self.http, self.key = http, key

    def post(
        self, document: str, variables: dict[str, Any] | None = None, *, files: bool = False
    ) -> dict[str, Any]:
        """`files`: send UPLOAD_FILE for each UPLOAD mark (the GraphQL multipart request spec)."""
        headers = {"Authorization": f"Bearer {self.key}"}
        paths = list(upload_paths(variables or {}, "variables")) if files else []
        if paths:
            blank = json.loads(json.dumps(variables).replace(json.dumps(UPLOAD), "null"))
            response = self.http.post(
                "/graphql",
                data={
                    "operations": json.dumps({"query": document, "variables": blank}),
                    "map": json.dumps({str(n): [path] for n, path in enumerate(paths)}),
                },
                files={str(n): UPLOAD_FILE for n in range(len(paths))},
                headers=headers,
            )
        else:
            response = self.http.post(
                "/graphql", json={"query": document, "variables": variables or {}}, headers=headers
            )
        assert response.status_code < 500, (document, response.status_code, response.text)
        return response.json()

    def data(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self.post(document, variables)
        assert not body.get("errors"), (document, variables, body)
        return body["data"]


Recipe = Callable[[Client, TestClient, Tenant, str, dict[str, str]], str]


def _contact(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    data = api.data(
        "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }",
        {
            "i": {
                "firstName": f"Ada{mark}",
                "lastName": f"Lovelace{mark}",
                "businessName": f"Engines {mark}",
                "email": f"ada{mark}@{tenant.name.lower()}.example.com",
                "phone": "+14155550123" if mark else "+14155550124",
                "address": {"street": f"1 Main St {mark}", "city": f"Springfield{mark}", "country": "US"},
                "utm": {"source": f"src{mark}", "campaign": f"camp{mark}"},
                "formAnswers": [{"question": f"Budget{mark}?", "answer": f"Big{mark}"}],
            }
        },
    )
    return data["createContact"]["id"]


def _user(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    return next(u["id"] for u in api.data("{ users { id role } }")["users"] if u["role"] == "REP")


def _call(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    data = api.data(
        "mutation($i: ScheduleCallInput!) { scheduleCall(input: $i) { id } }",
        {"i": {"contactId": made["Contact"], "scheduledAt": future(), "eventName": f"Demo{mark}"}},
    )
    return data["scheduleCall"]["id"]


def _deal(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    data = api.data(
        "mutation($i: AddDealInput!) { addDeal(input: $i) { id } }",
        {
            "i": {
                "contactId": made["Contact"],
                "productName": f"Plan{mark}",
                "amount": "1200.00",
                "currency": "USD",
                "paymentType": "ONE_TIME",
            }
        },
    )
    return data["addDeal"]["id"]


def _note(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    data = api.data(
        "mutation($i: AddNoteInput!) { addNote(input: $i) { id } }",
        {"i": {"contactId": made["Contact"], "body": f"<b>secret{mark}</b> plans"}},
    )
    return data["addNote"]["id"]


def _tag(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    data = api.data(
        "mutation($i: TagInput!) { addTag(input: $i) { tags { id } } }",
        {"i": {"contactId": made["Contact"], "name": f"VIP{mark}"}},
    )
    return data["addTag"]["tags"][0]["id"]


def _journey_event(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    data = api.data(
        "query($id: ID!) { contact(id: $id) { journey(first: 1) { nodes { id } } } }", {"id": made["Contact"]}
    )
    return data["contact"]["journey"]["nodes"][0]["id"]


def _message(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    # Queued only: the dispatcher does not run in tests, so nothing is sent anywhere.
    data = api.data(
        "mutation($i: SendEmailInput!) { sendEmail(input: $i) { id } }",
        {"i": {"contactId": made["Contact"], "subject": f"Hello{mark}", "body": f"Offer{mark}"}},
    )
    return data["sendEmail"]["id"]


def _webhook_endpoint(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    data = api.data(
        "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { endpoint { id } } }",
        {"i": {"url": f"https://hooks.example.com/{mark or 'own'}", "description": f"Hook{mark}"}},
    )
    return data["createWebhookEndpoint"]["endpoint"]["id"]


def _webhook_delivery(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    # A delivery row as the dispatcher writes one (a real delivery would need a receiver).
    from crm.models import WebhookDelivery
    from graph.ids import decode_id

    endpoint_id = decode_id(made["WebhookEndpoint"], "WebhookEndpoint")

    async def create() -> int:
        row = await WebhookDelivery.create(
            endpoint_id=endpoint_id,
            event_id=f"evt-{tenant.name}-{mark}"[:36],
            event="contact_created",
            payload={"data": {"firstName": f"Ada{mark}"}},
            status="FAILED",
            attempts=3,
            error=f"refused{mark}",
        )
        return row.id

    return global_id_text("WebhookDelivery", http.portal.call(create))


def _api_key(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    data = api.data(
        "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id } } }",
        {"i": {"userId": made["User"], "name": f"Key{mark}"}},
    )
    return data["createApiKey"]["apiKey"]["id"]


def _conversion(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    # A status routed to a manager, then the card sent by hand: held, so the attacker's own one
    # can still be approved or rejected. The default statuses stay (the probe's setStatusList
    # keeps them; no contact holds the routed one).
    statuses = [
        {"name": n, "converts": n == "customer"} for n in ("lead", "contacted", "qualified", "customer")
    ]
    statuses.append({"name": "lost"})
    statuses.append({"name": "manager check", "routing": "MANAGER"})
    api.data(
        "mutation($i: SetStatusListInput!) { setStatusList(input: $i) { name } }",
        {"i": {"statuses": statuses}},
    )
    data = api.data(
        "mutation($i: SendToClientInput!) { sendToClient(input: $i) { id } }",
        {"i": {"contactId": made["Contact"], "fields": [{"name": f"Budget{mark}", "value": f"Big{mark}"}]}},
    )
    return data["sendToClient"]["id"]


def _contact_merge(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    # A second card of the same person, merged into the first (which keeps every other recipe's rows).
    twin = api.data(
        "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }",
        {"i": {"firstName": f"Twin{mark}", "email": f"twin{mark}@{tenant.name.lower()}.example.com"}},
    )["createContact"]["id"]
    data = api.data(
        "mutation($i: MergeContactsInput!) { mergeContacts(input: $i) { merge { id } } }",
        {"i": {"primaryId": made["Contact"], "duplicateIds": [twin]}},
    )
    return data["mergeContacts"]["merge"]["id"]


def _lead(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    # Matched by email to the recipe's contact: the card holds it.
    data = api.data(
        "mutation($i: SubmitLeadInput!) { submitLead(input: $i) { lead { id contact { id } } } }",
        {
            "i": {
                "formName": f"Webinar{mark}",
                "variant": f"B{mark}",
                "email": f"ada{mark}@{tenant.name.lower()}.example.com",
                "referrer": f"https://ref.example.com/{mark}",
                "answers": [{"question": f"Seats{mark}?", "answer": f"12{mark}"}],
                "utm": {"source": f"leadsrc{mark}"},
            }
        },
    )
    assert data["submitLead"]["lead"]["contact"]["id"] == made["Contact"]
    return data["submitLead"]["lead"]["id"]


def _form(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    data = api.data(
        "mutation($i: CreateFormInput!) { createForm(input: $i) { id } }", {"i": {"name": f"Form{mark}"}}
    )
    return data["createForm"]["id"]


def _quote(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    # Accepted, so the job and the invoice below can use it.
    data = api.data(
        "mutation($i: CreateQuoteInput!) { createQuote(input: $i) { id } }",
        {
            "i": {
                "contactId": made["Contact"],
                "title": f"Roof{mark}",
                "currency": "USD",
                "notes": f"Quote notes{mark}",
                "lineItems": [
                    {"description": f"Tiles{mark}", "quantity": "3", "unitPrice": "19.99", "taxRate": "8"}
                ],
            }
        },
    )
    quote_id = data["createQuote"]["id"]
    for status in ("SENT", "ACCEPTED"):
        api.data(
            "mutation($i: SetQuoteStatusInput!) { setQuoteStatus(input: $i) { id } }",
            {"i": {"id": quote_id, "status": status}},
        )
    return quote_id


def _job(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    data = api.data(
        "mutation($i: CreateJobInput!) { createJob(input: $i) { id } }",
        {
            "i": {
                "contactId": made["Contact"],
                "title": f"Install{mark}",
                "scheduledStart": future(2),
                "scheduledEnd": future(3),
                "assigneeId": made["User"],
                "quoteId": made["Quote"],
                "notes": f"Job notes{mark}",
            }
        },
    )
    return data["createJob"]["id"]


def _invoice(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    # Sent and unpaid: the attacker's own one still takes a payment and can still be voided.
    data = api.data(
        "mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id } }",
        {"i": {"jobId": made["Job"], "title": f"Bill{mark}", "notes": f"Invoice notes{mark}"}},
    )
    invoice_id = data["createInvoice"]["id"]
    api.data(
        "mutation($i: SetInvoiceStatusInput!) { setInvoiceStatus(input: $i) { id } }",
        {"i": {"id": invoice_id, "status": "SENT"}},
    )
    return invoice_id


def _custom_field(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    # A value on the contact too, so a leak of the card's customFields shows the token.
    field = api.data(
        "mutation($i: CreateCustomFieldInput!) { createCustomField(input: $i) { id key } }",
        {
            "i": {
                "label": f"Colour{mark}",
                "key": f"colour{mark}",
                "type": "SELECT",
                "options": [f"red{mark}"],
            }
        },
    )["createCustomField"]
    api.data(
        "mutation($i: SetCustomFieldValuesInput!) { setCustomFieldValues(input: $i) { id } }",
        {"i": {"contactId": made["Contact"], "values": [{"key": field["key"], "value": f"red{mark}"}]}},
    )
    return field["id"]


def _background_job(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    data = api.data(
        "mutation($i: ApplyCustomFieldToAllInput!) { applyCustomFieldToAll(input: $i) { id } }",
        {"i": {"key": f"colour{mark}", "value": f"red{mark}"}},
    )
    return data["applyCustomFieldToAll"]["id"]


def _notification(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    # A task of the admin's, due an hour ago: delivering its reminder puts it in their inbox.
    past = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0).isoformat()
    api.data(
        "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
        {"i": {"contactId": made["Contact"], "kind": "TASK", "title": f"Due{mark}", "dueAt": past}},
    )
    http.portal.call(_deliver_reminders)
    return api.data("{ notifications(first: 1) { nodes { id } } }")["notifications"]["nodes"][0]["id"]


def _segment(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    # A static segment holding the contact (its card's segments show it).
    data = api.data(
        "mutation($i: CreateSegmentInput!) { createSegment(input: $i) { id } }",
        {"i": {"name": f"Picked{mark}", "contactIds": [made["Contact"]]}},
    )
    return data["createSegment"]["id"]


def _view(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    # Shared: every user of its own account lists it, nobody else.
    data = api.data(
        "mutation($i: CreateViewInput!) { createView(input: $i) { id } }",
        {
            "i": {
                "name": f"Hot{mark}",
                "filter": {"firstName": {"contains": f"ada{mark}"}},
                "columns": ["displayName", "email"],
                "shared": True,
            }
        },
    )
    return data["createView"]["id"]


def _bulk_job(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    # Queued (the seeding runs no worker): tagging the victim's contact, when it runs.
    data = api.data(
        "mutation($i: BulkActionInput!) { bulkAction(input: $i) { id } }",
        {"i": {"action": "ADD_TAG", "target": {"ids": [made["Contact"]]}, "params": {"tag": f"Bulk{mark}"}}},
    )
    return data["bulkAction"]["id"]


async def _deliver_reminders() -> None:
    """Deliver the due reminder rows only (what a worker does when they fall due), leaving every
    other outbox row (the plugins' hooks) undelivered, as the rest of the seeding does."""
    from crm.models import OutboxRow
    from crm.services import reminders

    for row in await OutboxRow.filter(plugin=reminders.REMINDER_PLUGIN, status="PENDING"):
        await reminders.deliver(row.payload)
        await OutboxRow.filter(id=row.id).update(status="DELIVERED")


def _task(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    # Open, due, assigned to the rep: on the victim's card's tasks, upcoming actions and myTasks.
    data = api.data(
        "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
        {
            "i": {
                "contactId": made["Contact"],
                "kind": "MEETING",
                "title": f"Visit{mark}",
                "body": f"<b>plans{mark}</b>",
                "dueAt": future(1),
                "durationMinutes": 45,
                "assigneeId": made["User"],
            }
        },
    )
    return data["createTask"]["id"]


def _attachment(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    # Through POST /attachments (the plain form upload); its title and name carry the token.
    response = http.post(
        "/attachments",
        data={"contactId": made["Contact"], "title": f"Contract{mark}"},
        files={
            "file": (f"contract{mark}.pdf", b"%PDF-1.4\n" + mark.encode() + b"\n%%EOF\n", "application/pdf")
        },
        headers={"Authorization": f"Bearer {tenant.admin_key}"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _recording_share(api: Client, http: TestClient, tenant: Tenant, mark: str, made: dict[str, str]) -> str:
    # A recording on the victim's call (a WAV upload, the GraphQL multipart request spec), shared.
    from tests.audio_samples import wav

    upload = "mutation($i: AttachRecordingInput!) { attachRecording(input: $i) { id } }"
    response = http.post(
        "/graphql",
        data={
            "operations": json.dumps(
                {"query": upload, "variables": {"i": {"callId": made["Call"], "file": None}}}
            ),
            "map": json.dumps({"0": ["variables.i.file"]}),
        },
        files={"0": (f"call{mark}.wav", wav(seconds=0.5), "audio/wav")},
        headers={"Authorization": f"Bearer {api.key}"},
    )
    assert not response.json().get("errors"), response.text
    data = api.data(
        "mutation($i: ShareRecordingInput!) { shareRecording(input: $i) { id } }",
        {"i": {"callId": made["Call"], "expiresIn": 3600}},
    )
    return data["shareRecording"]["id"]


# In order: later recipes use what earlier ones made.
RECIPES: dict[str, Recipe] = {
    "Contact": _contact,
    "User": _user,
    "Call": _call,
    "Deal": _deal,
    "Note": _note,
    "Tag": _tag,
    "JourneyEvent": _journey_event,
    "Message": _message,
    "WebhookEndpoint": _webhook_endpoint,
    "WebhookDelivery": _webhook_delivery,
    "ApiKey": _api_key,
    "Lead": _lead,
    "Form": _form,
    "Quote": _quote,
    "Job": _job,
    "Invoice": _invoice,
    "Task": _task,
    "Attachment": _attachment,
    "RecordingShare": _recording_share,
    "ContactMerge": _contact_merge,
    "Conversion": _conversion,
    "CustomField": _custom_field,
    "BackgroundJob": _background_job,
    "BulkJob": _bulk_job,
    "Notification": _notification,
    "Segment": _segment,
    "View": _view,
}


def seed(http: TestClient, tenant: Tenant, types: set[str], mark: str) -> dict[str, str]:
    api = Client(http, tenant.admin_key)
    made: dict[str, str] = {}
    for type_name, recipe in RECIPES.items():
        if type_name in types:
            made[type_name] = recipe(api, http, tenant, mark, made)
    return made


# --------------------------------------------------------------------------------------
# The victim's rows
# --------------------------------------------------------------------------------------


def _links(model: Any, models: dict[str, Any]) -> list[tuple[str, str]]:
    """(column, model) for every column pointing at a row: foreign keys and plain `<table>_id` ints."""
    meta = model._meta
    links = [
        (meta.fields_map[name].source_field or f"{name}_id", meta.fields_map[name].related_model.__name__)
        for name in meta.fk_fields
    ]
    by_table = {m._meta.db_table: name for name, m in models.items()}
    for column in meta.db_fields:
        if column.endswith("_id") and column not in {c for c, _ in links} and column[:-3] in by_table:
            links.append((column, by_table[column[:-3]]))
    return links


async def victim_rows(account_name: str) -> dict[str, list[str]]:
    """Every row that belongs to the account or points at one that does, by table.

    A write on the victim's data changes one of these; a row of the attacker's that points at the
    victim's (an owner, a tag, a journey entry) joins them, so that shows too.
    """
    models = dict(Tortoise.apps["models"])
    account_id = (await Account.get(name=account_name)).id
    rows = {name: await model.all().values() for name, model in models.items()}
    links = {name: _links(model, models) for name, model in models.items()}
    owned: dict[str, set[Any]] = {name: set() for name in models}
    owned["Account"].add(account_id)
    grew = True
    while grew:
        grew = False
        for name, table in rows.items():
            pk = models[name]._meta.pk_attr
            for row in table:
                if row[pk] not in owned[name] and any(row.get(c) in owned[t] for c, t in links[name]):
                    owned[name].add(row[pk])
                    grew = True
    return {
        name: sorted(
            repr(sorted(row.items())) for row in table if row[models[name]._meta.pk_attr] in owned[name]
        )
        for name, table in rows.items()
    }


def changed_rows(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, Any]:
    return {
        name: {
            "gone": sorted(set(before[name]) - set(after[name])),
            "new": sorted(set(after[name]) - set(before[name])),
        }
        for name in before
        if before[name] != after[name]
    }


# --------------------------------------------------------------------------------------
# Running operations
# --------------------------------------------------------------------------------------


def receive_within(ws: Any, seconds: float) -> dict[str, Any] | None:
    """The next message, or None after `seconds`: a subscription that wrongly starts would wait for
    events forever. (starlette's WebSocketTestSession.receive has no timeout; this is its body with one.)"""

    async def receive() -> Any:
        with anyio.move_on_after(seconds):
            return await ws._send_rx.receive()
        return None

    message = ws.portal.call(receive)
    if message is None:
        return None
    ws._raise_on_close(message)
    return json.loads(message["text"])


def run_subscription(http: TestClient, key: str, op: Operation) -> dict[str, Any]:
    """The subscription's first answer as a response body ({"errors": [...]} or {"data": ...})."""
    with http.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json(
            {"id": "1", "type": "subscribe", "payload": {"query": op.document, "variables": op.variables}}
        )
        message = receive_within(ws, 10)
    if message is None:
        return {"data": "the subscription started and stayed open"}
    if message["type"] == "error":
        return {"errors": message["payload"]}
    return message.get("payload", {})


def leaks(body: dict[str, Any], victim: dict[str, str], sent: str | None) -> list[str]:
    """The victim's marks in a response: the token of its strings, ids other than the one sent."""
    text = repr(body)
    found = [TOKEN] if TOKEN in text.lower() else []
    return found + [gid for gid in victim.values() if gid != sent and gid in text]


def missing_twin(op: Operation) -> Operation:
    """The operation with the victim's id swapped for an id of the same type that no object has."""
    assert op.sent is not None
    type_name = base64.b64decode(op.sent).decode().split(":", 1)[0]
    missing = global_id_text(type_name, MAX_DB_ID)

    def swap(value: Any) -> Any:
        if value == op.sent:
            return missing
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    return replace(op, variables=swap(op.variables), sent=missing)


def answer(body: dict[str, Any], sent: str | None) -> list[tuple[str, Any]]:
    """The errors as a client reads them, with the id that was sent (and its number) blanked."""
    assert sent is not None
    number = base64.b64decode(sent).decode().split(":", 1)[1]

    def blank(text: str) -> str:
        return re.sub(rf"\b{number}\b", "<n>", text.replace(sent, "<id>"))

    return [
        (
            blank(e.get("message", "")),
            {k: v for k, v in (e.get("extensions") or {}).items() if k != "requestId"},
        )
        for e in body.get("errors") or []
    ]


@dataclass
class World:
    http: TestClient
    attacker: Tenant
    victim: Tenant
    own: dict[str, str]
    theirs: dict[str, str]
    schema: GraphQLSchema


# Providers configured (so sendSms and sendEmail are valid operations) but never reached: the
# dispatcher does not run in tests, and nothing listens on these ports.
PROVIDERS = {
    "DOSSIER_SMTP_HOST": "127.0.0.1",
    "DOSSIER_SMTP_PORT": "9",
    "DOSSIER_SMTP_TLS": "none",
    "DOSSIER_SMTP_FROM": "crm@example.com",
    "DOSSIER_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "DOSSIER_TWILIO_AUTH_TOKEN": "probe-token",
    "DOSSIER_TWILIO_FROM": "+15005550006",
    "DOSSIER_TWILIO_BASE_URL": "http://127.0.0.1:9",
}


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    with TestClient(create_app(replace(settings, env=PROVIDERS))) as http:
        schema = http.app.state.dossier.schema._schema  # type: ignore[attr-defined]
        attacker = http.portal.call(make_tenant, "Attacker")
        # The account's name carries the token too: its users' names and emails are made from it.
        victim = http.portal.call(make_tenant, TOKEN.capitalize())
        wanted = set(node_types(schema))
        missing = sorted(wanted - set(RECIPES))
        assert not missing, (
            f"node type(s) {missing} have no seeding recipe: add one to RECIPES in tests/test_tenant_probe.py"
        )
        slot_types = plan(schema, Ids({}, {}), set(RECIPES) & set(schema.type_map)).wanted_types
        types = (wanted | slot_types) & set(RECIPES)
        theirs = seed(http, victim, types, TOKEN)
        own = seed(http, attacker, types, "")
        yield World(http, attacker, victim, own, theirs, schema)


def test_no_root_field_mutation_or_subscription_reaches_another_accounts_objects(world: World) -> None:
    http, schema = world.http, world.schema
    known = set(world.theirs)
    started = time.perf_counter()
    result = plan(schema, Ids(world.own, world.theirs), known)
    assert not result.problems, "the probe cannot fill these ID slots:\n" + "\n".join(result.problems)
    assert result.probes, "the schema has no ID slot at all?"
    attacker = Client(http, world.attacker.admin_key)
    failures: list[str] = []
    before = http.portal.call(victim_rows, world.victim.name)
    # Mutations without ids run last: they may change what the attacker's own values mean
    # (a new status list), and they must not reach the victim either.
    for op in [*result.probes, *result.plain]:
        if op.kind == "subscription":
            body = run_subscription(http, world.attacker.admin_key, op)
        else:
            body = attacker.post(op.document, op.variables, files=op.sent is None)
        errors = body.get("errors") or []
        codes = [e.get("extensions", {}).get("code") for e in errors]
        if op.sent is not None:
            data = body.get("data")
            field_value = next(iter(data.values()), None) if isinstance(data, dict) else data
            refused = bool(errors) and set(codes) == {"NOT_FOUND"}
            if op.cursor and errors and not refused:
                refused = all(
                    e.get("extensions", {}) == {"code": "BAD_USER_INPUT", "field": op.cursor} for e in errors
                )
            if not refused or field_value is not None:
                failures.append(f"{op.label}: expected NOT_FOUND and no data, got {body}")
            # No oracle: another account's object gets the very answer a missing one gets.
            twin = missing_twin(op)
            if op.kind == "subscription":
                twin_body = run_subscription(http, world.attacker.admin_key, twin)
            else:
                twin_body = attacker.post(twin.document, twin.variables)
            if answer(body, op.sent) != answer(twin_body, twin.sent):
                failures.append(f"{op.label}: answers {body} for another account's object but {twin_body}")
        elif errors:  # a valid operation on the attacker's own account: it must work
            failures.append(f"{op.label}: the attacker's own operation failed: {errors}")
        if found := leaks(body, world.theirs, op.sent):
            failures.append(f"{op.label}: the response shows the victim's {found}: {body}")
        after = http.portal.call(victim_rows, world.victim.name)
        if after != before:
            failures.append(f"{op.label}: changed the victim's rows {changed_rows(before, after)}")
            before = after
    elapsed = time.perf_counter() - started
    assert not failures, "\n".join(failures)
    print(
        f"tenant probe: {len(result.probes)} id probes, {len(result.plain)} plain operations, {elapsed:.1f} s"
    )


def test_node_never_returns_another_accounts_object_of_any_type(world: World) -> None:
    attacker = Client(world.http, world.attacker.admin_key)
    document = "query($id: ID!) { node(id: $id) { __typename id } }"
    failures = []
    for type_name in node_types(world.schema):
        sent = world.theirs[type_name]
        theirs = attacker.post(document, {"id": sent})
        codes = [e.get("extensions", {}).get("code") for e in theirs.get("errors") or []]
        if codes == ["NOT_FOUND"] and (theirs.get("data") or {}).get("node") is None:
            missing = global_id_text(type_name, MAX_DB_ID)
            if answer(theirs, sent) != answer(attacker.post(document, {"id": missing}), missing):
                failures.append(f"node({type_name}): another account's object is told from a missing one")
            continue
        # A type node() does not fetch at all is refused the same way for the attacker's own object.
        own = attacker.post(document, {"id": world.own[type_name]})
        own_codes = [e.get("extensions", {}).get("code") for e in own.get("errors") or []]
        if codes == own_codes == ["BAD_USER_INPUT"] and "cannot be fetched" in repr(theirs):
            continue
        failures.append(f"node({type_name}): expected NOT_FOUND, got {theirs}")
    assert not failures, "\n".join(failures)
