"""The plugin system: registries, duplicate names, hook specifications, and a real third-party
plugin package discovered through the ``interlock`` entry-point group."""

from __future__ import annotations

import importlib
import inspect
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from interlock_core import hookspecs
from interlock_core.clock import FakeClock
from interlock_core.config import load_project
from interlock_core.errors import ConfigErrors, PluginError
from interlock_core.hookspecs import hookimpl
from interlock_core.model import Alert, AlertLevel
from interlock_core.plugins import PluginContext, Registry, get_plugin_manager, load_plugins
from interlock_core.ports import LaunchRequest
from interlock_plugins import BUILTIN_MODULES

PLUGIN_PKG = Path(__file__).resolve().parents[1] / "fixtures" / "plugin_pkg"
PLUGIN_MODULE = "interlock_echo_plugin"


def plugin_module(name: str, **hooks: Any) -> ModuleType:
    """A plugin made on the spot: a module holding the given hook implementations."""
    module = ModuleType(name)
    for hook, items in hooks.items():
        def impl(items: list[Any] = items) -> list[Any]:
            return items

        impl.__name__ = hook
        setattr(module, hook, hookimpl(impl))
    return module


class FakeTrigger:
    name: ClassVar[str] = "command"
    config_model: ClassVar[type[BaseModel]] = BaseModel


# ----------------------------------------------------------------------------------- registries


def test_registry_refuses_a_name_registered_twice_naming_both_origins() -> None:
    registry: Registry[str] = Registry("trigger type")
    registry.add("echo", "first", "pkg-a")
    with pytest.raises(PluginError) as info:
        registry.add("echo", "second", "pkg-b")
    assert info.value.message == "trigger type 'echo' is registered twice (by pkg-a and by pkg-b)"
    assert registry.get("echo") == "first"
    assert registry.origin("echo") == "pkg-a"


def test_registry_unknown_name_lists_the_known_ones() -> None:
    registry: Registry[int] = Registry("alert sink")
    registry.add("b", 2, "x")
    registry.add("a", 1, "x")
    assert registry.names() == ["a", "b"] and registry.items() == [("a", 1), ("b", 2)]
    with pytest.raises(PluginError, match=r"unknown alert sink 'c' \(known: a, b\)"):
        registry.get("c")


def test_a_plugin_clashing_with_a_builtin_fails_loudly() -> None:
    clash = plugin_module("clashing_plugin", interlock_register_trigger_types=[FakeTrigger])
    with pytest.raises(PluginError) as info:
        load_plugins(extra=[clash])
    message = info.value.message
    assert "trigger type 'command' is registered twice" in message
    assert "interlock_plugins.triggers" in message and "clashing_plugin" in message


def test_a_registered_class_without_a_name_is_an_error() -> None:
    class Nameless:
        pass

    with pytest.raises(PluginError, match="alert sink from nameless_plugin has no name"):
        load_plugins(extra=[plugin_module("nameless_plugin", interlock_register_alert_sinks=[Nameless])])


def test_builtins_are_registered_under_their_module_names() -> None:
    plugins = load_plugins()
    assert {"sqlite", "redis"} <= set(plugins.stores.names())
    assert {"command", "http", "airflow", "databricks", "glue", "emr", "emr-serverless", "step-function"} <= set(
        plugins.trigger_types.names())
    assert {"console", "file", "webhook", "sns"} <= set(plugins.alert_sinks.names())
    assert {"subprocess", "http", "builtin"} <= set(plugins.evaluator_runners.names())
    assert plugins.trigger_types.origin("command") == "interlock_plugins.triggers"
    assert plugins.stores.origin("sqlite") == "interlock_plugins.stores"
    assert load_plugins() is plugins, "built once per process"
    for _, cls in [*plugins.trigger_types.items(), *plugins.alert_sinks.items(), *plugins.stores.items()]:
        assert issubclass(cls.config_model, BaseModel), cls


def test_every_hook_has_a_docstring_and_the_project_prefix() -> None:
    specs = [(name, fn) for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
             if hasattr(fn, f"{hookspecs.PROJECT_NAME}_spec")]
    assert {name for name, _ in specs} >= {
        "interlock_register_stores", "interlock_register_evaluator_runners", "interlock_register_trigger_types",
        "interlock_register_alert_sinks", "interlock_register_builtin_evaluators"}
    for name, fn in specs:
        assert name.startswith("interlock_"), name
        doc = inspect.getdoc(fn)
        assert doc and len(doc) > 40, f"hook {name} has no real docstring"
    pm = get_plugin_manager(load_entrypoints=False)
    assert {name for name, _ in specs} == {n for n in dir(pm.hook) if n.startswith("interlock_")}


def test_a_broken_entry_point_is_a_plugin_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = tmp_path / "broken_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[interlock]\nbroken = no_such_module_for_interlock\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match=r"plugin 'broken' \(no_such_module_for_interlock\) failed to load"):
        get_plugin_manager()
    assert get_plugin_manager(load_entrypoints=False) is not None


def test_load_project_reports_a_plugin_error_as_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "interlock.yaml").write_text("provider: sqlite\n")
    dist = tmp_path / "site" / "broken_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[interlock]\nbroken = no_such_module_for_interlock\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr("interlock_core.plugins._default", None)
    with pytest.raises(ConfigErrors, match="failed to load"):
        load_project(tmp_path, env={})
    monkeypatch.undo()
    load_plugins(refresh=True)


# ------------------------------------------------------------------------ a third-party package


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``pip install`` the fixture package into a temporary target put on ``sys.path`` (with its
    ``.dist-info``, so ``importlib.metadata`` finds the entry point); the venv is left untouched."""
    target = tmp_path_factory.mktemp("plugin-site")
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
               "--no-cache-dir", "--disable-pip-version-check", "-q", "--target", str(target), str(PLUGIN_PKG)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"pip install failed:\n{done.stdout}\n{done.stderr}"
    assert list(target.glob("interlock_echo_plugin-*.dist-info"))
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    try:
        yield target
    finally:
        sys.path.remove(str(target))
        for name in [m for m in sys.modules if m == PLUGIN_MODULE or m.startswith(PLUGIN_MODULE + ".")]:
            del sys.modules[name]
        importlib.invalidate_caches()
        load_plugins(refresh=True)
        shutil.rmtree(target, ignore_errors=True)


def test_plugin_package_is_discovered_through_its_entry_point(installed_plugin: Path) -> None:
    plugins = load_plugins(refresh=True)
    assert "echo-file" in plugins.trigger_types
    assert "memory" in plugins.alert_sinks
    assert plugins.trigger_types.origin("echo-file") == PLUGIN_MODULE
    assert plugins.alert_sinks.origin("memory") == PLUGIN_MODULE
    assert set(BUILTIN_MODULES) | {PLUGIN_MODULE} <= {plugins.pm.get_name(p) for p in plugins.pm.get_plugins()}


def write_plugin_project(root: Path, trigger: str, alerts: str) -> None:
    (root / "pipelines").mkdir(parents=True, exist_ok=True)
    (root / "interlock.yaml").write_text(f"provider: sqlite\nalerts:\n{textwrap.indent(alerts, '  ')}")
    (root / "pipelines" / "echo.yaml").write_text(
        "name: echo-pipeline\narchetype: batch-ingestion\ntrigger:\n" + textwrap.indent(trigger, "  "))


async def test_plugin_trigger_and_alert_sink_are_usable_from_yaml(installed_plugin: Path, tmp_path: Path) -> None:
    write_plugin_project(tmp_path, trigger="type: echo-file\npath: out/${pipelineId}-${date}.txt\n",
                         alerts="- type: memory\n  label: ops\n- type: console\n")
    project = load_project(tmp_path, env={}, plugins=load_plugins(refresh=True))
    spec = project.pipelines["echo-pipeline"].trigger
    assert spec is not None and spec.type == "echo-file"
    assert [name for name, _ in project.alert_configs] == ["memory", "console"]

    plugins = project.plugins
    assert plugins is not None
    context = PluginContext(project_dir=project.root, clock=FakeClock())
    trigger_cls = plugins.trigger_types.get("echo-file")
    trigger = trigger_cls(context)
    request = LaunchRequest(pipeline_id="echo-pipeline", run_id="r1", run_key="k1", schedule_id="daily",
                            date="2026-03-02", attempt=1,
                            variables={"pipelineId": "echo-pipeline", "date": "2026-03-02"})
    result = await trigger.launch(trigger_cls.config_model.model_validate(spec.options()), request)
    assert result.state == "succeeded"
    written = tmp_path / "out" / "echo-pipeline-2026-03-02.txt"
    assert written.read_text() == "echo-pipeline 2026-03-02\n"

    name, sink_config = project.alert_configs[0]
    sink = plugins.alert_sinks.get(name)(sink_config, context)
    alert = Alert(level=AlertLevel.ERROR, message="boom", pipeline_id="echo-pipeline", timestamp=FakeClock().now())
    await sink.send(alert)
    assert sys.modules[PLUGIN_MODULE].SENT[-1] is alert


def test_plugin_config_errors_are_located_like_builtin_ones(installed_plugin: Path, tmp_path: Path) -> None:
    write_plugin_project(tmp_path, trigger="type: echo-file\npath: out.txt\ncolour: red\n",
                         alerts="- type: memory\n  volume: 11\n")
    with pytest.raises(ConfigErrors) as info:
        load_project(tmp_path, env={}, plugins=load_plugins(refresh=True))
    located = sorted((Path(e.file or "").name, e.line, e.key) for e in info.value.errors)
    assert located == [("echo.yaml", 6, "trigger.colour"), ("interlock.yaml", 4, "alerts[0].volume")]


def test_without_the_package_its_types_are_unknown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", [p for p in sys.path if not list(Path(p).glob("interlock_echo_plugin-*"))])
    importlib.invalidate_caches()
    write_plugin_project(tmp_path, trigger="type: echo-file\npath: out.txt\n", alerts="- type: memory\n")
    plugins = load_plugins(refresh=True)
    assert "echo-file" not in plugins.trigger_types
    with pytest.raises(ConfigErrors) as info:
        load_project(tmp_path, env={}, plugins=plugins)
    reasons = sorted(e.reason.split(" (")[0] for e in info.value.errors)
    assert reasons == ["unknown alert type 'memory'", "unknown trigger type 'echo-file'"]
    monkeypatch.undo()
    load_plugins(refresh=True)


# ------------------------------------------------------------ what a plugin's author and operator see


def fake_distribution(site: Path, name: str, version: str, entry_points: str) -> None:
    """A ``.dist-info`` declaring ``interlock`` entry points (the modules it names may not exist)."""
    dist = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (dist / "entry_points.txt").write_text(f"[interlock]\n{entry_points}\n")


def test_a_broken_entry_point_names_its_package_and_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_distribution(tmp_path, "acme-interlock-triggers", "2.3.0", "acme = acme_interlock_no_such_module")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError) as info:
        get_plugin_manager()
    message = info.value.message
    assert "package acme-interlock-triggers 2.3.0" in message
    assert "entry point 'acme' = 'acme_interlock_no_such_module'" in message
    assert "ModuleNotFoundError" in message


def test_a_name_registered_by_two_packages_names_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    for package, module in [("acme-one", "acme_one_plugin"), ("acme-two", "acme_two_plugin")]:
        (site / module).mkdir(parents=True)
        (site / module / "__init__.py").write_text(textwrap.dedent("""
            from typing import ClassVar
            from pydantic import BaseModel
            from interlock_core.plugin_api import hookimpl

            class Twin:
                name: ClassVar[str] = "twin"
                config_model: ClassVar[type[BaseModel]] = BaseModel

            @hookimpl
            def interlock_register_alert_sinks():
                return [Twin]
        """))
        fake_distribution(site, package, "1.0", f"{module.split('_')[1]} = {module}")
    monkeypatch.syspath_prepend(str(site))
    try:
        with pytest.raises(PluginError) as info:
            load_plugins(refresh=True)
        message = info.value.message
        assert message.startswith("alert sink 'twin' is registered twice")
        assert "acme_one_plugin (package acme-one 1.0, entry point 'one')" in message
        assert "acme_two_plugin (package acme-two 1.0, entry point 'two')" in message
    finally:
        monkeypatch.undo()
        for name in ("acme_one_plugin", "acme_two_plugin"):
            sys.modules.pop(name, None)
        load_plugins(refresh=True)


def test_every_registered_plugin_is_described_with_its_package_without_importing_it() -> None:
    plugins = load_plugins()
    infos = {(info.kind, info.name): info for info in plugins.describe()}
    glue = infos[("trigger type", "glue")]
    assert glue.source.distribution == "interlock" and glue.source.module == "interlock_plugins.triggers"
    assert glue.target == "interlock_plugins.triggers.aws_glue:GlueTrigger"
    assert glue.to_json()["distribution"] == "interlock"
    assert {kind for kind, _ in infos} == {"store", "evaluator runner", "trigger type", "alert sink",
                                           "builtin evaluator", "archive"}
    assert len(infos) == sum(len(r.names()) for r in plugins.registries())


def test_interlock_plugins_lists_them_for_people_and_scripts(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from interlock_server.cli.main import main

    assert main(["plugins", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["plugins"]
    assert {"kind": "alert sink", "name": "slack", "distribution": "interlock"}.items() <= next(
        p for p in listed if p["name"] == "slack").items()
    assert main(["plugins"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split() == ["KIND", "NAME", "PACKAGE", "VERSION", "LOCATION"]
    assert any(line.split()[:3] == ["trigger", "type", "command"] for line in text.splitlines())


def test_interlock_plugins_names_a_package_that_fails_to_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from interlock_server.cli.main import main

    fake_distribution(tmp_path, "acme-broken", "0.9", "broken = acme_broken_no_such_module")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr("interlock_core.plugins._default", None)
    try:
        assert main(["plugins"]) == 2
        assert "package acme-broken 0.9" in capsys.readouterr().err
    finally:
        monkeypatch.undo()
        load_plugins(refresh=True)


def test_a_registration_hook_that_raises_is_named() -> None:
    module = ModuleType("exploding_plugin")

    def interlock_register_alert_sinks() -> list[Any]:
        raise ImportError("No module named 'slack_sdk'")

    module.interlock_register_alert_sinks = hookimpl(interlock_register_alert_sinks)  # type: ignore[attr-defined]
    with pytest.raises(PluginError) as info:
        load_plugins(extra=[module])
    assert info.value.message == ("plugin exploding_plugin failed to register its alert sinks "
                                  "(interlock_register_alert_sinks): ImportError: No module named 'slack_sdk'")
