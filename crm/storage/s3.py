"""Objects in an S3-compatible bucket (DOSSIER_S3_BUCKET), for deployments with several machines.

Through aiobotocore (botocore's maintained asyncio port): credentials and region come from the
usual AWS_* variables and files; DOSSIER_S3_ENDPOINT_URL points it at MinIO, Ceph, R2, moto...
Uploads bigger than one part go up as a multipart upload, part by part, so memory holds at most
one part whatever the file's size; a stream that fails midway aborts the upload and leaves no
object. The client is opened on first use, in the running event loop, and closed by close().
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import ClientError

from crm.storage import CHUNK, ObjectInfo, ObjectMissing, StoredObject, check_key

# S3's smallest part but the last is 5 MiB; 8 MiB parts keep a 25 MB upload to four requests.
PART_SIZE = 8 * 1024 * 1024
_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3Storage:
    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        prefix: str = "",
        part_size: int = PART_SIZE,
    ) -> None:
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.part_size = part_size
        self.name = f"s3://{bucket}/{self.prefix}" + (f" at {endpoint_url}" if endpoint_url else "")
        self._stack: AsyncExitStack | None = None
        self._client: Any = None
        self._lock = asyncio.Lock()

    async def _s3(self) -> Any:
        async with self._lock:
            if self._client is None:
                stack = AsyncExitStack()
                session = get_session()
                self._client = await stack.enter_async_context(
                    session.create_client(
                        "s3",
                        endpoint_url=self.endpoint_url,
                        region_name=self.region or session.get_config_variable("region") or "us-east-1",
                        config=Config(retries={"max_attempts": 3, "mode": "standard"}),
                    )
                )
                self._stack = stack
            return self._client

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> StoredObject:
        s3 = await self._s3()
        name = self._key(key)
        digest = hashlib.sha256()
        size = 0
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                buffer += chunk
                while len(buffer) >= self.part_size:
                    if upload_id is None:
                        started = await s3.create_multipart_upload(Bucket=self.bucket, Key=name)
                        upload_id = started["UploadId"]
                    part = bytes(buffer[: self.part_size])
                    del buffer[: self.part_size]
                    number = len(parts) + 1
                    sent = await s3.upload_part(
                        Bucket=self.bucket, Key=name, UploadId=upload_id, PartNumber=number, Body=part
                    )
                    parts.append({"PartNumber": number, "ETag": sent["ETag"]})
            if upload_id is None:
                await s3.put_object(Bucket=self.bucket, Key=name, Body=bytes(buffer))
            else:
                if buffer or not parts:
                    number = len(parts) + 1
                    sent = await s3.upload_part(
                        Bucket=self.bucket,
                        Key=name,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=bytes(buffer),
                    )
                    parts.append({"PartNumber": number, "ETag": sent["ETag"]})
                await s3.complete_multipart_upload(
                    Bucket=self.bucket, Key=name, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
        except BaseException:
            if upload_id is not None:
                await _quietly(s3.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id))
            raise
        return StoredObject(size, digest.hexdigest())

    async def open(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        s3 = await self._s3()
        extra: dict[str, str] = {}
        if start or end is not None:
            extra["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            found = await s3.get_object(Bucket=self.bucket, Key=self._key(key), **extra)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise ObjectMissing(key) from None
            raise
        return _stream(found["Body"])

    async def delete(self, key: str) -> None:
        s3 = await self._s3()
        await s3.delete_object(Bucket=self.bucket, Key=self._key(key))

    async def exists(self, key: str) -> bool:
        s3 = await self._s3()
        try:
            await s3.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return False
            raise
        return True

    async def list(self) -> AsyncIterator[ObjectInfo]:  # type: ignore[override]
        s3 = await self._s3()
        paginator = s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", ()):
                yield ObjectInfo(item["Key"][len(self.prefix) :], item["LastModified"])

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
        self._stack, self._client = None, None


async def _stream(body: Any) -> AsyncIterator[bytes]:
    async with body:
        while chunk := await body.read(CHUNK):
            yield chunk


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


async def _quietly(call: Any) -> None:
    # The upload failed already; an upload left unaborted expires by the bucket's policy.
    with contextlib.suppress(Exception):
        await call
