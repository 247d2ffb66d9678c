"""The plugin's own tests: the trigger and the sink against a real folder, and the entry point
seen by Interlock's plugin registry (run them with ``pytest`` once the package is installed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from interlock_inbox.sink import DropFolderConfig, DropFolderSink
from interlock_inbox.trigger import InboxConfig, InboxTrigger

from interlock_core.plugin_api import (
    Alert,
    AlertLevel,
    FakeClock,
    LaunchRequest,
    PluginContext,
    TriggerError,
)
from interlock_core.plugins import load_plugins


def request(run_key: str = "abc:orders:daily:2026-03-02:1") -> LaunchRequest:
    return LaunchRequest(pipeline_id="orders", run_id="orders-1", run_key=run_key, schedule_id="daily",
                         date="2026-03-02", attempt=1, variables={"date": "2026-03-02"})


def context(root: Path) -> PluginContext:
    return PluginContext(project_dir=root, clock=FakeClock())


async def test_a_launch_drops_a_request_into_the_inbox(tmp_path: Path) -> None:
    trigger = InboxTrigger(context(tmp_path))
    result = await trigger.launch(InboxConfig(folder="inbox", job="load ${date}"), request())
    assert result.state == "succeeded"
    written = json.loads((tmp_path / "inbox" / result.metadata["request"]).read_text())
    assert written["job"] == "load 2026-03-02" and written["runId"] == "orders-1"


async def test_a_held_inbox_fails_the_launch_permanently(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "HOLD").touch()
    with pytest.raises(TriggerError, match="on hold") as info:
        await InboxTrigger(context(tmp_path)).launch({"folder": "inbox", "job": "x"}, request())
    assert not info.value.retryable


def test_folders_outside_the_project_are_refused() -> None:
    with pytest.raises(ValueError, match="inside the project"):
        InboxConfig(folder="../elsewhere", job="x")
    with pytest.raises(ValueError, match="inside the project"):
        DropFolderConfig(folder="/tmp")


async def test_the_sink_writes_one_file_per_alert(tmp_path: Path) -> None:
    sink = DropFolderSink(DropFolderConfig(folder="out"), context(tmp_path))
    await sink.send(Alert(level=AlertLevel.ERROR, message="boom", pipeline_id="orders",
                          timestamp=FakeClock().now()))
    [written] = (tmp_path / "out").glob("alert-*.json")
    assert json.loads(written.read_text())["message"] == "boom"


def test_interlock_discovers_the_package_through_its_entry_point() -> None:
    plugins = load_plugins(refresh=True)
    assert plugins.trigger_types.get("inbox") is InboxTrigger
    assert plugins.alert_sinks.get("drop-folder") is DropFolderSink
    [info] = [i for i in plugins.describe() if i.name == "inbox"]
    assert (info.kind, info.source.distribution, info.source.version) == ("trigger type", "interlock-inbox-plugin",
                                                                          "0.1.0")
