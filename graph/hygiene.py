"""Input hygiene for every operation: text the databases cannot store and times out of range
are refused before anything runs, and "Did you mean …" suggestions are hidden on request.

Checked by the type the schema gives each value, so a new argument or input field is covered
the day it is added:

- every string (any scalar: String, ID, DateTime, JSON …) holding NUL or a lone UTF-16
  surrogate, which PostgreSQL and both drivers refuse with an internal error;
- every DateTime outside `crm.clock`'s range (years 1900 to 2200), which would be stored
  and then overflow when a duration is added or an offset converted.

Literals in the document are checked by a validation rule (`InputHygieneRule`, cached with the
document's other validation results); variables by a schema extension (`InputHygiene`) right
after validation. Both answer BAD_USER_INPUT naming the field. strawberry refuses to redefine
the built-in String scalar, and graphql-core's introspection types share its one
`GraphQLString`, so the check works on the document and the variables instead of the scalar.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    ArgumentNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    ObjectFieldNode,
    OperationDefinitionNode,
    StringValueNode,
    ValidationRule,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    get_named_type,
    type_from_ast,
    visit,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.types.base_scalars import DateTimeDefinition

from crm.clock import RANGE_TEXT, out_of_range
from crm.validation import unstorable_character

DATETIME = DateTimeDefinition.name


def _problem(value: str, type_name: str | None) -> str | None:
    """What is wrong with one string in a position of the named type, or None."""
    unstorable = unstorable_character(value)
    if unstorable is not None:
        return f"cannot contain {unstorable}"
    if type_name == DATETIME:
        try:
            parsed = DateTimeDefinition.parse_value(value)  # type: ignore[misc]
        except Exception:  # not a DateTime at all: coercion reports it
            return None
        if out_of_range(parsed):
            return f"must be {RANGE_TEXT}, got {value}"
    return None


def _bad_input(message: str, field: str, node: Any = None) -> GraphQLError:
    return GraphQLError(message, node, extensions={"code": "BAD_USER_INPUT", "field": field})


class InputHygieneRule(ValidationRule):
    """Literal strings in the document: unstorable characters anywhere, DateTimes in range."""

    def enter_string_value(
        self, node: StringValueNode, _key: Any, parent: Any, _path: Any, ancestors: Any
    ) -> None:
        input_type = self.context.get_input_type()
        named = get_named_type(input_type) if input_type is not None else None
        problem = _problem(node.value, getattr(named, "name", None))
        if problem is None:
            return
        names = [
            _name_of(a)
            for a in (*ancestors, parent)
            if isinstance(a, ArgumentNode | ObjectFieldNode | VariableDefinitionNode)
        ]
        field = names[-1] if names else "value"
        self.report_error(_bad_input(f"{'.'.join(names) or field} {problem}", field, node))


def _name_of(node: ArgumentNode | ObjectFieldNode | VariableDefinitionNode) -> str:
    if isinstance(node, VariableDefinitionNode):
        return node.variable.name.value
    return node.name.value


def _operation(document: Any, operation_name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == operation_name), None)


def variable_errors(
    schema: GraphQLSchema, document: Any, operation_name: str | None, variables: dict[str, Any]
) -> list[GraphQLError]:
    """The first bad value among the operation's variables, walked by their declared types."""
    operation = _operation(document, operation_name)
    if operation is None:
        return []  # graphql-core reports the missing or ambiguous operation
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in variables:
            continue
        input_type = type_from_ast(schema, definition.type)
        found = _walk(variables[name], input_type, name)  # type: ignore[arg-type]
        if found is not None:
            path, field, problem = found
            if field is None:  # the variable is the whole value: name the argument it fills
                field = _usages(document).get(name, name)
            return [_bad_input(f"{field} (variable ${path}) {problem}", field, definition)]
    return []


def _usages(document: Any) -> dict[str, str]:
    """Variable name -> the argument or input field it is passed as (the first one found)."""
    found: dict[str, str] = {}

    class Usages(Visitor):
        def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
            self._note(node)

        def enter_object_field(self, node: ObjectFieldNode, *_: Any) -> None:
            self._note(node)

        @staticmethod
        def _note(node: ArgumentNode | ObjectFieldNode) -> None:
            if isinstance(node.value, VariableNode):
                found.setdefault(node.value.name.value, node.name.value)

    visit(document, Usages())
    return found


def _walk(value: Any, input_type: GraphQLInputType | None, root: str) -> tuple[str, str | None, str] | None:
    """(path, input field or None at the top, problem) for the first bad string under `value`.
    Iterative: a JSON value may nest deeper than Python's recursion limit."""
    stack: list[tuple[Any, GraphQLInputType | None, str, str | None]] = [(value, input_type, root, None)]
    while stack:
        item, item_type, path, field = stack.pop()
        while isinstance(item_type, GraphQLNonNull):
            item_type = item_type.of_type
        if isinstance(item, str):
            problem = _problem(item, getattr(get_named_type(item_type), "name", None) if item_type else None)
            if problem is not None:
                return path, field, problem
        elif isinstance(item, list):
            inner = item_type.of_type if isinstance(item_type, GraphQLList) else item_type
            stack.extend((v, inner, f"{path}[{i}]", field) for i, v in reversed(list(enumerate(item))))
        elif isinstance(item, dict):
            fields = item_type.fields if isinstance(item_type, GraphQLInputObjectType) else {}
            for key, v in reversed(list(item.items())):
                child = fields.get(key)
                # Keys of an untyped (JSON) value are stored too; unknown input fields are refused
                # by coercion, but their text is checked all the same.
                if isinstance(key, str) and (problem := unstorable_character(key)) is not None:
                    return path, field, f"cannot contain {problem} in a key"
                stack.append((v, child.type if child is not None else None, f"{path}.{key}", str(key)))
    return None


class InputHygiene(SchemaExtension):
    """Variables, checked once the document is known to be valid (list it after the
    extensions that validate, e.g. ValidatedDocuments)."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document, variables = context.graphql_document, context.variables
        if variables and document is not None and not context.pre_execution_errors:
            errors = variable_errors(context.schema._schema, document, context.operation_name, variables)
            if errors:
                context.pre_execution_errors = errors
        yield


class HideSuggestionsRule(ValidationRule):
    """Validation without "Did you mean …" hints: with introspection off they would still
    spell out the schema's field, argument, type and enum names one guess at a time.

    graphql-core 3.3 hides them when `validate(..., hide_suggestions=True)`; strawberry does
    not pass that, so this rule (instantiated with the other rules, before any node is
    visited) sets the flag on the validation context they all share."""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        context._hide_suggestions = True


def without_suggestions(
    executor: type[StrawberryGraphQLCoreExecutionContext],
) -> type[StrawberryGraphQLCoreExecutionContext]:
    """The executor with suggestions hidden from variable coercion errors too."""

    class Executor(executor):  # type: ignore[valid-type,misc]
        @classmethod
        def build(cls, *args: Any, **kwargs: Any) -> Any:
            kwargs["hide_suggestions"] = True
            return super().build(*args, **kwargs)

    Executor.__name__ = Executor.__qualname__ = f"{executor.__name__}WithoutSuggestions"
    return Executor
