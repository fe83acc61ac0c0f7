"""Property, through the agent tools' REST face: a nested query shows an agent nothing its own
top-level ``query_objects``/``count_objects`` calls would not (both engines).

The world and the query generator are those of ``tests/services/test_read_oracle.py``; the reference
is built from the agent's own top-level tool calls, and ``query_objects``/``count_objects`` with the
nested ``where`` must give exactly it, or be refused with the same Parse code.
"""

from __future__ import annotations

import os
import weakref
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.errors import ParseError, error_for_code
from tests.agent_tools.conftest import Gateway
from tests.services.test_read_oracle import OUTER, WHERES, Find, reference, remembered, services, world  # noqa: F401

EXAMPLES = settings(max_examples=int(os.environ.get("READ_ORACLE_EXAMPLES", "15")), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# the token of one agent per test's gateway, for every example hypothesis runs against it
ORACLE_AGENTS: weakref.WeakKeyDictionary[Gateway, str] = weakref.WeakKeyDictionary()


def agent_finder(gateway: Gateway, token: str) -> Find:
    async def find(class_name: str, where: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        tool, body = ("count_objects", {}) if limit == 0 else ("query_objects", {"limit": limit})
        answer = await gateway.call(token, "read", tool, {"className": class_name, "where": where, **body})
        if answer.status_code != 200:
            raise error_for_code(answer.json()["code"], answer.json()["error"])  # the code the tool answered
        result: dict[str, Any] = answer.json()["result"]
        return [] if limit == 0 else list(result["results"])

    return remembered(find)


@EXAMPLES
@given(outer=st.sampled_from(OUTER), where=WHERES)
async def test_a_nested_query_shows_an_agent_only_what_its_top_level_calls_show(
        gateway: Gateway, world: dict[str, Any], outer: str, where: dict[str, Any]) -> None:  # noqa: F811
    agents = ORACLE_AGENTS.get(gateway)
    if agents is None:
        _, agents = await gateway.agent("oracle", roles=["support"])
        ORACLE_AGENTS[gateway] = agents
    try:
        expected: tuple[str, Any] = ("ok", await reference(agent_finder(gateway, agents), outer, where))
    except ParseError as error:
        expected = ("refused", int(error.code))
    found = await gateway.call(agents, "read", "query_objects", {"className": outer, "where": where, "limit": 100})
    counted = await gateway.call(agents, "read", "count_objects", {"className": outer, "where": where})
    if expected[0] == "refused":
        assert (found.status_code, found.json()["code"]) != (200, None), found.text
        assert found.json().get("code") == expected[1] == counted.json().get("code"), (where, found.text)
        return
    assert found.status_code == 200 and counted.status_code == 200, (where, found.text, counted.text)
    assert {obj["objectId"] for obj in found.json()["result"]["results"]} == expected[1], where
    assert counted.json()["result"]["count"] == len(expected[1]), where
