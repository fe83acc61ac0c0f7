"""Loading cloud code: a folder imported into the registry, reloads replace only what they loaded."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.cloud import Cloud, cloud
from backend.services.cloud.loader import cloud_modules, load_cloud_code
from backend.services.cloud.service import CloudService
from tests.conftest import SAMPLE_CLOUD_CODE


def test_a_load_registers_the_modules_and_a_reload_forgets_removed_functions(tmp_path: Path) -> None:
    (tmp_path / "one.py").write_text(
        "from backend.cloud import cloud\n\n@cloud.define('fromFolder')\nasync def f(req):\n    return 1\n"
    )
    (tmp_path / "_private.py").write_text("raise RuntimeError('never imported')\n")

    @cloud.define("registeredDirectly")
    async def direct(req: object) -> int:
        return 2

    try:
        registry = load_cloud_code(tmp_path)
        assert "fromFolder" in registry.functions and "registeredDirectly" in registry.functions
        assert [path.name for path in cloud_modules(tmp_path)] == ["one.py"]
        (tmp_path / "one.py").write_text("from backend.cloud import cloud\n")
        registry = load_cloud_code(tmp_path)
        assert "fromFolder" not in registry.functions
        assert "registeredDirectly" in registry.functions  # other code's registrations survive reloads
    finally:
        cloud.registry.functions.pop("registeredDirectly", None)
        load_cloud_code(SAMPLE_CLOUD_CODE)


def test_a_missing_folder_loads_nothing(tmp_path: Path) -> None:
    assert cloud_modules(tmp_path / "absent") == []
    assert cloud_modules(None) == []


def test_the_shipped_example_loads(tmp_path: Path) -> None:
    try:
        registry = load_cloud_code(Path(__file__).parents[2] / "cloud_functions")
        assert "averageStars" in registry.functions
        assert ("beforeSave", "Review") in registry.triggers
    finally:
        load_cloud_code(SAMPLE_CLOUD_CODE)


def test_functions_list_shows_what_is_registered() -> None:
    from backend.cli import app

    result = CliRunner().invoke(app, ["functions", "list", "--folder", str(SAMPLE_CLOUD_CODE)])
    assert result.exit_code == 0, result.output
    assert "hello" in result.output and "tidyUp" in result.output and "medium" in result.output
    assert "beforeSave" in result.output and "CloudReview" in result.output


async def test_dev_mode_reloads_cloud_code_when_a_module_changes(tmp_path: Path) -> None:
    module = "from backend.cloud import cloud\n\n@cloud.define({!r})\ndef f(req):\n    return 1\n"
    (tmp_path / "live.py").write_text(module.format("before"))
    service = CloudService(tmp_path, timeout=5, reload=True)
    await service.start()
    try:
        assert "before" in service.registry.functions
        await asyncio.sleep(0.2)  # let the watcher start before the change it must see
        (tmp_path / "live.py").write_text(module.format("after"))
        for _ in range(200):  # wait for the reload; nothing about its speed is asserted
            if "after" in service.registry.functions:
                break
            await asyncio.sleep(0.05)
        assert "after" in service.registry.functions and "before" not in service.registry.functions
    finally:
        await service.stop()
        load_cloud_code(SAMPLE_CLOUD_CODE)


@pytest.mark.parametrize(("kind", "class_name"), [
    ("beforeSave", "_Session"), ("afterDelete", "_Session"), ("beforeFind", "_Session"),
    ("afterLogout", "_User"), ("beforeLogin", "Post"), ("afterLogin", "_Session"),
])
def test_cloud_code_cannot_pair_a_trigger_with_a_class_parse_refuses(kind: str, class_name: str) -> None:
    sdk = Cloud()
    with pytest.raises(ValueError, match="trigger may be set"):
        sdk.trigger(kind, class_name)
    assert sdk.registry.triggers == {}
    sdk.trigger("afterLogout", "_Session")(lambda req: None)  # the pairings Parse allows still register
    sdk.trigger("beforeLogin", "_User")(lambda req: None)
    assert set(sdk.registry.triggers) == {("afterLogout", "_Session"), ("beforeLogin", "_User")}
