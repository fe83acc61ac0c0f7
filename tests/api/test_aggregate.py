"""/aggregate on both engines: group, match, sort, project, count, distinct; Parse's refusals."""

from __future__ import annotations

import json

import httpx
import pytest

ROWS = [
    {"name": "a", "score": 10, "team": "red"}, {"name": "b", "score": 20, "team": "red"},
    {"name": "c", "score": 5, "team": "blue"}, {"name": "d", "score": 7, "team": "blue"},
    {"name": "e", "score": 1, "team": "green"},
]


@pytest.fixture
async def scores(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for row in ROWS:
        await client.post("/classes/Score", json=row, headers=headers)


async def _aggregate(client: httpx.AsyncClient, master_headers: dict[str, str], **params: object) -> httpx.Response:
    encoded = {key: value if isinstance(value, str) else json.dumps(value) for key, value in params.items()}
    return await client.get("/aggregate/Score", params=encoded, headers=master_headers)


async def test_group_sum_avg_min_max_then_sort(client: httpx.AsyncClient, master_headers: dict[str, str],
                                              scores: None) -> None:
    pipeline = [
        {"$match": {"score": {"$gt": 1}}},
        {"$group": {"_id": "$team", "total": {"$sum": "$score"}, "n": {"$sum": 1}, "avg": {"$avg": "$score"},
                    "low": {"$min": "$score"}, "high": {"$max": "$score"}}},
        {"$sort": {"total": -1}},
    ]
    response = await _aggregate(client, master_headers, pipeline=pipeline)
    assert response.status_code == 200
    assert response.json()["results"] == [
        {"objectId": "red", "total": 30, "n": 2, "avg": 15, "low": 10, "high": 20},
        {"objectId": "blue", "total": 12, "n": 2, "avg": 6, "low": 5, "high": 7},
    ]


async def test_stage_params_project_skip_limit_and_count(client: httpx.AsyncClient, master_headers: dict[str, str],
                                                        scores: None) -> None:
    body = (await _aggregate(client, master_headers, **{"$sort": {"score": 1}, "$skip": 1, "$limit": 2,
                                                        "$project": {"name": 1}})).json()
    assert [row["name"] for row in body["results"]] == ["c", "d"]
    assert set(body["results"][0]) == {"objectId", "name"}
    counted = await _aggregate(client, master_headers, pipeline=[{"$match": {"team": "red"}}, {"$count": "reds"}])
    assert counted.json()["results"] == [{"reds": 2}]
    grouped = await _aggregate(client, master_headers, pipeline=[{"$group": {"_id": None, "all": {"$sum": "$score"}}}])
    assert grouped.json()["results"] == [{"objectId": None, "all": 43}]


async def test_distinct_with_where(client: httpx.AsyncClient, master_headers: dict[str, str], scores: None) -> None:
    response = await _aggregate(client, master_headers, distinct="team", where={"score": {"$gte": 5}})
    assert sorted(response.json()["results"]) == ["blue", "red"]


@pytest.mark.parametrize(("params", "message"), [
    ({"pipeline": [{"$group": {"objectId": "$team"}}]}, "Cannot use 'objectId' in aggregation stage $group."),
    ({"pipeline": [{"$group": {"total": {"$sum": 1}}}]}, "Invalid parameter for query: group. Missing key _id"),
    ({"pipeline": [{"group": {"_id": "$team"}}]}, "Invalid aggregate stage 'group'."),
    ({"pipeline": [{"$limit": 1, "$skip": 1}]}, "Pipeline stages should only have one key but found $limit, $skip."),
    ({"pipeline": [{"$limit": -1}]}, "$limit must be a non-negative whole number."),
    ({"pipeline": [{"$match": {"score": {"$bogus": 1}}}]}, None),
])
async def test_bad_pipelines_are_102(client: httpx.AsyncClient, master_headers: dict[str, str], scores: None,
                                     params: dict[str, object], message: str | None) -> None:
    response = await _aggregate(client, master_headers, **params)
    assert response.status_code == 400
    assert response.json()["code"] == 102
    if message:
        assert response.json()["error"] == message
