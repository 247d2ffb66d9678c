"""Start-up imports only what the project uses: a SQLite project's ``interlock status`` (and an
evaluation by subprocess evaluators) never imports the AWS SDK, redis-py or httpx, because
built-in plugins are registered lazily and import their libraries on first use.

Each check runs in a fresh interpreter, since this test process has imported everything."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest

from interlock_core.config import load_project
from interlock_core.errors import ConfigErrors, PluginError
from interlock_core.hookspecs import hookimpl
from interlock_core.plugins import LazyPlugin, Registry, load_plugins
from interlock_plugins.stores import interlock_register_stores
from interlock_plugins.stores.sqlite import SQLiteStore
from interlock_plugins.triggers import interlock_register_trigger_types
from interlock_plugins.triggers.aws_glue import GlueTrigger

HEAVY = ("aioboto3", "boto3", "botocore", "aiobotocore", "redis", "httpx")

PROBE = """
import json, sys
from interlock_server.cli.main import main
code = main(sys.argv[1:])
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(json.dumps({{"code": code, "heavy": heavy}}))
"""


def run_cli(*argv: str, cwd: Path) -> dict[str, Any]:
    """Run ``interlock *argv`` in a fresh interpreter; its exit code and the heavy modules it imported."""
    proc = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.stdout.strip(), proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The project ``interlock init`` writes: SQLite store, command trigger, subprocess evaluators."""
    proc = subprocess.run([sys.executable, "-m", "interlock_server.cli.main", "init", str(tmp_path / "demo")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    # `status` only reads and never creates the store: one evaluation creates it
    proc = subprocess.run([sys.executable, "-m", "interlock_server.cli.main", "-C", str(tmp_path / "demo"),
                           "evaluate", "example"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return tmp_path / "demo"


@pytest.mark.parametrize("command", [["status"], ["status", "example"], ["validate"], ["evaluate", "example"]])
def test_a_sqlite_project_imports_no_aws_redis_or_http_client(project: Path, command: list[str]) -> None:
    result = run_cli("-C", str(project), *command, cwd=project)
    assert result["code"] == 0
    assert result["heavy"] == []


def test_the_redis_store_is_imported_when_a_project_uses_it(tmp_path: Path) -> None:
    script = (
        "import json, sys\n"
        "from interlock_core.plugins import load_plugins\n"
        "plugins = load_plugins()\n"
        "before = 'redis' in sys.modules\n"
        "store = plugins.stores.get('redis')\n"
        "print(json.dumps([before, 'redis' in sys.modules, store.__name__, 'redis' in plugins.stores.names()]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [False, True, "RedisStore", True]


# ------------------------------------------------------------------------------ the lazy registry


class _Named:
    name: ClassVar[str] = "named"


def test_a_lazy_plugin_equals_the_class_it_names() -> None:
    assert SQLiteStore in interlock_register_stores()
    assert GlueTrigger in interlock_register_trigger_types()
    assert LazyPlugin("glue", "interlock_plugins.triggers.aws_glue:GlueTrigger") != SQLiteStore


def test_a_registry_imports_a_lazy_entry_once_on_first_use() -> None:
    registry: Registry[Any] = Registry("store")
    registry.add("sqlite", LazyPlugin("sqlite", "interlock_plugins.stores.sqlite:SQLiteStore"), "here")
    assert "sqlite" in registry and registry.names() == ["sqlite"]
    assert registry.get("sqlite") is SQLiteStore
    assert registry.view()["sqlite"] is SQLiteStore
    assert dict(registry.view()) == {"sqlite": SQLiteStore} and registry.items() == [("sqlite", SQLiteStore)]
    with pytest.raises(KeyError):
        registry.view()["redis"]


def test_a_lazy_entry_that_cannot_be_imported_is_a_plugin_error_naming_it() -> None:
    registry: Registry[Any] = Registry("trigger type")
    registry.add("ghost", LazyPlugin("ghost", "no_such_package.triggers:Ghost"), "ghost_plugin")
    with pytest.raises(PluginError) as info:
        registry.get("ghost")
    message = info.value.message
    assert message.startswith("trigger type 'ghost' (no_such_package.triggers:Ghost) cannot be imported")
    assert "registered by ghost_plugin" in message


def test_a_lazy_entry_must_name_what_it_loads() -> None:
    registry: Registry[Any] = Registry("alert sink")
    registry.add("other", LazyPlugin("other", f"{__name__}:_Named"), "here")
    with pytest.raises(PluginError, match="registered as 'other' but is named 'named'"):
        registry.get("other")
    with pytest.raises(PluginError, match=r"is not 'package\.module:Class'"):
        LazyPlugin("x", "no_colon")


def test_a_lazy_plugin_whose_library_is_missing_is_a_located_config_error(tmp_path: Path) -> None:
    ghosts = ModuleType("ghost_plugin")
    ghosts.interlock_register_trigger_types = hookimpl(  # type: ignore[attr-defined]
        lambda: [LazyPlugin("ghost", "no_such_package_for_interlock.trigger:Ghost")])
    ghosts.interlock_register_alert_sinks = hookimpl(  # type: ignore[attr-defined]
        lambda: [LazyPlugin("ghost-sink", "no_such_package_for_interlock.sink:Ghost")])
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "interlock.yaml").write_text("provider: sqlite\nalerts:\n  - type: ghost-sink\n")
    (tmp_path / "pipelines" / "ghost.yaml").write_text(textwrap.dedent("""\
        name: ghost-pipeline
        archetype: batch-ingestion
        trigger:
          type: ghost
        """))
    with pytest.raises(ConfigErrors) as info:
        load_project(tmp_path, env={}, plugins=load_plugins(extra=[ghosts]))
    located = sorted((Path(e.file or "").name, e.line, e.key, e.reason.split(" (")[0]) for e in info.value.errors)
    assert located == [
        ("ghost.yaml", 4, "trigger.type", "trigger type 'ghost'"),
        ("interlock.yaml", 3, "alerts[0].type", "alert sink 'ghost-sink'"),
    ]


# ------------------------------------------------------------------- what a read-only status imports

LIFECYCLE = ("interlock_core.engine.runs", "interlock_core.engine.cycle", "interlock_core.engine.callbacks",
             "interlock_core.engine.transitions", "interlock_core.engine.reruns", "interlock_core.engine.backfill",
             "interlock_core.engine.monitoring", "interlock_core.engine.late_data", "interlock_core.engine.sweep",
             "interlock_core.engine.watchdog", "interlock_core.engine.shadow", "interlock_core.watcher")
OPTIONAL = ("aioboto3", "boto3", "botocore", "aiobotocore", "redis", "httpx", "psycopg", "opentelemetry")


def test_status_on_a_sqlite_project_imports_no_lifecycle_module_and_no_optional_library(project: Path) -> None:
    """``status`` only reads state: the engine builds its run lifecycle on first use, so neither it
    nor any optional library (AWS, Redis, HTTP, PostgreSQL, OpenTelemetry) is imported."""
    probe = ("import json, sys\n"
             "from interlock_server.cli.main import main\n"
             "code = main(sys.argv[1:])\n"
             "print(json.dumps({'code': code, 'loaded': sorted(m for m in sys.modules\n"
             f"    if m in {LIFECYCLE!r} or m.split('.')[0] in {OPTIONAL!r})}}))\n")
    for command in (["status"], ["status", "example"]):
        proc = subprocess.run([sys.executable, "-c", probe, "-C", str(project), *command], cwd=project,
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.stdout.strip(), proc.stderr
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        assert result == {"code": 0, "loaded": []}, command


def test_status_on_a_sqlite_project_imports_no_evaluator_runner(project: Path) -> None:
    """The evaluator runners and builtin evaluators are registered and built on first use: a
    ``status`` (which evaluates nothing) imports none of their modules."""
    probe = ("import json, sys\n"
             "from interlock_server.cli.main import main\n"
             "code = main(sys.argv[1:])\n"
             "print(json.dumps({'code': code, 'loaded': sorted(m for m in sys.modules\n"
             "    if m.startswith('interlock_plugins.evaluators.'))}))\n")
    proc = subprocess.run([sys.executable, "-c", probe, "-C", str(project), "status"], cwd=project,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.stdout.strip(), proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"code": 0, "loaded": []}


NOT_FOR_STATUS = ("interlock_core.redaction", "interlock_plugins.process_group", "interlock_core.engine.pipeline_files",
                  "interlock_core.engine.outcome")
"""Modules a read-only ``status`` has no use for: masking (it raises and lists no alert), the
command trigger's supervisor (it launches nothing), the pipeline-file sync (a read-only start
syncs nothing) and the run outcome (it runs nothing)."""


def test_status_imports_no_alert_masking_launch_supervisor_file_sync_or_run_outcome(project: Path) -> None:
    probe = ("import json, sys\n"
             "from interlock_server.cli.main import main\n"
             "code = main(sys.argv[1:])\n"
             f"loaded = sorted(m for m in {NOT_FOR_STATUS!r} if m in sys.modules)\n"
             "print(json.dumps({'code': code, 'loaded': loaded}))\n")
    for command in (["status"], ["status", "example"]):
        proc = subprocess.run([sys.executable, "-c", probe, "-C", str(project), *command], cwd=project,
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.stdout.strip(), proc.stderr
        assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"code": 0, "loaded": []}, command


def test_only_the_subcommand_given_has_its_parser_built() -> None:
    """``interlock status`` builds the top-level parser and status's; the others are built when used."""
    from interlock_server.cli.deferred_parser import DeferredParser
    from interlock_server.cli.main import build_parser

    parser = build_parser()
    assert parser.parse_args(["-C", "there", "status", "-v"]).project == "there"
    sub = next(a for a in parser._actions if a.dest == "command")
    built = sorted(name for name, command in sub.choices.items()
                   if isinstance(command, DeferredParser) and command._built is not None)
    assert built == ["status"]
