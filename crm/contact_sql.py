"""The few filter conditions that need SQL text per dialect (crm/contact_filters.py).

Values inside this text are the account's own custom field options, already checked against
the field's option list; they are still quoted as SQL literals (quotes doubled), never pasted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tortoise import Tortoise
from tortoise.expressions import RawSQL
from tortoise.queryset import QuerySet


def is_postgres() -> bool:
    return str(Tortoise.get_connection("default").capabilities.dialect) == "postgres"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def json_array_holds_any(values: QuerySet[Any], options: Sequence[str], alias: str) -> QuerySet[Any]:
    """custom_field_value rows whose MULTI_SELECT array (value_json) holds one of `options`.

    PostgreSQL: `value_json @> '["x"]'`, which the GIN index (jsonb_path_ops) serves; SQLite:
    json_each over the stored array."""
    if is_postgres():
        test = " OR ".join(f'"value_json" @> {_literal(json.dumps([o]))}::jsonb' for o in options)
    else:
        listed = ", ".join(_literal(o) for o in options)
        test = (
            f'EXISTS (SELECT 1 FROM json_each("custom_field_value"."value_json") WHERE value IN ({listed}))'
        )
    return values.annotate(**{alias: RawSQL(f"CASE WHEN {test} THEN 1 ELSE 0 END")}).filter(**{alias: 1})
