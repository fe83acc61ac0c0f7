"""Query validation and features answered as Parse Server 9 answers them (issue 17), both engines."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import APP_ID, MASTER_KEY

H = {"X-Parse-Application-Id": APP_ID}
MASTER = {**H, "X-Parse-Master-Key": MASTER_KEY}


async def find(client: httpx.AsyncClient, class_name: str, where: object = None, **params: str) -> httpx.Response:
    query = dict(params) | ({"where": json.dumps(where)} if where is not None else {})
    return await client.get(f"/classes/{class_name}", params=query, headers=H)


@pytest.mark.parametrize(("where", "code"), [
    ({"$foo": 1}, 105),
    ({"name": {"$regex": "a", "$options": "q"}}, 102),
    ({"name": {"$bogus": 1}}, 102),
])
async def test_a_find_on_a_missing_class_still_validates_where(
    client: httpx.AsyncClient, where: dict[str, Any], code: int,
) -> None:
    answer = await find(client, "NeverMade", where)
    assert answer.status_code == 400 and answer.json()["code"] == code, answer.text
    assert (await find(client, "NeverMade", {"name": "x"})).json() == {"results": []}


async def test_unknown_top_level_operator_is_105(client: httpx.AsyncClient) -> None:
    await client.post("/classes/Place", json={"name": "a"}, headers=H)
    answer = await find(client, "Place", {"$where": "1 == 1"})
    assert answer.json() == {"code": 105, "error": "Invalid key name: $where"}


async def test_bad_geo_within_polygon_is_107(client: httpx.AsyncClient) -> None:
    await client.post("/classes/Place", json={"at": {"__type": "GeoPoint", "latitude": 1, "longitude": 1}},
                      headers=H)
    for bad in ({"$polygon": [[0, 0], [1, 1]]}, {"$polygon": "nope"}, {"$nothing": 1},
                {"$centerSphere": [[0, 0]]}):
        answer = await find(client, "Place", {"at": {"$geoWithin": bad}})
        assert answer.json()["code"] == 107, (bad, answer.text)


async def test_box_corners_may_come_in_either_order(client: httpx.AsyncClient) -> None:
    point = {"__type": "GeoPoint", "latitude": 10, "longitude": 10}
    await client.post("/classes/Place", json={"at": point}, headers=H)
    corner = {"__type": "GeoPoint", "latitude": 0, "longitude": 0}
    far = {"__type": "GeoPoint", "latitude": 20, "longitude": 20}
    for box in ([corner, far], [far, corner]):
        found = (await find(client, "Place", {"at": {"$within": {"$box": box}}})).json()["results"]
        assert len(found) == 1


async def test_order_by_stored_date_names(client: httpx.AsyncClient) -> None:
    for name in ("first", "second", "third"):
        await client.post("/classes/Dated", json={"name": name}, headers=H)
    oldest = [o["name"] for o in (await find(client, "Dated", order="_created_at")).json()["results"]]
    newest = [o["name"] for o in (await find(client, "Dated", order="-_updated_at")).json()["results"]]
    assert oldest == ["first", "second", "third"] and newest == ["third", "second", "first"]


async def test_diacritic_sensitive_is_taken_and_case_sensitive_refused(client: httpx.AsyncClient) -> None:
    await client.post("/classes/Note", json={"text": "coffee shop"}, headers=H)
    search = {"$term": "coffee", "$diacriticSensitive": False}
    found = await find(client, "Note", {"text": {"$text": {"$search": search}}})
    assert len(found.json()["results"]) == 1, found.text
    bad = await find(client, "Note", {"text": {"$text": {"$search": {"$term": "x", "$diacriticSensitive": 1}}}})
    assert bad.json()["code"] == 102
    sensitive = await find(client, "Note", {"text": {"$text": {"$search": {"$term": "x", "$caseSensitive": True}}}})
    assert sensitive.json()["code"] == 102


async def test_related_to_an_unsaved_object_is_empty(client: httpx.AsyncClient) -> None:
    await client.post("/classes/Place", json={"name": "a"}, headers=H)
    where = {"$relatedTo": {"object": {"__type": "Pointer", "className": "Owner"}, "key": "places"}}
    answer = await find(client, "Place", where)
    assert answer.status_code == 200 and answer.json() == {"results": []}


async def test_relation_query_names_the_class_on_every_result(client: httpx.AsyncClient) -> None:
    place = (await client.post("/classes/Place", json={"name": "p"}, headers=H)).json()["objectId"]
    relation = {"__op": "AddRelation", "objects": [{"__type": "Pointer", "className": "Place", "objectId": place}]}
    owner = (await client.post("/classes/Owner", json={"places": relation}, headers=H)).json()["objectId"]
    where = {"$relatedTo": {"object": {"__type": "Pointer", "className": "Owner", "objectId": owner},
                            "key": "places"}}
    body = (await find(client, "Owner", where, redirectClassNameForKey="places")).json()
    assert [(o["objectId"], o["className"]) for o in body["results"]] == [(place, "Place")]


async def test_polygons_are_stored_closed(client: httpx.AsyncClient) -> None:
    ring = [[0, 0], [0, 1], [1, 1]]
    made = (await client.post("/classes/Area", json={"shape": {"__type": "Polygon", "coordinates": ring}},
                              headers=H)).json()
    stored = (await client.get(f"/classes/Area/{made['objectId']}", headers=H)).json()
    assert stored["shape"]["coordinates"] == [[0, 0], [0, 1], [1, 1], [0, 0]]
    closed = [[0, 0], [0, 1], [1, 1], [0, 0]]
    again = (await client.post("/classes/Area", json={"shape": {"__type": "Polygon", "coordinates": closed}},
                               headers=H)).json()
    assert (await client.get(f"/classes/Area/{again['objectId']}", headers=MASTER)).json()["shape"][
        "coordinates"] == closed
    inside = {"shape": {"$geoIntersects": {"$point": {"__type": "GeoPoint", "latitude": 0.2, "longitude": 0.5}}}}
    assert len((await find(client, "Area", inside)).json()["results"]) == 2
