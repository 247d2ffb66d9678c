"""Pipelines registered over the API: their triggers read run variables and ``api.allowedEnv`` only,
their evaluators are bare names in the evaluator directories (never a path, never ``$PATH``)."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from interlock_core.config import load_project
from interlock_core.engine.factory import start_engine
from interlock_core.errors import ConfigErrors
from interlock_core.model import PipelineConfig, PipelineOrigin, RunStatus

from .conftest import Api
from .support import http_pipeline, write_project

SECRET = "AKIA-s3cr3t-never-sent"


def _stored_api_pipeline(data: dict[str, Any]) -> PipelineConfig:
    """A pipeline as the API stores it, checks bypassed (say, registered before they existed)."""
    return PipelineConfig.model_validate(data).model_copy(update={"origin": PipelineOrigin.API})


async def test_registration_refuses_server_environment_without_an_oracle(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTERLOCK_TEST_SECRET", SECRET)
    monkeypatch.delenv("INTERLOCK_TEST_ABSENT", raising=False)
    answers: dict[str, str] = {}
    for name in ("INTERLOCK_TEST_SECRET", "INTERLOCK_TEST_ABSENT"):
        response = await api.client.post("/api/pipelines",
                                          json=http_pipeline("leaky", api.hook.url + "?k=${" + name + "}"))
        assert response.status_code == 400, response.text
        assert response.json()["field"] == "trigger.url"
        answers[name] = response.json()["error"].replace(name, "NAME")
    assert answers["INTERLOCK_TEST_SECRET"] == answers["INTERLOCK_TEST_ABSENT"]  # set or not: same answer
    assert "api.allowedEnv" in answers["INTERLOCK_TEST_SECRET"]
    defaulted = http_pipeline("leaky", api.hook.url)
    defaulted["trigger"]["headers"] = {"X-Key": "${INTERLOCK_TEST_SECRET:-none}"}
    response = await api.client.post("/api/pipelines", json=defaulted)
    assert response.status_code == 400
    assert response.json()["field"] == "trigger.headers.X-Key"
    assert SECRET not in json.dumps(answers) + response.text
    assert await api.engine.list_pipelines() == []


async def test_run_variables_and_allowed_env_are_expanded_at_launch(
    make_api: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    api: Api = await make_api(config={"api": {"allowedEnv": ["ORCH_TEAM", "ORCH_UNSET"]}})
    monkeypatch.setenv("ORCH_TEAM", "data")
    monkeypatch.delenv("ORCH_UNSET", raising=False)
    body = http_pipeline("teamed", api.hook.url)
    body["trigger"]["body"] = {"pipeline": "${pipelineID}", "date": "${date}", "team": "${ORCH_TEAM}"}
    assert (await api.client.post("/api/pipelines", json=body)).status_code == 201
    outcome = await api.engine.start_run("teamed", date="2026-03-02")
    assert outcome.launched, outcome.message
    assert api.hook.requests[-1]["body"] == {"pipeline": "teamed", "date": "2026-03-02", "team": "data"}
    unset = http_pipeline("unset", api.hook.url + "?k=${ORCH_UNSET}")
    response = await api.client.post("/api/pipelines", json=unset)
    assert response.status_code == 400
    assert "'ORCH_UNSET' is not set" in response.json()["error"]


async def test_a_stored_api_pipeline_never_reads_the_server_environment(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTERLOCK_TEST_SECRET", SECRET)
    await api.engine.store.put_pipeline(
        _stored_api_pipeline(http_pipeline("legacy", api.hook.url + "?k=${INTERLOCK_TEST_SECRET}")))
    outcome = await api.engine.start_run("legacy", date="2026-03-02")
    assert api.hook.requests == []
    run = outcome.run
    assert run is not None and run.status is RunStatus.FAILED
    assert run.failure_message is not None and "${INTERLOCK_TEST_SECRET}" in run.failure_message
    assert SECRET not in run.model_dump_json()


async def test_a_file_pipeline_still_reads_the_environment(
    make_api: Callable[..., Any], hook: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTERLOCK_TEST_SECRET", "file-token")
    api: Api = await make_api(pipelines=[http_pipeline("filed", hook.url + "?k=${INTERLOCK_TEST_SECRET}")])
    assert (await api.engine.get_pipeline("filed")).origin is PipelineOrigin.FILE
    outcome = await api.engine.start_run("filed", date="2026-03-02")
    assert outcome.launched, outcome.message
    assert parse_qs(urlsplit(api.hook.requests[-1]["path"]).query) == {"k": ["file-token"]}


async def test_origin_is_set_by_the_server_never_by_the_client(api: Api) -> None:
    response = await api.client.post("/api/pipelines", json=http_pipeline("spoof", api.hook.url, origin="file"))
    assert response.status_code == 201
    assert response.json()["origin"] == "api"
    assert (await api.engine.get_pipeline("spoof")).origin is PipelineOrigin.API


async def test_stored_pipelines_of_no_file_and_no_origin_become_api_pipelines(api: Api) -> None:
    legacy = PipelineConfig.model_validate(http_pipeline("legacy", api.hook.url))
    assert legacy.origin is None
    await api.engine.store.put_pipeline(legacy)
    await start_engine(api.engine, load_project(api.root))
    assert (await api.engine.get_pipeline("legacy")).origin is PipelineOrigin.API


@pytest.mark.parametrize("evaluator", ["pass\n", "pass\r\n", " pass", "pass ", "pa\tss", "pass\x00", "pa\x1bss",
                                       "./pass", "sub/pass", ""])
async def test_evaluator_names_are_rejected_never_stripped(api: Api, evaluator: str) -> None:
    response = await api.client.post("/api/pipelines", json=http_pipeline("odd", api.hook.url, evaluator=evaluator))
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "traits.source-ready.evaluator"
    assert await api.engine.list_pipelines() == []


def test_a_pipeline_file_with_a_control_character_in_an_evaluator_name_is_a_config_error(tmp_path: Path) -> None:
    root = write_project(tmp_path / "project", pipelines=[http_pipeline("odd", "http://127.0.0.1:9/run",
                                                                        evaluator="pass\n")])
    with pytest.raises(ConfigErrors) as caught:
        load_project(root)
    assert "traits.source-ready.evaluator" in str(caught.value)
    assert "control characters" in str(caught.value)


async def test_api_pipeline_evaluators_are_never_looked_up_on_path(
    make_api: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_path = tmp_path / "bin"
    on_path.mkdir()
    script = on_path / "path-only-pass"
    script.write_text('#!/bin/sh\necho \'{"status": "PASS"}\'\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{on_path}:/usr/bin:/bin")
    api: Api = await make_api(pipelines=[http_pipeline("filed", "http://127.0.0.1:9/run",
                                                       evaluator="path-only-pass")])
    assert (await api.engine.evaluate("filed")).ready  # a pipeline file may use $PATH, as documented
    await api.engine.store.put_pipeline(
        _stored_api_pipeline(http_pipeline("remote", "http://127.0.0.1:9/run", evaluator="path-only-pass")))
    result = await api.engine.evaluate("remote")
    assert not result.ready
    reason = result.traits[0].reason or ""
    assert reason.startswith("EVALUATOR_NOT_FOUND: path-only-pass") and "$PATH" not in reason


INTERNAL = '"accepted": false'  # what the answering server wrote in its body


def _airflow_pipeline(name: str, url: str) -> dict[str, Any]:
    data = http_pipeline(name, url)
    data["trigger"] = {"type": "airflow", "url": url, "dagID": "etl"}
    return data


async def test_an_api_pipeline_never_reads_an_answer_back_through_its_failure_message(
    make_api: Callable[..., Any], hook: Any
) -> None:
    hook.status = 500
    api: Api = await make_api(pipelines=[_airflow_pipeline("filed", hook.url)])
    assert (await api.client.post("/api/pipelines", json=_airflow_pipeline("posted", hook.url))).status_code == 201
    posted = (await api.engine.start_run("posted", date="2026-03-02")).run
    assert posted is not None and posted.status is RunStatus.FAILED
    assert "HTTP 500" in (posted.failure_message or "") and INTERNAL not in (posted.failure_message or "")
    filed = (await api.engine.start_run("filed", date="2026-03-02")).run  # the operator's own file: quoted
    assert filed is not None and INTERNAL in (filed.failure_message or "")
