"""The file sink appends one JSON line per alert, relative to the project directory."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import anyio
import pydantic
import pytest

from interlock_core.errors import ConfigError
from interlock_core.model import Alert
from interlock_core.plugins import PluginContext
from interlock_plugins.alerts.file import FileSink, FileSinkConfig


def sink(project: Path, path: str) -> FileSink:
    return FileSink(FileSinkConfig.model_validate({"path": path}), PluginContext(project_dir=project))


async def test_appends_json_lines_under_the_project(tmp_path: Path, make_alert: Callable[..., Alert]) -> None:
    target = tmp_path / "logs" / "alerts" / "alerts.jsonl"
    file_sink = sink(tmp_path, "logs/alerts/alerts.jsonl")
    assert target.exists()  # created at construction, proving writability
    alert = make_alert()
    await file_sink.send(alert)
    await file_sink.send(make_alert("second", pipeline=None))
    await file_sink.close()
    lines = target.read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first == json.loads(alert.to_json())
    assert first["pipelineId"] == "orders" and first["level"] == "error"
    assert first["timestamp"] == "2026-03-02T12:00:00Z"
    assert json.loads(lines[1])["message"] == "second" and "pipelineId" not in json.loads(lines[1])


async def test_concurrent_sends_write_whole_lines(tmp_path: Path, make_alert: Callable[..., Alert]) -> None:
    file_sink = sink(tmp_path, "alerts.jsonl")
    async with anyio.create_task_group() as tg:
        for i in range(40):
            tg.start_soon(file_sink.send, make_alert(f"alert {i} " + "x" * 2000))
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert sorted(int(json.loads(line)["message"].split()[1]) for line in lines) == list(range(40))


def test_absolute_path_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "abs.jsonl"
    assert sink(Path("/nonexistent-project"), str(target)).path == target


def test_unwritable_path_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    with pytest.raises(ConfigError, match=r"cannot append to .*adir"):
        sink(tmp_path, "adir")
    (tmp_path / "afile").write_text("")
    with pytest.raises(ConfigError, match="file alert sink cannot append"):
        sink(tmp_path, "afile/alerts.jsonl")


def test_path_is_required() -> None:
    with pytest.raises(pydantic.ValidationError):
        FileSinkConfig.model_validate({})
    with pytest.raises(pydantic.ValidationError):
        FileSinkConfig.model_validate({"path": "a", "mode": "w"})
