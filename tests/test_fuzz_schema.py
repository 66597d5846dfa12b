"""Generated operations over the committed schema.graphql: whatever a client sends, no 5xx and no
INTERNAL_SERVER_ERROR (a coded error such as BAD_USER_INPUT or NOT_FOUND is a fine answer).

hypothesis-graphql builds queries and mutations from the SDL, valid ones and ones with one schema
violation, with any characters in their strings (lone surrogates and NUL included) and ids that
are real (the caller's own objects, another account's) or not. Each runs as an admin and as a rep
against an app seeded with one object of every type in two accounts.

The run is bounded and derandomized by default, so a failure reproduces; DOSSIER_FUZZ_EXAMPLES=5000
runs a larger one (DOSSIER_FUZZ_SEED=<n> varies it). Hypothesis prints the failing operation.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    DocumentNode,
    NameNode,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    build_schema,
    parse_type,
    print_ast,
    visit,
)
from hypothesis import HealthCheck, given, note, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from hypothesis_graphql import strategies as gql
from starlette.testclient import TestClient

from dossier import Settings, create_app
from tests.conftest import make_tenant
from tests.test_tenant_probe import PROVIDERS, RECIPES, TOKEN, node_types
from tests.test_tenant_probe import seed as seed_objects

SCHEMA = build_schema((Path(__file__).parent.parent / "schema.graphql").read_text())
EXAMPLES = int(os.environ.get("DOSSIER_FUZZ_EXAMPLES", "200"))
SEED = int(os.environ.get("DOSSIER_FUZZ_SEED", "0"))


def scalars(ids: list[str]) -> dict[str, st.SearchStrategy[Any]]:
    """Values for the schema's own scalars: mostly plausible, sometimes far out of range or junk."""
    junk = st.text(max_size=40)
    moments = st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.sampled_from([UTC])
    ).map(lambda d: d.isoformat())
    near = st.integers(-1000, 100_000).map(
        lambda m: (datetime.now(UTC) + timedelta(minutes=m)).replace(microsecond=0).isoformat()
    )
    offsets = st.sampled_from(["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "2030-02-30T10:00"])
    decimals = st.one_of(
        st.decimals(allow_nan=True, allow_infinity=True, places=None).map(str),
        st.decimals(min_value=Decimal("-1e6"), max_value=Decimal("1e6"), places=2).map(str),
        st.sampled_from(["1e999999", "-0", "1" * 80, "0.0000000000001"]),
        junk,
    )
    plausible = st.sampled_from(
        [
            "Ada",
            "lead",
            "customer",
            "USD",
            "US",
            "ada@example.com",
            "+14155550100",
            "https://example.com/hook",
            "<b>bold</b> <a href='https://example.com'>link</a>",
            "contact_created",
        ]
    )
    # Characters a database refuses or a person cannot see: lone surrogates, NUL, controls,
    # bidi overrides, zero-width spaces; and text of every category, surrogates included.
    hostile = st.sampled_from(
        ["\udfff", "\ud800x", "a\x00b", "\u202eevil", "zero\u200bwidth", "c1\x85", "x" * 5000]
    )
    anything = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)
    # Mostly plausible: an input is refused as a whole when one of its fields is bad, so a hostile
    # value reaches the database only next to valid ones.
    texts = st.one_of(
        plausible, plausible, plausible, hostile, anything, st.tuples(plausible, hostile).map("".join)
    )
    real = st.sampled_from(ids)
    global_ids = st.one_of(real, real, real, junk, st.sampled_from(["Q29udGFjdDow", "Q29udGFjdDowMQ=="]))
    # Calendar dates (birth dates, due dates, close dates): any real one, the edges, impossible ones.
    dates = st.one_of(
        st.dates().map(lambda d: d.isoformat()),
        st.sampled_from(["0001-01-01", "9999-12-31", "2030-02-30", "2026-13-01", "1-1-1"]),
        junk,
    )
    # A custom field's value arrives as JSON of any shape; a literal of each kind reaches it.
    json_values = st.one_of(
        st.just(nodes.Null),
        texts.map(nodes.String),
        st.integers(-(10**20), 10**20).map(nodes.Int),
        st.booleans().map(nodes.Boolean),
    )
    return {
        "Date": dates.map(nodes.String),
        "DateTime": st.one_of(near, moments, offsets, junk).map(nodes.String),
        "Decimal": decimals.map(nodes.String),
        "ID": global_ids.map(nodes.String),
        "JSON": json_values,
        "String": texts.map(nodes.String),
        # A file travels only in a multipart request: JSON can bring a string or null where one
        # is expected, and the resolvers must refuse it as bad input, not crash.
        "Upload": st.one_of(st.just(nodes.Null), texts.map(nodes.String)),
    }


class _StringsToVariables(Visitor):
    """Moves every string literal into a variable of the type its position expects.

    A GraphQL string literal cannot hold a lone surrogate (the parser refuses it, escaped or not),
    but a JSON variable can: this is how a client gets one to a resolver.
    """

    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.values: dict[str, str] = {}
        self.definitions: list[VariableDefinitionNode] = []

    def enter_string_value(self, node: StringValueNode, *_: Any) -> VariableNode | None:
        expected = self.type_info.get_input_type()
        if expected is None:
            return None
        name = f"v{len(self.values)}"
        self.values[name] = node.value
        self.definitions.append(
            VariableDefinitionNode(
                variable=VariableNode(name=NameNode(value=name)),
                type=parse_type(str(expected)),
                directives=(),
            )
        )
        return VariableNode(name=NameNode(value=name))


def with_variables(document: DocumentNode) -> tuple[str, dict[str, str]]:
    type_info = TypeInfo(SCHEMA)
    visitor = _StringsToVariables(type_info)
    changed = visit(document, TypeInfoVisitor(type_info, visitor))
    operation = changed.definitions[0]
    fields = {key: getattr(operation, key) for key in operation.keys if key != "loc"}
    fields["variable_definitions"] = (*(operation.variable_definitions or ()), *visitor.definitions)
    operation = type(operation)(**fields)
    return print_ast(DocumentNode(definitions=(operation, *changed.definitions[1:]))), visitor.values


def post(http: TestClient, key: str, operation: str | tuple[str, dict[str, str]]) -> Any:
    document, variables = operation if isinstance(operation, tuple) else (operation, {})
    # Serialised here with ensure_ascii, so a lone surrogate travels as a JSON escape, as any client sends it.
    body = json.dumps({"query": document, "variables": variables}).encode()
    return http.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )


# A failure is shrunk to its smallest form before it is reported, which can take a minute or two.
@pytest.mark.timeout(300 + EXAMPLES // 2)
def test_generated_operations_never_crash_the_server(settings: Settings) -> None:
    with TestClient(create_app(replace(settings, env=PROVIDERS))) as http:
        ours = http.portal.call(make_tenant, "Acme")
        # Another account, whose every readable string carries TOKEN: its ids are among the
        # generated ones, and nothing of it may show in an answer.
        theirs = http.portal.call(make_tenant, TOKEN.capitalize())
        types = set(node_types(SCHEMA)) & set(RECIPES)
        ids = [
            *seed_objects(http, ours, types, "").values(),
            *seed_objects(http, theirs, types, TOKEN).values(),
        ]
        custom = scalars(ids)
        # Mutations three times as often as queries: they are what writes a value to the database.
        roots = [*SCHEMA.query_type.fields, *[*SCHEMA.mutation_type.fields] * 3]  # type: ignore[union-attr]
        single = st.sampled_from(roots).flatmap(
            lambda root: gql.from_schema(
                SCHEMA, fields=[root], custom_scalars=custom, codec=None, print_ast=with_variables
            )
        )
        operations = st.one_of(
            # One root field per operation, its strings in variables (the only way every string,
            # a lone surrogate included, reaches a resolver; see _StringsToVariables): small
            # documents, so a bad value is more often the only one and gets as far as the database.
            single,
            single,
            gql.from_schema(SCHEMA, custom_scalars=custom, codec=None),
            gql.from_schema(SCHEMA, custom_scalars=custom, codec=None, mode=gql.Mode.NEGATIVE),
        )
        outcomes: Counter[str] = Counter()

        @seed(SEED)
        @hypothesis_settings(
            max_examples=EXAMPLES,
            derandomize="DOSSIER_FUZZ_SEED" not in os.environ,
            database=None,
            deadline=None,
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
                HealthCheck.filter_too_much,
            ],
        )
        @given(document=operations)
        def run(document: str | tuple[str, dict[str, str]]) -> None:
            note(f"operation: {document!r}")
            for role, key in (("admin", ours.admin_key), ("rep", ours.rep_key)):
                response = post(http, key, document)
                assert response.status_code < 500, (role, response.status_code, response.text)
                assert TOKEN not in response.text.lower(), (role, response.text)
                body = response.json()
                codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
                assert "INTERNAL_SERVER_ERROR" not in codes, (role, body)
                outcomes[",".join(sorted({str(c) for c in codes})) or "ok"] += 1

        started = time.perf_counter()
        run()
        elapsed = time.perf_counter() - started
        print(
            f"fuzz: {outcomes.total()} requests in {elapsed:.1f} s; answers: {dict(outcomes.most_common())}"
        )
