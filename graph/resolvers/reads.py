"""The loaders' SQL: written once per row shape, run on tortoise's own connection.

A card request reads about 1,000 rows. Through tortoise's query builder each read builds a
query object and converts every value through its field class (an ISO-8601 parser per
timestamp on SQLite); here the SELECT text of each shape is built once per dialect, and
each column gets the cheapest converter that gives the value tortoise would (equal, and
serialised the same; a UTC timestamp keeps datetime's own UTC tzinfo):
timestamps through `datetime.fromisoformat`, JSON through orjson, booleans through `bool`,
anything unusual (decimals, enums) through the field's own `to_python_value`.

Statements still go through the connection's `execute_query`, so they are logged, counted
by the tests, and use the same pool and driver as the rest of the app.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import orjson
from tortoise import Tortoise, fields
from tortoise.models import Model
from tortoise.timezone import get_default_timezone

Row = Mapping[str, Any]  # a dict, or on PostgreSQL often the driver's record
Converter = Callable[[Any], Any]


class Params:
    """Placeholders for one statement, in the connection's dialect ($1… or ?)."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}" if self.dialect == "postgres" else "?"

    def many(self, values: Iterable[Any]) -> str:
        return ", ".join(self(v) for v in values)


def _datetime_converter() -> Converter:
    zone = get_default_timezone()

    parse = dt.datetime.fromisoformat
    zone_is_utc = _zone_is_utc()

    def convert(value: Any) -> dt.datetime:
        if type(value) is str:
            value = parse(value)
        elif not isinstance(value, dt.datetime):
            return value  # tortoise's own rules for anything else (never seen here)
        tzinfo = value.tzinfo
        if tzinfo is UTC and zone_is_utc:
            # Stored UTC, served UTC: the same instant and the same ISO text as tortoise's
            # astimezone(ZoneInfo("UTC")), without a second object per timestamp.
            return value
        if tzinfo is None:
            return value.replace(tzinfo=zone)  # the default zone's, as tortoise's make_aware
        return value.astimezone(zone)

    return convert


def _zone_is_utc() -> bool:
    zone = get_default_timezone()
    return dt.datetime(2000, 1, 1, tzinfo=zone).utcoffset() == dt.timedelta(0) and str(zone) == "UTC"


def _driver_value_is_final(column: fields.Field, dialect: str) -> bool:
    """asyncpg already returns what tortoise would for these: a bool for BOOLEAN, and for
    TIMESTAMPTZ an aware datetime in UTC (datetime.UTC), which tortoise leaves as is when
    its zone is UTC."""
    if dialect != "postgres":
        return False
    if isinstance(column, fields.BooleanField):
        return True
    return isinstance(column, fields.DatetimeField) and _zone_is_utc()


def _json(value: Any) -> Any:
    return orjson.loads(value) if type(value) is str or type(value) is bytes else value


def _converter(column: fields.Field) -> Converter | None:
    """None when the driver's value is already what tortoise would return."""
    if isinstance(column, fields.DatetimeField):
        return _datetime_converter()
    if isinstance(column, fields.BooleanField):
        return bool
    if isinstance(column, fields.JSONField) and column.decoder is _STD_JSON_LOADS:
        return _json
    if type(column) in (fields.IntField, fields.BigIntField, fields.SmallIntField, fields.CharField):
        return None
    if type(column) is fields.TextField:
        return None
    return column.to_python_value


_STD_JSON_LOADS = fields.JSONField().decoder


@dataclass(frozen=True)
class Shape:
    """The rows of one table, with some user-like relations LEFT JOINed as `relation__column`."""

    model: type[Model]
    columns: tuple[str, ...]
    # Columns handed over as the driver returns them (JSON as its text, for a reader that
    # caches by it), not converted to tortoise's value.
    raw: frozenset[str] = frozenset()
    _compiled: dict[str, tuple[str, tuple[str, ...], tuple[tuple[int, Converter], ...]]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _builders: dict[str, Callable[[Sequence[Any]], list[Row]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def alias(self, relation: str) -> str:
        """The SQL alias a joined relation gets (for conditions on its columns)."""
        relations = list(dict.fromkeys(c.rpartition("__")[0] for c in self.columns if "__" in c))
        return f"j{relations.index(relation)}"

    def compile(self, dialect: str) -> tuple[str, tuple[str, ...], tuple[tuple[int, Converter], ...]]:
        compiled = self._compiled.get(dialect)
        if compiled is None:
            compiled = self._compiled[dialect] = self._build(dialect)
        return compiled

    def select_with(self, dialect: str, extra: str) -> str:
        """The shape's SELECT with one more expression after its columns: the builder reads
        columns by position, so the extra value rides along without changing the rows."""
        select = self.compile(dialect)[0]
        head, _, tail = select.partition(f' FROM "{self.model._meta.db_table}" t')
        return f'{head}, {extra} FROM "{self.model._meta.db_table}" t{tail}'

    def builder(self, dialect: str) -> Callable[[Sequence[Any]], list[Row]]:
        """The rows as mappings: the driver's records when no column needs converting (on
        PostgreSQL, most shapes), else dicts by a function written for this shape: one
        comprehension with each converter inlined, instead of a loop over columns per row."""
        built = self._builders.get(dialect)
        if built is None and dialect == "postgres" and not self.compile(dialect)[2]:
            # Nothing to convert: asyncpg's records are the rows. They are read-only
            # mappings (row["column"]), keyed by the SELECT's aliases, which are the keys.
            built = self._builders[dialect] = list
        if built is None:
            _, keys, converters = self.compile(dialect)
            convert = dict(converters)
            namespace: dict[str, Any] = {}
            items = []
            for index, key in enumerate(keys):
                if index in convert:
                    namespace[f"c{index}"] = convert[index]
                    items.append(f"{key!r}: (c{index}(v) if (v := r[{index}]) is not None else None)")
                else:
                    items.append(f"{key!r}: r[{index}]")
            source = f"def build(records):\n    return [{{{', '.join(items)}}} for r in records]\n"
            exec(compile(source, f"<rows of {self.model.__name__}>", "exec"), namespace)
            built = self._builders[dialect] = namespace["build"]
        return built

    def _build(self, dialect: str) -> tuple[str, tuple[str, ...], tuple[tuple[int, Converter], ...]]:
        meta = self.model._meta
        select: list[str] = []
        joins: dict[str, str] = {}
        converters: list[tuple[int, Converter]] = []
        for index, name in enumerate(self.columns):
            relation, _, column = name.rpartition("__")
            if relation:
                fk = meta.fields_map[relation]
                target = fk.related_model._meta  # type: ignore[attr-defined]
                alias = joins.get(relation)
                if alias is None:
                    alias = f"j{len(joins)}"
                    joins[relation] = alias
                source = target.fields_map[column]
                select.append(f'{alias}."{source.source_field or column}" AS "{name}"')
            else:
                source = meta.fields_map[column]
                select.append(f't."{source.source_field or column}" AS "{name}"')
            final = name in self.raw or _driver_value_is_final(source, dialect)
            convert = None if final else _converter(source)
            if convert is not None:
                converters.append((index, convert))
        join_sql = "".join(
            f' LEFT JOIN "{meta.fields_map[relation].related_model._meta.db_table}" {alias}'  # type: ignore[attr-defined]
            f' ON {alias}."id" = t."{relation}_id"'
            for relation, alias in joins.items()
        )
        sql = f'SELECT {", ".join(select)} FROM "{meta.db_table}" t{join_sql}'
        return sql, self.columns, tuple(converters)


def connection() -> Any:
    return Tortoise.get_connection("default")


def dialect() -> str:
    return str(connection().capabilities.dialect)


async def fetch(shape: Shape, params: Params, where: str, order: str = "", *, join: str = "") -> list[Row]:
    """`SELECT <shape> FROM <table> t [joins][join] WHERE <where> [ORDER BY <order>]` as dicts."""
    conn = connection()
    select, _, _ = shape.compile(params.dialect)
    sql = f"{select}{join} WHERE {where}" + (f" ORDER BY {order}" if order else "")
    _, records = await conn.execute_query(sql, params.values)
    return shape.builder(params.dialect)(records)


async def fetch_tagged(
    shape: Shape, params: Params, order: str, *, join: str, tag: str
) -> tuple[list[Row], list[Any]]:
    """`SELECT <shape>, <tag> FROM <table> t [joins][join] ORDER BY <order>`: the rows are those
    `join` picks (no WHERE), each with the value of the SQL expression `tag` (say, which slice
    of a batched statement it answers) returned beside the rows rather than inside them."""
    conn = connection()
    position = len(shape.columns)
    sql = f"{shape.select_with(params.dialect, tag)}{join} ORDER BY {order}"
    _, records = await conn.execute_query(sql, params.values)
    return shape.builder(params.dialect)(records), [record[position] for record in records]


_SHAPES: dict[tuple[type[Model], tuple[str, ...], frozenset[str]], Shape] = {}


def shape(model: type[Model], columns: Sequence[str], raw: Iterable[str] = ()) -> Shape:
    """One Shape per (model, columns, raw columns) in the process, so its SQL is built once."""
    key = (model, tuple(columns), frozenset(raw))
    found = _SHAPES.get(key)
    if found is None:
        found = _SHAPES[key] = Shape(*key)
    return found
