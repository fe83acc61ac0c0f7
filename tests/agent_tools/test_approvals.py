"""Approvals: the preview is what runs, once; a changed target is stale; a dry run sets nothing off."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from agent_tools.stores.classes import APPROVAL
from backend import wire
from backend.cloud import JobSpec
from backend.context import RequestContext
from backend.services.shared.events import ObjectEvent
from tests.agent_tools.conftest import Gateway, Seed


async def _objects(gateway: Gateway, class_name: str) -> dict[str, dict[str, Any]]:
    answer = await gateway.http.get(f"/classes/{class_name}", params={"limit": 1000}, headers=gateway.admin_headers)
    return {obj["objectId"]: obj for obj in answer.json()["results"]}


async def _bulk(gateway: Gateway, token: str, n: int) -> dict[str, Any]:
    answer = await gateway.call(token, "write", "bulk_update", {
        "className": "Order", "where": {"status": "open"},
        "fields": {"status": "archived", "touched": {"__op": "Increment", "amount": 1}}, "limit": n})
    assert answer.status_code == 202, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_the_previewed_change_is_exactly_what_runs(gateway: Gateway, seed: Seed) -> None:
    for n in range(12):
        await seed("Order", status="open", n=n, touched=0)
    await seed("Order", status="closed", n=99, touched=0)
    _, token = await gateway.agent("archiver", grants=["*"])
    pending = await _bulk(gateway, token, 100)
    preview = pending["approval"]["preview"]
    assert preview["count"] == 12 and pending["rule"] == "blast_radius"
    assert preview["sideEffects"]["liveQueryEvents"] == 12
    assert all(obj["before"]["status"] == "open" and obj["after"]["status"] == "archived"
               for obj in preview["objects"])
    assert all(obj["status"] == "open" for obj in (await _objects(gateway, "Order")).values() if obj["n"] != 99)
    approval_id = pending["approval"]["id"]
    status = await gateway.call(token, "read", "approval_status", {"approvalId": approval_id})
    assert status.json()["result"]["status"] == "pending"
    approved = await gateway.admin("POST", f"/approvals/{approval_id}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "executed", approved.text
    now = await _objects(gateway, "Order")
    for shown in preview["objects"]:
        stored = now[shown["objectId"]]
        expected = {k: v for k, v in shown["after"].items() if k != "updatedAt"}
        assert {k: v for k, v in stored.items() if k in expected} == expected
    assert sum(obj["touched"] for obj in now.values()) == 12  # each once, the closed one untouched
    status = await gateway.call(token, "read", "approval_status", {"approvalId": approval_id})
    assert status.json()["result"]["status"] == "executed"
    assert status.json()["result"]["result"]["updated"] == 12
    [record] = await gateway.records(decision="approved")
    assert (record["approvalId"], record["outcome"], len(record["changed"])) == (approval_id, "ok", 12)


async def test_a_new_matching_object_makes_the_preview_stale(gateway: Gateway, seed: Seed) -> None:
    for n in range(11):
        await seed("Order", status="open", n=n, touched=0)
    _, token = await gateway.agent("archiver", grants=["*"])
    approval_id = (await _bulk(gateway, token, 100))["approval"]["id"]
    await seed("Order", status="open", n=11, touched=0)
    refused = await gateway.admin("POST", f"/approvals/{approval_id}/approve")
    assert refused.status_code == 400 and "stale" in refused.json()["error"]
    assert all(obj["status"] == "open" for obj in (await _objects(gateway, "Order")).values())


async def test_a_dry_run_fires_no_event_trigger_or_job(app: FastAPI, gateway: Gateway, seed: Seed) -> None:
    services = app.state.services
    events: list[ObjectEvent] = []
    fired: list[str] = []

    async def listen(event: ObjectEvent) -> None:
        if not event.class_name.startswith("_"):  # the audit and approval records are committed, and announced
            events.append(event)

    async def after_save(req: Any) -> None:
        fired.append("afterSave")

    async def job(req: Any) -> str:
        fired.append("job")
        return "done"

    for n in range(11):
        await seed("Order", status="open", n=n, touched=0)
    services.cloud.registry.triggers[("afterSave", "Order")] = after_save
    services.cloud.registry.jobs["agentCleanup"] = JobSpec("agentCleanup", job)
    unsubscribe = services.events.subscribe(listen)
    try:
        _, token = await gateway.agent("archiver", grants=["*"])
        approval_id = (await _bulk(gateway, token, 100))["approval"]["id"]
        job_call = await gateway.call(token, "write", "trigger_job", {"name": "agentCleanup"})
        assert job_call.status_code == 202, job_call.text
        assert job_call.json()["approval"]["preview"]["sideEffects"] == {"liveQueryEvents": 0, "job": 1}
        assert events == [] and fired == []
        runs = await gateway.http.get("/classes/_JobStatus", headers=gateway.admin_headers)
        assert runs.json().get("results", []) == []
        approved = await gateway.admin("POST", f"/approvals/{approval_id}/approve")
        assert approved.status_code == 200
        assert len(events) == 11 and fired.count("afterSave") == 11  # the real run does fire them
        job_approval = job_call.json()["approval"]["id"]
        assert (await gateway.admin("POST", f"/approvals/{job_approval}/approve")).status_code == 200
        jobs = app.state.jobs
        [run] = await jobs.runs(RequestContext.system(), "agentCleanup")
        assert (await jobs.wait(run["objectId"]))["status"] == "succeeded"
        assert fired.count("job") == 1 and run["source"] == "agent"
    finally:
        unsubscribe()
        services.cloud.registry.triggers.pop(("afterSave", "Order"), None)
        services.cloud.registry.jobs.pop("agentCleanup", None)


async def test_denied_and_expired_approvals_never_run(gateway: Gateway, seed: Seed) -> None:
    first = await seed("Order", status="open")
    second = await seed("Order", status="open")
    _, token = await gateway.agent("deleter", grants=["*"])
    ids = []
    for target in (first, second):
        answer = await gateway.call(token, "write", "delete_object", {"className": "Order",
                                                                      "objectId": target["objectId"]})
        ids.append(answer.json()["approval"]["id"])
    denied = await gateway.admin("POST", f"/approvals/{ids[0]}/deny", json={"reason": "no"})
    assert denied.json()["status"] == "denied"
    assert (await gateway.admin("POST", f"/approvals/{ids[0]}/approve")).status_code == 400
    await gateway.tools.records.update(APPROVAL, ids[1], {"expiresAt": {
        "__type": "Date", "iso": wire.format_iso(wire.parse_iso("2020-01-01T00:00:00.000Z"))}})
    listed = await gateway.admin("GET", "/approvals")
    assert {item["objectId"]: item["status"] for item in listed.json()["results"]} == {
        ids[0]: "denied", ids[1]: "expired"}
    expired = await gateway.admin("POST", f"/approvals/{ids[1]}/approve")
    assert expired.status_code == 400 and "expired" in expired.json()["error"]
    assert len(await _objects(gateway, "Order")) == 2
    rules = [r["rule"] for r in await gateway.records()]
    assert rules[-3:] == ["approval.denied", "approval.not_pending", "approval.expired"]
