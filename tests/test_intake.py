"""The public intake endpoint, POST /forms/{key}: JSON and url-encoded bodies, unknown and revoked
keys, oversized bodies, rate limits per key and per client address (in-process and Redis)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import redis.asyncio as redis

from crm.models import Contact as ContactModel
from crm.models import FormAnswer as FormAnswerModel
from crm.models import Lead as LeadModel
from crm.models import Utm as UtmModel
from dossier.intake import MAX_INTAKE_BYTES, MemoryRateLimiter, RedisRateLimiter
from tests.conftest import Api, AppFactory, make_tenant

CREATE_FORM = "mutation($input: CreateFormInput!) { createForm(input: $input) { id key intakeUrl } }"
REVOKE_FORM = "mutation($input: RevokeFormInput!) { revokeForm(input: $input) { id } }"
LEAD = """
query($id: ID!) {
  node(id: $id) {
    ... on Lead {
      formName variant status matchReason ipAddress referrer identity
      answers { question answer form } utms { source medium campaign term content }
      contact {
        id displayName email phone firstName
        journey(first: 5) { nodes { kind actor { kind name } } }
      }
    }
  }
}
"""


def lead_db_id(global_id: str) -> int:
    kind, number = base64.b64decode(global_id).decode().split(":", 1)
    assert kind == "Lead"
    return int(number)


async def new_form(api: Api, name: str = "Contact us") -> dict[str, Any]:
    return (await api.data(CREATE_FORM, {"input": {"name": name}}))["createForm"]


@asynccontextmanager
async def client_from(api: Api, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests come from `address` (the ASGI scope's client)."""
    transport = httpx.ASGITransport(app=api.app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://dossier.test") as client:
        yield client


async def test_json_submission_makes_a_lead(as_admin: Api) -> None:
    form = await new_form(as_admin)
    body = {
        "firstName": "Ada", "email": "ada@example.com", "phone": "(415) 555-0123", "city": "London",
        "utm_source": "google", "utm_medium": "cpc", "utm_campaign": "spring",
        "variant": "B", "Budget?": "10k", "Interests": ["CRM", "SMS"], "Newsletter": True, "Seats": 12,
        "_gotcha": "", "empty": None,
    }  # fmt: skip
    async with client_from(as_admin, "198.51.100.23") as client:
        response = await client.post(
            f"/forms/{form['key']}", json=body, headers={"Referer": "https://example.com/pricing"}
        )
    assert response.status_code == 201, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    assert set(response.json()) == {"id"}  # nothing said about who the person is
    lead = (await as_admin.data(LEAD, {"id": response.json()["id"]}))["node"]
    assert lead["formName"] == "Contact us" and lead["variant"] == "B"
    assert lead["status"] == "NEW" and lead["matchReason"] == "NEW"
    assert lead["ipAddress"] == "198.51.100.23"  # the client address, never a body field
    assert lead["referrer"] == "https://example.com/pricing"
    assert lead["identity"]["city"] == "London" and lead["identity"]["phone"] == "+14155550123"
    assert {a["question"]: a["answer"] for a in lead["answers"]} == {
        "Budget?": "10k", "Interests": "CRM, SMS", "Newsletter": "yes", "Seats": "12"
    }  # fmt: skip
    assert lead["utms"] == [
        {"source": "google", "medium": "cpc", "campaign": "spring", "term": None, "content": None}
    ]
    contact = lead["contact"]
    assert contact["firstName"] == "Ada" and contact["phone"] == "+14155550123"
    entry = contact["journey"]["nodes"][0]
    assert entry["kind"] == "LEAD_SUBMITTED"
    assert entry["actor"] == {"kind": "SYSTEM", "name": "web form Contact us"}


async def test_urlencoded_submission_matches_by_phone(as_admin: Api) -> None:
    form = await new_form(as_admin, "Callback")
    await as_admin.data(
        "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }",
        {"i": {"firstName": "Bo", "phone": "+14155550123"}},
    )
    body = "phone=415.555.0123&first_name=Robert&topic=Pricing&topic=Demo&utm_source=newsletter&referrer=x"
    response = await as_admin.client.post(
        f"/forms/{form['key']}", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 201, response.text
    lead = (await as_admin.data(LEAD, {"id": response.json()["id"]}))["node"]
    assert lead["matchReason"] == "PHONE"
    assert lead["contact"]["firstName"] == "Bo"  # never overwritten
    assert lead["answers"] == [{"question": "topic", "answer": "Pricing, Demo", "form": "Callback"}]
    assert lead["utms"][0]["source"] == "newsletter" and lead["referrer"] == "x"
    assert await ContactModel.all().count() == 1


async def test_unknown_and_revoked_keys_answer_404(as_admin: Api) -> None:
    form = await new_form(as_admin)
    response = await as_admin.client.post("/forms/not-a-key", json={"email": "a@example.com"})
    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    await as_admin.data(REVOKE_FORM, {"input": {"id": form["id"]}})
    response = await as_admin.client.post(f"/forms/{form['key']}", json={"email": "a@example.com"})
    assert response.status_code == 404
    response = await as_admin.client.post("/forms/" + "k" * 200, json={"email": "a@example.com"})
    assert response.status_code == 404
    assert await LeadModel.all().count() == 0 and await ContactModel.all().count() == 0


async def test_a_body_over_64_kb_answers_413(as_admin: Api) -> None:
    form = await new_form(as_admin)
    big = {"email": "a@example.com", "note": "x" * MAX_INTAKE_BYTES}
    response = await as_admin.client.post(f"/forms/{form['key']}", json=big)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["limit"] == MAX_INTAKE_BYTES

    # Chunked, with no Content-Length: refused once past the limit, not read to its end.
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"note": "'
        for _ in range(1000):
            sent += 16 * 1024
            yield b"y" * (16 * 1024)
        yield b'"}'

    response = await as_admin.client.post(
        f"/forms/{form['key']}", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert sent <= MAX_INTAKE_BYTES + 2 * 16 * 1024
    assert await LeadModel.all().count() == 0
    # Just under the limit is fine.
    fits = {"email": "a@example.com", "note": "z" * 4000}
    assert (await as_admin.client.post(f"/forms/{form['key']}", json=fits)).status_code == 201


@pytest.mark.parametrize(
    ("content", "content_type", "status", "words"),
    [
        (b"[1, 2]", "application/json", 400, "object of fields"),
        (b"{not json", "application/json", 400, "not JSON"),
        (b'{"email": {"nested": 1}}', "application/json", 400, "must be text"),
        (b"email=\xff\xfe", "application/x-www-form-urlencoded", 400, "not UTF-8"),
        (b"<xml/>", "text/xml", 415, "application/json or application/x-www-form-urlencoded"),
        (b'{"email": "nope"}', "application/json", 400, "not a valid email"),
        (b'{"phone": "12"}', "application/json", 400, "phone"),
        (b'{"Budget?": "' + b"x" * 5001 + b'"}', "application/json", 400, "limit is 5000"),
    ],
)
async def test_bad_bodies_are_refused_and_change_nothing(
    as_admin: Api, content: bytes, content_type: str, status: int, words: str
) -> None:
    form = await new_form(as_admin)
    response = await as_admin.client.post(
        f"/forms/{form['key']}", content=content, headers={"Content-Type": content_type}
    )
    assert response.status_code == status, response.text
    assert words in response.json()["errors"][0]["message"]
    assert await LeadModel.all().count() == 0 and await ContactModel.all().count() == 0
    assert await FormAnswerModel.all().count() == 0 and await UtmModel.all().count() == 0


async def test_a_guest_from_a_form_without_identity(as_admin: Api) -> None:
    form = await new_form(as_admin, "NPS")
    response = await as_admin.client.post(f"/forms/{form['key']}", json={"Score": 9})
    assert response.status_code == 201
    lead = (await as_admin.data(LEAD, {"id": response.json()["id"]}))["node"]
    assert lead["contact"]["displayName"] == "Guest"


async def test_preflight_is_answered_for_cross_site_json(api: Api) -> None:
    response = await api.client.options("/forms/anything")
    assert response.status_code == 204
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "Content-Type"


# --------------------------------------------------------------------------------------
# Rate limits
# --------------------------------------------------------------------------------------


async def _limited_by_address(api: Api) -> None:
    admin = api.as_((await make_tenant("Acme")).admin_key)
    form = await new_form(admin)
    async with client_from(api, "192.0.2.1") as first, client_from(api, "192.0.2.2") as second:
        for i in range(3):
            response = await first.post(f"/forms/{form['key']}", json={"email": f"p{i}@example.com"})
            assert response.status_code == 201
        refused = await first.post(f"/forms/{form['key']}", json={"email": "p9@example.com"})
        assert refused.status_code == 429
        retry = int(refused.headers["retry-after"])
        assert 1 <= retry <= 60
        assert refused.json()["errors"][0]["extensions"] == {
            "code": "RATE_LIMITED", "requestId": refused.headers["x-request-id"], "retryAfter": retry
        }  # fmt: skip
        # Unknown keys count too (a scan of keys is limited like anything else).
        assert (await first.post("/forms/guess", json={})).status_code == 429
        # Another address still gets in.
        assert (
            await second.post(f"/forms/{form['key']}", json={"email": "q@example.com"})
        ).status_code == 201
    assert await LeadModel.all().count() == 4


async def _limited_by_key(api: Api) -> None:
    admin = api.as_((await make_tenant("Acme")).admin_key)
    form, other = await new_form(admin), await new_form(admin, "Other")
    for i in range(5):
        async with client_from(api, f"192.0.2.{10 + i}") as client:
            response = await client.post(f"/forms/{form['key']}", json={"email": f"k{i}@example.com"})
            assert response.status_code == (201 if i < 4 else 429), i
            if i == 4:
                assert int(response.headers["retry-after"]) >= 1
                assert "this form received more than 4" in response.json()["errors"][0]["message"]
    async with client_from(api, "192.0.2.99") as client:
        assert (
            await client.post(f"/forms/{other['key']}", json={"email": "o@example.com"})
        ).status_code == 201


LIMITS = {"intake_limit_per_address": 3, "intake_limit_per_key": 4, "intake_rate_window": 60.0}


async def test_rate_limited_per_address_in_process(running_app: AppFactory) -> None:
    async with running_app(**LIMITS) as api:
        await _limited_by_address(api)


async def test_rate_limited_per_key_in_process(running_app: AppFactory) -> None:
    async with running_app(**LIMITS) as api:
        await _limited_by_key(api)


async def _flush_intake_counters(url: str) -> None:
    client = redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter("dossier:intake:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def test_rate_limited_per_address_in_redis(running_app: AppFactory, redis_url: str) -> None:
    await _flush_intake_counters(redis_url)
    async with running_app(redis_url=redis_url, **LIMITS) as api:
        await _limited_by_address(api)
    await _flush_intake_counters(redis_url)


async def test_rate_limited_per_key_in_redis(running_app: AppFactory, redis_url: str) -> None:
    await _flush_intake_counters(redis_url)
    async with running_app(redis_url=redis_url, **LIMITS) as api:
        await _limited_by_key(api)
    await _flush_intake_counters(redis_url)


async def test_redis_counters_are_shared_between_processes(redis_url: str) -> None:
    # Two limiters (two server processes) share one count; the window's end is the retry time.
    bucket = f"test:{uuid.uuid4().hex}"
    one, two = RedisRateLimiter(redis_url), RedisRateLimiter(redis_url)
    try:
        assert await one.hit(bucket, 2, 30.0) is None
        assert await two.hit(bucket, 2, 30.0) is None
        retry = await one.hit(bucket, 2, 30.0)
        assert retry is not None and 0 < retry <= 30.0
    finally:
        await one.close()
        await two.close()
    await _flush_intake_counters(redis_url)


async def test_memory_counters_start_again_in_the_next_window() -> None:
    now = [1000.0]
    limiter = MemoryRateLimiter(clock=lambda: now[0])
    assert await limiter.hit("b", 1, 60.0) is None
    assert await limiter.hit("b", 1, 60.0) == pytest.approx(20.0)  # the window ends at 1020
    assert await limiter.hit("other", 1, 60.0) is None
    now[0] = 1020.0
    assert await limiter.hit("b", 1, 60.0) is None


async def test_forwarded_for_is_not_trusted_by_the_app(running_app: AppFactory) -> None:
    # The address is the scope's client (uvicorn rewrites it only for trusted proxies); a
    # forged X-Forwarded-For header does not move a client into a fresh rate-limit bucket.
    async with running_app(**LIMITS) as api:
        admin = api.as_((await make_tenant("Acme")).admin_key)
        form = await new_form(admin)
        async with client_from(api, "192.0.2.50") as client:
            statuses = [
                (
                    await client.post(
                        f"/forms/{form['key']}",
                        json={"email": f"f{i}@example.com"},
                        headers={"X-Forwarded-For": f"10.0.0.{i}"},
                    )
                ).status_code
                for i in range(4)
            ]
        assert statuses == [201, 201, 201, 429]
        lead = await LeadModel.all().order_by("id").first()
        assert lead is not None and lead.ip_address == "192.0.2.50"


async def test_a_busy_database_answers_503_with_retry_after(
    as_admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm.errors import DatabaseBusy
    from crm.services import leads as lead_service

    form = await new_form(as_admin)

    async def busy(*args: Any, **kwargs: Any) -> Any:
        raise DatabaseBusy("the database is busy; nothing was written, retry")

    monkeypatch.setattr(lead_service, "submit_lead", busy)
    response = await as_admin.client.post(f"/forms/{form['key']}", json={"email": "a@example.com"})
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert response.json()["errors"][0]["extensions"]["code"] == "DATABASE_BUSY"


async def test_a_long_referer_header_is_cut_and_an_odd_peer_is_no_ip(as_admin: Api) -> None:
    form = await new_form(as_admin)
    async with client_from(as_admin, "testclient") as client:
        response = await client.post(
            f"/forms/{form['key']}",
            json={"email": "a@example.com"},
            headers={"Referer": "https://example.com/" + "p" * 2000},
        )
    assert response.status_code == 201, response.text
    lead = (await as_admin.data(LEAD, {"id": response.json()["id"]}))["node"]
    assert len(lead["referrer"]) == 1000 and lead["referrer"].startswith("https://example.com/pp")
    assert lead["ipAddress"] is None


async def test_an_unreachable_redis_lets_submissions_in_and_says_so(
    running_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on port 9 (discard) of the loopback: every count fails.
    async with running_app(redis_url="redis://127.0.0.1:9", **LIMITS) as api:
        admin = api.as_((await make_tenant("Acme")).admin_key)
        form = await new_form(admin)
        statuses = [
            (await api.client.post(f"/forms/{form['key']}", json={"email": f"r{i}@example.com"})).status_code
            for i in range(5)
        ]
    assert statuses == [201] * 5  # past the limit of 3: not counted, not refused
    assert "intake rate limit not counted: Redis unreachable" in caplog.text
