"""Validation results kept per parsed document.

strawberry's `ValidationCache` keys an LRU cache on the parsed document, and hashing a
document walks every node of its tree: 55 µs for the card query, on every request, to find
a result that never changes. `ParserCache` hands back the same document object for the same
text, so this cache keys on the object itself: the entry holds the schema, the document and
the rules it was computed for, so their ids stay theirs while it lives. A document parsed
anew (a text the parser cache no longer holds) is simply validated again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

MAX_DOCUMENTS = 256
_RESULTS: OrderedDict[tuple[int, ...], tuple[Any, Any, tuple[Any, ...], list[Any]]] = OrderedDict()


class ValidatedDocuments(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        schema, document = context.schema._schema, context.graphql_document
        rules = tuple(context.validation_rules)
        key = (id(schema), id(document), *map(id, rules))
        entry = _RESULTS.get(key)
        if entry is not None and entry[0] is schema and entry[1] is document and entry[2] == rules:
            _RESULTS.move_to_end(key)
            errors = entry[3]
        else:
            errors = validate_document(schema, document, rules)
            _RESULTS[key] = (schema, document, rules, errors)
            if len(_RESULTS) > MAX_DOCUMENTS:
                _RESULTS.popitem(last=False)
        context.pre_execution_errors = errors
        yield
