"""Query cost: the worst-case number of objects a document can return, checked before it runs.

Depth alone bounds nothing: `contact { calls { contact { calls { ... } } } }` stays within
twelve levels and still multiplies a hundred calls by a hundred at every level. So every
document is costed before execution the way GitHub counts nodes and Shopify counts its
"calculated query cost": each object a field can return counts 1, and a list field
multiplies everything below it by the most items it can hold -- its `first` (or `last`)
argument when it has one, else its bound in `LIST_BOUNDS`. A connection's `edges` and `nodes`
take the page size of the field that returned the connection. Scalars and enums cost nothing
(they are leaves of objects already counted). Aliases count each time, `@include`/`@skip`
count as included, fragments count where their type condition can apply (for an interface or
union, the most expensive possible type), a subscription is costed per event and a mutation
by its selection.

Variables are per request but the document is not: the analysis of a parsed document is
kept (by identity, as `graph.validation` does) as a small formula whose only free parts are
the page sizes that come from variables. A document without such variables -- the card
query -- folds to a number, so a request pays one dictionary lookup.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from crm.imports.mapping import CONTACT_FIELDS as IMPORT_CONTACT_FIELDS
from crm.imports.mapping import MAX_SUGGESTIONS as IMPORT_MAX_SUGGESTIONS
from crm.imports.reading import MAX_COLUMNS as IMPORT_MAX_COLUMNS
from crm.imports.reading import SAMPLE_ROWS as IMPORT_SAMPLE_ROWS
from crm.services.accounts import MAX_STATUSES, MAX_USERS
from crm.services.conversions import MAX_FIELDS, SUMMARY_LABELS
from crm.services.custom_fields import MAX_FIELDS as MAX_CUSTOM_FIELDS
from crm.services.custom_fields import MAX_OPTIONS as MAX_CUSTOM_OPTIONS
from crm.services.header import MAX_VALUES as HEADER_MAX_VALUES
from crm.services.lifecycle import MAX_IDS
from crm.services.tags import MAX_TAGS
from crm.services.views import MAX_COLUMNS as MAX_VIEW_COLUMNS
from crm.services.views import MAX_LISTED_VIEWS
from crm.services.views import MAX_ORDER as MAX_VIEW_ORDER
from crm.services.webhooks import MAX_ENDPOINTS
from graph.ids import MAX_PAGE
from graph.resolvers.merge_loaders import MAX_ABSORBED, MAX_CANDIDATES, MAX_FILLED, MAX_MOVED_KINDS

# GitHub's limit of 500,000 nodes per call, counted more strictly here (every object, not only
# connection nodes). A page of 50 of the fullest cards costs about 180,000, a page of 100 about
# 350,000; three nested levels of a card's lists cost over 1,000,000 (README, "Rules the API
# enforces", gives the figures and the worst query this accepts).
DEFAULT_COST_LIMIT = 500_000

# The arguments that size a page; `last` reads a page backwards (Contact.messages).
PAGE_ARGUMENTS = ("first", "last")

# The one table of list bounds. A list field without a page argument can hold at most this
# many items; for a field with `first`/`last` it is the largest page the field accepts (what a
# `first` without a value or with a variable may be). tests/test_query_cost.py walks the schema
# and fails for a list field, or a page argument, that is missing here: a new list declares its
# bound where it is added.
LIST_BOUNDS: dict[str, int] = {
    # Paged fields: `first` (and `last`) are 1..MAX_PAGE (graph.ids.page_size).
    "Query.contacts": MAX_PAGE,
    "Contact.journey": MAX_PAGE,
    "Contact.messages": MAX_PAGE,
    "Contact.communications": MAX_PAGE,
    "Referral.invited": MAX_PAGE,  # graph/schema/referrals.py
    "Rewards.ledger": MAX_PAGE,
    "WebhookEndpoint.deliveries": MAX_PAGE,
    "Contact.conversions": MAX_PAGE,
    "Contact.attachments": MAX_PAGE,  # graph/schema/attachments.py
    "Query.conversions": MAX_PAGE,
    # A card's own lists. They are getting `first` (default and maximum 100); until then 100
    # is the planning bound (a card showing more pages them), and the same number after.
    "Contact.calls": MAX_PAGE,
    "Contact.deals": MAX_PAGE,
    "Contact.notes": MAX_PAGE,
    "Contact.tags": MAX_PAGE,
    "Contact.utms": MAX_PAGE,
    "Contact.formAnswers": MAX_PAGE,
    "Contact.leads": MAX_PAGE,
    "Query.leads": MAX_PAGE,
    "Lead.answers": 100,  # crm.services.contacts.MAX_FORM_ANSWERS per lead
    "Lead.utms": 20,  # crm.services.contacts.MAX_UTMS per request; a lead takes one
    "Query.forms": 1000,  # crm.services.leads.MAX_LISTED_FORMS
    # Bounded by what the services accept or what the code can produce.
    "Account.statuses": MAX_STATUSES,
    "Account.leadSources": HEADER_MAX_VALUES,  # leaves, like subStatuses
    "Account.actionPlans": HEADER_MAX_VALUES,
    "Account.salesCycles": HEADER_MAX_VALUES,
    "StatusOption.subStatuses": 30,  # leaves: documented, cost nothing
    "Account.tags": MAX_TAGS,  # the account's tag vocabulary
    "Conversion.record": len(SUMMARY_LABELS) + MAX_FIELDS,  # the summary's lines, then the user's fields
    "Conversion.fields": MAX_FIELDS,
    "Call.badges": 3,  # CANCELLED, RESCHEDULED, NEEDS_OUTCOME (leaves)
    "Contact.links": 20,  # one or two per card-link plugin
    # One per field an event changed: at most 17 (update_contact), 26 (a duplicated contact's
    # CONTACT_DUPLICATED: identity, status, SMS state, owners, tags).
    "JourneyEvent.changes": 30,
    "Query.users": MAX_USERS,  # the account's users
    "Query.apiKeys": 1000,  # the account's keys, revoked ones included
    "Query.plugins": 100,  # loaded plugins
    "PluginInfo.hooks": 100,  # leaves
    "Query.webhookEndpoints": MAX_ENDPOINTS,
    # Bulk lifecycle mutations name at most MAX_IDS contacts (crm.services.lifecycle).
    "ArchiveContactsPayload.contacts": MAX_IDS,
    "ArchiveContactsPayload.archivedIds": MAX_IDS,
    "ArchiveContactsPayload.skippedIds": MAX_IDS,
    "RestoreContactsPayload.contacts": MAX_IDS,
    "RestoreContactsPayload.restoredIds": MAX_IDS,
    "RestoreContactsPayload.skippedIds": MAX_IDS,
    "DeleteContactsPayload.deletedIds": MAX_IDS,
    "Query.webhookEvents": 100,  # leaves
    # Merges (graph/schema/merges.py): a card's merges are paged; the rest is bounded by the service.
    "Contact.merges": MAX_PAGE,
    "Contact.duplicateCandidates": MAX_CANDIDATES,
    "ContactMerge.absorbed": MAX_ABSORBED,
    "ContactMerge.moved": MAX_MOVED_KINDS,
    "ContactMerge.filled": MAX_FILLED,
    "UnmergeContactsPayload.contacts": MAX_ABSORBED + 1,  # the primary and each restored contact
    "WebhookEndpoint.events": 100,  # crm.services.webhooks.MAX_EVENTS (leaves)
    # Quotes, jobs and invoices (graph/schema/billing.py): paged; a document has at most 100 lines.
    "Contact.quotes": MAX_PAGE,
    "Contact.jobs": MAX_PAGE,
    "Contact.invoices": MAX_PAGE,
    "Query.invoices": MAX_PAGE,
    "Quote.lineItems": 100,  # crm.services.billing.MAX_LINE_ITEMS
    "Invoice.lineItems": 100,
    # Custom fields (graph/schema/custom_fields.py): at most MAX_CUSTOM_FIELDS per account.
    "Contact.customFields": MAX_CUSTOM_FIELDS,
    "Query.customFields": MAX_CUSTOM_FIELDS,
    "CustomField.options": MAX_CUSTOM_OPTIONS,  # leaves
    # Tasks and upcoming actions (graph/schema/tasks.py): paged, `first` 1..MAX_PAGE.
    "Contact.tasks": MAX_PAGE,
    "Contact.upcomingActions": MAX_PAGE,
    "Query.myTasks": MAX_PAGE,
    # The inbox (graph/schema/notifications.py): paged; markNotificationsRead takes 1..100 ids.
    "Query.notifications": MAX_PAGE,
    "MarkNotificationsReadPayload.notifications": 100,  # crm.services.notifications.MAX_IDS
    # A call recording's active share links (graph/schema/recordings.py).
    "Recording.shares": 20,  # crm.services.recordings.MAX_ACTIVE_SHARES
    # Saved views and segments (graph/schema/views.py, segments.py; crm/services/views.py, segments.py).
    "Query.views": MAX_LISTED_VIEWS,  # the caller's own and the account's shared ones
    "View.orderBy": MAX_VIEW_ORDER,  # leaves (JSON)
    "View.columns": MAX_VIEW_COLUMNS,  # leaves
    "Query.segments": MAX_PAGE,
    "Segment.contacts": MAX_PAGE,
    "Contact.segments": MAX_PAGE,  # `first`: 1..100, and an account has at most 100 segments
    # Bulk jobs (graph/schema/jobs.py): a count per SkipReason; errors paged, `first` 1..MAX_PAGE.
    "BulkJob.skippedByReason": 20,  # crm.services.bulk.SkipReason has 12
    "BulkJob.errors": MAX_PAGE,
    # Imports (graph/schema/imports.py): a file has at most IMPORT_MAX_COLUMNS columns; the
    # preview shows IMPORT_SAMPLE_ROWS rows (of at most that many cells: leaves).
    "ImportPreview.columns": IMPORT_MAX_COLUMNS,
    "ImportPreview.sample": IMPORT_SAMPLE_ROWS,
    "ImportColumn.suggestions": IMPORT_MAX_SUGGESTIONS,  # leaves
    "ImportTemplate.columns": len(IMPORT_CONTACT_FIELDS) + MAX_CUSTOM_FIELDS,  # leaves
}

# `__schema` and `__type` answer from the schema itself, whatever the data: each costs a
# fixed amount, whatever is selected below it: graphql-core's full introspection query returns
# about 1,500 objects for this schema, so 5,000 leaves it room to grow.
INTROSPECTION_COST = 5_000
_INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


def list_bound(type_name: str, field_name: str) -> int:
    # An undeclared list still gets a bound rather than none; the schema test makes it rare.
    return LIST_BOUNDS.get(f"{type_name}.{field_name}", MAX_PAGE)


def is_connection(type_: Any) -> bool:
    return (
        isinstance(type_, GraphQLObjectType)
        and type_.name.endswith("Connection")
        and ("edges" in type_.fields or "nodes" in type_.fields)
    )


def is_list(type_: Any) -> bool:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


def unbounded_fields(schema: GraphQLSchema) -> list[str]:
    """Fields whose size the cost cannot know: a list with neither a page argument nor a bound
    in LIST_BOUNDS, a page argument with no maximum there, a connection without a page
    argument. Empty for a schema every list of which declared its bound."""
    problems = []
    for type_ in schema.type_map.values():
        if type_.name.startswith("__") or not hasattr(type_, "fields") or not hasattr(type_, "interfaces"):
            continue  # introspection, scalars, enums, unions and input types
        for name, field in type_.fields.items():
            key = f"{type_.name}.{name}"
            paged = any(argument in field.args for argument in PAGE_ARGUMENTS)
            if paged and key not in LIST_BOUNDS:
                problems.append(f"{key}: its first/last argument has no maximum in LIST_BOUNDS")
            elif is_connection(get_named_type(field.type)) and not paged:
                problems.append(f"{key}: a connection without a first/last argument")
            elif (
                is_list(field.type)
                and not paged
                and key not in LIST_BOUNDS
                and not (is_connection(type_) and name in ("edges", "nodes"))  # sized by their page
            ):
                problems.append(f"{key}: a list with neither `first` nor a bound in LIST_BOUNDS")
    return problems


# --------------------------------------------------------------------------------------
# The formula: numbers where the document fixes them, page sizes from variables where not
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VariableSize:
    """A page size given by a variable: its value, clamped to the field's maximum (a larger
    `first` is refused by the field itself), or `default` when the request leaves it out."""

    name: str
    default: int
    maximum: int

    def value(self, variables: Mapping[str, Any]) -> int:
        if self.name not in variables:
            return self.default
        raw = variables[self.name]
        if isinstance(raw, bool) or not isinstance(raw, int):
            # null or a value of the wrong type: coercion refuses the latter; count the worst.
            return self.maximum
        return min(max(raw, 0), self.maximum)


@dataclass(frozen=True, slots=True)
class Times:
    """`size` items, each costing `each`."""

    size: int | VariableSize | tuple[int | VariableSize, ...]
    each: Term

    def value(self, variables: Mapping[str, Any]) -> int:
        return _size(self.size, variables) * evaluate(self.each, variables)


@dataclass(frozen=True, slots=True)
class Sum:
    terms: tuple[Term, ...]

    def value(self, variables: Mapping[str, Any]) -> int:
        return sum(evaluate(term, variables) for term in self.terms)


@dataclass(frozen=True, slots=True)
class Largest:
    """An abstract type's selection: whichever possible type costs most."""

    terms: tuple[Term, ...]

    def value(self, variables: Mapping[str, Any]) -> int:
        return max(evaluate(term, variables) for term in self.terms)


Term = int | Times | Sum | Largest


def _size(size: int | VariableSize | tuple[int | VariableSize, ...], variables: Mapping[str, Any]) -> int:
    if isinstance(size, int):
        return size
    if isinstance(size, VariableSize):
        return size.value(variables)
    # `first` and `last` both given: the field refuses that, but count the larger.
    return max(_size(part, variables) for part in size)


def evaluate(term: Term, variables: Mapping[str, Any]) -> int:
    return term if isinstance(term, int) else term.value(variables)


def _times(size: int | VariableSize | tuple[int | VariableSize, ...], each: Term) -> Term:
    if isinstance(size, int) and isinstance(each, int):
        return size * each
    if each == 0:
        return 0
    return Times(size, each)


def _sum(terms: list[Term]) -> Term:
    constant = sum(t for t in terms if isinstance(t, int))
    rest = [t for t in terms if not isinstance(t, int)]
    if not rest:
        return constant
    return Sum(tuple(rest) + ((constant,) if constant else ()))


def _largest(terms: list[Term]) -> Term:
    if not terms:
        return 0
    if all(isinstance(t, int) for t in terms):
        return max(terms)  # type: ignore[type-var]
    return terms[0] if len(terms) == 1 else Largest(tuple(terms))


# --------------------------------------------------------------------------------------
# From a document to its formula
# --------------------------------------------------------------------------------------


class _Compiler:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode):
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.variable_defaults: dict[str, int | None] = {}
        for definition in operation.variable_definitions or ():
            default = definition.default_value
            self.variable_defaults[definition.variable.name.value] = (
                int(default.value) if isinstance(default, IntValueNode) else None
            )
        self._memo: dict[tuple[Any, ...], Term] = {}

    def selection(self, type_: Any, selection_sets: list[SelectionSetNode], page: Any = None) -> Term:
        """The cost of what is selected below one object of `type_`."""
        if is_abstract_type(type_):
            possible = self.schema.get_possible_types(type_)
            return _largest([self._concrete(t, selection_sets, page) for t in possible])
        return self._concrete(type_, selection_sets, page)

    def _concrete(self, type_: GraphQLObjectType, selection_sets: list[SelectionSetNode], page: Any) -> Term:
        key = (type_.name, tuple(map(id, selection_sets)), page)
        if key not in self._memo:
            fields: dict[str, list[FieldNode]] = {}
            for selection_set in selection_sets:
                self._collect(type_, selection_set, fields, set())
            self._memo[key] = _sum([self._field(type_, nodes, page) for nodes in fields.values()])
        return self._memo[key]

    def _collect(
        self, type_: GraphQLObjectType, selection_set: SelectionSetNode, fields: dict[str, list[FieldNode]],
        seen: set[str],
    ) -> None:  # fmt: skip
        # Like graphql-core's collect_fields, minus @skip/@include: a document is costed as if
        # everything it could include were included.
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = selection.alias.value if selection.alias else selection.name.value
                fields.setdefault(name, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if self._applies(selection.type_condition, type_):
                    self._collect(type_, selection.selection_set, fields, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue
                seen.add(name)
                if self._applies(fragment.type_condition, type_):
                    self._collect(type_, fragment.selection_set, fields, seen)

    def _applies(self, condition: Any, type_: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        conditional = self.schema.get_type(condition.name.value)
        if conditional is type_:
            return True
        return is_abstract_type(conditional) and self.schema.is_sub_type(conditional, type_)  # type: ignore[arg-type]

    def _field(self, parent: GraphQLObjectType, nodes: list[FieldNode], page: Any) -> Term:
        name = nodes[0].name.value
        if name in _INTROSPECTION_FIELDS:
            return INTROSPECTION_COST
        field = parent.fields.get(name)
        if field is None:  # __typename, or a field validation has already refused
            return 0
        named = get_named_type(field.type)
        if is_leaf_type(named):
            return 0
        sub_sets = [n.selection_set for n in nodes if n.selection_set is not None]
        if is_connection(named):
            own_page = self._page(parent.name, name, field, nodes[0])
            # The connection object itself, then its edges/nodes sized by its page.
            return _sum([1, self.selection(named, sub_sets, own_page)])
        each = _sum([1, self.selection(named, sub_sets)])
        if not is_list(field.type):
            return each
        if any(argument in field.args for argument in PAGE_ARGUMENTS):
            size = self._page(parent.name, name, field, nodes[0])
        elif page is not None and is_connection(parent) and name in ("edges", "nodes"):
            size = page
        else:
            size = list_bound(parent.name, name)
        return _times(size, each)

    def _page(
        self, type_name: str, field_name: str, field: GraphQLField, node: FieldNode
    ) -> int | VariableSize | tuple[int | VariableSize, ...]:
        """How many items a paged field can return, from its first/last arguments."""
        maximum = list_bound(type_name, field_name)
        given = {a.name.value: a.value for a in node.arguments or () if a.name.value in PAGE_ARGUMENTS}
        if not given:
            # The field's own defaults; one with none (Contact.messages) picks its page itself.
            defaults = [field.args[a].default_value for a in PAGE_ARGUMENTS if a in field.args]
            return max(min(d, maximum) if isinstance(d, int) else maximum for d in defaults)
        sizes: list[int | VariableSize] = []
        for argument, value in given.items():
            if isinstance(value, IntValueNode):
                sizes.append(min(max(int(value.value), 0), maximum))
            elif isinstance(value, VariableNode):
                declared = field.args[argument].default_value
                fallback = self.variable_defaults.get(value.name.value)
                if fallback is None and isinstance(declared, int):
                    fallback = declared  # a variable left out leaves the argument at its default
                default = maximum if fallback is None else min(max(fallback, 0), maximum)
                sizes.append(VariableSize(value.name.value, default, maximum))
            else:  # null: the field picks its own page; count the most it may pick
                sizes.append(maximum)
        if len(sizes) == 1:
            return sizes[0]
        # `first` and `last` together: the field refuses that; count the larger.
        return tuple(sizes)


def operation_of(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == operation_name), None)


def formula(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None) -> Term:
    """The cost of the named operation as a function of the request's variables."""
    operation = operation_of(document, operation_name)
    if operation is None:  # execution refuses it before running anything
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    return _Compiler(schema, document, operation).selection(root, [operation.selection_set])


def document_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> int:
    return evaluate(formula(schema, document, operation_name), variables or {})


# --------------------------------------------------------------------------------------
# The check, before execution
# --------------------------------------------------------------------------------------

MAX_DOCUMENTS = 256
_FORMULAS: OrderedDict[tuple[int, int, str | None], tuple[Any, Any, Term]] = OrderedDict()


def _cached_formula(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None) -> Term:
    # Keyed by identity: graph.validation explains why (ParserCache hands back the same
    # document for the same text; hashing a document walks all of it). The entry keeps the
    # schema and document alive, so their ids are not reused while it is here.
    key = (id(schema), id(document), operation_name)
    entry = _FORMULAS.get(key)
    if entry is not None and entry[0] is schema and entry[1] is document:
        return entry[2]
    term = formula(schema, document, operation_name)
    _FORMULAS[key] = (schema, document, term)
    if len(_FORMULAS) > MAX_DOCUMENTS:
        _FORMULAS.popitem(last=False)
    return term


def too_costly(cost: int, limit: int) -> GraphQLError:
    return GraphQLError(
        f"this query could return up to {cost:,} objects; the limit is {limit:,}: ask for fewer items"
        " with `first`, select fewer nested lists, or split it into several queries",
        extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": limit},
    )


class QueryCost(SchemaExtension):
    """Refuses a document whose worst case exceeds the limit, before anything executes.

    It runs in the validation phase, after the document validated (graph.validation's
    extension sets the errors on entering, so this one comes after it): strawberry returns
    pre-execution errors without executing, for queries, mutations and subscriptions alike,
    over HTTP and WebSockets, whichever executor runs the operation.
    """

    def __init__(self, *, limit: int = DEFAULT_COST_LIMIT) -> None:
        self.limit = limit

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        schema, document = context.schema._schema, context.graphql_document
        if context.pre_execution_errors is None and document is not None:
            # Without a validation extension before this one, validate here (strawberry
            # would next), so a document is costed only once it is known to be valid.
            rules = tuple(context.validation_rules)
            context.pre_execution_errors = validate_document(schema, document, rules)
        if not context.pre_execution_errors and document is not None:
            term = _cached_formula(schema, document, context.operation_name)
            cost = term if isinstance(term, int) else term.value(context.variables or {})
            if cost > self.limit:
                context.pre_execution_errors = [too_costly(cost, self.limit)]
        yield
