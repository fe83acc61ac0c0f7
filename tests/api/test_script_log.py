"""/scriptlog on both engines: cloud code's log lines and errors, Parse's shape and parameters, no secrets."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.conftest import MASTER_KEY


async def _run(client: httpx.AsyncClient, headers: dict[str, str], **params: object) -> httpx.Response:
    return await client.post("/functions/chatty", json=params, headers=headers)


async def test_script_log_shows_cloud_code_lines_newest_first(client: httpx.AsyncClient, headers: dict[str, str],
                                                              master_headers: dict[str, str]) -> None:
    await _run(client, headers, word="one")
    await _run(client, headers, word="two", fail=True)
    entries = (await client.get("/scriptlog", headers=master_headers)).json()
    assert set(entries[0]) == {"level", "message", "timestamp"} and entries[0]["timestamp"].endswith("Z")
    messages = [entry["message"] for entry in entries]
    assert messages.index("chatty says two") < messages.index("chatty says one")  # desc by default
    assert {"level": "warn", "message": "careful with nothing"} in [
        {k: e[k] for k in ("level", "message")} for e in entries]
    errors = (await client.get("/scriptlog", params={"level": "error"}, headers=master_headers)).json()
    assert errors and all(e["level"] == "error" for e in errors)
    assert all("Traceback" not in e["message"] and "chatty broke" not in e["message"] for e in errors)


async def test_script_log_parameters_as_parse(client: httpx.AsyncClient, headers: dict[str, str],
                                              master_headers: dict[str, str]) -> None:
    for word in ("a", "b", "c"):
        await _run(client, headers, word=word)

    async def says(**params: str) -> list[str]:
        found = (await client.get("/scriptlog", params=params, headers=master_headers)).json()
        return [e["message"] for e in found if e["message"].startswith("chatty says")]

    assert await says(size="2", order="asc") == ["chatty says a"]  # the two oldest lines: a, then its warning
    assert await says(n="100", order="asc") == ["chatty says a", "chatty says b", "chatty says c"]
    assert await says(until="2001-01-01T00:00:00Z") == []
    assert await says(**{"from": "2999-01-01T00:00:00Z"}) == []
    assert await says(size="lots", **{"from": "not a date"}) != []  # unreadable values fall back to defaults


async def test_script_log_needs_the_master_key_and_keeps_no_secrets(
        app: FastAPI, client: httpx.AsyncClient, headers: dict[str, str], master_headers: dict[str, str]) -> None:
    refused = await client.get("/scriptlog", headers=headers)
    assert (refused.status_code, refused.json()) == (403, {"error": "unauthorized: master key is required"})
    token = "r:" + "ab" * 16
    await _run(client, headers, secret=f"{MASTER_KEY} and {token}")
    text = (await client.get("/scriptlog", headers=master_headers)).text
    assert "careful with ******** and r:********" in text
    assert MASTER_KEY not in text and token not in text
    # an internal class, master-only: clients cannot read it, not even the master key can write it
    assert (await client.get("/classes/_ScriptLog", headers=headers)).json()["code"] == 119
    assert (await client.post("/classes/_ScriptLog", json={"message": "forged"},
                              headers=master_headers)).json()["code"] == 119


async def test_script_log_keeps_a_bounded_number_of_lines(app: FastAPI, client: httpx.AsyncClient,
                                                          headers: dict[str, str],
                                                          master_headers: dict[str, str]) -> None:
    app.state.services.script_log.keep = 4
    for word in ("w1", "w2", "w3"):
        await _run(client, headers, word=word)
    entries = (await client.get("/scriptlog", params={"n": "50"}, headers=master_headers)).json()
    assert [e["message"] for e in entries] == ["careful with nothing", "chatty says w3",
                                               "careful with nothing", "chatty says w2"]


async def test_a_tunnelled_get_keeps_the_query_of_its_url(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """The JS SDK sends GETs as POST + ``_method``; Parse Dashboard puts scriptlog's parameters in the URL."""
    await _run(client, headers, word="tunnel", fail=True)
    tunnelled = {"_method": "GET", "_ApplicationId": headers["X-Parse-Application-Id"], "_MasterKey": MASTER_KEY}
    found = (await client.post("/scriptlog?level=error&n=100", json=tunnelled)).json()
    assert found and all(entry["level"] == "error" for entry in found)


async def test_no_size_or_date_is_a_server_error(client: httpx.AsyncClient, headers: dict[str, str],
                                                 master_headers: dict[str, str]) -> None:
    """Parse reads ``size``/``n`` as ``Number(x) || 10`` and an unreadable date as not given: never an error."""
    for word in ("a", "b", "c", "d", "e", "f"):
        await _run(client, headers, word=word)  # twelve lines: a size that means 'all' shows more than ten

    async def lines(**params: str) -> int:
        answer = await client.get("/scriptlog", params=params, headers=master_headers)
        assert answer.status_code == 200, (params, answer.text)
        return len(answer.json())

    for fallback in ("abc", "nan", "NaN", "-5", "0", "0.5", "inf", "-1e400", "1_0_0", " ", "\u0663"):
        assert await lines(size=fallback) == 10, fallback
        assert await lines(n=fallback, size="12") == 10, fallback  # n wins over size, as in Parse
    for everything in ("1e400", "Infinity", "99999999999999999999999", "1" * 5000):
        assert await lines(size=everything) == 12, everything
    for moment in ("1e400", "99999-01-01", "0000-01-01T00:00:00Z", "2020-13-45", "\x00", "9" * 5000):
        assert await lines(**{"from": moment, "until": moment}) == 10, moment


async def test_only_level_error_narrows_the_log_as_in_parse(client: httpx.AsyncClient, headers: dict[str, str],
                                                            master_headers: dict[str, str]) -> None:
    await _run(client, headers, word="one", fail=True)
    for level in ("ERROR", "bogus", "", "warn"):  # parse-server compares level == 'error' exactly
        found = (await client.get("/scriptlog", params={"level": level}, headers=master_headers)).json()
        assert {e["level"] for e in found} > {"error"}, level
