"""Files through a real server socket: interrupted uploads, lying lengths, raw dot segments; S3 on moto."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from backend.app import create_app
from backend.config import Settings
from tests.conftest import APP_ID, MASTER_KEY
from tests.files.conftest import MotoS3, s3_settings
from tests.sdk.harness import SDK_DIR, run_js
from tests.support.live import LiveServer
from tests.support.postgres import free_port

MASTER = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY}


def raw_request(server: LiveServer, head: str, body: bytes, close_early: bool) -> bytes:
    """Send an HTTP request by hand; with ``close_early`` the connection is cut after ``body``."""
    parts = urlsplit(server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        if close_early:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        return answer


def upload_head(path: str, length: int) -> str:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Parse-Application-Id: {APP_ID}\r\n"
            f"X-Parse-Master-Key: {MASTER_KEY}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {length}\r\n")


def wait_until_empty(settings_dir: object, check: Callable[[], object]) -> None:
    """Give the server a moment to notice the disconnect (no timing is asserted: we only wait for it)."""
    for _ in range(100):
        if check():
            return
        time.sleep(0.05)


@pytest.fixture
def s3_server(settings: Settings, moto_s3: MotoS3) -> Iterator[tuple[LiveServer, Settings]]:
    port = free_port()
    served = s3_settings(settings, moto_s3, port=port, server_url=f"http://127.0.0.1:{port}/parse")
    with LiveServer(create_app(served), port) as server:
        yield server, served


def test_an_upload_cut_off_half_way_leaves_nothing(live_server: LiveServer, settings: Settings) -> None:
    files = settings.data_dir / "files"
    path = urlsplit(live_server.url).path + "/files/half.bin"
    raw_request(live_server, upload_head(path, 2_000_000), b"x" * 1_000_000, close_early=True)
    wait_until_empty(files, lambda: not files.exists() or not any(files.iterdir()))
    assert not files.exists() or list(files.iterdir()) == []
    assert httpx.get(f"{live_server.url}/health").status_code == 200  # the server carries on


def test_raw_dot_segments_are_refused_not_followed(live_server: LiveServer, settings: Settings) -> None:
    path = urlsplit(live_server.url).path + "/files/../../etc/passwd"
    answer = raw_request(live_server, upload_head(path, 4) + "Connection: close\r\n", b"root", close_early=False)
    assert b" 400 " in answer.split(b"\r\n", 1)[0]
    assert b'"code":122' in answer


def test_files_on_s3_through_the_js_sdk(s3_server: tuple[LiveServer, Settings], moto_s3: MotoS3) -> None:
    server, served = s3_server
    result = run_js(SDK_DIR / "files.test.mjs", server)
    assert result.returncode == 0, f"{result.stdout[-12000:]}\n{result.stderr[-4000:]}"
    assert served.s3_bucket is not None
    keys = moto_s3.keys(served.s3_bucket)
    assert keys and all(key.startswith("files/") for key in keys)


def test_s3_upload_download_and_interrupted_multipart(s3_server: tuple[LiveServer, Settings], moto_s3: MotoS3) -> None:
    server, served = s3_server
    assert served.s3_bucket is not None
    data = bytes(range(256)) * 40_000  # ~10 MB: a multipart upload
    answer = httpx.post(f"{server.url}/files/big.bin", content=data, headers=MASTER, timeout=60).json()
    assert httpx.get(answer["url"], timeout=60).content == data
    part = httpx.get(answer["url"], headers={"Range": "bytes=9000000-9000009"})
    assert part.status_code == 206 and part.content == data[9_000_000:9_000_010]
    path = urlsplit(server.url).path + "/files/cut.bin"
    raw_request(server, upload_head(path, 20_000_000), b"y" * 12_000_000, close_early=True)
    client = moto_s3.client()
    wait_until_empty(None, lambda: not client.list_multipart_uploads(Bucket=served.s3_bucket).get("Uploads"))
    assert not client.list_multipart_uploads(Bucket=served.s3_bucket).get("Uploads")
    assert moto_s3.keys(served.s3_bucket) == [f"files/{answer['name']}"]


def test_presigned_urls_redirect_to_s3(settings: Settings, moto_s3: MotoS3) -> None:
    port = free_port()
    served = s3_settings(settings, moto_s3, port=port, server_url=f"http://127.0.0.1:{port}/parse",
                         s3_presigned_urls=True, s3_server_side_encryption="AES256")
    with LiveServer(create_app(served), port) as server:
        answer = httpx.post(f"{server.url}/files/hello.txt", content=b"signed", headers=MASTER).json()
        assert answer["url"].startswith(moto_s3.endpoint) and "X-Amz-Signature" in answer["url"]
        assert "X-Amz-Expires=900" in answer["url"]
        assert httpx.get(answer["url"]).content == b"signed"
        via_ballast = httpx.get(f"{server.url}/files/{APP_ID}/{answer['name']}")
        assert via_ballast.status_code == 302 and "X-Amz-Signature" in via_ballast.headers["location"]
        assert httpx.get(f"{server.url}/files/{APP_ID}/{answer['name']}", follow_redirects=True).content == b"signed"
