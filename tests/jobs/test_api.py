"""Jobs over HTTP (both engines): Parse's /jobs and /cloud_code/jobs shapes, the admin views, bad input."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

CRON = {"jobName": "ballast.pruneJobRuns", "cron": "0 3 * * *", "timeZone": "Europe/Paris", "params": {"days": 7}}


async def finished(client: httpx.AsyncClient, headers: dict[str, str], run_id: str) -> dict[str, Any]:
    for _ in range(500):
        run: dict[str, Any] = (await client.get(f"/classes/_JobStatus/{run_id}", headers=headers)).json()
        if run.get("status") not in (None, "running"):
            return run
        await asyncio.sleep(0.01)
    raise AssertionError("the job never finished")


async def test_post_jobs_starts_a_job_and_answers_its_status_id(client: httpx.AsyncClient,
                                                               master_headers: dict[str, str]) -> None:
    response = await client.post("/jobs/ballast.pruneJobRuns", json={"days": 3}, headers=master_headers)
    assert response.status_code == 200 and response.json() == {}
    run_id = response.headers["X-Parse-Job-Status-Id"]
    run = await finished(client, master_headers, run_id)  # read as the JS SDK's Parse.Cloud.getJobStatus does
    assert (run["jobName"], run["status"], run["source"], run["params"]) == (
        "ballast.pruneJobRuns", "succeeded", "api", {"days": 3})
    assert run["message"] == "0 run record(s) older than 3 day(s) deleted" and "finishedAt" in run
    shown = (await client.get(f"/jobs/runs/{run_id}", headers=master_headers)).json()
    assert shown["objectId"] == run_id and shown["durationMs"] >= 0
    listed = (await client.get("/jobs/runs", params={"jobName": "ballast.pruneJobRuns"}, headers=master_headers))
    assert [r["objectId"] for r in listed.json()["results"]] == [run_id]


async def test_post_jobs_with_the_name_in_the_body(client: httpx.AsyncClient, master_headers: dict[str, str]) -> None:
    response = await client.post("/jobs", json={"jobName": "ballast.sessionCleanup"}, headers=master_headers)
    run = await finished(client, master_headers, response.headers["X-Parse-Job-Status-Id"])
    assert run["status"] == "succeeded" and run["message"] == "0 expired session(s) deleted"


@pytest.mark.parametrize(("path", "code", "error"), [
    ("/jobs/noSuchJob", 141, "Invalid job."),
])
async def test_unknown_job_is_script_failed(client: httpx.AsyncClient, master_headers: dict[str, str],
                                            path: str, code: int, error: str) -> None:
    response = await client.post(path, json={}, headers=master_headers)
    assert response.status_code == 400 and response.json() == {"code": code, "error": error}


async def test_jobs_need_the_master_key(client: httpx.AsyncClient, headers: dict[str, str],
                                        master_headers: dict[str, str]) -> None:
    assert (await client.post("/jobs/ballast.sessionCleanup", json={}, headers=headers)).status_code == 403
    assert (await client.get("/cloud_code/jobs", headers=headers)).status_code == 403
    assert (await client.post("/cloud_code/jobs", json={"job_schedule": CRON}, headers=headers)).status_code == 403
    started = await client.post("/jobs/ballast.sessionCleanup", json={}, headers=master_headers)
    run_id = started.headers["X-Parse-Job-Status-Id"]
    await finished(client, master_headers, run_id)
    peek = await client.get(f"/classes/_JobStatus/{run_id}", headers=headers)
    assert peek.status_code in (400, 403, 404) and peek.json()["code"] in (101, 119)  # run records are master-only


async def test_schedules_round_trip_in_parse_dashboard_shapes(client: httpx.AsyncClient,
                                                             master_headers: dict[str, str]) -> None:
    created = await client.post("/cloud_code/jobs", json={"job_schedule": CRON}, headers=master_headers)
    assert created.status_code == 201 and set(created.json()) == {"objectId", "createdAt"}
    sid = created.json()["objectId"]
    [listed] = (await client.get("/cloud_code/jobs", headers=master_headers)).json()
    assert listed["jobName"] == "ballast.pruneJobRuns" and listed["params"] == '{"days": 7}'
    assert listed["startAfter"] and listed["cron"] == "0 3 * * *"
    data = (await client.get("/cloud_code/jobs/data", headers=master_headers)).json()
    assert data["in_use"] == ["ballast.pruneJobRuns"]
    assert not any(name.startswith("ballast.") for name in data["jobs"])  # as Parse: the app's jobs only
    edited = await client.put(f"/cloud_code/jobs/{sid}", json={"job_schedule": {"description": "nightly"}},
                              headers=master_headers)
    assert edited.status_code == 200 and "updatedAt" in edited.json()["response"]
    shown: dict[str, Any] = {}
    for _ in range(500):  # the server's scheduler picks the change up at once (poked), in the background
        jobs = {job["name"]: job for job in (await client.get("/jobs", headers=master_headers)).json()["results"]}
        [shown] = jobs["ballast.pruneJobRuns"]["schedules"]
        if shown["nextFire"] and shown.get("description"):
            break
        await asyncio.sleep(0.01)
    assert shown["description"] == "nightly" and shown["nextFire"].endswith(("T02:00:00+00:00", "T01:00:00+00:00"))
    paused = await client.post(f"/cloud_code/jobs/{sid}/pause", headers=master_headers)
    assert paused.status_code == 200
    [listed] = (await client.get("/cloud_code/jobs", headers=master_headers)).json()
    assert listed["paused"] is True
    await client.post(f"/cloud_code/jobs/{sid}/resume", headers=master_headers)
    deleted = await client.delete(f"/cloud_code/jobs/{sid}", headers=master_headers)
    assert deleted.status_code == 200 and deleted.json() == {}
    assert (await client.get("/cloud_code/jobs", headers=master_headers)).json() == []


@pytest.mark.parametrize(("schedule", "code", "says"), [
    ({**CRON, "cron": "99 * * * *"}, 162, "cron"),
    ({**CRON, "jobName": "notDeployed"}, 141, "Cannot Schedule a job that is not deployed"),
    ({"jobName": "ballast.pruneJobRuns", "intervalSeconds": -10}, 162, "intervalSeconds"),
    ({"jobName": "ballast.pruneJobRuns", "repeatMinutes": 0}, 162, "repeatMinutes"),
    ({**CRON, "timeZone": "Nowhere/Land"}, 162, "timeZone"),
    ({**CRON, "retries": -2}, 162, "retries"),
    ({**CRON, "colour": "red"}, 105, "colour"),
    ({"cron": "* * * * *"}, 162, "jobName"),
])
async def test_bad_schedules_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, master_headers: dict[str, str], schedule: dict[str, Any], code: int, says: str
) -> None:
    response = await client.post("/cloud_code/jobs", json={"job_schedule": schedule}, headers=master_headers)
    assert response.status_code == 400 and response.json()["code"] == code and says in response.json()["error"]
    assert (await client.get("/cloud_code/jobs", headers=master_headers)).json() == []


async def test_a_body_without_job_schedule_is_invalid_json(client: httpx.AsyncClient,
                                                           master_headers: dict[str, str]) -> None:
    response = await client.post("/cloud_code/jobs", json={"jobName": "x"}, headers=master_headers)
    assert response.status_code == 400 and response.json()["code"] == 107


async def test_editing_a_schedule_into_a_bad_one_is_refused(client: httpx.AsyncClient,
                                                            master_headers: dict[str, str]) -> None:
    sid = (await client.post("/cloud_code/jobs", json={"job_schedule": CRON}, headers=master_headers)).json()[
        "objectId"]
    response = await client.put(f"/cloud_code/jobs/{sid}", json={"job_schedule": {"cron": "nope"}},
                                headers=master_headers)
    assert response.status_code == 400 and response.json()["code"] == 162
    [kept] = (await client.get("/cloud_code/jobs", headers=master_headers)).json()
    assert kept["cron"] == "0 3 * * *"


async def test_cancel_of_a_finished_run_leaves_it_as_it_was(client: httpx.AsyncClient,
                                                            master_headers: dict[str, str]) -> None:
    started = await client.post("/jobs/ballast.sessionCleanup", json={}, headers=master_headers)
    run_id = started.headers["X-Parse-Job-Status-Id"]
    await finished(client, master_headers, run_id)
    response = await client.post(f"/jobs/runs/{run_id}/cancel", headers=master_headers)
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    missing = await client.post("/jobs/runs/nope123456/cancel", headers=master_headers)
    assert missing.status_code == 404 and missing.json()["code"] == 101


async def test_server_info_declares_cloud_code_jobs_for_parse_dashboard(client: httpx.AsyncClient,
                                                                        master_headers: dict[str, str]) -> None:
    answer = await client.get("/serverInfo", headers=master_headers)
    assert answer.status_code == 200
    assert answer.json()["features"]["cloudCode"] == {"jobs": True}
