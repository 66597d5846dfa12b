"""The few filter conditions that need SQL per dialect (crm/contact_filters.py).

Values inside SQL text are the account's own custom field options, already checked against
the field's option list; they are still quoted as SQL literals (quotes doubled), never pasted.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from operator import or_
from typing import Any

from tortoise import Tortoise
from tortoise.expressions import Q, RawSQL
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
