"""Files on S3 or an S3-compatible store (boto3): streamed multipart uploads, ranged reads, presigned URLs.

boto3 is synchronous, so every call runs in a worker thread. A save holds at
most one part (``PART_SIZE``) in memory: small files go up in one PUT, larger
ones as a multipart upload that is aborted on any error, so an interrupted
upload never becomes an object.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from backend.storage.files import CHUNK, FileInfo, content_type_of, disposition

PART_SIZE = 8 * 1024 * 1024  # S3's minimum part is 5 MiB; 8 MiB matches boto3's default


@dataclass(frozen=True)
class S3Options:
    bucket: str
    prefix: str = ""
    region: str | None = None
    endpoint: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    server_side_encryption: str | None = None  # "AES256" or "aws:kms"
    presigned_urls: bool = False
    presigned_expires: int = 900
    base_url: str | None = None  # a CDN (or public bucket) in front of the objects


class S3Files:
    """A FilesAdapter over one bucket (and an optional key prefix)."""

    def __init__(self, options: S3Options) -> None:
        self.options = options
        style = "path" if options.endpoint else "auto"
        self.client: Any = boto3.client(
            "s3", region_name=options.region, endpoint_url=options.endpoint,
            aws_access_key_id=options.access_key_id, aws_secret_access_key=options.secret_access_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": style}, retries={"max_attempts": 3}),
        )

    def _key(self, name: str) -> str:
        return self.options.prefix + name

    def _extra(self, content_type: str | None) -> dict[str, str]:
        # what the bucket (or a CDN before it) answers a direct download with: a runnable type is an attachment
        extra = {"ContentType": content_type} if content_type else {}
        extra["ContentDisposition"] = disposition(content_type)
        if self.options.server_side_encryption:
            extra["ServerSideEncryption"] = self.options.server_side_encryption
        return extra

    async def save(self, name: str, chunks: AsyncIterator[bytes], content_type: str | None) -> int:
        buffer = bytearray()
        stream = aiter(chunks)
        async for chunk in stream:
            buffer += chunk
            if len(buffer) >= PART_SIZE:
                return await self._multipart(name, buffer, stream, content_type)
        await asyncio.to_thread(
            self.client.put_object, Bucket=self.options.bucket, Key=self._key(name), Body=bytes(buffer),
            **self._extra(content_type),
        )
        return len(buffer)

    async def _multipart(self, name: str, buffer: bytearray, rest: AsyncIterator[bytes],
                         content_type: str | None) -> int:
        key, bucket = self._key(name), self.options.bucket
        started = await asyncio.to_thread(
            self.client.create_multipart_upload, Bucket=bucket, Key=key, **self._extra(content_type)
        )
        upload_id = started["UploadId"]
        parts: list[dict[str, Any]] = []
        size = 0
        try:
            async for chunk in rest:
                buffer += chunk
                while len(buffer) >= PART_SIZE:
                    size += await self._part(key, upload_id, parts, bytes(buffer[:PART_SIZE]))
                    del buffer[:PART_SIZE]
            if buffer or not parts:
                size += await self._part(key, upload_id, parts, bytes(buffer))
            await asyncio.to_thread(
                self.client.complete_multipart_upload, Bucket=bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            await asyncio.shield(asyncio.to_thread(
                self.client.abort_multipart_upload, Bucket=bucket, Key=key, UploadId=upload_id
            ))
            raise
        return size

    async def _part(self, key: str, upload_id: str, parts: list[dict[str, Any]], body: bytes) -> int:
        number = len(parts) + 1
        answer = await asyncio.to_thread(
            self.client.upload_part, Bucket=self.options.bucket, Key=key, UploadId=upload_id,
            PartNumber=number, Body=body,
        )
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        return len(body)

    async def stat(self, name: str) -> FileInfo | None:
        try:
            head = await asyncio.to_thread(self.client.head_object, Bucket=self.options.bucket, Key=self._key(name))
        except ClientError as error:
            if _missing(error):
                return None
            raise
        return FileInfo(name, int(head["ContentLength"]), head.get("ETag"), head.get("LastModified"))

    async def read(self, name: str, start: int, end: int) -> AsyncIterator[bytes]:
        answer = await asyncio.to_thread(
            self.client.get_object, Bucket=self.options.bucket, Key=self._key(name), Range=f"bytes={start}-{end}"
        )
        body = answer["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, CHUNK):
                yield chunk
        finally:
            body.close()

    async def delete(self, name: str) -> bool:
        if await self.stat(name) is None:
            return False
        await asyncio.to_thread(self.client.delete_object, Bucket=self.options.bucket, Key=self._key(name))
        return True

    async def names(self) -> AsyncIterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = await asyncio.to_thread(
            lambda: list(paginator.paginate(Bucket=self.options.bucket, Prefix=self.options.prefix))
        )
        for page in pages:
            for item in page.get("Contents", ()):
                yield item["Key"][len(self.options.prefix):]

    def direct_url(self, name: str) -> str | None:
        if self.options.base_url:
            return f"{self.options.base_url.rstrip('/')}/{quote(self._key(name))}"
        if self.options.presigned_urls:
            url: str = self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.options.bucket, "Key": self._key(name),
                                      "ResponseContentDisposition": disposition(content_type_of(name))},
                ExpiresIn=self.options.presigned_expires,
            )
            return url
        return None

    async def close(self) -> None:
        await asyncio.to_thread(self.client.close)

    async def ping(self) -> None:
        await asyncio.to_thread(self.client.head_bucket, Bucket=self.options.bucket)


def _missing(error: ClientError) -> bool:
    code = str(error.response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")
