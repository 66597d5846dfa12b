"""Signed outgoing webhooks (C8): admins register endpoints; events are POSTed signed, retried, logged.

The endpoints are a real HTTP server on 127.0.0.1 (tests/fakes/webhook_receiver.py); the
app's own httpx client sends to it from the outbox dispatcher.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from strawberry import relay

from crm.journey import EVENT_HOOKS
from crm.models import Contact, OutboxRow, WebhookDelivery, WebhookEndpoint
from dossier import Settings
from plugins.webhooks import sign, verify_signature
from tests.conftest import Api, AppFactory, Tenant, make_tenant
from tests.fakes.webhook_receiver import Received, WebhookReceiver, webhook_receiver

CREATE_ENDPOINT = """
mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { secret endpoint { id url events active description createdAt } }
}"""
UPDATE_ENDPOINT = """
mutation($input: UpdateWebhookEndpointInput!) {
  updateWebhookEndpoint(input: $input) { id url events active description }
}"""
ROTATE = """
mutation($input: RotateWebhookSecretInput!) { rotateWebhookSecret(input: $input) { secret endpoint { id } } }
"""
DELETE = "mutation($input: DeleteWebhookEndpointInput!) { deleteWebhookEndpoint(input: $input) { id url } }"
ENDPOINTS = "{ webhookEndpoints { id url events active description } }"
LOG = """
query($status: WebhookDeliveryStatus, $first: Int! = 50, $after: String) {
  webhookEndpoints {
    id
    deliveries(first: $first, after: $after, status: $status) {
      edges { cursor node {
        id eventId event status attempts responseStatus error createdAt lastAttemptAt deliveredAt payload
      } }
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
  }
}"""
CREATE_CONTACT = "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"
ADD_NOTE = "mutation($input: AddNoteInput!) { addNote(input: $input) { id } }"
FAILURES = """
query($id: ID!) {
  contact(id: $id) {
    journey(first: 50, kinds: [PLUGIN_DELIVERY_FAILED], order: OLDEST_FIRST) {
      nodes { summary actor { kind name } }
    }
  }
}"""


ALLOW_LOOPBACK = {"DOSSIER_WEBHOOKS_ALLOW_PRIVATE": "true"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test receiver listens on 127.0.0.1, which endpoints may not reach by default."""
    return replace(settings, env={**settings.env, **ALLOW_LOOPBACK})


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as started:
        yield started


def db_id(global_id: str) -> int:
    return int(relay.GlobalID.from_id(global_id).node_id)


def gid(type_name: str, node_id: int) -> str:
    return str(relay.GlobalID(type_name, str(node_id)))


async def register(api: Api, url: str, events: list[str] | None = None, **extra: Any) -> tuple[str, str]:
    """A new endpoint's global id and its secret."""
    payload: dict[str, Any] = {"url": url, **extra}
    if events is not None:
        payload["events"] = events
    created = (await api.data(CREATE_ENDPOINT, {"input": payload}))["createWebhookEndpoint"]
    return created["endpoint"]["id"], created["secret"]


async def new_contact(api: Api, first_name: str = "Ada") -> str:
    data = await api.data(CREATE_CONTACT, {"input": {"firstName": first_name, "lastName": "Lovelace"}})
    return data["createContact"]["id"]


async def add_note(api: Api, contact_id: str, body: str = "<p>Called back</p>") -> str:
    return (await api.data(ADD_NOTE, {"input": {"contactId": contact_id, "body": body}}))["addNote"]["id"]


async def delivery_log(api: Api, endpoint_id: str, **variables: Any) -> dict[str, Any]:
    data = await api.data(LOG, variables)
    (endpoint,) = [e for e in data["webhookEndpoints"] if e["id"] == endpoint_id]
    return endpoint["deliveries"]


async def deliveries(api: Api, endpoint_id: str, **variables: Any) -> list[dict[str, Any]]:
    return [edge["node"] for edge in (await delivery_log(api, endpoint_id, **variables))["edges"]]


async def endpoints(api: Api) -> list[dict[str, Any]]:
    return (await api.data(ENDPOINTS))["webhookEndpoints"]


def signed_with(request: Received, secret: str) -> bool:
    return verify_signature(secret, request.headers.get("dossier-signature"), request.body)


async def drain(api: Api) -> None:
    await api.runtime.dispatcher.drain()


# --------------------------------------------------------------------------------------
# Delivery
# --------------------------------------------------------------------------------------


async def test_each_event_is_posted_as_signed_json_and_logged(
    receiver: WebhookReceiver, as_admin: Api
) -> None:
    created = await as_admin.data(
        CREATE_ENDPOINT, {"input": {"url": receiver.url("/hook"), "description": "Data warehouse"}}
    )
    endpoint_id, secret = (
        created["createWebhookEndpoint"]["endpoint"]["id"],
        created["createWebhookEndpoint"]["secret"],
    )
    assert secret.startswith("whsec_") and len(secret) > 30
    assert created["createWebhookEndpoint"]["endpoint"]["createdAt"].endswith("+00:00")
    assert await endpoints(as_admin) == [
        {"id": endpoint_id, "url": receiver.url("/hook"), "events": [], "active": True,
         "description": "Data warehouse"},
    ]  # fmt: skip

    contact_id = await new_contact(as_admin)
    assert receiver.received == []  # the mutation never waits for the receiver
    await drain(as_admin)
    await add_note(as_admin, contact_id, "<p>Wants a <b>quote</b></p>")
    await drain(as_admin)

    created, noted = receiver.to("/hook")
    for request, hook, kind in (
        (created, "contact_created", "CONTACT_CREATED"),
        (noted, "note_added", "NOTE_ADDED"),
    ):
        assert request.headers["content-type"] == "application/json"
        assert request.headers["dossier-event"] == hook
        assert signed_with(request, secret)
        body = request.json()
        assert (body["type"], body["kind"]) == (hook, kind)
        assert body["data"]["id"] == body["id"]
        assert body["data"]["contact_id"] == db_id(contact_id)
        assert body["data"]["contact"]["display_name"] == "Ada Lovelace"
        assert body["createdAt"] == body["data"]["occurred_at"]
    assert created.event_id != noted.event_id
    assert noted.json()["data"]["subject"]["body"] == "<p>Wants a <b>quote</b></p>"

    log = await deliveries(as_admin, endpoint_id)
    assert [d["event"] for d in log] == ["note_added", "contact_created"]  # newest first
    for delivery, request in zip(log, (noted, created), strict=True):
        assert delivery["status"] == "DELIVERED"
        assert (delivery["attempts"], delivery["responseStatus"], delivery["error"]) == (1, 200, None)
        assert delivery["deliveredAt"] is not None and delivery["lastAttemptAt"] is not None
        assert delivery["eventId"] == request.event_id
        assert delivery["payload"] == request.json()
        assert request.headers["dossier-delivery"] == str(db_id(delivery["id"]))

    await drain(as_admin)
    assert len(receiver.received) == 2  # nothing is sent twice


async def test_a_tampered_or_replayed_delivery_fails_verification(
    receiver: WebhookReceiver, as_admin: Api
) -> None:
    _, secret = await register(as_admin, receiver.url("/hook"))
    await new_contact(as_admin)
    await drain(as_admin)
    (request,) = receiver.received
    header = request.headers["dossier-signature"]
    timestamp = int(header.split(",")[0].removeprefix("t="))

    assert verify_signature(secret, header, request.body)
    assert not verify_signature(secret, header, request.body.replace(b"Ada", b"Eve"))
    assert not verify_signature(secret, header, request.body + b" ")
    assert not verify_signature("whsec_someone-else", header, request.body)
    assert not verify_signature(secret, header, request.body, now=timestamp + 301)  # replayed later
    assert verify_signature(secret, header, request.body, now=timestamp + 299)


def test_verify_signature_accepts_only_a_fresh_signature_of_the_exact_body() -> None:
    secret, body, t = "whsec_test", b'{"id":"e1","type":"contact_created"}', 1_700_000_000
    header = sign(secret, body, t)
    assert header.startswith(f"t={t},v1=")
    assert verify_signature(secret, header, body, now=t)
    assert verify_signature(secret, header, body.decode(), now=t)  # str or bytes alike
    assert not verify_signature(secret, header, body + b"\n", now=t)
    assert not verify_signature(secret + "x", header, body, now=t)
    assert not verify_signature(secret, header, body, now=t + 301)
    assert not verify_signature(secret, header, body, now=t - 301)  # from the future
    assert verify_signature(secret, header, body, tolerance=600, now=t + 301)
    # While a receiver holds two secrets, a header may carry two signatures: one must match.
    other = sign("whsec_old", body, t).split("v1=")[1]
    assert verify_signature(secret, f"t={t},v1={other},{header.split(',')[1]}", body, now=t)
    signature = header.split("v1=")[1]
    for malformed in (
        "",
        None,
        "garbage",
        f"v1={signature}",
        f"t={t}",
        f"t=soon,v1={signature}",
        f"t={t},v1=",
    ):
        assert not verify_signature(secret, malformed, body, now=t), malformed


async def test_an_endpoint_gets_only_the_events_it_subscribed_to(
    receiver: WebhookReceiver, as_admin: Api
) -> None:
    await register(as_admin, receiver.url("/all"))
    await register(as_admin, receiver.url("/notes"), ["note_added"])
    await register(as_admin, receiver.url("/some"), ["contact_created", "tag_added"])
    paused_id, _ = await register(as_admin, receiver.url("/paused"))
    paused = await as_admin.data(UPDATE_ENDPOINT, {"input": {"id": paused_id, "active": False}})
    assert paused["updateWebhookEndpoint"]["active"] is False

    contact_id = await new_contact(as_admin)
    await add_note(as_admin, contact_id)
    await drain(as_admin)

    assert sorted(r.json()["type"] for r in receiver.to("/all")) == ["contact_created", "note_added"]
    assert [r.json()["type"] for r in receiver.to("/notes")] == ["note_added"]
    assert [r.json()["type"] for r in receiver.to("/some")] == ["contact_created"]
    assert receiver.to("/paused") == []
    assert await deliveries(as_admin, paused_id) == []


async def test_an_endpoint_does_not_get_events_from_before_it_existed(
    receiver: WebhookReceiver, as_admin: Api
) -> None:
    await new_contact(as_admin, "Before")
    endpoint_id, _ = await register(as_admin, receiver.url("/late"))
    await drain(as_admin)  # the earlier event is delivered now, after the endpoint was registered
    assert receiver.received == []
    await new_contact(as_admin, "After")
    await drain(as_admin)
    (request,) = receiver.received
    assert request.json()["data"]["contact"]["first_name"] == "After"
    assert [d["event"] for d in await deliveries(as_admin, endpoint_id)] == ["contact_created"]


# --------------------------------------------------------------------------------------
# Retries through the outbox
# --------------------------------------------------------------------------------------


async def test_a_failing_endpoint_is_retried_without_repeating_the_others(
    receiver: WebhookReceiver, as_admin: Api
) -> None:
    flaky_id, flaky_secret = await register(as_admin, receiver.url("/flaky"))
    good_id, good_secret = await register(as_admin, receiver.url("/good"))
    receiver.fail("/flaky", 2, status=500)

    contact_id = await new_contact(as_admin)
    await drain(as_admin)  # the test outbox retries at once, up to 3 attempts

    flaky = receiver.to("/flaky")
    assert [r.answered for r in flaky] == [500, 500, 200]
    assert len({r.body for r in flaky}) == 1  # the same event each time...
    assert len({r.headers["dossier-delivery"] for r in flaky}) == 1  # ...as the same delivery
    assert all(signed_with(r, flaky_secret) for r in flaky)  # each attempt freshly signed
    (good,) = receiver.to("/good")  # delivered once, not again while /flaky was retried
    assert signed_with(good, good_secret) and good.event_id == flaky[0].event_id

    (flaky_delivery,) = await deliveries(as_admin, flaky_id)
    assert flaky_delivery["status"] == "DELIVERED"
    assert (flaky_delivery["attempts"], flaky_delivery["responseStatus"], flaky_delivery["error"]) == (
        3, 200, None,
    )  # fmt: skip
    (good_delivery,) = await deliveries(as_admin, good_id)
    assert (good_delivery["status"], good_delivery["attempts"]) == ("DELIVERED", 1)

    # The card's journey shows the two failed attempts, without the endpoint's URL.
    journey = (await as_admin.data(FAILURES, {"id": contact_id}))["contact"]["journey"]["nodes"]
    assert len(journey) == 2
    for entry in journey:
        assert entry["actor"] == {"kind": "PLUGIN", "name": "webhooks"}
        assert "HTTP 500" in entry["summary"] and "retrying" in entry["summary"]
        assert "127.0.0.1" not in entry["summary"]
    row = await OutboxRow.get(plugin="webhooks", hook="contact_created")
    assert (row.status, row.attempts) == ("DELIVERED", 3)


async def test_after_the_last_attempt_the_delivery_is_failed_for_good(
    receiver: WebhookReceiver, as_admin: Api
) -> None:
    down_id, _ = await register(as_admin, receiver.url("/down"))
    good_id, _ = await register(as_admin, receiver.url("/good"))
    receiver.answer("/down", 503)

    await new_contact(as_admin)
    await drain(as_admin)

    assert [r.answered for r in receiver.to("/down")] == [503, 503, 503]
    assert len(receiver.to("/good")) == 1
    (failed,) = await deliveries(as_admin, down_id)
    assert (failed["status"], failed["attempts"], failed["responseStatus"]) == ("FAILED", 3, 503)
    assert failed["error"] == "the endpoint answered HTTP 503" and failed["deliveredAt"] is None
    assert [d["status"] for d in await deliveries(as_admin, good_id)] == ["DELIVERED"]
    assert await deliveries(as_admin, down_id, status="DELIVERED") == []
    assert [d["id"] for d in await deliveries(as_admin, down_id, status="FAILED")] == [failed["id"]]

    await drain(as_admin)
    assert len(receiver.received) == 4  # given up: nothing more is sent


async def test_a_receiver_that_does_not_answer_in_time_is_retried(
    running_app: AppFactory, receiver: WebhookReceiver
) -> None:
    async with running_app(env={"DOSSIER_WEBHOOKS_TIMEOUT": "0.3", **ALLOW_LOOPBACK}) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        endpoint_id, _ = await register(api, receiver.url("/slow"))
        receiver.hang("/slow", 1)
        contact_id = await new_contact(api)
        await drain(api)

        assert [r.answered for r in receiver.to("/slow")] == [None, 200]
        (delivery,) = await deliveries(api, endpoint_id)
        assert (delivery["status"], delivery["attempts"], delivery["responseStatus"]) == ("DELIVERED", 2, 200)
        (failure,) = (await api.data(FAILURES, {"id": contact_id}))["contact"]["journey"]["nodes"]
        assert "no answer within 0.3s" in failure["summary"]


async def test_an_unreachable_endpoint_is_logged_with_the_network_error(
    receiver: WebhookReceiver, as_admin: Api
) -> None:
    port = receiver.port
    receiver.stop()  # nothing listens there any more
    endpoint_id, _ = await register(as_admin, f"http://127.0.0.1:{port}/gone")
    await new_contact(as_admin)
    await drain(as_admin)
    (delivery,) = await deliveries(as_admin, endpoint_id)
    assert (delivery["status"], delivery["attempts"], delivery["responseStatus"]) == ("FAILED", 3, None)
    assert delivery["error"].startswith("ConnectError")


async def test_switching_an_endpoint_off_gives_up_its_pending_retries(
    receiver: WebhookReceiver, as_admin: Api
) -> None:
    down_id, _ = await register(as_admin, receiver.url("/down"))
    narrowed_id, _ = await register(as_admin, receiver.url("/narrowed"))
    receiver.answer("/down", 500)
    receiver.answer("/narrowed", 500)
    await new_contact(as_admin)
    await as_admin.runtime.dispatcher.run_once()  # one attempt, the retry is still to come
    assert [d["status"] for d in await deliveries(as_admin, down_id)] == ["PENDING"]

    await as_admin.data(UPDATE_ENDPOINT, {"input": {"id": down_id, "active": False}})
    await as_admin.data(UPDATE_ENDPOINT, {"input": {"id": narrowed_id, "events": ["note_added"]}})
    for endpoint_id, why in ((down_id, "deactivated"), (narrowed_id, "unsubscribed")):
        (delivery,) = await deliveries(as_admin, endpoint_id)
        assert (delivery["status"], delivery["attempts"]) == ("FAILED", 1)
        assert why in delivery["error"]

    await drain(as_admin)
    assert len(receiver.received) == 2  # the first attempts only


# --------------------------------------------------------------------------------------
# The delivery log
# --------------------------------------------------------------------------------------


async def test_the_delivery_log_pages_newest_first(receiver: WebhookReceiver, as_admin: Api) -> None:
    endpoint_id, _ = await register(as_admin, receiver.url("/hook"))
    for name in ("Ada", "Bob", "Cy"):
        await new_contact(as_admin, name)
        await drain(as_admin)

    first = await delivery_log(as_admin, endpoint_id, first=2)
    names = [e["node"]["payload"]["data"]["contact"]["first_name"] for e in first["edges"]]
    assert names == ["Cy", "Bob"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = await delivery_log(as_admin, endpoint_id, first=2, after=first["pageInfo"]["endCursor"])
    assert [e["node"]["payload"]["data"]["contact"]["first_name"] for e in rest["edges"]] == ["Ada"]
    assert rest["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "endCursor": rest["edges"][0]["cursor"],
    }

    error = await as_admin.error(LOG, {"first": 0})
    assert (
        error["extensions"]["code"] == "BAD_USER_INPUT"
        and "first must be between 1 and 100" in error["message"]
    )
    error = await as_admin.error(LOG, {"after": "bm90LWEtY3Vyc29y"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "not a cursor" in error["message"]


async def test_delivery_logs_of_many_endpoints_cost_a_constant_number_of_statements(
    receiver: WebhookReceiver, as_admin: Api, count_statements: Any
) -> None:
    async def statements() -> int:
        with count_statements() as counter:
            data = await as_admin.data(LOG)
        assert all(e["deliveries"]["edges"] for e in data["webhookEndpoints"])
        return counter.count

    await register(as_admin, receiver.url("/one"))
    await new_contact(as_admin)
    await drain(as_admin)
    one = await statements()
    for path in ("/two", "/three", "/four"):
        await register(as_admin, receiver.url(path))
    await new_contact(as_admin, "Bob")
    await drain(as_admin)
    assert await statements() == one


# --------------------------------------------------------------------------------------
# Managing endpoints
# --------------------------------------------------------------------------------------


async def test_updating_changes_only_the_fields_given(receiver: WebhookReceiver, as_admin: Api) -> None:
    endpoint_id, _ = await register(as_admin, receiver.url("/a"), ["note_added"], description="Zapier")
    update = {"id": endpoint_id, "description": "Zapier (sales)"}
    updated = (await as_admin.data(UPDATE_ENDPOINT, {"input": update}))["updateWebhookEndpoint"]
    assert updated == {"id": endpoint_id, "url": receiver.url("/a"), "events": ["note_added"], "active": True,
                       "description": "Zapier (sales)"}  # fmt: skip

    update = {"id": endpoint_id, "url": receiver.url("/b"), "events": [], "description": None}
    updated = (await as_admin.data(UPDATE_ENDPOINT, {"input": update}))["updateWebhookEndpoint"]
    assert updated == {"id": endpoint_id, "url": receiver.url("/b"), "events": [], "active": True,
                       "description": None}  # fmt: skip
    assert await endpoints(as_admin) == [updated]

    await new_contact(as_admin)  # an empty list means every event
    await drain(as_admin)
    assert [r.path for r in receiver.received] == ["/b"]


async def test_rotating_the_secret_signs_with_the_new_one_only(
    receiver: WebhookReceiver, as_admin: Api
) -> None:
    endpoint_id, old = await register(as_admin, receiver.url("/hook"))
    rotated = (await as_admin.data(ROTATE, {"input": {"id": endpoint_id}}))["rotateWebhookSecret"]
    new = rotated["secret"]
    assert rotated["endpoint"]["id"] == endpoint_id
    assert new.startswith("whsec_") and new != old

    await new_contact(as_admin)
    await drain(as_admin)
    (request,) = receiver.received
    assert signed_with(request, new)
    assert not signed_with(request, old)


async def test_the_secret_is_shown_only_when_created_or_rotated(
    receiver: WebhookReceiver, as_admin: Api
) -> None:
    await register(as_admin, receiver.url("/hook"))
    error = await as_admin.error("{ webhookEndpoints { id secret } }")
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "secret" in error["message"]


async def test_deleting_an_endpoint_stops_deliveries_and_drops_its_log(
    receiver: WebhookReceiver, as_admin: Api
) -> None:
    endpoint_id, _ = await register(as_admin, receiver.url("/hook"))
    await new_contact(as_admin)
    await drain(as_admin)
    deleted = (await as_admin.data(DELETE, {"input": {"id": endpoint_id}}))["deleteWebhookEndpoint"]
    assert deleted == {"id": endpoint_id, "url": receiver.url("/hook")}
    assert await endpoints(as_admin) == []
    assert await WebhookDelivery.all().count() == 0

    await new_contact(as_admin, "Bob")
    await drain(as_admin)
    assert len(receiver.received) == 1
    error = await as_admin.error(DELETE, {"input": {"id": endpoint_id}})
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_the_plugin_is_listed_with_every_event_hook(as_admin: Api) -> None:
    plugins = (await as_admin.data("{ plugins { name builtin hooks } }"))["plugins"]
    (webhooks,) = [p for p in plugins if p["name"] == "webhooks"]
    assert webhooks["builtin"] is True
    assert set(webhooks["hooks"]) == {*EVENT_HOOKS, "event_audience", "event_dead_lettered", "startup"}
    events = (await as_admin.data("{ webhookEvents }"))["webhookEvents"]
    assert events == list(EVENT_HOOKS) and "note_added" in events


# --------------------------------------------------------------------------------------
# Bad input changes nothing
# --------------------------------------------------------------------------------------


async def test_bad_endpoints_are_refused_and_nothing_is_created(as_admin: Api) -> None:
    cases = [
        ({"url": "https://example.com/hook", "events": ["contact_created", "contact_exploded"]},
         "unknown event(s) contact_exploded; choose from contact_created, contact_updated"),
        ({"url": "ftp://example.com/hook"}, "url must be an http(s) URL"),
        ({"url": "javascript:alert(1)"}, "url must be an http(s) URL"),
        ({"url": "example.com/hook"}, "url must be an http(s) URL"),
        ({"url": "  "}, "url is required"),
        ({"url": "https://example.com/" + "x" * 1000}, "url is longer than 1000 characters"),
        ({"url": "https://example.com/h", "events": ["note_added"] * 101}, "events lists at most 100 names"),
        ({"url": "https://example.com/hook", "description": "d" * 201}, "description is 201 characters long"),
    ]  # fmt: skip
    for payload, message in cases:
        error = await as_admin.error(CREATE_ENDPOINT, {"input": payload})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert message in error["message"], error
    error = await as_admin.error(CREATE_ENDPOINT, {"input": {"url": "https://example.com", "events": ["x"]}})
    assert all(hook in error["message"] for hook in EVENT_HOOKS)  # every valid name is listed
    assert await endpoints(as_admin) == []


async def test_bad_updates_are_refused_and_change_nothing(as_admin: Api) -> None:
    endpoint_id, _ = await register(as_admin, "https://example.com/hook", ["note_added"])
    before = await endpoints(as_admin)
    secret = (await WebhookEndpoint.get(id=db_id(endpoint_id))).secret
    cases = [
        ({"id": endpoint_id, "events": ["note_added", "nope"]}, "BAD_USER_INPUT", "unknown event(s) nope"),
        ({"id": endpoint_id, "url": "mailto:a@example.com"}, "BAD_USER_INPUT", "url must be an http(s) URL"),
        ({"id": endpoint_id, "url": None}, "BAD_USER_INPUT", "url is required"),
        ({"id": endpoint_id, "active": None}, "BAD_USER_INPUT", "active cannot be null"),
        ({"id": gid("Contact", db_id(endpoint_id)), "active": False}, "BAD_USER_INPUT",
         "is a Contact id, not a WebhookEndpoint id"),
        ({"id": "not-an-id", "active": False}, "BAD_USER_INPUT", "is not a valid WebhookEndpoint id"),
        ({"id": gid("WebhookEndpoint", 999), "active": False}, "NOT_FOUND",
         "no webhook endpoint with id 999 in this account"),
    ]  # fmt: skip
    for payload, code, message in cases:
        error = await as_admin.error(UPDATE_ENDPOINT, {"input": payload})
        assert error["extensions"]["code"] == code, error
        assert message in error["message"], error
    for mutation in (ROTATE, DELETE):
        error = await as_admin.error(mutation, {"input": {"id": gid("WebhookEndpoint", 999)}})
        assert error["extensions"]["code"] == "NOT_FOUND"
    assert await endpoints(as_admin) == before
    assert (await WebhookEndpoint.get(id=db_id(endpoint_id))).secret == secret


async def test_an_account_has_at_most_twenty_endpoints(as_admin: Api) -> None:
    for n in range(20):
        await register(as_admin, f"https://example.com/hook/{n}")
    error = await as_admin.error(CREATE_ENDPOINT, {"input": {"url": "https://example.com/one-more"}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "at most 20 webhook endpoints" in error["message"]
    assert len(await endpoints(as_admin)) == 20


# --------------------------------------------------------------------------------------
# Who may do it
# --------------------------------------------------------------------------------------


async def test_only_admins_manage_endpoints(receiver: WebhookReceiver, api: Api, acme: Tenant) -> None:
    admin = api.as_(acme.admin_key)
    endpoint_id, secret = await register(admin, receiver.url("/hook"))
    before = await endpoints(admin)
    attempts = [
        (ENDPOINTS, {}),
        ("{ webhookEvents }", {}),
        (CREATE_ENDPOINT, {"input": {"url": receiver.url("/mine")}}),
        (UPDATE_ENDPOINT, {"input": {"id": endpoint_id, "url": receiver.url("/mine")}}),
        (ROTATE, {"input": {"id": endpoint_id}}),
        (DELETE, {"input": {"id": endpoint_id}}),
    ]
    for key in (acme.manager_key, acme.rep_key):
        for query, variables in attempts:
            error = await api.error(query, variables, key=key)
            assert error["extensions"]["code"] == "FORBIDDEN", (query, error)
            assert "only admins" in error["message"]
    error = await api.error(ENDPOINTS)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"

    assert await endpoints(admin) == before
    assert (await WebhookEndpoint.get(id=db_id(endpoint_id))).secret == secret


async def test_accounts_never_see_or_receive_each_others_webhooks(
    receiver: WebhookReceiver, api: Api, acme: Tenant, globex: Tenant
) -> None:
    acme_api, globex_api = api.as_(acme.admin_key), api.as_(globex.admin_key)
    acme_id, acme_secret = await register(acme_api, receiver.url("/acme"))
    globex_id, globex_secret = await register(globex_api, receiver.url("/globex"))
    acme_before = await endpoints(acme_api)

    assert [e["id"] for e in await endpoints(globex_api)] == [globex_id]
    for mutation, payload in (
        (UPDATE_ENDPOINT, {"id": acme_id, "url": receiver.url("/stolen"), "active": True}),
        (ROTATE, {"id": acme_id}),
        (DELETE, {"id": acme_id}),
    ):
        error = await globex_api.error(mutation, {"input": payload})
        assert error["extensions"]["code"] == "NOT_FOUND", error
        assert "no webhook endpoint" in error["message"]
    assert await endpoints(acme_api) == acme_before
    assert (await WebhookEndpoint.get(id=db_id(acme_id))).secret == acme_secret

    await new_contact(acme_api, "Ada")
    await new_contact(globex_api, "Gus")
    await drain(api)
    (to_acme,) = receiver.to("/acme")
    (to_globex,) = receiver.to("/globex")
    assert to_acme.json()["data"]["contact"]["first_name"] == "Ada" and signed_with(to_acme, acme_secret)
    assert to_globex.json()["data"]["contact"]["first_name"] == "Gus" and signed_with(
        to_globex, globex_secret
    )
    assert [d["eventId"] for d in await deliveries(globex_api, globex_id)] == [to_globex.event_id]
    assert await Contact.all().count() == 2


async def test_endpoints_cannot_reach_internal_addresses_unless_allowed(
    running_app: AppFactory, receiver: WebhookReceiver, settings: Settings
) -> None:
    """An admin key must not turn Dossier into a probe of its own network (SSRF)."""
    strict_env = {k: v for k, v in settings.env.items() if k != "DOSSIER_WEBHOOKS_ALLOW_PRIVATE"}
    async with running_app(env=strict_env) as app:
        api = app.as_((await make_tenant("Acme")).admin_key)
        endpoint_id, _ = await register(api, receiver.url("/internal"))
        await new_contact(api)
        await drain(api)
        assert receiver.received == []
        [row] = await deliveries(api, endpoint_id)
        assert row["status"] == "FAILED" and "non-public address (127.0.0.1)" in row["error"]
        assert "DOSSIER_WEBHOOKS_ALLOW_PRIVATE" in row["error"]


async def test_accounts_without_endpoints_write_no_webhook_rows(
    as_admin: Api, acme: Tenant, receiver: WebhookReceiver
) -> None:
    """The plugin's event audience: no endpoint, no outbox row, no dispatcher work."""
    await new_contact(as_admin, "Before")
    assert await OutboxRow.filter(plugin="webhooks").count() == 0
    endpoint_id, _ = await register(as_admin, receiver.url("/notes"), events=["note_added"])
    await new_contact(as_admin, "Unsubscribed")  # contact_created: not taken by the endpoint
    assert await OutboxRow.filter(plugin="webhooks").count() == 0
    contact_id = await new_contact(as_admin, "Noted")
    await add_note(as_admin, contact_id)
    assert await OutboxRow.filter(plugin="webhooks").values_list("hook", flat=True) == ["note_added"]
    await as_admin.data(
        "mutation($i: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $i) { active } }",
        {"i": {"id": endpoint_id, "active": False}},
    )
    await add_note(as_admin, contact_id, "<p>again</p>")
    assert await OutboxRow.filter(plugin="webhooks").count() == 1


async def test_errors_quote_a_long_value_back_cut_short(as_admin: Api) -> None:
    """A megabyte of bad input must not come back as a megabyte of error message."""
    huge = "x" * 100_000
    error = await as_admin.error(
        "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { endpoint { id } } }",
        {"i": {"url": "https://hooks.example.com/in", "events": [huge, "b" * 70, "c", "d"]}},
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "and 1 more" in error["message"]
    assert len(error["message"]) < 2_000
    contact = (await as_admin.data('mutation { createContact(input: {firstName: "Ada"}) { id } }'))[
        "createContact"
    ]["id"]
    error = await as_admin.error(
        "mutation($i: SetContactStatusInput!) { setContactStatus(input: $i) { id } }",
        {"i": {"contactId": contact, "status": huge}},
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert len(error["message"]) < 2_000
