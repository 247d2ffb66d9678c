"""Structure of deploy/statemachine.asl.json, checked by reading it and by the AWS validator."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ASL = ROOT / "deploy" / "statemachine.asl.json"
VALIDATOR = ROOT / "deploy" / "asl-validate"
TYPES = {"Task", "Choice", "Wait", "Pass", "Map", "Succeed", "Fail", "Parallel"}
PLACEHOLDERS = {"${OrchestratorFunctionArn}", "${EvaluatorFunctionArn}", "${TriggerFunctionArn}",
                "${RunCheckerFunctionArn}", "${AlertTopicArn}"}


@pytest.fixture(scope="module")
def asl() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ASL.read_text())
    return data


def machines(asl: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The top-level machine and every Map/Parallel processor, each with its own states."""
    yield "top", asl
    for name, state in asl["States"].items():
        if state["Type"] == "Map":
            yield from machines_of(name, state.get("ItemProcessor") or state.get("Iterator"))
        if state["Type"] == "Parallel":
            for i, branch in enumerate(state["Branches"]):
                yield from machines_of(f"{name}[{i}]", branch)


def machines_of(name: str, machine: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for inner_name, inner in machines(machine):
        yield (name if inner_name == "top" else inner_name), inner


def targets(state: dict[str, Any]) -> list[str]:
    out = [state[k] for k in ("Next", "Default") if k in state]
    out += [c["Next"] for c in state.get("Choices", [])]
    out += [c["Next"] for c in state.get("Catch", [])]
    return out


def all_states(asl: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for _, machine in machines(asl):
        yield from machine["States"].items()


def test_header(asl: dict[str, Any]) -> None:
    assert asl["Comment"] and asl["StartAt"] in asl["States"]
    assert all(state["Type"] in TYPES for _, state in all_states(asl))


def test_every_target_exists_and_nothing_is_orphaned(asl: dict[str, Any]) -> None:
    for where, machine in machines(asl):
        states = machine["States"]
        assert machine["StartAt"] in states, where
        referenced = {machine["StartAt"]}
        for name, state in states.items():
            for target in targets(state):
                assert target in states, f"{where}: {name} goes to missing state {target}"
                referenced.add(target)
        assert set(states) == referenced, f"{where}: unreferenced {set(states) - referenced}"


def test_every_state_ends_or_moves_on(asl: dict[str, Any]) -> None:
    for name, state in all_states(asl):
        if state["Type"] in ("Succeed", "Fail"):
            assert "Next" not in state and "End" not in state, name
        elif state["Type"] == "Choice":
            assert state["Choices"] and state.get("Default"), f"{name} needs choices and a Default"
        else:
            assert ("Next" in state) != bool(state.get("End")), f"{name} needs exactly one of Next/End"


def test_every_task_retries_and_catches_into_the_alert_path(asl: dict[str, Any]) -> None:
    for name, state in all_states(asl):
        if state["Type"] in ("Task", "Map"):
            assert state.get("Retry"), f"{name} has no Retry"
    top = asl["States"]
    for name, state in top.items():
        if state["Type"] in ("Task", "Map") and name not in ("AlertError", "ReleaseLease", "ReleaseLeaseAfterError"):
            assert [c["Next"] for c in state["Catch"]] == ["AlertError"], name
    alert = top["AlertError"]
    assert alert["Resource"] == "arn:aws:states:::sns:publish"
    assert alert["Parameters"]["TopicArn"] == "${AlertTopicArn}"


def test_maps_have_valid_processors(asl: dict[str, Any]) -> None:
    maps = [s for _, s in all_states(asl) if s["Type"] == "Map"]
    assert maps
    for state in maps:
        processor = state["ItemProcessor"]
        assert processor["StartAt"] in processor["States"]
        assert state["ItemsPath"].startswith("$.")


def test_placeholders_are_exactly_the_deploy_substitutions(asl: dict[str, Any]) -> None:
    found = set(re.findall(r"\$\{[A-Za-z]+\}", ASL.read_text()))
    assert found == PLACEHOLDERS


def test_the_retry_loop_is_reachable(asl: dict[str, Any]) -> None:
    """A failed run whose failure the policy retries waits its backoff and goes back to the gate."""
    s = asl["States"]
    assert s["LogRunFailed"]["Next"] == s["LogTriggerFailed"]["Next"] == "ShouldRetry"
    choice = s["ShouldRetry"]["Choices"][0]
    assert choice["Variable"] == "$.failure.payload.retryable" and choice["Next"] == "RetryBackoffWait"
    assert s["RetryBackoffWait"]["Next"] == "CheckRunLog"


def test_static_validation_with_the_aws_language_service(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.skip("node/npm are not installed: the AWS ASL validator cannot run")
    if not (VALIDATOR / "node_modules" / "amazon-states-language-service").is_dir():
        done = subprocess.run(["npm", "ci", "--prefix", str(VALIDATOR), "--no-audit", "--no-fund"],
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            pytest.skip(f"npm ci for the ASL validator failed (offline?): {done.stderr[-500:]}")
    result = subprocess.run([node, str(VALIDATOR / "validate.js"), str(ASL)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == []

    broken = json.loads(ASL.read_text())
    broken["States"]["IsReady"]["Default"] = "NoSuchState"
    bad = tmp_path / "broken.asl.json"
    bad.write_text(json.dumps(broken, indent=2))
    result = subprocess.run([node, str(VALIDATOR / "validate.js"), str(bad)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    assert any("existing state" in p["message"] for p in json.loads(result.stdout))
