"""OpenTelemetry costs nothing unless asked for: without OTEL_* variables no module of it is
imported (by the CLI, the server's modules or the Lambda runtime's), and core's tracing port stays
the no-op. With them it is on; asked for but not installed, one warning and the command works.

Each check runs in a fresh interpreter (this test process may have imported OpenTelemetry)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from interlock_server.telemetry import requested

PROBE = """
import json, sys
{block}
from interlock_server.cli.main import main
code = main(sys.argv[1:])
import interlock_server.serve, interlock_server.app, interlock_server.aws.init  # every entry point's modules
from interlock_core import tracing
otel = sorted(m for m in sys.modules if m == "opentelemetry" or m.startswith("opentelemetry."))
print(json.dumps({{"code": code, "otel": otel[:3], "count": len(otel), "tracing": tracing.enabled()}}))
"""

BLOCK_OTEL = """
class NoOtel:
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None
sys.meta_path.insert(0, NoOtel())
"""


def clean_environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(extra)
    return env


def probe(project: Path, env: dict[str, str], *, installed: bool = True) -> tuple[dict[str, Any], str]:
    code = PROBE.format(block="" if installed else BLOCK_OTEL)
    proc = subprocess.run([sys.executable, "-c", code, "-C", str(project), "evaluate", "example"], cwd=project,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.stdout.strip(), proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result, proc.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("otel") / "demo"
    proc = subprocess.run([sys.executable, "-m", "interlock_server.cli.main", "init", str(root)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return root


def test_without_otel_variables_nothing_of_opentelemetry_is_imported(project: Path) -> None:
    result, _ = probe(project, clean_environment(OTEL_SERVICE_NAME="named-but-not-exported"))
    assert (result["code"], result["otel"], result["tracing"]) == (0, [], False)


def test_with_an_otlp_endpoint_it_is_on_and_a_command_exports_before_it_exits(project: Path) -> None:
    pytest.importorskip("opentelemetry.sdk")
    from tests.helpers.otlp import otlp_receiver

    with otlp_receiver() as receiver:
        result, _ = probe(project, clean_environment(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url))
    assert result["code"] == 0
    assert result["count"] > 0 and "opentelemetry" in result["otel"]
    evaluation = receiver.one("interlock.evaluate")  # `interlock evaluate example`, exported at exit
    assert evaluation.attributes["interlock.pipeline"] == "example"
    assert {span.attributes["interlock.trait"] for span in receiver.children(evaluation)}


def test_asked_for_but_not_installed_warns_once_and_works(project: Path) -> None:
    env = clean_environment(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
    result, stderr = probe(project, env, installed=False)
    assert (result["code"], result["count"], result["tracing"]) == (0, 0, False)
    assert stderr.count("pip install 'interlock[otel]'") == 1, stderr


@pytest.mark.parametrize(("env", "on"), [
    ({}, False),
    ({"OTEL_SERVICE_NAME": "x", "OTEL_RESOURCE_ATTRIBUTES": "a=b"}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
    ({"OTEL_TRACES_EXPORTER": "console"}, True),
    ({"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none",
      "OTEL_METRICS_EXPORTER": "none"}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, True),  # metrics only
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
])
def test_which_variables_turn_it_on(env: dict[str, str], on: bool) -> None:
    assert requested(env) is on
