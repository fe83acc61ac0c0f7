"""Intents and field policies on the agents page (Debian's chromium, both engines): the admin actions the CLI
and the admin API use, each a security record naming the console admin."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.console.conftest import MASTER, Ballast, sign_in
from tests.console.test_browser import shot

INTENT = {"name": "refunds", "tools": ["list_classes"], "classes": ["Order"], "maxObjects": 5}


def test_intents_and_field_policies_are_managed_on_the_agents_page(page: Page, ballast: Ballast) -> None:
    sign_in(page)
    page.goto("/console/agents")
    page.get_by_label("New or replaced intent").fill('{"name": "broken", "tools": "not a list"}')
    page.get_by_role("button", name="Save intent").click()
    expect(page.get_by_role("alert")).to_contain_text("Invalid intent")
    expect(page.get_by_label("New or replaced intent")).to_have_value('{"name": "broken", "tools": "not a list"}')
    page.get_by_label("New or replaced intent").fill(json.dumps(INTENT))
    page.get_by_role("button", name="Save intent").click()
    expect(page.get_by_role("status")).to_have_text("Intent refunds saved.")
    expect(page.locator("tr[data-intent='refunds']")).to_contain_text("list_classes")
    assert ballast.admin("GET", "/intents/refunds").json()["intent"]["maxObjects"] == 5
    page.get_by_label("Class", exact=True).fill("Order")
    page.get_by_label("User-written fields").fill("note, comment")
    page.get_by_label("Sensitive fields").fill("card")
    page.get_by_role("button", name="Save field policy").click()
    expect(page.locator("tr[data-class='Order'] td.sensitive")).to_have_text("card")
    expect(page.locator("tr[data-class='Order'] td.untrusted")).to_have_text("note, comment")
    shot(page, "agents")
    page.get_by_role("button", name="Delete intent refunds").click()
    expect(page.get_by_role("status")).to_contain_text("Intent refunds deleted")
    assert ballast.admin("GET", "/intents/refunds").status_code == 404
    found = ballast.http.get("/parse/classes/_SecurityEvent", headers=MASTER, params={"order": "createdAt"}).json()
    events = [(row["event"], row["actor"], row.get("target")) for row in found["results"]
              if row["event"] in ("intent.define", "fields.set", "intent.remove")]
    assert events == [("intent.define", "admin:alice", "refunds"), ("fields.set", "admin:alice", "Order"),
                      ("intent.remove", "admin:alice", "refunds")]
