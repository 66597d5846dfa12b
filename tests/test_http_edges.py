"""The HTTP edge of /graphql (issue 9, item 6): whatever the body, the headers or a crash,
the answer is JSON with a code and the request id; bodies and headers have limits."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph.view import DossierGraphQL
from tests.conftest import Api, AppFactory, Tenant
from tests.fakes.smtp import free_port

QUERY = "{ viewer { user { name } } }"


def refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response's one error, checked: JSON, the status, the code, the request id."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == code, error
    assert error["extensions"]["requestId"] == response.headers["x-request-id"], (error, response.headers)
    return error


def headers(tenant: Tenant, content_type: str = "application/json") -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant.admin_key}", "Content-Type": content_type}


BAD_BODIES: dict[str, bytes] = {
    "null": b"null",
    "number": b"42",
    "boolean": b"true",
    "string": b'"a string"',
    "empty": b"",
    "not JSON": b"{query: 1}",
    "invalid UTF-8": b'{"query": "{ viewer { user { name } } }", "operationName": "\xff\xfe"}',
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "deep nesting in variables": b'{"query": "{ __typename }", "variables": {"a": '
    + b"[" * 100_000
    + b"]" * 100_000
    + b"}}",
    "query not a string": b'{"query": 5}',
    "variables not an object": b'{"query": "{ __typename }", "variables": [1]}',
    "extensions not an object": b'{"query": "{ __typename }", "extensions": "x"}',
    "operationName not a string": b'{"query": "{ __typename }", "operationName": {}}',
    "batch": b'[{"query": "{ __typename }"}]',
    "no query": b"{}",
}


@pytest.mark.parametrize("body", list(BAD_BODIES.values()), ids=list(BAD_BODIES))
async def test_a_bad_body_is_a_json_400_with_the_request_id(api: Api, acme: Tenant, body: bytes) -> None:
    response = await api.client.post("/graphql", content=body, headers=headers(acme))
    error = refused(response, 400, "BAD_REQUEST")
    assert len(error["message"]) > 10


@pytest.mark.parametrize("charset", ["latin-1", "iso-8859-1", "utf-16", "klingon"])
async def test_a_charset_other_than_utf8_is_refused(api: Api, acme: Tenant, charset: str) -> None:
    body = json.dumps({"query": QUERY}).encode()
    response = await api.client.post(
        "/graphql", content=body, headers=headers(acme, f"application/json; charset={charset}")
    )
    assert "UTF-8" in refused(response, 400, "BAD_REQUEST")["message"]
    # UTF-8 spelled either way is fine.
    for fine in ("utf-8", "UTF-8", "utf8"):
        ok = await api.client.post(
            "/graphql", content=body, headers=headers(acme, f"application/json; charset={fine}")
        )
        assert ok.json() == {"data": {"viewer": {"user": {"name": "Acme Admin"}}}}


async def test_the_batching_refusal_says_so(api: Api, acme: Tenant) -> None:
    response = await api.client.post("/graphql", content=BAD_BODIES["batch"], headers=headers(acme))
    assert "batching" in refused(response, 400, "BAD_REQUEST")["message"]


@pytest.mark.parametrize(
    "params",
    [
        {"query": QUERY, "variables": "{not json"},
        {"query": QUERY, "variables": "42"},
        {"query": QUERY, "variables": "[" * 100_00 + "]" * 100_00},
        {"query": QUERY, "extensions": "nope"},
        {"query": QUERY, "extensions": '"x"'},
        {"query": "mutation { createContact(input: {firstName: \"A\"}) { id } }"},  # a mutation over GET
    ],
    ids=["variables not JSON", "variables a number", "variables deep", "extensions not JSON",
         "extensions a string", "mutation over GET"],
)  # fmt: skip
async def test_a_bad_get_is_a_json_400(api: Api, acme: Tenant, params: dict[str, str]) -> None:
    response = await api.client.get("/graphql", params=params, headers=headers(acme))
    refused(response, 400, "BAD_REQUEST")


async def test_strawberrys_own_refusals_are_json_too(api: Api, acme: Tenant) -> None:
    response = await api.client.post("/graphql", content=b"query=1", headers=headers(acme, "text/plain"))
    refused(response, 400, "BAD_REQUEST")
    response = await api.client.put("/graphql", json={"query": QUERY}, headers=headers(acme))
    assert response.status_code == 405  # the route's methods (Starlette): not GraphQL's business


async def test_missing_or_unknown_keys_carry_the_request_id(api: Api) -> None:
    response = await api.client.post("/graphql", json={"query": QUERY})
    refused(response, 401, "UNAUTHENTICATED")
    response = await api.client.post(
        "/graphql", json={"query": QUERY}, headers={"Authorization": "Bearer nope"}
    )
    refused(response, 401, "UNAUTHENTICATED")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_an_unexpected_exception_is_a_json_500_logged_with_its_traceback(
    api: Api, acme: Tenant, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the context could not be built")

    monkeypatch.setattr(DossierGraphQL, "get_context", broken)
    response = await api.client.post("/graphql", json={"query": QUERY}, headers=headers(acme))
    error = refused(response, 500, "INTERNAL_SERVER_ERROR")
    assert "could not be built" not in error["message"]
    assert response.headers["x-request-id"] in error["message"]
    [record] = [r for r in caplog.records if r.name == "dossier.http"]
    assert response.headers["x-request-id"] in record.getMessage()
    assert record.exc_info is not None and "could not be built" in str(record.exc_info[1])


async def test_bodies_over_the_limit_are_refused_with_413(running_app: AppFactory) -> None:
    async with running_app(max_body_bytes=4000) as api:
        from tests.conftest import make_tenant

        tenant = await make_tenant("Acme")
        query = "query($x: String) { viewer { user { name } } }"
        for size, status in ((3900, 200), (4100, 413)):
            padding = "x" * (size - len(json.dumps({"query": query, "variables": {"x": ""}})))
            body = json.dumps({"query": query, "variables": {"x": padding}}).encode()
            assert len(body) == size
            response = await api.client.post("/graphql", content=body, headers=headers(tenant))
            assert response.status_code == status, response.text
            if status == 413:
                error = refused(response, 413, "REQUEST_TOO_LARGE")
                assert error["extensions"]["limit"] == 4000

            async def chunks(body: bytes = body) -> AsyncIterator[bytes]:  # no Content-Length: chunked
                for start in range(0, len(body), 500):
                    yield body[start : start + 500]

            response = await api.client.post("/graphql", content=chunks(), headers=headers(tenant))
            assert response.status_code == status, response.text


async def test_a_chunked_body_is_not_read_past_the_limit(api: Api, acme: Tenant) -> None:
    """An endless body: the app stops reading right after the limit and answers 413."""
    chunk, delivered = b"x" * 65536, 0

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        delivered += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/graphql", "raw_path": b"/graphql", "query_string": b"",
        "root_path": "", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1234),
        "headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked"),
                    (b"authorization", f"Bearer {acme.admin_key}".encode())],
    }  # fmt: skip
    await api.app(scope, receive, send)
    limit = api.runtime.settings.max_body_bytes
    assert limit == 1024 * 1024
    assert delivered == limit // len(chunk) + 1
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"


async def test_headers_over_the_limit_are_refused_with_431(api: Api, acme: Tenant) -> None:
    big = {"Authorization": "Bearer " + "k" * 1_000_000}
    response = await api.client.post("/graphql", json={"query": QUERY}, headers=big)
    error = refused(response, 431, "HEADERS_TOO_LARGE")
    assert error["extensions"]["limit"] == 16 * 1024
    # Under the limit, headers of a few kilobytes are fine.
    fine = {**headers(acme), "X-Trace": "t" * 8000}
    assert (await api.client.post("/graphql", json={"query": QUERY}, headers=fine)).status_code == 200


# --------------------------------------------------------------------------------------
# The real server: uvicorn may act before the app does
# --------------------------------------------------------------------------------------


async def raw_exchange(port: int, key: str, extra: dict[str, str], parts: list[bytes]) -> httpx.Response:
    """POST /graphql over a plain socket: the head, then `parts`, then read the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = {"Host": f"127.0.0.1:{port}", "Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    lines = [f"{name}: {value}" for name, value in {**head, **extra}.items()]
    writer.write(("POST /graphql HTTP/1.1\r\n" + "\r\n".join(lines) + "\r\n\r\n").encode())
    for part in parts:
        writer.write(part)
    await writer.drain()
    status_line = await reader.readline()
    response_headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        response_headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(response_headers["content-length"]))
    writer.close()
    return httpx.Response(int(status_line.split()[1]), headers=response_headers, content=body)


@pytest.mark.timeout(120)
async def test_limits_hold_on_the_served_app(tmp_path: Path) -> None:
    env = {**os.environ, "DOSSIER_DATABASE_URL": f"sqlite://{tmp_path / 'edge.db'}"}
    created = subprocess.run(
        [sys.executable, "-m", "dossier.cli", "account", "create", "Edge Co", "--email",
         "a@edge.example.com"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    key = created.stdout.strip().splitlines()[-1]
    port = free_port()
    cmd = [sys.executable, "-m", "dossier.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    auth = {"Authorization": f"Bearer {key}"}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and process.poll() is None, "the server did not start"
                await asyncio.sleep(0.1)  # bounded start-up poll

            ok = await client.post("/graphql", json={"query": QUERY}, headers=auth)
            assert ok.json() == {"data": {"viewer": {"user": {"name": "A"}}}}, ok.text

            huge_header = {"Authorization": "Bearer " + "k" * 1_000_000}
            refused(
                await client.post("/graphql", json={"query": QUERY}, headers=huge_header),
                431,
                "HEADERS_TOO_LARGE",
            )

            # A body declared over the limit is refused before a byte of it is read; a chunked one
            # as soon as the limit is crossed. (Raw HTTP: a client that sends the whole body first
            # may see the connection reset under it once the answer has come.)
            declared = await raw_exchange(port, key, {"Content-Length": str(10 * 1024 * 1024)}, [])
            refused(declared, 413, "REQUEST_TOO_LARGE")
            piece = b"y" * 65536
            parts = [b"%x\r\n%s\r\n" % (len(piece), piece)] * (1024 * 1024 // len(piece) + 1)
            chunked = await raw_exchange(port, key, {"Transfer-Encoding": "chunked"}, parts)
            refused(chunked, 413, "REQUEST_TOO_LARGE")

            for body in (b"null", b"\xff", b"[" * 100_000 + b"]" * 100_000):
                response = await client.post(
                    "/graphql", content=body, headers={**auth, "Content-Type": "application/json"}
                )
                refused(response, 400, "BAD_REQUEST")
            # The server is still well after all that.
            assert (await client.post("/graphql", json={"query": QUERY}, headers=auth)).status_code == 200
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
