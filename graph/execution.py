"""Compiled execution for the card's hot path.

graphql-core completes every field of every object on its own: it builds a path, a resolve
info and a resolver call, then walks the return type. A card has about 3,300 leaves and a
thousand small objects, so that machinery, not SQL, was most of a card request.

`FastExecutionContext` keeps graphql-core's algorithm but compiles each selection set (per
request, once per object type and field group) into a list of steps, and runs the common
steps in one tight loop:

- a field without a resolver reads the attribute (strawberry's default resolver is `getattr`);
- a field whose resolver is a plain `def` taking only `self` is called directly;
- `__typename` is the parent type's name;
- leaves are serialised by their own type (`coerce_output_value`), so custom scalars and enums
  behave exactly as before; lists and objects are completed by the same rules as
  graphql-core's `complete_value`, with its null checks, `is_type_of` checks and errors;
- paths and resolve infos are built only when something needs them (an error, a resolver
  further down).

Everything else, and any selection that carries a directive other than `@include`/`@skip`
(`@defer`, `@stream`), goes through graphql-core's `execute_field`: resolvers with arguments
or `info`, async resolvers, permission classes and field extensions, unions and interfaces,
middleware. Its algorithm is kept as is, with one shortcut (`DirectCall`): a resolver that
strawberry's wrapper would only forward to (no field extensions or permission classes, no
exception handlers, no root or parent parameter) is called by the executor itself, with the
arguments converted by strawberry's own `convert_arguments` and an Info built as strawberry
builds it; arguments that nothing can change are converted once per request and field, not
once per object (a page of 50 cards asks for the same journey page 50 times).

Aliases, fragments and `@include`/`@skip` need nothing special: graphql-core has already
merged and filtered them into the grouped field set a step is built from.

`tests/test_fast_execution.py` runs a corpus of queries through both paths and requires the
same data and the same errors; `DOSSIER_FAST_PATH=off` runs the whole suite without it.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLUnionType,
    ListValueNode,
    ObjectValueNode,
    VariableNode,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.execution.executor import invalid_return_type_error, to_nodes
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, Undefined, gather_with_cancel
from graphql.type.scalars import serialize_boolean, serialize_id, serialize_int, serialize_string
from strawberry import relay
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.arguments import convert_arguments
from strawberry.types.cast import TYPE_CAST_ATTRIBUTE

from graph.codegen import Unsupported, compile_object, new_memo
from graph.ids import node_global_id, node_id_text, serialises_ids_as_text
from graph.prepared import NOT_READ, PREPARED_MARK

FAST_PATH_ENV = "DOSSIER_FAST_PATH"
_OFF = {"0", "off", "false", "no"}
_PLAIN_DIRECTIVES = frozenset({"include", "skip"})
# strawberry's own `is_type_of` (types implementing interfaces, such as relay nodes) never
# reads its info argument; for those we skip building one per object.
_STRAWBERRY_IS_TYPE_OF = "strawberry.schema.schema_converter"


def fast_path_from_env(env: Mapping[str, str] | None = None) -> bool:
    raw = (env if env is not None else os.environ).get(FAST_PATH_ENV, "")
    return raw.strip().lower() not in _OFF


class Kind(Enum):
    ATTRIBUTE = "attribute"  # no resolver: getattr(source, python name)
    METHOD = "method"  # a plain `def field(self)` resolver
    TYPENAME = "typename"
    NODE_ID = "node id"  # strawberry relay's `id`, when the type keeps relay's defaults
    PREPARED = "prepared"  # a resolver marked @prepared: its attribute, unless NOT_READ (graph.prepared)
    GRAPHQL = "graphql"  # graphql-core's execute_field, untouched


@dataclass(frozen=True, slots=True)
class FieldAccess:
    """How to read one schema field, decided once per field definition."""

    kind: Kind
    attribute: str = ""
    method: Callable[..., Any] | None = None
    takes_self: bool = False


@dataclass(slots=True)
class Step:
    """One response key of a compiled selection set (compiled per request)."""

    response_name: str
    details: FieldDetailsList
    field_def: GraphQLField | None
    access: FieldAccess
    return_type: GraphQLOutputType | None
    # Set when the field is a (non-null) scalar or enum: completed inline, no recursion.
    leaf: GraphQLLeafType | None
    non_null: bool
    # The Python type a built-in scalar returns unchanged (str for String and ID, bool, int).
    passthrough: type | None = None
    # For a strawberry enum: id(member) -> GraphQL name, what its serialiser would answer.
    enum_names: dict[int, str] | None = None
    # A relay id whose ID scalar serialises a GlobalID as its text: produce the text directly.
    id_as_text: bool = False
    # For an object-typed field: its object type's sub-selection, collected and compiled the
    # first time one of its objects is completed (a list of 200 objects collects once).
    sub: SubSelection | None = None
    # (object type, its generated function or None), decided once per request.
    compiled: tuple[GraphQLObjectType, Any] | None = None
    # A union field's items are of several object types: the sub-selections and functions
    # of the types other than the first one met, by type name.
    other_subs: dict[str, SubSelection] | None = None
    other_compiled: dict[str, tuple[GraphQLObjectType, Any]] | None = None


@dataclass(frozen=True, slots=True)
class SubSelection:
    object_type: GraphQLObjectType
    grouped: GroupedFieldSet
    steps: list[Step] | None  # None: no step worth compiling, graphql-core runs it


_ACCESS_CACHE: dict[int, tuple[GraphQLField, FieldAccess]] = {}
_GRAPHQL_ACCESS = FieldAccess(Kind.GRAPHQL)
_NODE_ID_ACCESS = FieldAccess(Kind.NODE_ID)


def field_access(field_def: GraphQLField, converter: Any = None) -> FieldAccess:
    cached = _ACCESS_CACHE.get(id(field_def))
    if cached is not None and cached[0] is field_def:
        return cached[1]
    access = _classify(field_def, converter)
    # The field definition is kept alive with its entry, so its id cannot be reused.
    _ACCESS_CACHE[id(field_def)] = (field_def, access)
    return access


def _classify(field_def: GraphQLField, converter: Any = None) -> FieldAccess:
    definition = (field_def.extensions or {}).get("strawberry-definition")
    resolve = field_def.resolve
    if definition is None or resolve is None or field_def.args:
        return _GRAPHQL_ACCESS
    if isinstance(get_named_type(field_def.type), GraphQLUnionType) and (
        converter is None or converter._get_field_exception_handlers(definition)
    ):
        # Unions may carry strawberry exception handlers around the resolver (when the
        # schema has a handler whose error type is in the union).
        return _GRAPHQL_ACCESS
    if definition.origin is relay.Node and definition.python_name == "_id":
        return _NODE_ID_ACCESS
    if getattr(resolve, "_is_default", False):
        # strawberry's basic field: no resolver, no permission classes, no extensions.
        if definition.default_resolver is getattr:
            return FieldAccess(Kind.ATTRIBUTE, attribute=definition.python_name)
        return _GRAPHQL_ACCESS
    resolver = definition.base_resolver
    if resolver is None or definition.extensions:
        return _GRAPHQL_ACCESS
    attribute = getattr(resolver.wrapped_func, PREPARED_MARK, None)
    if isinstance(attribute, str):
        # No arguments (checked above), no extensions or permission classes: the resolver
        # answers the attribute when it is set (graph.prepared), and runs as is when not.
        return FieldAccess(Kind.PREPARED, attribute=attribute)
    if resolver.is_async:
        return _GRAPHQL_ACCESS
    if resolver.arguments or resolver.info_parameter or resolver.root_parameter or resolver.parent_parameter:
        return _GRAPHQL_ACCESS
    takes_self = resolver.self_parameter is not None
    if len(resolver.signature.parameters) != (1 if takes_self else 0):
        return _GRAPHQL_ACCESS
    # The plain function: StrawberryResolver.__call__ only forwards to it.
    function = resolver.wrapped_func
    if not callable(function):
        return _GRAPHQL_ACCESS
    return FieldAccess(Kind.METHOD, method=function, takes_self=takes_self)


@dataclass(frozen=True, slots=True)
class DirectCall:
    """A resolver strawberry would only forward to: its wrapper converts the arguments
    (`convert_arguments`), builds an Info and calls the function, nothing else, because the
    field has no field extensions (permission classes are extensions), no exception
    handlers and no root or parent parameter. The executor does those three steps itself,
    with strawberry's own conversion, and skips the wrapper's layers."""

    function: Callable[..., Any]
    definition: Any  # the StrawberryField
    takes_self: bool
    info_name: str | None


_DIRECT_CACHE: dict[int, tuple[GraphQLField, DirectCall | None]] = {}


def direct_call(field_def: GraphQLField, converter: Any) -> DirectCall | None:
    cached = _DIRECT_CACHE.get(id(field_def))
    if cached is not None and cached[0] is field_def:
        return cached[1]
    call = _direct_call(field_def, converter)
    _DIRECT_CACHE[id(field_def)] = (field_def, call)  # holding the field keeps its id its own
    return call


def _direct_call(field_def: GraphQLField, converter: Any) -> DirectCall | None:
    definition = (field_def.extensions or {}).get("strawberry-definition")
    resolve = field_def.resolve
    if definition is None or resolve is None or getattr(resolve, "_is_default", False):
        return None
    resolver = definition.base_resolver
    if resolver is None or definition.extensions or definition.is_subscription:
        return None
    if resolver.root_parameter or resolver.parent_parameter or not callable(resolver.wrapped_func):
        return None
    if converter is None or converter._get_field_exception_handlers(definition):
        return None
    info = resolver.info_parameter
    return DirectCall(
        function=resolver.wrapped_func,
        definition=definition,
        takes_self=resolver.self_parameter is not None,
        info_name=info.name if info is not None else None,
    )


# Converted arguments are reused across the objects of a request (50 cards asking for the
# same journey page) only when nothing in them can be changed by the resolver.
_FROZEN = (str, int, float, bool, type(None), Enum)

# Arguments written as literals (or left to their defaults) are the same in every request of a
# cached document: `calls(when: UPCOMING)` and the card lists' default `first` are converted once
# per process, not once per card. Keyed by the field node (kept, so its id is not reused) and
# checked against the field definition, so documents and schemas never mix. Bounded.
_CONSTANT_ARGUMENTS: dict[int, tuple[FieldNode, GraphQLField, dict[str, Any]]] = {}
_CONSTANT_ARGUMENTS_MAX = 4096


def _uses_variables(value: Any) -> bool:
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(_uses_variables(item) for item in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_uses_variables(item.value) for item in value.fields)
    return False


def _frozen(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_frozen(item) for item in value)
    return isinstance(value, _FROZEN)


# graphql-core's own serialisers return these values unchanged: a str for String and ID, a
# bool for Boolean, an int within 32 bits for Int. Anything else goes through the serialiser.
_MIN_INT, _MAX_INT = -(2**31), 2**31 - 1
_PASSTHROUGH: dict[Any, type] = {
    serialize_string: str,
    serialize_id: str,
    serialize_boolean: bool,
    serialize_int: int,
}


def _passthrough(leaf: GraphQLLeafType | None) -> type | None:
    if leaf is None or not isinstance(leaf, GraphQLScalarType):
        return None
    return _PASSTHROUGH.get(leaf.coerce_output_value)


# What kind of output type a type is, looked up instead of asked of graphql-core's five
# predicates on every value completed (the same order of checks as its complete_value).
_NON_NULL, _LIST, _LEAF, _ABSTRACT, _OBJECT, _OTHER = "non-null", "list", "leaf", "abstract", "object", "?"
_KINDS: dict[int, tuple[GraphQLOutputType, str]] = {}


def _type_kind(type_: GraphQLOutputType) -> str:
    cached = _KINDS.get(id(type_))
    if cached is not None and cached[0] is type_:
        return cached[1]
    if is_non_null_type(type_):
        kind = _NON_NULL
    elif is_list_type(type_):
        kind = _LIST
    elif is_leaf_type(type_):
        kind = _LEAF
    elif is_abstract_type(type_):
        kind = _ABSTRACT
    elif is_object_type(type_):
        kind = _OBJECT
    else:  # pragma: no cover - graphql-core has no other output types
        kind = _OTHER
    _KINDS[id(type_)] = (type_, kind)
    return kind


_ENUM_CACHE: dict[int, tuple[GraphQLLeafType, dict[int, str] | None]] = {}


def _enum_names(leaf: GraphQLLeafType | None) -> dict[int, str] | None:
    """strawberry's enum serialiser scans the enum's values for each member it serialises;
    the same answer, looked up: the first GraphQL value whose value equals the member's."""
    if leaf is None or not isinstance(leaf, GraphQLEnumType):
        return None
    cached = _ENUM_CACHE.get(id(leaf))
    if cached is not None and cached[0] is leaf:
        return cached[1]
    names: dict[int, str] | None = None
    wrapped = getattr(leaf, "wrapped_cls", None)
    if isinstance(wrapped, type) and issubclass(wrapped, enum.Enum):
        names = {}
        for member in wrapped:
            for name, value in leaf.values.items():
                if member.value == value.value:
                    names[id(member)] = name
                    break
    _ENUM_CACHE[id(leaf)] = (leaf, names)
    return names


_EXACT_CACHE: dict[int, tuple[GraphQLObjectType, type | None]] = {}


def exact_class(object_type: GraphQLObjectType) -> type | None:
    """The Python class whose instances this object type completes without asking anything:
    for such an instance that is not `strawberry.cast`, strawberry's `is_type_of` (when the
    type has one) answers True. None when that cannot be told from the class alone."""
    cached = _EXACT_CACHE.get(id(object_type))
    if cached is not None and cached[0] is object_type:
        return cached[1]
    definition = (object_type.extensions or {}).get("strawberry-definition")
    origin = getattr(definition, "origin", None)
    exact = None
    is_type_of = object_type.is_type_of
    if (
        isinstance(origin, type)
        and (is_type_of is None or is_type_of.__module__ == _STRAWBERRY_IS_TYPE_OF)
        and origin.__dictoffset__ != 0  # the cast mark, if any, is in the instance's __dict__
        and origin.__getattribute__ is object.__getattribute__
        and not hasattr(origin, "__getattr__")
        and not hasattr(origin, TYPE_CAST_ATTRIBUTE)
    ):
        exact = origin
    _EXACT_CACHE[id(object_type)] = (object_type, exact)
    return exact


_UNION_CACHE: dict[int, tuple[GraphQLUnionType, dict[type, GraphQLObjectType] | None]] = {}
# strawberry's union type resolver (StrawberryUnion.get_type_resolver's inner function).
_STRAWBERRY_UNION_RESOLVER = "_resolve_union_type"


def union_members(union_type: GraphQLOutputType) -> dict[type, GraphQLObjectType] | None:
    """For a union strawberry resolves itself: Python class -> member object type, for the
    classes whose instances (not `strawberry.cast`) strawberry's resolver answers with that
    member without asking anything else (the member's definition is the class's own, and no
    other member's class is a base or subclass of it). None for anything else (interfaces,
    custom resolve_type, generics): graphql-core completes those."""
    cached = _UNION_CACHE.get(id(union_type))
    if cached is not None and cached[0] is union_type:
        return cached[1]
    table: dict[type, GraphQLObjectType] | None = None
    resolve_type = getattr(union_type, "resolve_type", None)
    if isinstance(union_type, GraphQLUnionType) and getattr(resolve_type, "__name__", "") == (
        _STRAWBERRY_UNION_RESOLVER
    ):
        table = {}
        origins: list[type] = []
        for member in union_type.types:
            definition = (member.extensions or {}).get("strawberry-definition")
            exact = exact_class(member)
            if (
                exact is None
                or definition is None
                or getattr(definition, "concrete_of", None) is not None
                or getattr(definition, "is_graphql_generic", False)
                or exact.__dict__.get("__strawberry_definition__") is not definition
            ):
                table = None
                break
            table[exact] = member
            origins.append(exact)
        if table is not None:
            for cls in origins:
                if any(
                    other is not cls and (issubclass(cls, other) or issubclass(other, cls))
                    for other in origins
                ):
                    table = None
                    break
    _UNION_CACHE[id(union_type)] = (union_type, table)  # type: ignore[assignment]
    return table


def _unwrap_leaf(return_type: GraphQLOutputType) -> tuple[GraphQLLeafType | None, bool]:
    non_null = is_non_null_type(return_type)
    inner = return_type.of_type if non_null else return_type  # type: ignore[union-attr]
    return (inner if is_leaf_type(inner) else None), non_null  # type: ignore[return-value]


class FastExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor with compiled selection sets (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # id(grouped field set) -> (grouped field set, its steps, or None for "use graphql-core").
        # Grouped field sets are memoised per request by graphql-core, so one list of objects
        # compiles once; holding the set keeps its id from being reused.
        self._compiled: dict[int, tuple[GroupedFieldSet, list[Step] | None]] = {}
        manager = self.middleware_manager
        self._fast = manager is None or not manager.middlewares
        self._static = _is_static(self.operation, self.fragment_definitions)
        # Steps for fields graphql-core resolved (see complete_value), by field group.
        self._resolved_steps: dict[int, Step] = {}
        strawberry_schema = getattr(self.schema, "_strawberry_schema", None)
        self._converter = getattr(strawberry_schema, "schema_converter", None)
        # id(field details) -> (field details, converted arguments), see execute_field.
        self._arguments: dict[int, tuple[Any, dict[str, Any]]] = {}

    # -- compiling -------------------------------------------------------------------

    def _steps(self, parent_type: GraphQLObjectType, grouped: GroupedFieldSet) -> list[Step] | None:
        entry = self._compiled.get(id(grouped))
        if entry is not None and entry[0] is grouped:
            return entry[1]
        steps = self._compile(parent_type, grouped)
        self._compiled[id(grouped)] = (grouped, steps)
        return steps

    def _compile(self, parent_type: GraphQLObjectType, grouped: GroupedFieldSet) -> list[Step] | None:
        """The steps of a grouped field set. What a step knows of its field depends on the
        document alone when `_static`: then that part is kept across requests (keyed by the
        field nodes, held so that their ids cannot be reused) and only the steps are new."""
        if not self._static:
            return self._compile_new(parent_type, grouped)
        nodes = tuple(fd.node for details in grouped.values() for fd in details)
        shape = tuple(len(details) for details in grouped.values())
        key = (id(self.schema), parent_type.name, shape, *map(id, nodes))
        cached = _STEP_PARTS.get(key)
        if cached is not None and cached[0] is self.schema and cached[1] == nodes:
            parts = cached[2]
            if parts is None:
                return None
            return [
                Step(name, details, *part)
                for (name, details), part in zip(grouped.items(), parts, strict=True)
            ]
        steps = self._compile_new(parent_type, grouped)
        parts = (
            None
            if steps is None
            else [
                (
                    step.field_def,
                    step.access,
                    step.return_type,
                    step.leaf,
                    step.non_null,
                    step.passthrough,
                    step.enum_names,
                    step.id_as_text,
                )
                for step in steps
            ]
        )
        if len(_STEP_PARTS) >= _MAX_FUNCTIONS:
            _STEP_PARTS.pop(next(iter(_STEP_PARTS)))
        _STEP_PARTS[key] = (self.schema, nodes, parts)
        return steps

    def _compile_new(self, parent_type: GraphQLObjectType, grouped: GroupedFieldSet) -> list[Step] | None:
        steps: list[Step] = []
        fast = 0
        for response_name, details in grouped.items():
            node = details[0].node
            field_name = node.name.value
            field_def = self.schema.get_field(parent_type, field_name)
            plain = all(
                fd.fragment_variable_values is None
                and fd.defer_usage is None
                and all(d.name.value in _PLAIN_DIRECTIVES for d in fd.node.directives or ())
                for fd in details
            )
            if field_name == "__typename" and plain:
                access = FieldAccess(Kind.TYPENAME)
            elif field_def is None or not plain or node.arguments:
                access = _GRAPHQL_ACCESS
            else:
                access = field_access(field_def, self._converter)
            if access.kind is not Kind.GRAPHQL:
                fast += 1
            return_type = field_def.type if field_def is not None else None
            leaf, non_null = _unwrap_leaf(return_type) if return_type is not None else (None, False)
            step = Step(response_name, details, field_def, access, return_type, leaf, non_null)
            step.passthrough, step.enum_names = _passthrough(leaf), _enum_names(leaf)
            step.id_as_text = access.kind is Kind.NODE_ID and serialises_ids_as_text(leaf)
            steps.append(step)
        return steps if fast else None

    # -- executing -------------------------------------------------------------------

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        # A delivery group map means @defer is in play: leave it all to graphql-core.
        if not self._fast or position_context is not None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        steps = self._steps(parent_type, grouped_field_set)
        if steps is None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        return self._run(parent_type, source_value, path, steps)

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        """graphql-core's execute_field, calling a DirectCall resolver's function itself."""
        first = field_details_list[0]
        field_def = self.schema.get_field(parent_type, first.node.name.value)
        call = direct_call(field_def, self._converter) if field_def is not None and self._fast else None
        if call is None:  # subscription fields never get a DirectCall (see _direct_call)
            return super().execute_field(parent_type, source, field_details_list, path, position_context)
        return_type = field_def.type  # type: ignore[union-attr]
        info = self.build_resolve_info(field_def, to_nodes(field_details_list), parent_type, path)  # type: ignore[arg-type]
        try:
            strawberry_info = self._converter.config.info_class(_raw_info=info, _field=call.definition)
            kwargs = self._call_arguments(field_def, first, call, strawberry_info)  # type: ignore[arg-type]
            if call.info_name is not None:
                kwargs[call.info_name] = strawberry_info
            result = call.function(source, **kwargs) if call.takes_self else call.function(**kwargs)
            if self.is_awaitable(result):
                return self.complete_awaitable_value(
                    return_type, field_details_list, info, path, result, position_context
                )
            completed = self.complete_value(
                return_type, field_details_list, info, path, result, position_context
            )
            if type(completed) is not dict and self.is_awaitable(completed):
                return self._guard(completed, return_type, field_details_list, path)
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        return completed

    def _call_arguments(
        self, field_def: GraphQLField, first: Any, call: DirectCall, strawberry_info: Any
    ) -> dict[str, Any]:
        """The resolver's keyword arguments, as strawberry's wrapper would convert them."""
        node = first.node
        if not (field_def.args or node.arguments):
            return {}
        cached = self._arguments.get(id(first))
        if cached is not None and cached[0] is first:
            return dict(cached[1])
        constant = _CONSTANT_ARGUMENTS.get(id(node))
        if (
            constant is not None
            and constant[0] is node
            and constant[1] is field_def
            and first.fragment_variable_values is None
        ):
            self._arguments[id(first)] = (first, constant[2])
            return dict(constant[2])
        raw = get_argument_values(
            field_def, node, self.variable_values, first.fragment_variable_values, self.hide_suggestions
        )
        kwargs = convert_arguments(
            raw,
            call.definition.arguments,
            scalar_registry=self._converter.scalar_registry,
            config=self._converter.config,
            info=strawberry_info,
        )
        if first.fragment_variable_values is None and all(_frozen(v) for v in kwargs.values()):
            self._arguments[id(first)] = (first, dict(kwargs))
            if not any(_uses_variables(argument.value) for argument in node.arguments or ()):
                if len(_CONSTANT_ARGUMENTS) >= _CONSTANT_ARGUMENTS_MAX:
                    _CONSTANT_ARGUMENTS.clear()
                _CONSTANT_ARGUMENTS[id(node)] = (node, field_def, dict(kwargs))
        return kwargs

    def _run(self, parent_type: GraphQLObjectType, source: Any, path: Path | None, steps: list[Step]) -> Any:
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        parent_name = parent_type.name
        try:
            for step in steps:
                name = step.response_name
                access = step.access
                kind = access.kind
                if kind is Kind.NODE_ID:
                    ready = (node_id_text if step.id_as_text else node_global_id)(source, parent_name)
                    if ready is None:
                        kind = Kind.GRAPHQL
                elif kind is Kind.PREPARED:
                    ready = getattr(source, access.attribute, NOT_READ)  # the prepared value
                    if ready is NOT_READ:
                        kind = Kind.GRAPHQL
                if kind is Kind.GRAPHQL:
                    result = self.execute_field(
                        parent_type, source, step.details, Path(path, name, parent_name), None
                    )
                    if result is not Undefined:
                        results[name] = result
                        if is_awaitable(result):
                            awaitable_fields.append(name)
                    continue
                if kind is Kind.TYPENAME:
                    results[name] = parent_name
                    continue
                try:
                    if kind is Kind.ATTRIBUTE:
                        value = getattr(source, access.attribute)
                    elif kind is Kind.NODE_ID or kind is Kind.PREPARED:
                        value = ready
                    else:
                        method = access.method
                        value = method(source) if access.takes_self else method()  # type: ignore[misc]
                    leaf = step.leaf
                    if leaf is not None and not isinstance(value, Exception):
                        if value is None or value is Undefined:
                            if step.non_null:
                                raise TypeError(_null_message(parent_type, step))
                            results[name] = None
                            continue
                        if type(value) is step.passthrough and (
                            step.passthrough is not int or _MIN_INT <= value <= _MAX_INT
                        ):
                            results[name] = value
                            continue
                        if step.enum_names is not None and id(value) in step.enum_names:
                            results[name] = step.enum_names[id(value)]
                            continue
                        if not is_awaitable(value):
                            results[name] = self.complete_leaf_value(leaf, value)
                            continue
                    field_path = Path(path, name, parent_name)
                    if is_awaitable(value):
                        # A plain resolver (or an attribute) handed back an awaitable: graphql-core
                        # awaits it, and so do we, through its own code.
                        info = self._info(parent_type, step, field_path)
                        results[name] = self.complete_awaitable_value(
                            step.return_type,  # type: ignore[arg-type]
                            step.details,
                            info,
                            field_path,
                            value,
                            None,
                        )
                        awaitable_fields.append(name)
                        continue
                    completed = self._complete(
                        parent_type,
                        step,
                        step.return_type,
                        field_path,
                        field_path,
                        value,
                        None,  # type: ignore[arg-type]
                    )
                    if type(completed) is not dict and is_awaitable(completed):
                        results[name] = self._guard(completed, step.return_type, step.details, field_path)  # type: ignore[arg-type]
                        awaitable_fields.append(name)
                    else:
                        results[name] = completed
                except Exception as raw_error:
                    self.handle_field_error(
                        raw_error,
                        step.return_type,  # type: ignore[arg-type]
                        step.details,
                        Path(path, name, parent_name),
                    )
                    results[name] = None
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise

        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited = await gather_with_cancel(*(results[field] for field in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core completing what a resolver returned (a field it resolved itself): the
        value is completed by the compiled path too, so a list an async resolver returns gets
        the same generated functions as a list read from an attribute."""
        if not self._fast or position_context is not None:
            return super().complete_value(
                return_type, field_details_list, info, path, result, position_context
            )
        step = self._resolved_steps.get(id(field_details_list))
        if step is None or step.details is not field_details_list:
            step = self._resolved_step(info, field_details_list)
        return self._complete(info.parent_type, step, return_type, path, path, result, info)

    def _resolved_step(self, info: GraphQLResolveInfo, details: FieldDetailsList) -> Step:
        field_def = self.schema.get_field(info.parent_type, info.field_name)
        return_type = field_def.type if field_def is not None else info.return_type
        leaf, non_null = _unwrap_leaf(return_type)
        step = Step(info.path.key, details, field_def, _GRAPHQL_ACCESS, return_type, leaf, non_null)  # type: ignore[arg-type]
        self._resolved_steps[id(details)] = step
        return step

    async def _guard(
        self, completed: Awaitable[Any], return_type: GraphQLOutputType, details: FieldDetailsList, path: Path
    ) -> Any:
        # As graphql-core's execute_field/complete_list_item_value: an error raised while
        # awaiting is this field's (or item's) error.
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, details, path)
            return None

    def _info(self, parent_type: GraphQLObjectType, step: Step, field_path: Path) -> GraphQLResolveInfo:
        return self.build_resolve_info(step.field_def, to_nodes(step.details), parent_type, field_path)  # type: ignore[arg-type]

    def _complete(
        self,
        parent_type: GraphQLObjectType,
        step: Step,
        return_type: GraphQLOutputType,
        field_path: Path,
        path: Path,
        value: Any,
        info: GraphQLResolveInfo | None,
    ) -> Any:
        """graphql-core's complete_value, minus the resolve info until something needs one."""
        if isinstance(value, Exception):
            raise value
        kind = _type_kind(return_type)
        if kind is _NON_NULL:
            completed = self._complete(
                parent_type,
                step,
                return_type.of_type,
                field_path,
                path,
                value,
                info,  # type: ignore[union-attr]
            )
            if completed is None:
                raise TypeError(_null_message(parent_type, step))
            return completed
        if value is None or value is Undefined:
            return None
        if kind is _OBJECT:
            return self._complete_object(parent_type, step, return_type, field_path, path, value, info)  # type: ignore[arg-type]
        if kind is _LIST:
            return self._complete_list(parent_type, step, return_type, field_path, path, value, info)  # type: ignore[arg-type]
        if kind is _LEAF:
            return self.complete_leaf_value(return_type, value)  # type: ignore[arg-type]
        if kind is _ABSTRACT:
            members = union_members(return_type)
            if members is not None:
                member = members.get(value.__class__)
                if member is not None and TYPE_CAST_ATTRIBUTE not in value.__dict__:
                    # What strawberry's resolver answers for an instance of a member's own
                    # class; the member's is_type_of agrees (see exact_class).
                    return self._complete_object(parent_type, step, member, field_path, path, value, info)
            info = info or self._info(parent_type, step, field_path)
            return self.complete_abstract_value(return_type, step.details, info, path, value, None)  # type: ignore[arg-type]
        info = info or self._info(parent_type, step, field_path)
        return super().complete_value(return_type, step.details, info, path, value, None)  # pragma: no cover

    def _complete_object(
        self,
        parent_type: GraphQLObjectType,
        step: Step,
        object_type: GraphQLObjectType,
        field_path: Path,
        path: Path,
        value: Any,
        info: GraphQLResolveInfo | None,
    ) -> Any:
        is_type_of = object_type.is_type_of
        if is_type_of and not (
            value.__class__ is exact_class(object_type) and TYPE_CAST_ATTRIBUTE not in value.__dict__
        ):
            if is_type_of.__module__ == _STRAWBERRY_IS_TYPE_OF and info is None:
                verdict = is_type_of(value, None)  # type: ignore[arg-type]
            else:
                info = info or self._info(parent_type, step, field_path)
                verdict = is_type_of(value, info)
            if verdict is not True and self.is_awaitable(verdict):
                info = info or self._info(parent_type, step, field_path)
                return self.complete_object_value(object_type, step.details, info, path, value, None)
            if not verdict:
                raise invalid_return_type_error(object_type, value, step.details)
        function = self._compiled_function(object_type, step)
        if function is not None:
            try:
                return function(value, new_memo(function))
            except Exception:  # not the clean case: the step-by-step path reports it
                pass
        sub = self._sub_of(step, object_type)
        if sub is None:
            grouped, new_defer_usages, _ = self.collect_subfields(object_type, step.details)
            return self.execute_collected_subfields(object_type, value, path, grouped, new_defer_usages, None)
        if sub.steps is None:
            return super().execute_fields(object_type, value, path, sub.grouped, None)
        return self._run(object_type, value, path, sub.steps)

    def _list_function(self, step: Step, item_type: GraphQLOutputType) -> tuple[type | None, Any]:
        """(class, generated function) for the items of a list of objects, or (None, None)."""
        object_type = item_type.of_type if _type_kind(item_type) is _NON_NULL else item_type  # type: ignore[union-attr]
        if _type_kind(object_type) is not _OBJECT:
            return None, None
        exact = exact_class(object_type)  # type: ignore[arg-type]
        if exact is None:
            return None, None
        function = self._compiled_function(object_type, step)  # type: ignore[arg-type]
        return (exact, function) if function is not None else (None, None)

    def _compiled_function(self, object_type: GraphQLObjectType, step: Step) -> Any:
        """The sub-tree's generated function, or None, decided once per request and step.
        When no @include/@skip of the document reads a variable, what is selected depends on
        the (cached) document alone: the function is kept across requests, keyed by the field
        nodes it was written for, and found without collecting the sub-selection again."""
        compiled = step.compiled
        if compiled is None:
            compiled = step.compiled = (object_type, self._generated(object_type, step))
        elif compiled[0] is not object_type:  # a union's other member types
            others = step.other_compiled
            if others is None:
                others = step.other_compiled = {}
            compiled = others.get(object_type.name)  # type: ignore[assignment]
            if compiled is None or compiled[0] is not object_type:
                compiled = others[object_type.name] = (object_type, self._generated(object_type, step))
        return compiled[1]

    def _generated(self, object_type: GraphQLObjectType, step: Step) -> Any:
        key: tuple[Any, ...] = ()
        nodes = tuple(details.node for details in step.details)
        if self._static:
            key = (id(self.schema), object_type.name, *map(id, nodes))
            cached = _FUNCTIONS.get(key)
            if cached is not None and cached[0] is self.schema and cached[1] == nodes:
                return cached[2]
        sub = self._sub_of(step, object_type)
        function = None
        if sub is not None and sub.steps is not None:
            function = compile_object(self.schema, object_type, sub.steps, self._fields_of, _type_kind)
        if self._static:
            if len(_FUNCTIONS) >= _MAX_FUNCTIONS:
                _FUNCTIONS.pop(next(iter(_FUNCTIONS)))
            _FUNCTIONS[key] = (self.schema, nodes, function)
        return function

    def _sub_of(self, step: Step, object_type: GraphQLObjectType) -> SubSelection | None:
        """The object's collected and compiled sub-selection; None when @defer is under it."""
        sub = step.sub
        if sub is not None and sub.object_type is object_type:
            return sub
        others = step.other_subs
        if sub is not None and others is not None:  # a union's other member types
            found = others.get(object_type.name)
            if found is not None and found.object_type is object_type:
                return found
        grouped, new_defer_usages, _ = self.collect_subfields(object_type, step.details)
        if new_defer_usages:
            return None
        made = SubSelection(object_type, grouped, self._steps(object_type, grouped))
        if sub is None:
            step.sub = made
        else:
            if others is None:
                others = step.other_subs = {}
            others[object_type.name] = made
        return made

    def _fields_of(self, object_type: GraphQLObjectType, step: Step) -> list[Step]:
        sub = self._sub_of(step, object_type)
        if sub is None or sub.steps is None:
            raise Unsupported("graphql-core runs this sub-selection")
        return sub.steps

    def _complete_list(
        self,
        parent_type: GraphQLObjectType,
        step: Step,
        list_type: GraphQLList[Any],
        field_path: Path,
        path: Path,
        items: Any,
        info: GraphQLResolveInfo | None,
    ) -> Any:
        if not isinstance(items, list | tuple):
            # Generators, async iterables and non-iterables (an error) take graphql-core's path.
            info = info or self._info(parent_type, step, field_path)
            return self.complete_list_value(list_type, step.details, info, path, items, None)
        item_type = list_type.of_type
        leaf, _ = _unwrap_leaf(item_type)  # a null item's check is _complete's
        is_awaitable = self.is_awaitable
        completed: list[Any] = []
        append = completed.append
        awaitable_indices: list[int] = []
        # A list of objects of one generated sub-tree (journey entries, calls): items of the
        # type's own class go straight to its function; anything else, or an item the
        # function bails on, takes the item-by-item path below.
        exact, function = self._list_function(step, item_type) if leaf is None else (None, None)
        memo = new_memo(function) if function is not None else None  # one per list (graph.codegen)
        try:
            for index, item in enumerate(items):
                if item.__class__ is exact and TYPE_CAST_ATTRIBUTE not in item.__dict__:
                    try:
                        append(function(item, memo))  # type: ignore[misc]
                        continue
                    except Exception:  # not the clean case: completed again below
                        pass
                if (
                    leaf is not None
                    and item is not None
                    and not isinstance(item, Exception)
                    and not is_awaitable(item)
                ):
                    try:
                        append(self.complete_leaf_value(leaf, item))
                    except Exception as raw_error:
                        self.handle_field_error(raw_error, item_type, step.details, path.add_key(index))
                        append(None)
                    continue
                item_path = path.add_key(index)
                if is_awaitable(item):
                    info = info or self._info(parent_type, step, field_path)
                    append(
                        self.complete_awaitable_list_item_value(
                            item, item_type, step.details, info, item_path, None
                        )
                    )
                    awaitable_indices.append(index)
                    continue
                try:
                    value = self._complete(parent_type, step, item_type, field_path, item_path, item, info)
                    if type(value) is not dict and is_awaitable(value):
                        append(self._guard(value, item_type, step.details, item_path))
                        awaitable_indices.append(index)
                    else:
                        append(value)
                except Exception as raw_error:
                    self.handle_field_error(raw_error, item_type, step.details, item_path)
                    append(None)
        except Exception:
            if awaitable_indices:
                self.settle_in_background([completed[i] for i in awaitable_indices])
            raise
        if not awaitable_indices:
            return completed

        async def get_completed() -> list[Any]:
            if len(awaitable_indices) == 1:
                index = awaitable_indices[0]
                completed[index] = await completed[index]
            else:
                awaited = await gather_with_cancel(*(completed[i] for i in awaitable_indices))
                for index, value in zip(awaitable_indices, awaited, strict=True):
                    completed[index] = value
            return completed

        return get_completed()


_MAX_FUNCTIONS = 1024
# (schema id, type name, field node ids) -> (schema, field nodes, generated function or None).
# The schema and the nodes are held so that their ids cannot be reused while cached.
_FUNCTIONS: dict[tuple[Any, ...], tuple[Any, tuple[Any, ...], Any]] = {}
_STATIC: dict[int, tuple[Any, bool]] = {}
# (schema id, type name, group sizes, field node ids) -> (schema, field nodes, each step's
# document-bound part, or None: graphql-core runs the set). See FastExecutionContext._compile.
_STEP_PARTS: dict[tuple[Any, ...], tuple[Any, tuple[Any, ...], list[tuple[Any, ...]] | None]] = {}


def _is_static(operation: Any, fragments: dict[str, Any]) -> bool:
    """True when no @include/@skip in the operation or its fragments reads a variable, and no
    fragment takes arguments: then the fields selected depend on the document alone."""
    cached = _STATIC.get(id(operation))
    if cached is not None and cached[0] is operation:
        return cached[1]
    static = True

    def visit(node: Any) -> None:
        nonlocal static
        for directive in getattr(node, "directives", None) or ():
            for argument in directive.arguments or ():
                if isinstance(argument.value, VariableNode):
                    static = False
        if getattr(node, "variable_definitions", None) and isinstance(node, FragmentDefinitionNode):
            static = False
        selection_set = getattr(node, "selection_set", None)
        for selection in selection_set.selections if selection_set else ():
            visit(selection)

    visit(operation)
    for fragment in fragments.values():
        visit(fragment)
    if len(_STATIC) >= _MAX_FUNCTIONS:
        _STATIC.clear()
    _STATIC[id(operation)] = (operation, static)
    return static


def _null_message(parent_type: GraphQLObjectType, step: Step) -> str:
    return f"Cannot return null for non-nullable field {parent_type}.{step.details[0].node.name.value}."


def execution_context_class(fast_path: bool | None = None) -> type[StrawberryGraphQLCoreExecutionContext]:
    """The executor the schema uses: the compiled one unless switched off."""
    enabled = fast_path_from_env() if fast_path is None else fast_path
    return FastExecutionContext if enabled else StrawberryGraphQLCoreExecutionContext


__all__: Sequence[str] = [
    "FAST_PATH_ENV",
    "FastExecutionContext",
    "execution_context_class",
    "fast_path_from_env",
]
