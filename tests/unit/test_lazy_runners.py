"""The engine's evaluator runners and the builtin evaluators are registered and built on first use
(``status`` evaluates nothing): the registries collect their hooks when first asked for, the
runner list builds the runners when an evaluation first looks at it."""

from __future__ import annotations

from types import ModuleType
from typing import Any, ClassVar

import pytest

from interlock_core.engine.runner_list import RunnerList
from interlock_core.errors import PluginError
from interlock_core.hookspecs import hookimpl
from interlock_core.plugins import Plugins, get_plugin_manager


class _Runner:
    name: ClassVar[str] = "counted"
    priority: ClassVar[int] = 0

    def __init__(self, closed: list[str], label: str) -> None:
        self.closed = closed
        self.label = label

    def handles(self, evaluator: str) -> bool:
        return evaluator == self.label

    async def close(self) -> None:
        self.closed.append(self.label)


def test_a_runner_list_builds_its_runners_once_on_first_use() -> None:
    builds: list[int] = []
    closed: list[str] = []

    def build() -> list[Any]:
        builds.append(1)
        return [_Runner(closed, "a"), _Runner(closed, "b")]

    runners = RunnerList(build)
    assert not runners.built and builds == []
    assert [r.label for r in runners] == ["a", "b"]  # type: ignore[attr-defined]
    runners.insert(0, _Runner(closed, "first"))  # type: ignore[arg-type]
    assert len(runners) == 3 and runners[0].label == "first" and builds == [1]  # type: ignore[attr-defined]
    del runners[0]
    assert [r.label for r in runners] == ["a", "b"] and builds == [1]  # type: ignore[attr-defined]


async def test_a_runner_list_closes_only_runners_it_built() -> None:
    closed: list[str] = []
    never = RunnerList(lambda: [_Runner(closed, "never")])  # type: ignore[list-item]
    await never.close()
    assert closed == [] and not never.built
    used = RunnerList(lambda: [_Runner(closed, "a"), _Runner(closed, "b")])  # type: ignore[list-item]
    assert len(used) == 2
    await used.close()
    assert closed == ["a", "b"]


def _counting_plugin(calls: list[str], module: str = "counting_plugin") -> ModuleType:
    plugin = ModuleType(module)

    def runners() -> list[Any]:
        calls.append("runners")
        return [_Runner]

    def builtins() -> list[Any]:
        calls.append("builtins")
        return []

    plugin.interlock_register_evaluator_runners = hookimpl(runners)  # type: ignore[attr-defined]
    plugin.interlock_register_builtin_evaluators = hookimpl(builtins)  # type: ignore[attr-defined]
    return plugin


def test_runner_and_builtin_registries_are_collected_when_first_asked_for() -> None:
    calls: list[str] = []
    plugins = Plugins(get_plugin_manager(load_entrypoints=False, extra=[_counting_plugin(calls)]))
    assert calls == []
    assert plugins.evaluator_runners.names() == ["counted"]
    assert plugins.builtin_evaluators.names() == []
    assert plugins.evaluator_runners.get("counted") is _Runner
    assert calls == ["runners", "builtins"]  # once each


def test_a_runner_registered_twice_is_still_a_plugin_error() -> None:
    calls: list[str] = []
    plugins = Plugins(get_plugin_manager(load_entrypoints=False,
                                         extra=[_counting_plugin(calls), _counting_plugin(calls, "twin_plugin")]))
    with pytest.raises(PluginError, match="evaluator runner 'counted' is registered twice"):
        plugins.evaluator_runners.names()
