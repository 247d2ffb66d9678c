"""Property-based API testing: schemathesis generates requests from the OpenAPI document and checks
that no answer is a 5xx and every answer matches the documented status codes and schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from schemathesis.python.asgi import get_client, shutdown_lifespans

from interlock_core.config import load_project
from interlock_core.engine import Engine, NullAlerts
from interlock_core.engine.factory import build_engine, start_engine
from interlock_server.app import create_app

from .support import http_pipeline, webhook_server, write_project

POSITIVE_EXAMPLES = 10
NEGATIVE_EXAMPLES = 5
KNOWN_PIPELINE_EXAMPLES = 5


class ServedOnItsOwnLoop:
    """An ASGI app that builds its engine in the lifespan, on the event loop that serves it
    (schemathesis runs the app in its own thread and loop)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.engine: Engine | None = None
        self.app: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                project = load_project(self.root)
                self.engine = build_engine(project, alerts=NullAlerts())
                await start_engine(self.engine, project)
                self.app = create_app(self.engine, server=project.config.server, provider="sqlite", env={},
                                      evaluator_dirs=project.evaluator_dirs)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.engine is not None:
                    await self.engine.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _check(strategy: Any, examples: int) -> None:
    @given(case=strategy)
    # fixed examples in the default run, fresh ones when exploring: the profile in tests/conftest.py
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate])
    def check(case: Any) -> None:
        # Schema-valid is not always valid: an archetype, trait type or schedule must also exist.
        case.call_and_validate(excluded_checks=[schemathesis.checks.positive_data_acceptance])

    check()


def test_api_conforms_to_its_openapi_document(tmp_path: Path) -> None:
    with webhook_server() as hook:
        seeds = [http_pipeline("sales", hook.url), http_pipeline("blocked", hook.url, evaluator="fail")]
        served_as = {"server": {"addr": "127.0.0.1:0", "allowedHosts": ["testserver"]}}  # its client's Host
        app = ServedOnItsOwnLoop(write_project(tmp_path, config=served_as))
        schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
        try:
            for result in schema.get_all_operations():
                assert isinstance(result, Ok), result.err()
                operation = result.ok()
                with get_client(app) as client:  # (re)register what an earlier DELETE may have removed
                    for seed in seeds:
                        assert client.post("/api/pipelines", json=seed).status_code == 201
                _check(operation.as_strategy(GenerationMode.POSITIVE), POSITIVE_EXAMPLES)
                try:
                    _check(operation.as_strategy(GenerationMode.NEGATIVE), NEGATIVE_EXAMPLES)
                except Unsatisfiable:  # nothing to make invalid: no parameters, no body
                    pass
                if "{id}" in operation.path:  # also reach past the 404: a real pipeline
                    for pipeline in ("sales", "blocked"):
                        _check(operation.as_strategy(GenerationMode.POSITIVE, path_parameters={"id": pipeline}),
                               KNOWN_PIPELINE_EXAMPLES)
        finally:
            shutdown_lifespans()
