"""Guard rails: document limits, error codes, masking with a request id, GraphiQL, introspection."""

from __future__ import annotations

import logging
from dataclasses import replace

import httpx
import pytest
from asgi_lifespan import LifespanManager

from crm.services import notes as note_service
from dossier import Settings, create_app
from tests.conftest import Api, AppFactory, Tenant

CREATE = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"


async def _contact(api: Api) -> str:
    data = await api.data(CREATE, {"i": {"firstName": "Ada", "email": "ada@example.com"}})
    return data["createContact"]["id"]


async def test_too_deep_a_query_is_refused(as_admin: Api) -> None:
    nested = "displayName"
    for _ in range(7):
        nested = f"notes {{ contact {{ {nested} }} }}"
    error = await as_admin.error(f"{{ contacts(first: 1) {{ nodes {{ {nested} }} }} }}")
    assert "depth" in error["message"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_too_many_aliases_are_refused(as_admin: Api) -> None:
    aliases = " ".join(f"a{i}: viewer {{ user {{ name }} }}" for i in range(31))
    error = await as_admin.error(f"{{ {aliases} }}")
    assert "aliases" in error["message"].lower()
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_too_many_tokens_are_refused(as_admin: Api) -> None:
    fields = " ".join("__typename" for _ in range(5001))
    error = await as_admin.error(f"{{ {fields} }}")
    assert "token" in error["message"].lower()


async def test_syntax_errors_and_unknown_fields_carry_codes(as_admin: Api) -> None:
    assert (await as_admin.error("{ viewer { "))["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    error = await as_admin.error("{ viewer { nope } }")
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "nope" in error["message"]


async def test_bad_variable_values_are_bad_user_input(as_admin: Api) -> None:
    contact_id = await _contact(as_admin)
    error = await as_admin.error(
        "mutation($i: AddDealInput!) { addDeal(input: $i) { id } }",
        {
            "i": {
                "contactId": contact_id,
                "productName": "Plan",
                "amount": "12",
                "currency": "USD",
                "paymentType": "SOMETIMES",
            }
        },
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "SOMETIMES" in error["message"]


async def test_unexpected_errors_are_masked_and_logged_with_the_request_id(
    as_admin: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    contact_id = await _contact(as_admin)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("connection string postgres://admin:hunter2@db")

    monkeypatch.setattr(note_service, "add_note", broken)
    caplog.set_level(logging.ERROR, logger="dossier.graphql")
    response = await as_admin.client.post(
        "/graphql",
        json={
            "query": "mutation($i: AddNoteInput!) { addNote(input: $i) { id } }",
            "variables": {"i": {"contactId": contact_id, "body": "hi"}},
        },
        headers={"Authorization": f"Bearer {as_admin.key}", "X-Request-ID": "req-42"},
    )
    assert response.headers["x-request-id"] == "req-42"
    (error,) = response.json()["errors"]
    assert "hunter2" not in error["message"]
    assert "req-42" in error["message"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-42"}
    logged = [r for r in caplog.records if "req-42" in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert "hunter2" in str(logged[0].exc_info[1])


async def test_every_response_gets_a_request_id(as_admin: Api) -> None:
    response = await as_admin.client.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 401
    generated = response.headers["x-request-id"]
    assert len(generated) == 32
    response = await as_admin.client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"X-Request-ID": "bad id with spaces"}
    )
    assert response.headers["x-request-id"] != "bad id with spaces"


async def test_get_requests_need_a_key_too(as_admin: Api) -> None:
    response = await as_admin.client.get("/graphql", params={"query": "{ viewer { user { name } } }"})
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    response = await as_admin.client.get(
        "/graphql",
        params={"query": "{ viewer { user { name } } }"},
        headers={"Authorization": f"Bearer {as_admin.key}"},
    )
    assert response.json()["data"]["viewer"]["user"]["name"] == "Acme Admin"


async def test_a_malformed_authorization_header_is_refused(as_admin: Api) -> None:
    for header in (f"Basic {as_admin.key}", "Bearer", as_admin.key):
        response = await as_admin.client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"Authorization": header}
        )
        assert response.status_code == 401, header


async def test_introspection_can_be_switched_off(running_app: AppFactory) -> None:
    async with running_app(introspection=False) as api:
        from tests.conftest import make_tenant

        tenant = await make_tenant("Acme")
        body = await api.post("{ __schema { queryType { name } } }", key=tenant.admin_key)
        assert body["data"] is None
        assert "introspection has been disabled" in body["errors"][0]["message"]
        data = await api.data("{ viewer { user { name } } }", key=tenant.admin_key)
        assert data["viewer"]["user"]["name"] == "Acme Admin"


async def test_introspection_is_on_by_default(as_admin: Api, acme: Tenant) -> None:
    data = await as_admin.data('{ __type(name: "Contact") { fields { name } } }')
    names = {f["name"] for f in data["__type"]["fields"]}
    assert {"journey", "calls", "deals", "notes", "tags", "utms", "formAnswers"} <= names


async def _get_page(settings: Settings, **kwargs: object) -> httpx.Response:
    app = create_app(settings, **kwargs)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    # The fixtures' generous start-up timeout (asgi-lifespan's default is 5 s): a start-up on a
    # loaded CI machine took 6.9 s once.
    lifespan = LifespanManager(app, startup_timeout=30, shutdown_timeout=30)
    async with lifespan, httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get("/graphql", headers={"Accept": "text/html"})


async def test_graphiql_serves_the_example_card_query_and_the_demo_key(settings: Settings) -> None:
    page = await _get_page(settings, graphiql_api_key="dsk_demo_example")
    assert page.status_code == 200
    assert "fragment Card on Contact" in page.text
    assert "Bearer dsk_demo_example" in page.text
    plain = await _get_page(settings)
    assert "fragment Card on Contact" in plain.text
    assert "dsk_" not in plain.text


async def test_graphiql_can_be_switched_off(settings: Settings) -> None:
    page = await _get_page(replace(settings, graphiql=False))
    assert "fragment Card on Contact" not in page.text
    assert page.status_code == 404


async def test_health(api: Api) -> None:
    response = await api.client.get("/healthz")
    assert response.json() == {"status": "ok"}
