"""The Parse JS SDK's browser bundle in Debian's chromium: a page of the app's own origin (served by the test,
the bundle from tests/sdk/node_modules, no CDN) logs in; after a reload ``Parse.User.current()`` is still there,
and ``current().fetch()`` keeps the session, so later calls are still the user's.
Here for the browser fixtures of this folder."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Browser, Page

from tests.conftest import APP_ID
from tests.console.conftest import MASTER, Ballast
from tests.sdk.harness import SDK_DIR

BUNDLE = SDK_DIR / "node_modules" / "parse" / "dist" / "parse.min.js"
PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>app</title>
<script src="/parse.min.js"></script></head><body>app</body></html>"""


@pytest.fixture
def app_origin() -> Iterator[str]:
    """The app's own web server: its page and the SDK bundle, on an origin other than Ballast's."""
    files = {"/": (PAGE, "text/html"), "/parse.min.js": (BUNDLE.read_bytes(), "application/javascript")}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body, kind = files.get(self.path.split("?")[0], (b"", "text/plain"))
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _open(page: Page, origin: str, ballast: Ballast) -> None:
    page.goto(f"{origin}/")
    page.evaluate("([appId, url]) => { Parse.initialize(appId); Parse.serverURL = url; }",
                  [APP_ID, f"{ballast.base}/parse"])


def test_current_user_survives_a_reload_and_fetch_keeps_the_session(browser: Browser, ballast: Ballast,
                                                                    app_origin: str) -> None:
    user = ballast.http.post("/parse/users", json={"username": "ann", "password": "pw-ann-1"},
                             headers={"X-Parse-Application-Id": APP_ID}).json()
    acl = {user["objectId"]: {"read": True, "write": True}}
    made = ballast.http.post("/parse/classes/Diary", json={"text": "mine", "ACL": acl}, headers=MASTER)
    assert made.status_code == 201, made.text
    requested: list[str] = []
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("request", lambda request: requested.append(request.url))
    try:
        _open(page, app_origin, ballast)
        logged = page.evaluate("async () => (await Parse.User.logIn('ann', 'pw-ann-1')).getSessionToken()")
        assert logged.startswith("r:")
        page.reload()
        _open(page, app_origin, ballast)
        assert page.evaluate("() => Parse.User.current() && Parse.User.current().getUsername()") == "ann"
        after = page.evaluate("""async () => {
            const user = await Parse.User.current().fetch();
            const diary = await new Parse.Query('Diary').find();
            return { token: Parse.User.current().getSessionToken(), same: user.id === Parse.User.current().id,
                     texts: diary.map(d => d.get('text')) };
        }""")
        assert after == {"token": logged, "same": True, "texts": ["mine"]}  # still the user's: ACL lets it read
        page.reload()
        _open(page, app_origin, ballast)
        assert page.evaluate("async () => (await new Parse.Query('Diary').find()).length") == 1
    finally:
        context.close()
    assert {url.split("/")[2] for url in requested} <= {app_origin.split("/")[2], ballast.base.split("/")[2]}
