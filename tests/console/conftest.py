"""Browser fixtures: Debian's chromium driven by Playwright, a live Ballast, and an agent that asks for approvals.

Playwright's own browser download cannot work here; ``infra/test.sh`` installs Debian's ``chromium``. With
``CI=true`` a missing browser fails the tests instead of skipping them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from backend.app import create_app
from backend.config import Settings
from tests.conftest import APP_ID, MASTER_KEY
from tests.support.live import LiveServer
from tests.support.postgres import free_port

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
CLOUD = Path(__file__).parent / "cloud"
MASTER = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY}
ADMIN, VIEWER, PASSWORD = "alice", "victor", "correct horse battery"
# a form as Playwright's APIRequestContext.post(form=...) types it (a dict, so invariant in its values)
Form = dict[str, str | float | bool]


@pytest.fixture
def browser() -> Iterator[Browser]:
    # per test, not per session: sync Playwright runs an event loop in this thread while it is open, and
    # pytest-asyncio's tests (in the same worker) cannot start theirs inside it
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing: infra/test.sh installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (infra/test.sh installs it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield launched
        launched.close()


class Ballast:
    """A live Ballast for the browser, plus REST helpers as the master key and as an agent."""

    def __init__(self, server: LiveServer) -> None:
        self.base = f"http://127.0.0.1:{server.port}"
        self.http = httpx.Client(base_url=self.base, timeout=30)

    def seed(self, class_name: str, count: int, **fields: Any) -> None:
        for n in range(count):
            answer = self.http.post(f"/parse/classes/{class_name}", json={"n": n, **fields}, headers=MASTER)
            assert answer.status_code == 201, answer.text

    def count(self, class_name: str) -> int:
        answer = self.http.get(f"/parse/classes/{class_name}", params={"count": 1, "limit": 0}, headers=MASTER)
        return int(answer.json()["count"])

    def agent(self, name: str) -> tuple[str, str]:
        answer = self.http.post("/agent/v1/admin/agents", json={"name": name, "grants": ["*"]}, headers=MASTER)
        assert answer.status_code == 201, answer.text
        return answer.json()["agent"]["id"], answer.json()["token"]

    def call(self, token: str, kind: str, tool: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(f"/agent/v1/{kind}/{tool}", json=body, headers={"Authorization": f"Bearer {token}"})

    def ask_bulk_delete(self, token: str, class_name: str = "Order") -> str:
        """An over-cap bulk delete: answers the pending approval's id."""
        answer = self.call(token, "write", "bulk_delete", {"className": class_name, "where": {}, "limit": 100})
        assert answer.status_code == 202, answer.text
        return str(answer.json()["approval"]["id"])

    def admin(self, method: str, path: str, **options: Any) -> httpx.Response:
        return self.http.request(method, f"/agent/v1/admin{path}", headers=MASTER, **options)


@pytest.fixture
def ballast(settings: Settings) -> Iterator[Ballast]:
    port = free_port()
    served = settings.model_copy(update={"port": port, "server_url": f"http://127.0.0.1:{port}/parse",
                                         "cloud_code_dir": CLOUD})
    with LiveServer(create_app(served), port) as server:
        live = Ballast(server)
        for name, role in ((ADMIN, "admin"), (VIEWER, "viewer")):  # as `ballast admins create` would
            made = live.admin("POST", "/admins", json={"username": name, "password": PASSWORD, "role": role})
            assert made.status_code == 201, made.text
        yield live
        live.http.close()


@pytest.fixture
def page(browser: Browser, ballast: Ballast) -> Iterator[Page]:
    context = browser.new_context(base_url=ballast.base, viewport={"width": 1366, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def sign_in(page: Page, name: str = ADMIN, secret: str = PASSWORD) -> None:
    page.goto("/console/signin")
    page.get_by_label("Admin name").fill(name)
    page.get_by_label("Password").fill(secret)
    page.get_by_role("button", name="Sign in").click()
