"""Automatic persisted queries: a known hash runs its document; unknown hashes ask for it."""

from __future__ import annotations

import hashlib
import json

from tests.conftest import Api, Tenant

QUERY = "{ viewer { user { name } } }"
DIGEST = hashlib.sha256(QUERY.encode()).hexdigest()


def _persisted(digest: str = DIGEST) -> dict[str, object]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def _post(api: Api, body: dict[str, object]) -> dict[str, object]:
    response = await api.client.post("/graphql", json=body, headers={"Authorization": f"Bearer {api.key}"})
    return response.json()


async def test_the_apollo_round_trip(as_admin: Api, acme: Tenant) -> None:
    # 1. The client tries the hash alone: unknown yet.
    first = await _post(as_admin, {"extensions": _persisted()})
    assert first["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert first["errors"][0]["message"] == "PersistedQueryNotFound"
    # 2. It sends the document with its hash: it runs and is remembered.
    second = await _post(as_admin, {"query": QUERY, "extensions": _persisted()})
    assert second == {"data": {"viewer": {"user": {"name": "Acme Admin"}}}}
    # 3. From now on the hash alone is enough, over POST and GET.
    third = await _post(as_admin, {"extensions": _persisted()})
    assert third == second
    response = await as_admin.client.get(
        "/graphql",
        params={"extensions": json.dumps(_persisted())},
        headers={"Authorization": f"Bearer {as_admin.key}"},
    )
    assert response.json() == second


async def test_a_hash_that_does_not_match_its_query_is_refused(as_admin: Api, acme: Tenant) -> None:
    wrong = await _post(as_admin, {"query": QUERY, "extensions": _persisted("0" * 64)})
    assert wrong["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "does not match" in wrong["errors"][0]["message"]
    # ... and nothing was stored under it.
    again = await _post(as_admin, {"extensions": _persisted("0" * 64)})
    assert again["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_malformed_persisted_query_extensions(as_admin: Api, acme: Tenant) -> None:
    for extension in ({"version": 2, "sha256Hash": DIGEST}, {"version": 1, "sha256Hash": "abc"}, "x"):
        body = await _post(as_admin, {"query": QUERY, "extensions": {"persistedQuery": extension}})
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", extension


async def test_persisted_documents_still_need_a_key(api: Api, acme: Tenant) -> None:
    api_with_key = api.as_(acme.admin_key)
    await _post(api_with_key, {"query": QUERY, "extensions": _persisted()})
    response = await api.client.post("/graphql", json={"extensions": _persisted()})
    assert response.status_code == 401


def test_the_store_is_bounded_and_keeps_the_recently_used() -> None:
    from graph.persisted import PersistedQueries, PersistedQueryError

    store = PersistedQueries(max_documents=2)
    docs = ["{ a }", "{ b }", "{ c }"]
    hashes = [hashlib.sha256(d.encode()).hexdigest() for d in docs]
    store.resolve(docs[0], {"version": 1, "sha256Hash": hashes[0]})
    store.resolve(docs[1], {"version": 1, "sha256Hash": hashes[1]})
    assert store.resolve(None, {"version": 1, "sha256Hash": hashes[0]}) == docs[0]  # now the newest
    store.resolve(docs[2], {"version": 1, "sha256Hash": hashes[2]})  # evicts b, the least recent
    assert len(store) == 2
    assert store.resolve(None, {"version": 1, "sha256Hash": hashes[0]}) == docs[0]
    try:
        store.resolve(None, {"version": 1, "sha256Hash": hashes[1]})
    except PersistedQueryError as exc:
        assert exc.error.extensions == {"code": "PERSISTED_QUERY_NOT_FOUND"}
    else:
        raise AssertionError("b should have been evicted")
