"""``interlock add-pipeline`` as a newcomer uses it: it never overwrites silently, names the flag a
command trigger needs, says how the command runs (no shell unless ``--shell``), and writes a
pipeline that can become READY (or says why it cannot yet). Real processes throughout."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.test_cli_validate import interlock


def parsed(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    created = interlock("init", "proj", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    return tmp_path / "proj"


def test_an_existing_pipeline_is_not_overwritten_without_force(project: Path) -> None:
    example = project / "pipelines" / "example.yaml"
    before = example.read_text()
    refused = interlock("add-pipeline", "--name", "example", "--trigger-command", "echo other", cwd=project)
    assert refused.returncode == 2
    assert "already exists" in refused.stderr and "--force" in refused.stderr and str(example) in refused.stderr
    assert example.read_text() == before

    forced = interlock("add-pipeline", "--name", "example", "--trigger-command", "echo other", "--force",
                       "--json", cwd=project)
    assert forced.returncode == 0, forced.stderr
    assert parsed(forced)["replaced"] is True and parsed(forced)["pipelineId"] == "example"
    assert yaml.safe_load(example.read_text())["trigger"]["command"] == "echo other"


def test_a_pipeline_defined_in_another_file_is_replaced_there(project: Path) -> None:
    legacy = project / "pipelines" / "legacy.yaml"
    legacy.write_text((project / "pipelines" / "example.yaml").read_text().replace("name: example", "name: sales"))
    refused = interlock("add-pipeline", "--name", "sales", "--trigger-command", "echo new", cwd=project)
    assert refused.returncode == 2 and "legacy.yaml" in refused.stderr
    assert not (project / "pipelines" / "sales.yaml").exists()

    forced = interlock("add-pipeline", "--name", "sales", "--trigger-command", "echo new", "--force", cwd=project)
    assert forced.returncode == 0, forced.stderr
    assert not (project / "pipelines" / "sales.yaml").exists()  # no second definition of the name
    assert yaml.safe_load(legacy.read_text())["trigger"]["command"] == "echo new"
    assert interlock("validate", cwd=project).returncode == 0


def test_a_command_trigger_without_its_command_names_the_flag(project: Path) -> None:
    missing = interlock("add-pipeline", "--name", "sales", cwd=project)
    assert missing.returncode == 2
    assert "--trigger-command" in missing.stderr
    assert not (project / "pipelines" / "sales.yaml").exists()


def test_the_command_runs_without_a_shell_unless_asked(project: Path) -> None:
    helped = interlock("add-pipeline", "--help", cwd=project)
    assert "shell command" not in helped.stdout and "--shell" in helped.stdout
    assert "without a shell" in " ".join(helped.stdout.split())

    refused = interlock("add-pipeline", "--name", "sales", "--trigger-command", "make && deploy", cwd=project)
    assert refused.returncode == 2 and "--shell" in refused.stderr and "&&" in refused.stderr
    plain = interlock("add-pipeline", "--name", "plain", "--trigger-command", "grep 'a|b' in.txt", "--json",
                      cwd=project)
    assert plain.returncode == 0, plain.stderr  # a quoted | is an argument, not a pipe
    assert "shell" not in yaml.safe_load(Path(parsed(plain)["file"]).read_text())["trigger"]

    shelled = interlock("add-pipeline", "--name", "sales", "--trigger-command", "echo built > out.txt",
                        "--shell", "--json", cwd=project)
    assert shelled.returncode == 0, shelled.stderr
    trigger = yaml.safe_load(Path(parsed(shelled)["file"]).read_text())["trigger"]
    assert trigger == {"type": "command", "command": "echo built > out.txt", "shell": True}
    ran = interlock("run", "sales", cwd=project)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (project / "out.txt").read_text().strip() == "built"


def test_the_written_pipeline_has_the_archetypes_traits_and_can_become_ready(project: Path) -> None:
    added = interlock("add-pipeline", "--name", "sales", "--trigger-command", "echo ok", cwd=project)
    assert added.returncode == 0, added.stderr
    assert "example evaluator" in added.stdout  # says they are stand-ins to replace
    written = yaml.safe_load((project / "pipelines" / "sales.yaml").read_text())
    assert written["traits"] == {"source-freshness": {"evaluator": "check-source-freshness"},
                                 "upstream-dependency": {"evaluator": "check-upstream"},
                                 "resource-availability": {"evaluator": "check-resources"}}
    evaluated = interlock("evaluate", "sales", "--json", cwd=project)
    assert evaluated.returncode == 0, evaluated.stdout
    assert parsed(evaluated)["status"] == "READY"


def test_a_trait_without_an_evaluator_is_written_as_pushed_with_a_hint(project: Path) -> None:
    added = interlock("add-pipeline", "--name", "features", "--archetype", "ml-feature-pipeline",
                      "--trigger-command", "echo ok", cwd=project)
    assert added.returncode == 0, added.stderr
    written = yaml.safe_load((project / "pipelines" / "features.yaml").read_text())
    assert written["traits"]["model-registry"] == {}
    hint = " ".join(added.stdout.split())
    assert "model-registry has no evaluator: it is a pushed trait, STALE" in hint
    assert "POST /api/pipelines/features/traits/model-registry" in hint
    assert "traits.model-registry.evaluator" in hint
