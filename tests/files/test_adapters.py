"""The FilesAdapter contract, on local disk and on S3 (moto's server over HTTP)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.storage.files import FilesAdapter
from backend.storage.files_local import LocalFiles
from backend.storage.files_s3 import PART_SIZE, S3Files, S3Options
from tests.files.conftest import KEYS, REGION, MotoS3


def s3_options(moto: MotoS3, **extra: Any) -> S3Options:  # extra: more S3Options fields
    return S3Options(bucket=moto.new_bucket(), prefix="app/", region=REGION, endpoint=moto.endpoint,
                     access_key_id=KEYS["aws_access_key_id"], secret_access_key=KEYS["aws_secret_access_key"],
                     **extra)


@pytest.fixture(params=["local", "s3"])
def adapter(request: pytest.FixtureRequest, tmp_path: Path) -> FilesAdapter:
    if request.param == "local":
        return LocalFiles(tmp_path / "files")
    return S3Files(s3_options(request.getfixturevalue("moto_s3")))


async def chunks(data: bytes, size: int = 64 * 1024, fail_after: int | None = None) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        if fail_after is not None and offset >= fail_after:
            raise ConnectionResetError("client went away")
        yield data[offset:offset + size]


async def read_all(adapter: FilesAdapter, name: str, start: int, end: int) -> bytes:
    return b"".join([chunk async for chunk in adapter.read(name, start, end)])


async def test_save_stat_read_delete_round_trip(adapter: FilesAdapter) -> None:
    data = os.urandom(200_001)
    assert await adapter.save("abc_photo.jpg", chunks(data), "image/jpeg") == len(data)
    info = await adapter.stat("abc_photo.jpg")
    assert info is not None and info.size == len(data) and info.etag
    assert await read_all(adapter, "abc_photo.jpg", 0, len(data) - 1) == data
    assert await read_all(adapter, "abc_photo.jpg", 10, 19) == data[10:20]
    assert [name async for name in adapter.names()] == ["abc_photo.jpg"]
    assert await adapter.delete("abc_photo.jpg") is True
    assert await adapter.stat("abc_photo.jpg") is None
    assert await adapter.delete("abc_photo.jpg") is False


async def test_large_save_streams_in_parts_and_reads_back(adapter: FilesAdapter) -> None:
    data = os.urandom(PART_SIZE * 2 + 12345)  # three multipart parts on S3
    assert await adapter.save("big.bin", chunks(data, 1024 * 1024), None) == len(data)
    assert await read_all(adapter, "big.bin", PART_SIZE - 5, PART_SIZE + 4) == data[PART_SIZE - 5:PART_SIZE + 5]


async def test_an_interrupted_save_leaves_nothing_behind(adapter: FilesAdapter) -> None:
    data = os.urandom(PART_SIZE + 4 * 1024 * 1024)
    with pytest.raises(ConnectionResetError):
        await adapter.save("half.bin", chunks(data, 1024 * 1024, fail_after=PART_SIZE + 1024 * 1024), None)
    assert await adapter.stat("half.bin") is None
    assert [name async for name in adapter.names()] == []
    if isinstance(adapter, LocalFiles):
        assert list(adapter.root.iterdir()) == []  # not even a .part file
    if isinstance(adapter, S3Files):
        pending = adapter.client.list_multipart_uploads(Bucket=adapter.options.bucket)
        assert pending.get("Uploads", []) == []  # the multipart upload was aborted


def test_local_adapter_refuses_names_that_leave_its_folder(tmp_path: Path) -> None:
    files = LocalFiles(tmp_path / "files")
    for name in ("../escape.txt", "a/../../b", ".hidden"):
        with pytest.raises(ValueError):
            files._path(name)


async def test_s3_server_side_encryption_and_presigned_urls(moto_s3: MotoS3) -> None:
    adapter = S3Files(s3_options(moto_s3, server_side_encryption="AES256", presigned_urls=True))
    await adapter.save("secret.txt", chunks(b"top secret"), "text/plain")
    head = adapter.client.head_object(Bucket=adapter.options.bucket, Key="app/secret.txt")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == "text/plain"
    url = adapter.direct_url("secret.txt")
    assert url is not None and "X-Amz-Signature" in url
    assert httpx.get(url).content == b"top secret"


def test_s3_base_url_points_at_the_cdn(moto_s3: MotoS3) -> None:
    adapter = S3Files(s3_options(moto_s3, base_url="https://cdn.example.com/"))
    assert adapter.direct_url("a b.txt") == "https://cdn.example.com/app/a%20b.txt"
