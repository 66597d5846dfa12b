"""The S3-compatible storage against a real S3 API on 127.0.0.1: moto in server mode.

Not a mock of the client: aiobotocore signs and sends real HTTP requests (multipart uploads,
ranged GETs, listings) to moto's server, as it would to S3, MinIO or R2.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from crm.storage import ObjectMissing
from crm.storage.s3 import S3Storage
from tests.conftest import AppFactory, make_tenant
from tests.test_attachments import PDF, download, form_upload, new_contact

moto_server = pytest.importorskip("moto.server")
BUCKET = "dossier-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = _free_port()  # (ThreadedMotoServer.get_host_and_port is newer than moto 5.0, the floor)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch, s3_endpoint: str) -> str:
    """Credentials as the usual AWS variables (moto takes any); no instance metadata lookups."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return s3_endpoint


@pytest.fixture
async def bucket(s3_env: str) -> AsyncIterator[S3Storage]:
    store = S3Storage(BUCKET, endpoint_url=s3_env, prefix="files", part_size=5 * 1024 * 1024)
    s3 = await store._s3()
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        await s3.create_bucket(Bucket=BUCKET)
    for item in [i async for i in store.list()]:
        await store.delete(item.key)
    yield store
    await store.close()


async def _chunks(data: bytes, size: int = 64 * 1024, fail_after: int | None = None) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        if fail_after is not None and start >= fail_after:
            raise RuntimeError("the client went away")
        yield data[start : start + size]


async def _read(store: S3Storage, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in await store.open(key, start, end)])


async def test_small_and_multipart_objects_round_trip(bucket: S3Storage) -> None:
    small = b"hello, bucket"
    big = bytes(range(256)) * (12 * 4096 + 7)  # 12.6 MB: three parts of 5 MiB
    stored_small = await bucket.put("1/small", _chunks(small))
    stored_big = await bucket.put("1/big", _chunks(big))

    assert (stored_small.size, stored_small.sha256) == (len(small), hashlib.sha256(small).hexdigest())
    assert (stored_big.size, stored_big.sha256) == (len(big), hashlib.sha256(big).hexdigest())
    assert await _read(bucket, "1/small") == small
    assert await _read(bucket, "1/big") == big
    assert await _read(bucket, "1/big", 5 * 1024 * 1024 - 3, 5 * 1024 * 1024 + 2) == big[5242877:5242883]
    assert await bucket.exists("1/big") and not await bucket.exists("1/none")
    assert sorted(i.key for i in [i async for i in bucket.list()]) == ["1/big", "1/small"]
    s3 = await bucket._s3()
    raw = await s3.list_objects_v2(Bucket=BUCKET)
    assert sorted(o["Key"] for o in raw["Contents"]) == ["files/1/big", "files/1/small"]  # under the prefix

    await bucket.delete("1/small")
    await bucket.delete("1/small")  # a missing object is no error
    with pytest.raises(ObjectMissing):
        await bucket.open("1/small")


async def test_a_stream_that_fails_leaves_no_object_and_no_open_upload(bucket: S3Storage) -> None:
    data = b"x" * (11 * 1024 * 1024)
    with pytest.raises(RuntimeError):
        await bucket.put("1/broken", _chunks(data, fail_after=10 * 1024 * 1024 + 1))
    with pytest.raises(RuntimeError):
        await bucket.put("1/short", _chunks(b"abc" * 10, size=3, fail_after=6))

    assert [i async for i in bucket.list()] == []
    s3 = await bucket._s3()
    uploads = await s3.list_multipart_uploads(Bucket=BUCKET)
    assert uploads.get("Uploads", []) == []


async def test_the_app_stores_uploads_in_the_bucket(
    running_app: AppFactory, bucket: S3Storage, s3_env: str
) -> None:
    async with running_app(s3_bucket=BUCKET, s3_endpoint_url=s3_env, s3_prefix="files") as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        contact_id = await new_contact(api)

        response = await form_upload(api, {"contactId": contact_id}, ("deal.pdf", PDF, "application/pdf"))
        assert response.status_code == 201, response.text
        made: dict[str, Any] = response.json()
        keys = [i.key async for i in bucket.list()]
        assert len(keys) == 1
        assert await _read(bucket, keys[0]) == PDF
        got = await download(api, made["downloadUrl"])
        assert (got.status_code, got.content) == (200, PDF)
        ranged = await download(api, made["downloadUrl"], Range="bytes=0-3")
        assert (ranged.status_code, ranged.content) == (206, b"%PDF")

        await api.data("mutation($i: DeleteAttachmentInput!) { deleteAttachment(input: $i) { id } }",
                       {"i": {"id": made["id"]}})  # fmt: skip
        assert [i async for i in bucket.list()] == []
