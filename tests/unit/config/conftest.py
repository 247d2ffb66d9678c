"""A project on disk, written file by file, for the config loader tests."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from interlock_core.config import Project, load_project
from interlock_core.errors import ConfigError, ConfigErrors

GOOD_CONFIG = """\
provider: sqlite
sqlite:
  path: ./state/interlock.db
"""

GOOD_PIPELINE = """\
name: daily-sales
archetype: batch-ingestion
tier: 2
traits:
  source-freshness:
    evaluator: check-freshness
    config:
      maxLagSeconds: 60
    ttl: 120
trigger:
  type: command
  command: echo run ${date}
"""


class ProjectFiles:
    """Writes ``interlock.yaml`` and the files it points to under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for sub in ("archetypes", "pipelines", "calendars", "evaluators"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self.config(GOOD_CONFIG)

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def config(self, text: str) -> Path:
        return self.write("interlock.yaml", text)

    def pipeline(self, name: str, text: str = GOOD_PIPELINE) -> Path:
        return self.write(f"pipelines/{name}.yaml", text)

    def load(self, env: Mapping[str, str] | None = None) -> Project:
        return load_project(self.root, env=env if env is not None else {})

    def errors(self, env: Mapping[str, str] | None = None) -> list[ConfigError]:
        """Load, expecting failure; every located problem."""
        with pytest.raises(ConfigError) as info:
            self.load(env)
        exc = info.value
        return list(exc.errors) if isinstance(exc, ConfigErrors) else [exc]

    def only_error(self, env: Mapping[str, str] | None = None) -> ConfigError:
        errors = self.errors(env)
        assert len(errors) == 1, [e.message for e in errors]
        return errors[0]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ProjectFiles:
    """An empty, valid project; the working directory is the project directory, so files are
    named relative to it in errors (as when running ``interlock validate`` inside a project)."""
    monkeypatch.chdir(tmp_path)
    return ProjectFiles(tmp_path)
