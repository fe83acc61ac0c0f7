"""moto's S3 server over HTTP on a loopback port, and settings/servers that store files there."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from backend.config import Settings
from tests.support.postgres import free_port

REGION = "us-east-1"
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass
class MotoS3:
    endpoint: str

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION, **KEYS)

    def new_bucket(self) -> str:
        name = f"ballast-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        listed = self.client().list_objects_v2(Bucket=bucket)
        return [item["Key"] for item in listed.get("Contents", ())]


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield MotoS3(f"http://127.0.0.1:{port}")
    server.stop()


def s3_settings(settings: Settings, moto: MotoS3, **extra: Any) -> Settings:
    """The test settings, with files in a fresh bucket on moto."""
    return settings.model_copy(update={
        "s3_bucket": moto.new_bucket(), "s3_endpoint": moto.endpoint, "s3_region": REGION,
        "s3_access_key_id": KEYS["aws_access_key_id"], "s3_secret_access_key": KEYS["aws_secret_access_key"],
        "s3_prefix": "files/", **extra,
    })
