"""parse_rest (PyPI ``ParsePy``), the legacy Python Parse client, as a second real client, on both engines.

Its API root is fixed to Parse.com's ``https://api.parse.com/1`` and its batch
paths are ``/1/classes/...``, so Ballast serves the API on ``/1`` as well
(``BALLAST_EXTRA_MOUNT_PATHS=/1``) and the test only sends the client's
``https://api.parse.com`` to the live server's address. The older PyPI
package ``parse-rest`` (0.10.2013) cannot run on Python 3 at all: it imports
``urllib2`` and uses ``except urllib2.HTTPError, e:`` (a SyntaxError);
``ParsePy`` 0.3 is the same client ported with ``six``. One gap remains in
it: saving a dict-valued (Object) field calls ``dict.iteritems()``, which
Python 3 lacks, so no test here saves one.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from parse_rest import connection
from parse_rest.connection import ParseBatcher
from parse_rest.core import ResourceRequestBadRequest, ResourceRequestForbidden
from parse_rest.datatypes import GeoPoint, Object
from parse_rest.query import QueryResourceDoesNotExist

from backend.app import create_app
from backend.config import Settings
from tests.conftest import APP_ID
from tests.support.live import LiveServer
from tests.support.postgres import free_port

REST_KEY = "legacy-rest-key"
PARSE_COM = "https://api.parse.com"


class LegacyScore(Object):  # parse_rest names the class after the Python class
    pass


class LegacyPlayer(Object):
    pass


def _opener_to(port: int) -> Callable[..., Any]:
    """urlopen for parse_rest: the same request, sent to the live server instead of Parse.com."""
    def urlopen(request: urllib.request.Request, timeout: float | None = None) -> Any:
        request.full_url = request.full_url.replace(PARSE_COM, f"http://127.0.0.1:{port}", 1)
        return urllib.request.urlopen(request, timeout=timeout)
    return urlopen


@pytest.fixture
def legacy_client(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A live Ballast that also answers on /1, and parse_rest registered against it with a REST key."""
    port = free_port()
    served = settings.model_copy(update={
        "port": port, "server_url": f"http://127.0.0.1:{port}/parse", "rest_api_key": REST_KEY,
        "extra_mount_paths": ["/1"],
    })
    with LiveServer(create_app(served), port):
        monkeypatch.setattr(connection, "urlopen", _opener_to(port))
        monkeypatch.setattr(connection, "ACCESS_KEYS", {})
        connection.register(APP_ID, REST_KEY)
        yield


def test_save_then_get_returns_what_was_saved(legacy_client: None) -> None:
    played = datetime(2026, 11, 24, 6, 30, 15, 123000)
    score = LegacyScore(score=1337, player="Sean Plott", cheat=False, tags=["ranked", "eu"], played=played,
                        where=GeoPoint(37.7749, -122.4194))
    score.save()
    assert len(score.objectId) == 10 and isinstance(score.createdAt, datetime)
    fetched = LegacyScore.Query.get(objectId=score.objectId)
    assert (fetched.score, fetched.player, fetched.cheat, fetched.tags) == (1337, "Sean Plott", False, ["ranked", "eu"])
    assert fetched.played == played
    assert (fetched.where.latitude, fetched.where.longitude) == (37.7749, -122.4194)
    assert fetched.createdAt == score.createdAt


def test_queries_filter_order_limit_skip_and_count(legacy_client: None) -> None:
    for n in range(6):
        LegacyScore(score=n * 10, player=f"p{n}", team="red" if n % 2 else "blue").save()
    assert sorted(s.score for s in LegacyScore.Query.filter(score__gte=30)) == [30, 40, 50]
    assert [s.player for s in LegacyScore.Query.filter(team="red").order_by("score", descending=True)] == [
        "p5", "p3", "p1"]
    assert [s.score for s in LegacyScore.Query.filter(score__in=[10, 20, 99]).order_by("score")] == [10, 20]
    page = LegacyScore.Query.all().order_by("score").skip(2).limit(2)
    assert [s.score for s in page] == [20, 30]
    assert LegacyScore.Query.filter(team="blue").count() == 3
    with pytest.raises(QueryResourceDoesNotExist):
        LegacyScore.Query.get(player="nobody")


def test_update_changes_fields_and_increment_is_atomic(legacy_client: None) -> None:
    score = LegacyScore(score=1, player="Ann")
    score.save()
    created = score.createdAt
    score.player = "Ann Lee"
    score.save()
    assert score.updatedAt >= created
    score.increment("score", 41)
    fetched = LegacyScore.Query.get(objectId=score.objectId)
    assert (fetched.player, fetched.score) == ("Ann Lee", 42)
    assert fetched.updatedAt >= fetched.createdAt


def test_delete_removes_the_object(legacy_client: None) -> None:
    kept, gone = LegacyScore(score=1), LegacyScore(score=2)
    kept.save()
    gone.save()
    gone.delete()
    with pytest.raises(QueryResourceDoesNotExist):
        LegacyScore.Query.get(objectId=gone.objectId)
    assert [s.objectId for s in LegacyScore.Query.all()] == [kept.objectId]


def test_batch_save_update_and_delete(legacy_client: None) -> None:
    batcher = ParseBatcher()
    players = [LegacyPlayer(name=f"player{n}", level=n) for n in range(5)]
    batcher.batch_save(players)
    assert all(len(p.objectId) == 10 for p in players)
    assert LegacyPlayer.Query.all().count() == 5
    for player in players:
        player.level += 100
    batcher.batch_save(players)  # objects with ids: a batch of updates
    assert sorted(p.level for p in LegacyPlayer.Query.all()) == [100, 101, 102, 103, 104]
    batcher.batch_delete(players[:3])
    assert sorted(p.name for p in LegacyPlayer.Query.all()) == ["player3", "player4"]


def test_errors_reach_the_client_as_parse_errors(legacy_client: None) -> None:
    LegacyScore(score=1).save()
    with pytest.raises(ResourceRequestBadRequest) as wrong_type:
        LegacyScore(score="one").save()
    assert '"code":111' in str(wrong_type.value).replace(" ", "")
    connection.register(APP_ID, "not-the-key")
    with pytest.raises(ResourceRequestForbidden):
        LegacyScore.Query.all().count()


def test_extra_mount_paths_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BALLAST_EXTRA_MOUNT_PATHS", "/1, v1/ ,")
    assert Settings().extra_mount_paths == ["/1", "/v1"]
