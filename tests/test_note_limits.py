"""Bounded notes (issue 9, item 2): the markup's bytes, its nesting and its links are limited.

Before, only a note's visible text was capped: a link holding 2 MB was accepted with one visible
character, and 40,000 nested lists held the event loop for 40 s while nh3 parsed them.
"""

from __future__ import annotations

from typing import Any

import pytest

from crm.errors import BadInput
from crm.richtext import (
    NOTE_MAX_BYTES,
    NOTE_MAX_DEPTH,
    NOTE_MAX_ELEMENTS,
    NOTE_MAX_URL,
    _visible_text_cache,
    check_markup_bounds,
    clean_note,
    visible_text,
)
from tests.conftest import Api, Tenant
from tests.test_notes import ADD, EDIT, add, new_contact

CARD = "query($id: ID!) { contact(id: $id) { notes { id body } journey(first: 1) { totalCount } } }"


async def card(api: Api, contact_id: str) -> dict[str, Any]:
    return (await api.data(CARD, {"id": contact_id}))["contact"]


async def refused_note(api: Api, contact_id: str, body: str) -> str:
    """addNote's refusal message; asserts it is BAD_USER_INPUT on `body` and changed nothing."""
    before = await card(api, contact_id)
    error = await api.error(ADD, {"i": {"contactId": contact_id, "body": body}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["field"] == "body", error
    assert await card(api, contact_id) == before
    return error["message"]


def padded(body: str, size: int) -> str:
    """`body` followed by an HTML comment (stripped when stored) bringing it to `size` UTF-8 bytes."""
    room = size - len(body.encode()) - len("<!---->")
    assert room >= 0
    return body + "<!--" + "x" * room + "-->"


def link(url: str) -> str:
    return f'<p><a href="{url}">x</a></p>'


def nested(levels: int) -> str:
    """A list inside a list ... `levels` open tags deep (each level of list is two: ul, li)."""
    half, odd = divmod(levels, 2)
    return "<ul><li>" * half + ("<b>x</b>" if odd else "x") + "</li></ul>" * half


# --------------------------------------------------------------------------------------
# The attacks from the issue
# --------------------------------------------------------------------------------------


def test_a_link_holding_two_megabytes_is_refused_before_it_is_parsed() -> None:
    # The note, given to the service's sanitiser directly: whatever limit the HTTP
    # layer puts on request bodies, the note itself is bounded.
    with pytest.raises(BadInput) as refused:
        clean_note(link("https://example.com/" + "a" * 2_000_000))

    assert refused.value.field == "body"
    assert f"at most {NOTE_MAX_BYTES} bytes" in refused.value.message


async def test_a_link_holding_half_a_megabyte_is_refused_by_add_note(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)

    message = await refused_note(as_admin, contact_id, link("https://example.com/" + "a" * 500_000))

    assert f"at most {NOTE_MAX_BYTES} bytes" in message


async def test_forty_thousand_nested_lists_are_refused(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)

    message = await refused_note(as_admin, contact_id, "<ul><li>" * 40000 + "x" + "</li></ul>" * 40000)

    assert f"at most {NOTE_MAX_BYTES} bytes" in message


async def test_formatting_reopened_in_every_paragraph_is_refused(as_admin: Api, acme: Tenant) -> None:
    """Two tags deep as written, but the parser re-opens each unclosed <b> in every later
    paragraph: stored, it would nest forty deep, and 16 KiB of it cost nh3 100+ ms."""
    contact_id = await new_contact(as_admin)
    body = "".join(f"<p><b c={n}></p>x" for n in range(40))

    message = await refused_note(as_admin, contact_id, body)

    assert f"at most {NOTE_MAX_DEPTH} levels" in message


async def test_formatting_reopened_thousands_of_times_is_refused(as_admin: Api, acme: Tenant) -> None:
    """Twenty levels deep at most, but 19 bold tags left open are re-opened in each of 300
    paragraphs: 6,000 elements for the parser to build from 2.6 KB."""
    contact_id = await new_contact(as_admin)
    body = "<p>" + "".join(f"<b c={n}>" for n in range(19)) + "</p><p>x" * 300

    message = await refused_note(as_admin, contact_id, body)

    assert f"at most {NOTE_MAX_ELEMENTS} elements" in message


def test_4096_elements_pass_the_scan_and_4097_do_not() -> None:
    check_markup_bounds("<p>" * NOTE_MAX_ELEMENTS)
    with pytest.raises(BadInput) as refused:
        check_markup_bounds("<p>" * (NOTE_MAX_ELEMENTS + 1))

    assert refused.value.field == "body"
    assert f"at most {NOTE_MAX_ELEMENTS} elements" in refused.value.message


async def test_bold_left_open_across_a_few_paragraphs_is_stored(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)

    note = await add(as_admin, contact_id, "<p><b>bold" + "</p><p>still bold" * 10 + "</p>")

    assert note["body"].count("<b>") == 11


# --------------------------------------------------------------------------------------
# Each limit: just under is stored, just over is refused with the number
# --------------------------------------------------------------------------------------


async def test_markup_of_exactly_16_kib_is_stored_and_one_byte_more_refused(
    as_admin: Api, acme: Tenant
) -> None:
    contact_id = await new_contact(as_admin)
    text = "<p>" + "€" * 1500 + "</p>"  # the most visible text a note holds, 3 bytes a character

    note = await add(as_admin, contact_id, padded(text, NOTE_MAX_BYTES))
    message = await refused_note(as_admin, contact_id, padded(text, NOTE_MAX_BYTES + 1))

    assert note["body"] == text
    assert note["textLength"] == 1500
    assert message == (
        f"a note's markup is at most {NOTE_MAX_BYTES} bytes (16 KiB of UTF-8); "
        f"this one has {NOTE_MAX_BYTES + 1}"
    )


async def test_twenty_levels_of_tags_are_stored_and_twenty_one_refused(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)

    note = await add(as_admin, contact_id, nested(NOTE_MAX_DEPTH))
    message = await refused_note(as_admin, contact_id, nested(NOTE_MAX_DEPTH + 1))

    assert note["body"] == nested(NOTE_MAX_DEPTH)
    assert f"at most {NOTE_MAX_DEPTH} levels of tags" in message


async def test_sloppy_but_shallow_markup_is_not_counted_as_deep(as_admin: Api, acme: Tenant) -> None:
    """Unclosed <p> and <li>, void tags and stray end tags: an HTML parser keeps this shallow."""
    contact_id = await new_contact(as_admin)
    body = "<ul>" + "<li>item<br>" * 30 + "</ul>" + "<p>para" * 30 + "</i></b>" * 30

    note = await add(as_admin, contact_id, body)

    assert note["body"].count("<li>") == 30


async def test_a_link_of_2048_characters_is_stored_and_2049_refused(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    base = "https://example.com/?q="
    longest = base + "a" * (NOTE_MAX_URL - len(base))
    # Entities count as the characters they stand for: 2048 characters written with `&amp;`s.
    with_entities = base + "&amp;" * (NOTE_MAX_URL - len(base))

    stored = await add(as_admin, contact_id, link(longest))
    stored_too = await add(as_admin, contact_id, link(with_entities))
    message = await refused_note(as_admin, contact_id, link(longest + "a"))

    assert f'href="{longest}"' in stored["body"]
    assert visible_text(stored_too["body"]) == "x"
    assert (
        message == f"a link's address is at most {NOTE_MAX_URL} characters; one here has {NOTE_MAX_URL + 1}"
    )


async def test_markup_that_outgrows_the_limit_when_cleaned_is_refused(as_admin: Api, acme: Tenant) -> None:
    """Each link gains `rel="noopener noreferrer nofollow"`: what would be stored is over 16 KiB."""
    contact_id = await new_contact(as_admin)
    body = '<a href="https://e.co">x</a>' * (NOTE_MAX_BYTES // 28)
    assert len(body.encode()) <= NOTE_MAX_BYTES

    message = await refused_note(as_admin, contact_id, body)

    assert f"at most {NOTE_MAX_BYTES} bytes once cleaned" in message


# --------------------------------------------------------------------------------------
# editNote takes the same limits
# --------------------------------------------------------------------------------------


URL_2048 = "https://example.com/" + "a" * (NOTE_MAX_URL - len("https://example.com/"))


@pytest.mark.parametrize(
    ("under", "over", "says"),
    [
        (padded("<p>edited</p>", NOTE_MAX_BYTES), padded("<p>edited</p>", NOTE_MAX_BYTES + 1), "bytes"),
        (nested(NOTE_MAX_DEPTH), nested(NOTE_MAX_DEPTH + 1), f"at most {NOTE_MAX_DEPTH} levels"),
        (link(URL_2048), link(URL_2048 + "a"), f"at most {NOTE_MAX_URL} characters"),
    ],
    ids=["bytes", "depth", "link"],
)
async def test_edit_note_is_held_to_the_same_limits(
    as_admin: Api, acme: Tenant, under: str, over: str, says: str
) -> None:
    contact_id = await new_contact(as_admin)
    note = await add(as_admin, contact_id, "<p>short</p>")

    edited = (await as_admin.data(EDIT, {"i": {"id": note["id"], "body": under}}))["editNote"]
    before = await card(as_admin, contact_id)
    error = await as_admin.error(EDIT, {"i": {"id": note["id"], "body": over}})

    assert edited["body"] != note["body"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "body"
    assert says in error["message"]
    assert await card(as_admin, contact_id) == before


# --------------------------------------------------------------------------------------
# The visible-text cache holds bytes, not just entries
# --------------------------------------------------------------------------------------


def test_the_visible_text_cache_stays_within_its_byte_budget() -> None:
    """4,096 entries of a 2 MB note once held ~1 GB; now the cache's size is what it holds."""
    _visible_text_cache.clear()
    try:
        for n in range(1200):  # ~16 KiB each: twice the budget's worth
            markup = f"<p>{n}</p><!--" + "x" * 16_000 + "-->"
            assert visible_text(markup) == str(n)
        huge = "<p>big</p><!--" + "x" * 2_000_000 + "-->"
        assert visible_text(huge) == "big"

        assert 0 < _visible_text_cache.bytes <= _visible_text_cache.max_bytes
        assert _visible_text_cache.get(huge) is None  # never cached: computed each time
        assert _visible_text_cache.get(f"<p>1199</p><!--{'x' * 16_000}-->") == "1199"  # the newest stay
    finally:
        _visible_text_cache.clear()


# --------------------------------------------------------------------------------------
# Other long text from the API: refused before it is parsed, without being quoted back
# --------------------------------------------------------------------------------------

CREATE_CONTACT = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "a" * 100_000 + "@example.com"),
        ("phone", "1" * 100_000),
        ("ipAddress", "1" * 100_000),
    ],
    ids=["email", "phone", "ipAddress"],
)
async def test_a_long_value_in_a_parsed_contact_field_is_refused_briefly(
    as_admin: Api, acme: Tenant, field: str, value: str
) -> None:
    error = await as_admin.error(CREATE_CONTACT, {"i": {"firstName": "Ada", field: value}})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field
    assert len(error["message"]) < 200
