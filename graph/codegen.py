"""Python source for the selections that need nothing from graphql-core at all.

`graph.execution` completes one field at a time in a generic loop. When every field under an
object, down to the leaves, is an attribute, a plain `def f(self)` resolver or `__typename`,
and every type down there is an object, a list or a leaf, the whole sub-tree can be written
out as straight-line Python once and run as one function call per object: a journey entry
with its actor, user and changes is six dicts and fifteen values, and no per-field dispatch.

The generated function handles only the clean case. Anything else — a null in a non-null
position, a value its scalar refuses, an Exception, an awaitable, an `is_type_of` that says no,
a non-list where a list belongs — raises, and the caller completes that object again through
the step-by-step path, which reports exactly what graphql-core would (paths, messages, null
propagation). So on that error path a plain resolver of the object may run twice.

Functions are cached by their source text and the schema they were built for.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from itertools import count
from typing import Any

from graphql import GraphQLLeafType, GraphQLObjectType, GraphQLOutputType, GraphQLSchema
from graphql.pyutils import Undefined, is_awaitable
from strawberry.scalars import JSON
from strawberry.schema.types import base_scalars
from strawberry.schema.types.scalar import DEFAULT_SCALAR_REGISTRY
from strawberry.types.cast import TYPE_CAST_ATTRIBUTE

from graph.ids import node_global_id, node_id_text
from graph.prepared import NOT_READ

CompiledObject = Callable[[Any, list[dict[int, Any]]], dict[str, Any]]

_MAX_FUNCTIONS = 512
_CACHE: OrderedDict[tuple[Any, ...], tuple[GraphQLSchema, CompiledObject]] = OrderedDict()
_MIN_INT, _MAX_INT = -(2**31), 2**31 - 1


class Bail(Exception):
    """Not the clean case: complete this object step by step instead."""


_PLAIN = frozenset({str, int, float, bool, type(None), list, tuple, dict})
_JSON_PLAIN = frozenset({str, int, float, bool, list, dict})
_ISOFORMAT = base_scalars.isoformat
_JSON_IDENTITY = DEFAULT_SCALAR_REGISTRY[JSON].serialize


def _drop(awaitable: Any) -> None:
    """Close an awaitable we will not await (the step path calls the resolver again), then bail."""
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()
    raise Bail


def _node_id(root: Any, type_name: str) -> Any:
    global_id = node_global_id(root, type_name)
    if global_id is None:
        raise Bail
    return global_id


def _node_id_text(root: Any, type_name: str) -> str:
    text = node_id_text(root, type_name)
    if text is None:
        raise Bail
    return text


def _leaf(leaf: GraphQLLeafType, value: Any) -> Any:
    if isinstance(value, Exception):
        raise Bail
    coerced = leaf.coerce_output_value(value)
    if coerced is None or coerced is Undefined:
        raise Bail
    return coerced


# The slow branches of a leaf: the generated line handles the common type inline and calls
# one of these for anything else. `_req` is a non-null leaf, `_opt` a nullable one; the `_m`
# forms are for a plain resolver's value, which graphql-core would await if awaitable.
def _req(leaf: GraphQLLeafType, value: Any) -> Any:
    if value is None or value is Undefined:
        raise Bail
    return _leaf(leaf, value)


def _opt(leaf: GraphQLLeafType, value: Any) -> Any:
    if value is None or value is Undefined:
        return None
    return _leaf(leaf, value)


def _req_m(leaf: GraphQLLeafType, value: Any) -> Any:
    if value.__class__ not in _PLAIN and is_awaitable(value):
        _drop(value)
    return _req(leaf, value)


def _opt_m(leaf: GraphQLLeafType, value: Any) -> Any:
    if value.__class__ not in _PLAIN and is_awaitable(value):
        _drop(value)
    return _opt(leaf, value)


def new_memo(function: CompiledObject) -> list[dict[int, Any]]:
    """The memo a generated function takes: one dict per memo site, for one call, or for the
    calls completing one list of objects (see write_value)."""
    return [{} for _ in range(function.memo_sites)]  # type: ignore[attr-defined]


class Unsupported(Exception):
    """The selection has something only graphql-core's own path handles."""


class Writer:
    """Writes one function: `def complete(src, memo): ...` returning the object's response dict.

    `fields_of(object type, field)` gives the compiled steps of a field's sub-selection (raising
    Unsupported when graphql-core must run it); `kinds(type)` says what kind of output type a
    type is. Both come from graph.execution, which owns the compiled selections."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fields_of: Callable[[GraphQLObjectType, Any], list[Any]],
        kinds: Callable[[GraphQLOutputType], str],
    ) -> None:
        self.schema = schema
        self.fields_of = fields_of
        self.kinds = kinds
        self.lines: list[str] = []
        self.names: dict[str, Any] = {
            "Bail": Bail,
            "_leaf": _leaf,
            "_req": _req,
            "_opt": _opt,
            "_req_m": _req_m,
            "_opt_m": _opt_m,
            "_CAST": TYPE_CAST_ATTRIBUTE,
            "_U": Undefined,
            "_PLAIN": _PLAIN,
            "_awaitable": is_awaitable,
            "_drop": _drop,
            "_node_id": _node_id,
            "_node_id_text": _node_id_text,
            "_datetime": datetime,
            "_JSON_PLAIN": _JSON_PLAIN,
            "_NOT_READ": NOT_READ,
        }
        self._constants: dict[int, str] = {}
        self._fresh = count()
        self.memo_sites = 0

    def memo_site(self) -> int:
        self.memo_sites += 1
        return self.memo_sites - 1

    def var(self, prefix: str) -> str:
        return f"{prefix}{next(self._fresh)}"

    def constant(self, value: Any, prefix: str) -> str:
        name = self._constants.get(id(value))
        if name is None:
            name = self._constants[id(value)] = f"{prefix}{len(self._constants)}"
            self.names[name] = value
        return name

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def build(self) -> CompiledObject:
        source = "\n".join(self.lines)
        # The same text can stand for different types' leaves and methods (L0, M0, ...): the
        # constants' identities are part of the key. They live as long as their schema.
        key = (id(self.schema), source, *self._constants)
        cached = _CACHE.get(key)
        if cached is not None and cached[0] is self.schema:
            _CACHE.move_to_end(key)
            return cached[1]
        namespace = dict(self.names)
        exec(compile(source, "<dossier compiled selection>", "exec"), namespace)
        function: CompiledObject = namespace["complete"]
        function.memo_sites = self.memo_sites  # type: ignore[attr-defined]
        _CACHE[key] = (self.schema, function)
        if len(_CACHE) > _MAX_FUNCTIONS:
            _CACHE.popitem(last=False)
        return function


def write_value(
    w: Writer,
    indent: int,
    type_: GraphQLOutputType,
    value: str,
    result: str,
    field: Any,
    *,
    method: bool = False,
    depth: int = 0,
) -> None:
    """Code that completes `value` (a variable) of `type_` into the variable `result`.
    `method`: the value came from a plain resolver (graphql-core would await an awaitable);
    `depth`: how many objects down from the function's root object the value is."""
    required = w.kinds(type_) == "non-null"
    inner = type_.of_type if required else type_  # type: ignore[union-attr]
    if w.kinds(inner) == "leaf":
        _write_leaf(w, indent, inner, value, result, required=required, method=method)  # type: ignore[arg-type]
        return
    if method:
        w.emit(indent, f"if {value}.__class__ not in _PLAIN and _awaitable({value}): _drop({value})")
    if required:
        w.emit(indent, f"if {value} is None or {value} is _U: raise Bail")
    else:
        w.emit(indent, f"if {value} is None or {value} is _U: {result} = None")
        w.emit(indent, "else:")
        indent += 1
    if depth >= 1 and _size(w, inner, field) >= _MEMO_SIZE:
        # Objects deeper down are often shared (a journey's few actors, its repeated
        # changes): each one is completed once per call and its dict reused. The memo holds
        # the object too, so its id cannot be reused while the memo lives.
        # One memo per site: the same object under another field may select other fields.
        hit, site = w.var("hit"), w.memo_site()
        w.emit(indent, f"{hit} = memo[{site}].get(id({value}))")
        w.emit(indent, f"if {hit} is not None: {result} = {hit}[1]")
        w.emit(indent, "else:")
        _write_present(w, indent + 1, inner, value, result, field, depth)
        w.emit(indent + 1, f"memo[{site}][id({value})] = ({value}, {result})")
    else:
        _write_present(w, indent, inner, value, result, field, depth)


# Sub-selections of fewer values than this are cheaper to complete again than to look up.
_MEMO_SIZE = 3


def _size(w: Writer, type_: GraphQLOutputType, field: Any) -> int:
    """How many values completing one `type_` writes (a list counts as its item)."""
    kind = w.kinds(type_)
    if kind in ("non-null", "list"):
        return _size(w, type_.of_type, field)  # type: ignore[union-attr]
    if kind != "object":
        return 1
    return 1 + sum(
        _size(w, step.return_type, step) if step.return_type is not None else 1
        for step in w.fields_of(type_, field)  # type: ignore[arg-type]
    )


def _write_present(
    w: Writer,
    indent: int,
    type_: GraphQLOutputType,
    value: str,
    result: str,
    field: Any,
    depth: int,
) -> None:
    """A list or an object value known not to be null."""
    kind = w.kinds(type_)
    if kind == "list":
        items, item = w.var("items"), w.var("item")
        done = w.var("done")
        w.emit(indent, f"if type({value}) is not list and type({value}) is not tuple: raise Bail")
        w.emit(indent, f"{items} = []")
        w.emit(indent, f"for {item} in {value}:")
        write_value(w, indent + 1, type_.of_type, item, done, field, depth=depth)  # type: ignore[union-attr]
        w.emit(indent + 1, f"{items}.append({done})")
        w.emit(indent, f"{result} = {items}")
    elif kind == "object":
        write_object(w, indent, type_, value, result, field, depth)  # type: ignore[arg-type]
    elif kind == "abstract":
        write_union(w, indent, type_, value, result, field, depth)
    else:
        raise Unsupported(kind)


def write_union(
    w: Writer, indent: int, union_type: GraphQLOutputType, value: str, result: str, field: Any, depth: int
) -> None:
    """A union value: the member type strawberry resolves an instance of a member's own
    class to (graph.execution.union_members), completed like any object; anything else
    (a cast, another class, an interface) bails."""
    from graph.execution import union_members

    members = union_members(union_type)
    if not members:
        raise Unsupported("graphql-core resolves this abstract type")
    cls = w.var("k")
    w.emit(indent, f"{cls} = {value}.__class__")
    keyword = "if"
    for exact, member in members.items():
        w.emit(indent, f"{keyword} {cls} is {w.constant(exact, 'C')}:")
        w.emit(indent + 1, f"if _CAST in {value}.__dict__: raise Bail")
        write_object(w, indent + 1, member, value, result, field, depth)
        keyword = "elif"
    w.emit(indent, "else:")
    w.emit(indent + 1, "raise Bail")


def _write_leaf(
    w: Writer, indent: int, leaf: GraphQLLeafType, value: str, result: str, *, required: bool, method: bool
) -> None:
    """One line: the leaf's common Python type inline, anything else (null included) through
    `_req`/`_opt`, which bail on what the step path must report."""
    from graph.execution import _enum_names, _passthrough  # one module's helpers, shared

    name = w.constant(leaf, "L")
    slow = f"{'_req' if required else '_opt'}{'_m' if method else ''}({name}, {value})"
    passthrough = _passthrough(leaf)
    names = _enum_names(leaf)
    if passthrough is int:
        w.emit(
            indent,
            f"{result} = {value} if type({value}) is int and {_MIN_INT} <= {value} <= {_MAX_INT} else {slow}",
        )
    elif passthrough is not None:
        w.emit(indent, f"{result} = {value} if type({value}) is {passthrough.__name__} else {slow}")
    elif names is not None:
        # Member -> GraphQL name (never empty); None and anything else take the slow branch.
        table = w.constant(names, "E")
        w.emit(indent, f"{result} = {table}.get(id({value})) or {slow}")
    elif leaf.coerce_output_value is _ISOFORMAT:
        # strawberry's DateTime (and Date, Time) serialiser is methodcaller("isoformat").
        w.emit(indent, f"{result} = {value}.isoformat() if type({value}) is _datetime else {slow}")
    elif leaf.coerce_output_value is _JSON_IDENTITY:
        # strawberry's JSON serialiser returns its value unchanged.
        w.emit(indent, f"{result} = {value} if type({value}) in _JSON_PLAIN else {slow}")
    else:
        w.emit(indent, f"{result} = {slow}")


def write_object(
    w: Writer,
    indent: int,
    object_type: GraphQLObjectType,
    value: str,
    result: str,
    field: Any,
    depth: int,
) -> None:
    """An object value: graphql-core's type check, then every field of its sub-selection."""
    from graph.execution import _STRAWBERRY_IS_TYPE_OF, exact_class

    is_type_of = object_type.is_type_of
    if is_type_of is not None and is_type_of.__module__ != _STRAWBERRY_IS_TYPE_OF:
        raise Unsupported("a custom is_type_of may read its info")
    check = w.constant(is_type_of, "T") if is_type_of is not None else None
    exact = exact_class(object_type)
    if exact is not None:
        # An instance of the type's own class, not cast: strawberry's is_type_of says yes.
        cls = w.constant(exact, "C")
        if check is not None:
            w.emit(indent, f"if {value}.__class__ is not {cls} or _CAST in {value}.__dict__:")
            w.emit(indent + 1, f"if isinstance({value}, Exception) or {check}({value}, None) is not True:")
            w.emit(indent + 2, "raise Bail")
        else:
            w.emit(
                indent, f"if {value}.__class__ is not {cls} and isinstance({value}, Exception): raise Bail"
            )
    else:
        w.emit(indent, f"if isinstance({value}, Exception): raise Bail")
        if check is not None:
            w.emit(indent, f"if {check}({value}, None) is not True: raise Bail")
    out = w.var("obj")
    write_fields(w, indent, object_type, value, out, w.fields_of(object_type, field), depth + 1)
    w.emit(indent, f"{result} = {out}")


def write_fields(
    w: Writer,
    indent: int,
    object_type: GraphQLObjectType,
    value: str,
    out: str,
    steps: list[Any],
    depth: int = 0,
) -> None:
    """`out = {...}`: every step of an object's sub-selection, in response order."""
    from graph.execution import Kind

    entries: list[str] = []  # the dict is built in one display once every value is known
    for step in steps:
        key = repr(step.response_name)
        access = step.access
        if access.kind is Kind.TYPENAME:
            entries.append(f"{key}: {object_type.name!r}")
            continue
        if access.kind is Kind.ATTRIBUTE and access.attribute.isidentifier():
            read = f"{value}.{access.attribute}"
        elif access.kind is Kind.ATTRIBUTE:
            read = f"getattr({value}, {access.attribute!r})"
        elif access.kind is Kind.NODE_ID and step.id_as_text:
            # The ID scalar serialises a GlobalID as str(GlobalID): write that text directly.
            read = f"_node_id_text({value}, {object_type.name!r})"
        elif access.kind is Kind.NODE_ID:
            read = f"_node_id({value}, {object_type.name!r})"
        elif access.kind is Kind.METHOD:
            method = w.constant(access.method, "M")
            read = f"{method}({value})" if access.takes_self else f"{method}()"
        elif access.kind is Kind.PREPARED:
            # graph.prepared: the value a connection stored, or (NOT_READ) the resolver's to find.
            read = f"getattr({value}, {access.attribute!r}, _NOT_READ)"
        else:
            raise Unsupported("a field graphql-core resolves")
        got, done = w.var("v"), w.var("c")
        w.emit(indent, f"{got} = {read}")
        if access.kind is Kind.PREPARED:
            w.emit(indent, f"if {got} is _NOT_READ: raise Bail")
        write_value(
            w,
            indent,
            step.return_type,
            got,
            done,
            step,
            method=access.kind is Kind.METHOD,
            depth=depth,
        )
        entries.append(f"{key}: {done}")
    w.emit(indent, f"{out} = {{{', '.join(entries)}}}")


def compile_object(
    schema: GraphQLSchema,
    object_type: GraphQLObjectType,
    steps: list[Any],
    fields_of: Callable[[GraphQLObjectType, Any], list[Any]],
    kinds: Callable[[GraphQLOutputType], str],
) -> CompiledObject | None:
    """A function completing one object of `object_type` whose type was already checked,
    or None when something under it needs graphql-core."""
    w = Writer(schema, fields_of, kinds)
    # memo: see write_value and new_memo.
    w.emit(0, "def complete(src, memo):")
    try:
        write_fields(w, 1, object_type, "src", "result", steps)
    except Unsupported:
        return None
    w.emit(1, "return result")
    return w.build()
