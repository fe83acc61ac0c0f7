"""Cloud code hands ObjectService Python ints, not JSON text: the storage edge stores one past 64 bits as a
double (no engine binds it; Parse clients read doubles), on both engines."""

from __future__ import annotations

from backend.context import RequestContext
from backend.services.wiring import Services

HUGE, U64 = 10**30, 2**64 - 1


async def test_python_big_integers_are_stored_and_read_as_doubles(services: Services) -> None:
    ctx = RequestContext.system()
    saved = await services.objects.create(ctx, "BigCloud", {"n": HUGE, "o": {"k": [U64]}, "a": [{"x": -HUGE}]})
    got = await services.objects.get(ctx, "BigCloud", saved["objectId"])
    assert got["n"] == float(HUGE) and isinstance(got["n"], float)
    assert got["o"]["k"] == [float(U64)] and isinstance(got["o"]["k"][0], float)
    assert got["a"] == [{"x": float(-HUGE)}]
