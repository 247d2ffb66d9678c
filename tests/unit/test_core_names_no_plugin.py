"""Core knows no plugin by name: the built-ins are found through the ``interlock`` entry-point
group like every other package, so no module of ``interlock_core`` names the package that ships
them or the starter content, not even in a string (``lint-imports`` sees imports only)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import interlock_core
import interlock_plugins
from interlock_core.errors import PluginError
from interlock_core.plugins import get_plugin_manager, load_plugins

CORE = Path(interlock_core.__file__).parent
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_no_core_module_names_a_plugin_package() -> None:
    named = [f"{path.relative_to(CORE.parent)}:{number}"
             for path in sorted(CORE.rglob("*.py"))
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
             if "interlock_plugins" in line or "interlock_config" in line]
    assert named == []


def test_the_builtins_are_declared_as_entry_points_and_registered_through_them() -> None:
    declared = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["entry-points"]["interlock"]
    assert set(interlock_plugins.BUILTIN_MODULES) <= set(declared.values())
    plugins = load_plugins()
    registered = {plugins.pm.get_name(plugin) for plugin in plugins.pm.get_plugins()}
    assert set(declared.values()) <= registered
    assert plugins.sources["interlock_plugins.stores"].distribution == "interlock"


def test_the_starter_content_and_the_archive_come_from_plugins() -> None:
    plugins = load_plugins()
    assert {"batch-ingestion.yaml", "ml-feature-pipeline.yaml", "streaming-enrichment.yaml"} <= {
        path.name for path in plugins.starter_files("archetypes")}
    assert {"us-holidays.yaml", "weekends.yaml"} <= {path.name for path in plugins.starter_files("calendars")}
    assert plugins.archives.target("postgres") == "interlock_plugins.archive.postgres:PostgresArchive"
    assert plugins.archives.origin("postgres") == "interlock_plugins.archive"


def test_without_an_install_no_plugin_is_found_and_the_error_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("interlock_core.plugins._entry_points", lambda: [])
    with pytest.raises(PluginError, match=r"no plugin is declared in the 'interlock' entry-point group.*pip install"):
        get_plugin_manager()
    assert get_plugin_manager(load_entrypoints=False) is not None
