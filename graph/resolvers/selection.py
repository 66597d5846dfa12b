"""Whether a field's selection asks for a field further down, read from the document.

A connection resolver that already holds a page can load what its items' fields would each
load (a history item's call, message or lead; a document's line items), so that those fields
become plain attributes instead of one awaited resolver per item. It loads them only when the
query selects them, so a query that does not ask for them runs no more statements than before.

The answer is conservative: a field under `@include(if: false)` / `@skip(if: true)` or under an
inline fragment on another type still counts as selected (loading it costs a statement, never a
wrong answer). Answers are cached per field node (kept, so its id cannot be reused).
"""

from __future__ import annotations

from typing import Any

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode

_CACHE: dict[tuple[int, tuple[str, ...]], tuple[Any, bool]] = {}
_CACHE_MAX = 4096


def selects(info: Any, *path: str) -> bool:
    """True when the field being resolved selects `path` (field names, aliases allowed), e.g.
    selects(info, "edges", "node")."""
    raw = info._raw_info
    nodes = tuple(raw.field_nodes)
    key = (id(nodes[0]), path)
    cached = _CACHE.get(key)
    if cached is not None and cached[0] is nodes[0] and len(nodes) == 1:
        return cached[1]
    found = any(_under(node, path, raw.fragments, set()) for node in nodes)
    if len(nodes) == 1:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = (nodes[0], found)
    return found


def _under(node: Any, path: tuple[str, ...], fragments: dict[str, Any], seen: set[str]) -> bool:
    if not path:
        return True
    selection_set = getattr(node, "selection_set", None)
    for selection in selection_set.selections if selection_set is not None else ():
        if isinstance(selection, FieldNode):
            if selection.name.value == path[0] and _under(selection, path[1:], fragments, seen):
                return True
        elif isinstance(selection, InlineFragmentNode):
            if _under(selection, path, fragments, seen):
                return True
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen and _under(fragment, path, fragments, seen | {name}):
                return True
    return False
