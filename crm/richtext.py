"""Note bodies: the rich text subset the product allows, sanitised by nh3 (ammonia)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import lru_cache

import nh3

from crm.errors import BadInput

NOTE_MAX_TEXT = 1500

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


def _only_allowed(tag: str, attribute: str, value: str) -> str | None:
    # nh3 keeps a few generic attributes (title, lang) on every tag by default; a note keeps
    # nothing but a link's target.
    # `rel` is the one nh3 itself sets from link_rel.
    if attribute in ALLOWED_ATTRIBUTES.get(tag, ()) or (tag, attribute) == ("a", "rel"):
        return value
    return None


@lru_cache(maxsize=4096)
def visible_text(markup: str) -> str:
    """The characters a reader sees: tags dropped, entities decoded.

    Cached: every card read shows each note's text, and a note's body rarely changes."""
    return html.unescape(nh3.clean(markup, tags=set(), attributes={}))


def clean_note(body: str) -> CleanNote:
    cleaned = nh3.clean(
        body or "",
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_only_allowed,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    ).strip()
    length = len(visible_text(cleaned).strip())
    if length == 0:
        raise BadInput("a note needs some text", field="body")
    if length > NOTE_MAX_TEXT:
        raise BadInput(
            f"a note holds at most {NOTE_MAX_TEXT} characters of text; this one has {length}",
            field="body",
        )
    return CleanNote(cleaned, length)
