"""Note bodies: the rich text subset the product allows, sanitised by nh3 (ammonia).

The sanitiser's cost grows faster than its input (40,000 nested lists took 40 s), so a note's
markup is measured before nh3 sees it: at most `NOTE_MAX_BYTES` of UTF-8, `NOTE_MAX_DEPTH`
levels of open tags and `NOTE_MAX_ELEMENTS` elements, all found by one linear pass. What nh3
returns is held to the same bytes and depth (it closes tags and adds attributes), so whatever
is stored can be sent back unchanged; links are at most `NOTE_MAX_URL` characters. Within those
limits the slowest markup found still costs ~10 ms of CPU to sanitise (20 levels of lists,
repeated), so the services run it in a thread (`clean_note_in_thread`); nh3 releases the GIL.
"""

from __future__ import annotations

import asyncio
import html
import re
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass

import nh3

from crm.errors import BadInput

NOTE_MAX_TEXT = 1500
NOTE_MAX_BYTES = 16 * 1024  # of submitted markup, UTF-8
NOTE_MAX_DEPTH = 20  # levels of open tags (a list in a list in a list with bold links is ~10)
NOTE_MAX_URL = 2048  # characters in a link's address, as stored
# Elements the parser builds, formatting it re-opens included: 16 KiB of closed tags make at
# most ~2,300 (`<b></b>`), of unclosed paragraphs 4,096 (`<p>x`).
NOTE_MAX_ELEMENTS = NOTE_MAX_BYTES // 4

# Bold, italic, underline, bullet and numbered lists, links; paragraphs and line breaks so
# that multi-line notes keep their shape. Nothing else survives: no scripts, styles,
# event handlers or images.
ALLOWED_TAGS = {"p", "br", "b", "strong", "i", "em", "u", "ul", "ol", "li", "a"}
ALLOWED_ATTRIBUTES = {"a": {"href"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto", "tel"}


@dataclass(frozen=True, slots=True)
class CleanNote:
    html: str
    text_length: int


# --------------------------------------------------------------------------------------
# Before nh3: size, depth and elements, in one linear pass
# --------------------------------------------------------------------------------------

# A tag (`<name ...>` or `</name ...>`; it ends at `>` or where the next `<` begins) or a run
# of text. A `<` not followed by a name is text to the HTML parser, and so here.
_TOKEN = re.compile(r"<(/?)([A-Za-z][^\s/<>]*)[^<>]*>?|[^<]+|<")  # text: both groups empty
# Elements that never hold content, so never add a level.
_VOID = frozenset({
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "img", "input",
    "keygen", "link", "meta", "param", "source", "track", "wbr",
})  # fmt: skip
# A new one of these implicitly ends an open <p> (HTML's "close a p element").
_ENDS_P = frozenset({
    "address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
    "li", "main", "menu", "nav", "ol", "p", "pre", "section", "table", "ul",
})  # fmt: skip
# HTML's formatting elements: the parser re-opens them when another element's end closed them.
_FORMATTING = frozenset(
    {"a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u"}
)
# A new <li> ends the open <li> of the same list; <dd>/<dt> likewise within a <dl>.
_ENDS_SIBLING = {
    "li": ("li", frozenset({"ul", "ol"})),
    "dd": ("dd", frozenset({"dl"})),
    "dt": ("dt", frozenset({"dl"})),
}


@dataclass(frozen=True, slots=True)
class MarkupShape:
    depth: int  # the deepest level of open elements
    elements: int  # elements the parser opens, counting formatting it re-opens


def markup_shape(
    markup: str, max_depth: int = NOTE_MAX_DEPTH, max_elements: int = NOTE_MAX_ELEMENTS
) -> MarkupShape:
    """How deep and how many elements an HTML parser would build, found without parsing; the
    scan stops as soon as either passes its maximum.

    A model of the parser's stack, not the parser: end tags close up to the nearest open
    element of their name (stray ones are ignored), void elements never open, and the
    implicit ends people rely on (`<p>a<p>b`, `<li>a<li>b`) are honoured, so sloppy but
    ordinary markup is not refused. Formatting elements (bold, italic, links, ...) closed by
    another element's end stay active, as in the parser, and are re-opened at the next text:
    `<p><b>a</p>b` is `<p><b>a</b></p><b>b</b>`. Counting those re-openings bounds the
    parser's work: 16 KiB of `<p><b c=N></p>x` (a new bold left open in each paragraph) cost
    nh3 100+ ms, 19 bold tags re-opened in each of 2,000 paragraphs 30 ms. Where the model
    differs from the parser it errs high (tags inside comments or attribute values count,
    identical formatting elements are not merged, table cells do not end formatting).
    Linear: one regex step per tag or run of text, and the two lists it walks never hold
    more than `max_depth + 1` names between them."""
    stack: list[str] = []
    active: list[str] = []  # closed by another element's end; re-opened at the next text
    deepest = elements = 0
    for closing, name in _TOKEN.findall(markup):
        if not name:  # text, a lone "<" included
            if active:
                stack.extend(active)
                elements += len(active)
                active.clear()
            continue
        name = name.lower()
        if closing:
            if name in stack or name in active:
                _close(stack, active, name)
            continue
        if name in _VOID:
            continue
        if name in _ENDS_P and "p" in stack:
            _close(stack, active, "p")
        sibling = _ENDS_SIBLING.get(name)
        if sibling and sibling[0] in stack:
            _close(stack, active, sibling[0], stop=sibling[1])
        stack.append(name)
        elements += 1
        # What is active goes on top of the stack at the next text: counted now, so that
        # neither list outgrows the limit while no text comes.
        deepest = max(deepest, len(stack) + len(active))
        if deepest > max_depth or elements > max_elements:
            break
    return MarkupShape(deepest, elements)


def _close(stack: list[str], active: list[str], name: str, stop: frozenset[str] = frozenset()) -> None:
    """Pop up to and including the nearest open `name`, unless an element in `stop` comes first;
    formatting elements popped on the way become active again. An end tag for an element that
    is only active (`<p><b>a</p></b>`) ends it."""
    for index in range(len(stack) - 1, -1, -1):
        if stack[index] == name:
            active.extend(n for n in stack[index + 1 :] if n in _FORMATTING)
            del stack[index:]
            return
        if stack[index] in stop:
            return
    if name in active:
        del active[len(active) - 1 - active[::-1].index(name)]


def check_markup_size(body: str) -> None:
    """Refuse markup over `NOTE_MAX_BYTES` of UTF-8 (or not encodable as UTF-8)."""
    # Every character is at least one UTF-8 byte: a long string is refused without encoding it.
    if len(body) > NOTE_MAX_BYTES:
        raise BadInput(_too_big(f"at least {len(body)}"), field="body")
    try:
        size = len(body.encode("utf-8"))
    except UnicodeEncodeError as exc:  # a lone surrogate: not text, and nh3 cannot take it
        raise BadInput(
            f"a note cannot contain unpaired surrogate characters (at position {exc.start})", field="body"
        ) from exc
    if size > NOTE_MAX_BYTES:
        raise BadInput(_too_big(str(size)), field="body")


def check_markup_bounds(body: str) -> None:
    """Refuse markup nh3 should not be asked to parse: too many bytes, nested too deep, or
    building too many elements."""
    check_markup_size(body)
    shape = markup_shape(body)
    if shape.depth > NOTE_MAX_DEPTH:
        raise BadInput(
            f"a note's markup nests at most {NOTE_MAX_DEPTH} levels of tags (elements inside "
            f"elements); this one nests deeper",
            field="body",
        )
    if shape.elements > NOTE_MAX_ELEMENTS:
        raise BadInput(
            f"a note's markup makes at most {NOTE_MAX_ELEMENTS} elements, counting bold, italic, "
            "underline and links that are left open and so re-opened in every later paragraph; "
            "this one makes more: close them where they end",
            field="body",
        )


def _too_big(size: str) -> str:
    return f"a note's markup is at most {NOTE_MAX_BYTES} bytes (16 KiB of UTF-8); this one has {size}"


# --------------------------------------------------------------------------------------
# After nh3: what is stored
# --------------------------------------------------------------------------------------

# nh3 serialises every attribute double-quoted with `"` escaped, so a link's address in clean
# markup is exactly this group (entity-encoded).
_CLEAN_HREF = re.compile(r'<a href="([^"]*)"')


def _only_allowed(tag: str, attribute: str, value: str) -> str | None:
    # nh3 keeps a few generic attributes (title, lang) on every tag by default; a note keeps
    # nothing but a link's target.
    # `rel` is the one nh3 itself sets from link_rel.
    if attribute in ALLOWED_ATTRIBUTES.get(tag, ()) or (tag, attribute) == ("a", "rel"):
        return value
    return None


def clean_note(body: str) -> CleanNote:
    """Sanitise a note's markup, or refuse it with a BadInput on `body` naming the limit it broke."""
    body = body or ""
    check_markup_bounds(body)
    return _sanitise(body)


async def clean_note_in_thread(body: str) -> CleanNote:
    """`clean_note` off the event loop: measuring the markup's shape is a Python loop over its
    tags (up to ~5 ms for 16 KiB), and nh3 takes up to ~10 ms more. The byte limit, a C-speed
    check, is applied first on the loop, so oversized markup never costs a thread."""
    body = body or ""
    check_markup_size(body)
    return await asyncio.to_thread(clean_note, body)


def _sanitise(body: str) -> CleanNote:
    cleaned = nh3.clean(
        body,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_only_allowed,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    ).strip()
    for href in _CLEAN_HREF.findall(cleaned):
        if len(href) > NOTE_MAX_URL and len(url := html.unescape(href)) > NOTE_MAX_URL:
            raise BadInput(
                f"a link's address is at most {NOTE_MAX_URL} characters; one here has {len(url)}",
                field="body",
            )
    # nh3 closes open tags, adds `rel="noopener noreferrer nofollow"` to links, escapes `&` and
    # `<` in text, and its parser re-opens formatting tags in each paragraph (`<p><b c=1></p>x`):
    # markup within the limits can come out beyond them, and what is stored must be accepted
    # again when a client sends it back.
    stored = len(cleaned.encode("utf-8"))
    if stored > NOTE_MAX_BYTES:
        raise BadInput(
            f"a note's markup is at most {NOTE_MAX_BYTES} bytes once cleaned (tags closed, links "
            f"given rel attributes); this one comes to {stored}: use fewer tags or links",
            field="body",
        )
    if markup_shape(cleaned).depth > NOTE_MAX_DEPTH:
        raise BadInput(
            f"a note's markup nests at most {NOTE_MAX_DEPTH} levels of tags once cleaned (formatting "
            "left open is re-opened in each paragraph); close bold, italic and links where they end",
            field="body",
        )
    length = len(visible_text(cleaned).strip())
    if length == 0:
        raise BadInput("a note needs some text", field="body")
    if length > NOTE_MAX_TEXT:
        raise BadInput(
            f"a note holds at most {NOTE_MAX_TEXT} characters of text; this one has {length}",
            field="body",
        )
    return CleanNote(cleaned, length)


# --------------------------------------------------------------------------------------
# Visible text, cached within a byte budget
# --------------------------------------------------------------------------------------


class _TextCache:
    """A least-recently-used map from markup to its visible text, bounded by the bytes it holds.

    Counting entries was not enough: 4,096 entries of a 2 MB note held ~1 GB. Markup above
    `max_entry_bytes` (only notes stored before the limits existed) is computed each time
    rather than evicting everything else. Thread-safe: clean_note may run off the event loop."""

    def __init__(self, max_bytes: int, max_entry_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, markup: str) -> str | None:
        with self._lock:
            entry = self._entries.get(markup)
            if entry is None:
                return None
            self._entries.move_to_end(markup)
            return entry[0]

    def put(self, markup: str, text: str) -> None:
        size = sys.getsizeof(markup) + sys.getsizeof(text)
        if size > self.max_entry_bytes:
            return
        with self._lock:
            if markup in self._entries:
                return
            self._entries[markup] = (text, size)
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self.bytes -= evicted

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0


# 8 MiB: thousands of ordinary notes (a few hundred bytes each), a few hundred of the largest.
_visible_text_cache = _TextCache(max_bytes=8 * 1024 * 1024, max_entry_bytes=256 * 1024)


def visible_text(markup: str) -> str:
    """The characters a reader sees: tags dropped, entities decoded.

    Cached: every card read shows each note's text, and a note's body rarely changes."""
    text = _visible_text_cache.get(markup)
    if text is None:
        text = html.unescape(nh3.clean(markup, tags=set(), attributes={}))
        _visible_text_cache.put(markup, text)
    return text
