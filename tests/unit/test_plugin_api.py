"""The plugin author's API is one module, pinned: adding or removing a name is a deliberate change
made here too (a plugin package imports these names; renaming one breaks it)."""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from interlock_core import plugin_api
from interlock_core.plugin_api import (
    AlertSinkBase,
    FailureCategory,
    LaunchRequest,
    LaunchResult,
    PluginContext,
    TriggerBase,
    TriggerError,
)

PLUGIN_API = [
    "ENTRY_POINT_GROUP", "Alert", "AlertDeliveryError", "AlertLevel", "AlertSink", "AlertSinkBase", "BuiltinEvaluator",
    "Clock", "ConfigError", "ConfigModel", "CycleWindow", "EvaluatorInput", "EvaluatorOutput", "EvaluatorRunner",
    "EvaluatorRunnerFactory", "FailureCategory", "FakeClock", "HostPolicy", "LaunchRequest", "LaunchResult",
    "LazyPlugin", "PluginContext", "PluginError", "PollResult", "RunnerContext", "SchedulerRun",
    "SchedulerRunLookup", "SinkState", "Store", "StoreFactory", "SystemClock", "TriggerBase", "TriggerError",
    "TriggerType", "hookimpl",
    # the Store port by role (interlock_core.store_roles)
    "AlertOutboxStore", "BatchStore", "EventStore", "LeaseStore", "MarkerStore", "PipelineStore", "RerunStore",
    "RunStore", "ShadowStore", "StoreConnection", "TraitStore",
    # a long-term archive (interlock_register_archives)
    "Archive", "ArchiverConfig",
]


def test_the_plugin_api_names_are_pinned() -> None:
    assert sorted(plugin_api.__all__) == sorted(PLUGIN_API)
    assert len(set(plugin_api.__all__)) == len(plugin_api.__all__)


def test_every_public_name_is_exported_and_exists() -> None:
    public = {name for name, value in vars(plugin_api).items()
              if not name.startswith("_") and not isinstance(value, ModuleType)}
    # what the module imports only for its own annotations is not part of the API
    assert public - {"annotations", "Any", "ClassVar", "Mapping", "Protocol", "runtime_checkable", "BaseModel"} == set(
        plugin_api.__all__)
    for name in plugin_api.__all__:
        assert getattr(plugin_api, name) is not None, name


def test_the_api_lives_in_core_and_imports_no_plugin() -> None:
    source = inspect.getsource(plugin_api)
    assert "interlock_plugins" not in source.replace("``interlock_plugins``", "")
    for name in plugin_api.__all__:
        module = getattr(getattr(plugin_api, name), "__module__", "interlock_core")
        assert module.startswith(("interlock_core", "pluggy")), (name, module)


def test_the_entry_point_group_is_the_one_interlock_loads() -> None:
    assert plugin_api.ENTRY_POINT_GROUP == "interlock"


class _Config(BaseModel):
    job: str


class _Trigger(TriggerBase):
    name: ClassVar[str] = "example"
    config_model: ClassVar[type[BaseModel]] = _Config

    async def launch(self, config: Any, request: LaunchRequest) -> LaunchResult:
        return LaunchResult(state="succeeded", message=f"{config.job} for {request.date}")


async def test_the_trigger_base_gives_what_a_trigger_type_needs(tmp_path: Any) -> None:
    trigger = _Trigger(PluginContext(project_dir=tmp_path))
    assert (trigger.pollable, trigger.api_registrable) == (False, False), "closed by default"
    request = LaunchRequest(pipeline_id="p", run_id="r", run_key="k", schedule_id="daily", date="2026-03-02",
                            attempt=1, variables={})
    assert (await trigger.launch(_Config(job="load"), request)).message == "load for 2026-03-02"
    with pytest.raises(TriggerError) as info:
        await trigger.poll(_Config(job="load"), {})
    assert info.value.category is FailureCategory.PERMANENT
    await trigger.close()


async def test_the_alert_sink_base_keeps_its_config_and_context(tmp_path: Any) -> None:
    context = PluginContext(project_dir=tmp_path)
    sink = AlertSinkBase({"a": 1}, context)
    assert sink.config == {"a": 1} and sink.context is context
    await sink.close()
