"""Replaying a run from the audit explorer (Debian's chromium, both engines): the CLI's replay, shown."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.console.conftest import MASTER, Ballast, sign_in
from tests.console.test_browser import shot


def test_a_run_is_replayed_in_the_browser_and_shows_what_differs(page: Page, ballast: Ballast) -> None:
    made = ballast.http.post("/parse/classes/Order", json={"status": "open"}, headers=MASTER)
    order = made.json()["objectId"]
    _, token = ballast.agent("reader")
    seen = ballast.call(token, "read", "get_object", {"className": "Order", "objectId": order})
    assert seen.status_code == 200, seen.text
    run_id = seen.json()["runId"]
    sign_in(page)
    page.goto(f"/console/audit?runId={run_id}")
    page.get_by_role("button", name="Replay this run").click()
    expect(page.locator("#replay-summary")).to_contain_text("No differences: 1 call(s) replayed")
    changed = ballast.http.put(f"/parse/classes/Order/{order}", json={"status": "shipped"}, headers=MASTER)
    assert changed.status_code == 200, changed.text
    page.get_by_role("link", name="Back to the run's timeline").click()
    page.get_by_role("button", name="Replay this run").click()
    expect(page.locator("#replay-summary")).to_contain_text("1 of 1 replayed call(s) differ")
    row = page.locator("tr.replay-different")
    expect(row).to_contain_text("get_object")
    expect(row).to_contain_text(f"Order {order} changed")
    shot(page, "replay")
    assert ballast.http.get(f"/parse/classes/Order/{order}", headers=MASTER).json()["status"] == "shipped"
    events = ballast.http.get("/parse/classes/_SecurityEvent", headers=MASTER,
                              params={"where": json.dumps({"event": "run.replay"})}).json()["results"]
    assert [(event["actor"], event["target"]) for event in events] == [("admin:alice", run_id)] * 2
