"""Property facts from a configurable HTTP provider, cached per normalised address.

The provider contract (any service, or a small adapter in front of one, can implement it):

    GET {DOSSIER_PROPERTY_DATA_URL}?address=<one-line address, URL-encoded>
    Authorization: Bearer {DOSSIER_PROPERTY_DATA_KEY}        (only when the key is set)
    Accept: application/json

    200 {"estimate": 412000, "currency": "USD", "beds": 3, "baths": 2.5, "yearBuilt": 1987,
         "squareFeet": 1850, "url": "https://...", "source": "Acme Data"}
        every field optional; estimate a number or a decimal string; currency ISO 4217
        (default USD); url http(s) only; source defaults to the provider's host name.
    404 the provider knows no property at that address.

Answers are cached in the `property_facts` table for DOSSIER_PROPERTY_CACHE_SECONDS (default
7 days; 0 turns the cache off), "no property" (404) answers too, so a page of cards does not
ask again. A provider that is down, slow (DOSSIER_PROPERTY_TIMEOUT, default 5 s), answers an
error status or JSON of the wrong shape gives no facts (None) and a log line, and is asked
again next time: the card is shown without them.

Cache reads are batched: the cards of one page asking at once cost one SQL query, and one
address asked twice at once is fetched once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import httpx

from crm.contracts import CardAddress, PropertyFacts
from crm.services import property as property_cache

log = logging.getLogger("dossier.plugins.maps")

DEFAULT_CACHE_SECONDS = 7 * 24 * 3600
DEFAULT_TIMEOUT = 5.0
ADDRESS_KEY_MAX = 400  # property_facts.address_key
NOT_FOUND = {"found": False}
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class BadFacts(ValueError):
    """The provider's JSON does not follow the contract."""


def address_key(address: CardAddress) -> str:
    """One key per address however it was typed: case, accents' forms, dots and spacing ignored."""
    text = unicodedata.normalize("NFKC", address.one_line).casefold()
    text = re.sub(r"[.\s]+", " ", text)
    text = re.sub(r"\s*,\s*", ", ", text).strip(" ,")
    if len(text) <= ADDRESS_KEY_MAX:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _number(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadFacts(f"{key} must be a number, got {value!r}")
    return float(value)


def _integer(data: dict[str, Any], key: str) -> int | None:
    number = _number(data, key)
    if number is None:
        return None
    if not number.is_integer():
        raise BadFacts(f"{key} must be a whole number, got {number!r}")
    return int(number)


def _estimate(data: dict[str, Any]) -> Decimal | None:
    value = data.get("estimate")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadFacts(f"estimate must be a number, got {value!r}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise BadFacts(f"estimate must be a number, got {value!r}") from None
    if not amount.is_finite():
        raise BadFacts(f"estimate must be a finite number, got {value!r}")
    return amount


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadFacts(f"{key} must be a string, got {value!r}")
    return value.strip() or None


def parse_facts(data: Any, default_source: str) -> PropertyFacts:
    """The contract's JSON (a provider's answer, or the cached copy of one) as PropertyFacts."""
    if not isinstance(data, dict):
        raise BadFacts(f"expected a JSON object, got {type(data).__name__}")
    currency = (_text(data, "currency") or "USD").upper()
    if not _CURRENCY.match(currency):
        raise BadFacts(f"currency must be an ISO 4217 code, got {currency!r}")
    url = _text(data, "url")
    if url and urlsplit(url).scheme not in ("http", "https"):
        url = None  # never hand a javascript: or data: link to a client
    return PropertyFacts(
        source=(_text(data, "source") or default_source)[:100],
        estimate=_estimate(data),
        currency=currency,
        beds=_number(data, "beds"),
        baths=_number(data, "baths"),
        year_built=_integer(data, "yearBuilt"),
        square_feet=_integer(data, "squareFeet"),
        url=url,
    )


def facts_json(facts: PropertyFacts) -> dict[str, Any]:
    """What the cache keeps: the contract's own shape, the estimate as an exact decimal string."""
    return {
        "source": facts.source,
        "estimate": str(facts.estimate) if facts.estimate is not None else None,
        "currency": facts.currency,
        "beds": facts.beds,
        "baths": facts.baths,
        "yearBuilt": facts.year_built,
        "squareFeet": facts.square_feet,
        "url": facts.url,
    }


@dataclass
class PropertyData:
    """The configured provider plus its cache; one per running app."""

    http: httpx.AsyncClient
    url: str
    api_key: str | None = None
    max_age: timedelta = timedelta(seconds=DEFAULT_CACHE_SECONDS)
    timeout: float = DEFAULT_TIMEOUT
    _waiting: dict[str, list[asyncio.Future[dict[str, Any] | None]]] = field(default_factory=dict)
    _fetching: dict[str, asyncio.Task[PropertyFacts | None]] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def source(self) -> str:
        return urlsplit(self.url).hostname or "property data"

    async def facts(self, address: CardAddress) -> PropertyFacts | None:
        key = address_key(address)
        cached = await self._cached(key)
        if cached is not None:
            if cached == NOT_FOUND:
                return None
            try:
                return parse_facts(cached, self.source)
            except BadFacts:
                log.warning("cached property facts for %r are unreadable; asking again", key)
        task = self._fetching.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch(key, address))
            self._fetching[key] = task
            task.add_done_callback(lambda _: self._fetching.pop(key, None))
        return await asyncio.shield(task)

    # -- the cache, read in batches ------------------------------------------------------

    async def _cached(self, key: str) -> dict[str, Any] | None:
        if self.max_age <= timedelta(0):
            return None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any] | None] = loop.create_future()
        first = not self._waiting
        self._waiting.setdefault(key, []).append(future)
        if first:  # the other cards of this page ask during this turn of the loop
            loop.call_soon(self._start_batch)
        return await future

    def _start_batch(self) -> None:
        task = asyncio.get_running_loop().create_task(self._read_batch())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read_batch(self) -> None:
        waiting, self._waiting = self._waiting, {}
        try:
            found = await property_cache.get_cached(waiting, self.max_age)
        except Exception:
            log.exception("reading the property facts cache failed; asking the provider")
            found = {}
        for key, futures in waiting.items():
            for future in futures:
                if not future.done():
                    future.set_result(found.get(key))

    # -- the provider -----------------------------------------------------------------

    async def _fetch(self, key: str, address: CardAddress) -> PropertyFacts | None:
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            response = await self.http.get(
                self.url, params={"address": address.one_line}, headers=headers, timeout=self.timeout
            )
        except httpx.HTTPError as exc:
            log.warning("property data provider %s failed: %s: %s", self.source, type(exc).__name__, exc)
            return None
        if response.status_code == 404:
            await self._store(key, NOT_FOUND)
            return None
        if response.status_code != 200:
            log.warning("property data provider %s answered HTTP %s", self.source, response.status_code)
            return None
        try:
            facts = parse_facts(response.json(), self.source)
        except ValueError as exc:  # bad JSON (json.JSONDecodeError) or the wrong shape (BadFacts)
            log.warning("property data provider %s sent unusable JSON: %s", self.source, exc)
            return None
        await self._store(key, facts_json(facts))
        return facts

    async def _store(self, key: str, facts: dict[str, Any]) -> None:
        if self.max_age <= timedelta(0):
            return
        try:
            await property_cache.store(key, facts)
        except Exception:
            log.exception("storing property facts in the cache failed")
