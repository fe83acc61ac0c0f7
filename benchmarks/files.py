"""Files benchmark: 10 MB upload/download throughput through Ballast (local disk, S3 on moto) against the
raw disk / raw moto rate, and Ballast's peak memory while a 200 MB upload streams through it.

    .venv/bin/python -m benchmarks.files [--runs 5] [--big-mb 200]

Ballast runs as its own uvicorn process (``backend.asgi``, as ``ballast serve`` runs it), so its
memory is measured alone: VmHWM (peak resident set) from /proc before and after the big upload.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import httpx
from moto.server import ThreadedMotoServer

from tests.support.postgres import free_port

MB = 1024 * 1024
APP_ID, MASTER = "bench", "bench-master-key"
HEADERS = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER,
           "Content-Type": "application/octet-stream"}
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def rate(size: int, seconds: list[float]) -> str:
    return f"{size / MB / statistics.median(seconds):8.1f} MB/s"


def timed(action: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Ballast:
    """A Ballast process with its files on disk or in a moto bucket."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/parse"
        environ = {**os.environ, "BALLAST_DATA_DIR": str(data_dir), "PARSE_SERVER_APPLICATION_ID": APP_ID,
                   "PARSE_SERVER_MASTER_KEY": MASTER, "PARSE_SERVER_MAX_UPLOAD_SIZE": "1gb",
                   "PARSE_SERVER_PORT": str(self.port), "BALLAST_CLOUD_CODE_DIR": str(data_dir / "no-cloud"), **env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "backend.asgi:app", "--port", str(self.port),
             "--log-level", "warning", "--no-access-log"], env=environ)
        for _ in range(300):
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("Ballast did not start")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)

    def upload(self, client: httpx.Client, data: bytes | Iterator[bytes], name: str = "blob.bin") -> str:
        answer = client.post(f"{self.url}/files/{name}", content=data, headers=HEADERS, timeout=300)
        answer.raise_for_status()
        return str(answer.json()["url"])


def download(client: httpx.Client, url: str) -> int:
    size = 0
    with client.stream("GET", url, timeout=300) as response:
        for chunk in response.iter_bytes(1 * MB):
            size += len(chunk)
    return size


def chunks(total: int, size: int = MB) -> Iterator[bytes]:
    block = secrets.token_bytes(size)
    for _ in range(total // size):
        yield block


def through_ballast(label: str, server: Ballast, data: bytes, runs: int, big_mb: int) -> None:
    with httpx.Client() as client:
        download(client, server.upload(client, b"warm-up"))  # first request: imports, connections
        before = peak_rss_mb(server.process.pid)  # the big upload comes first, so no earlier peak hides it
        server.upload(client, chunks(big_mb * MB), "big.bin")
        after = peak_rss_mb(server.process.pid)
        server.upload(client, data)  # warm-up at the measured size
        urls: list[str] = []
        up = timed(lambda: urls.append(server.upload(client, data)), runs)
        down = timed(lambda: download(client, urls[-1]), runs)
    print(f"  Ballast {label:<10} upload {rate(len(data), up)}   download {rate(len(data), down)}")
    print(f"  Ballast {label:<10} peak RSS {before:6.1f} MB before, {after:6.1f} MB after a {big_mb} MB upload "
          f"(+{after - before:.1f} MB)")


def raw_disk(folder: Path, data: bytes, runs: int) -> None:
    path = folder / "raw.bin"
    up = timed(lambda: path.write_bytes(data), runs)
    down = timed(path.read_bytes, runs)
    print(f"  raw disk           write  {rate(len(data), up)}   read     {rate(len(data), down)}")


def raw_moto(endpoint: str, bucket: str, data: bytes, runs: int) -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **KEYS)
    up = timed(lambda: s3.put_object(Bucket=bucket, Key="raw.bin", Body=data), runs)
    down = timed(lambda: s3.get_object(Bucket=bucket, Key="raw.bin")["Body"].read(), runs)
    print(f"  raw moto (boto3)   put    {rate(len(data), up)}   get      {rate(len(data), down)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size-mb", type=int, default=10)
    parser.add_argument("--big-mb", type=int, default=200)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    data = secrets.token_bytes(args.size_mb * MB)
    with tempfile.TemporaryDirectory(prefix="ballast-files-bench-") as tmp:
        base = Path(tmp)
        print(f"{args.size_mb} MB file, median of {args.runs} runs")
        raw_disk(base, data, args.runs)
        local = Ballast(base / "local", {})
        try:
            through_ballast("local", local, data, args.runs, args.big_mb)
        finally:
            local.close()
        port = free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        moto.start()
        try:
            endpoint = f"http://127.0.0.1:{port}"
            boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **KEYS).create_bucket(Bucket="bench")
            raw_moto(endpoint, "bench", data, args.runs)
            s3_env = {"BALLAST_S3_BUCKET": "bench", "BALLAST_S3_ENDPOINT": endpoint, "BALLAST_S3_REGION": "us-east-1",
                      "BALLAST_S3_ACCESS_KEY_ID": "testing", "BALLAST_S3_SECRET_ACCESS_KEY": "testing"}
            s3 = Ballast(base / "s3", s3_env)
            try:
                through_ballast("S3 (moto)", s3, data, args.runs, args.big_mb)
            finally:
                s3.close()
        finally:
            moto.stop()


if __name__ == "__main__":
    main()
