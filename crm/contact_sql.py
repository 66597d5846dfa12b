"""The few filter conditions that need SQL per dialect (crm/contact_filters.py).

Values inside SQL text are the account's own custom field options, already checked against
the field's option list; they are still quoted as SQL literals (quotes doubled), never pasted.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from operator import or_
from typing import Any

from pypika_tortoise.context import SqlContext
from pypika_tortoise.terms import Term
from tortoise import Tortoise
from tortoise.expressions import Q, RawSQL, Subquery
from tortoise.queryset import QuerySet


def is_postgres() -> bool:
    return str(Tortoise.get_connection("default").capabilities.dialect) == "postgres"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def json_array_holds_any(values: QuerySet[Any], options: Sequence[str], alias: str) -> QuerySet[Any]:
    """custom_field_value rows whose MULTI_SELECT array (value_json) holds one of `options`.

    PostgreSQL: `value_json @> '["x"]'` (tortoise's JSON `contains`), which the GIN index
    (jsonb_path_ops) serves; SQLite: json_each over the stored array."""
    if is_postgres():
        return values.filter(reduce(or_, [Q(value_json__contains=[option]) for option in options]))
    listed = ", ".join(_literal(o) for o in options)
    test = f'EXISTS (SELECT 1 FROM json_each("custom_field_value"."value_json") WHERE value IN ({listed}))'
    return values.annotate(**{alias: RawSQL(f"CASE WHEN {test} THEN 1 ELSE 0 END")}).filter(**{alias: 1})


class UnionOf(Term):
    """`SELECT … UNION SELECT …` of querysets that each select one column, for `id__in=`: the
    planner reads each branch through its own index, where an OR of `id IN (…)` conditions
    makes PostgreSQL test every live contact against each branch's hashed result."""

    def __init__(self, *queries: QuerySet[Any]) -> None:
        super().__init__()
        self.queries = queries

    def get_sql(self, ctx: SqlContext) -> str:
        def sql(query: QuerySet[Any]) -> str:
            query._choose_db_if_not_chosen()
            query._make_query()
            return query.query.get_parameterized_sql(ctx.copy(subquery=False))[0]

        return "(" + " UNION ".join(sql(query) for query in self.queries) + ")"


def member_of_any(queries: Sequence[QuerySet[Any]]) -> Q:
    """`id IN (<q1> UNION <q2> …)`: the contacts any of the one-column queries yields."""
    if len(queries) == 1:
        return Q(id__in=Subquery(queries[0]))
    return Q(id__in=UnionOf(*queries))
