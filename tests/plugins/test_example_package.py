"""The example plugin package (``examples/interlock-inbox-plugin``) as a plugin's user gets it:
``pip install``-ed into a fresh virtual environment beside Interlock, its own tests run there,
``interlock plugins`` lists it, and a real ``interlock serve`` registers a pipeline with its
``inbox`` trigger over the API, runs it, and delivers an alert through its ``drop-folder`` sink.

The fresh environment reuses this one's packages (no network): a ``.pth`` file adds this
interpreter's site-packages as a site directory, so Interlock and its dependencies are importable
while the example package is installed into the new environment alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml

from tests.helpers.served import _ENTRY, API_KEY, Served, Starting

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "interlock-inbox-plugin"
WAIT = 30.0


def run(command: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1", **options.pop("env", {})}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, env=env, **options)
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment holding the example package (installed, not editable)."""
    venv = tmp_path_factory.mktemp("plugin-venv")
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    (Path(purelib) / "_interlock_host.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--no-cache-dir",
         "--disable-pip-version-check", "-q", str(EXAMPLE)], cwd=venv)
    assert list(Path(purelib).glob("interlock_inbox_plugin-0.1.0.dist-info")), "installed into the fresh venv"
    return python


def test_the_example_package_passes_its_own_tests(venv_python: Path, tmp_path: Path) -> None:
    # only the plugin the example's tests use (this environment's other pytest plugins cost seconds to load)
    done = run([str(venv_python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "pytest_asyncio.plugin",
                str(EXAMPLE / "tests")], cwd=tmp_path, env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert " passed" in done.stdout and "failed" not in done.stdout, done.stdout


def interlock(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run([str(python), "-c", _ENTRY, *args], cwd=cwd)


def write_project(root: Path) -> None:
    (root / "archetypes").mkdir(parents=True)
    (root / "archetypes" / "pushed.yaml").write_text(yaml.safe_dump({
        "name": "pushed", "description": "One trait an upstream pushes",
        "requiredTraits": [{"type": "upstream-signal", "defaultTtl": 600}],
        "readinessRule": {"type": "all-required-pass"}}))
    (root / "interlock.yaml").write_text(yaml.safe_dump({
        "provider": "sqlite", "sqlite": {"path": "./interlock.db"},
        "server": {"addr": "127.0.0.1:0"},
        "alerts": [{"type": "drop-folder", "folder": "outgoing-alerts", "backoff": "1s"}],
        "logging": {"level": "warning", "format": "json"}}))


@pytest.fixture
def served(venv_python: Path, tmp_path: Path) -> Iterator[Served]:
    write_project(tmp_path)
    log_path = tmp_path / "serve.log"
    env = {**os.environ, "INTERLOCK_API_KEY": API_KEY, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1",
           "PYTHONDONTWRITEBYTECODE": "1"}
    with log_path.open("wb") as log:
        process = subprocess.Popen([str(venv_python), "-c", _ENTRY, "-C", str(tmp_path), "serve", "--host",
                                    "127.0.0.1", "--port", "0"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                   cwd=str(tmp_path), stdin=subprocess.DEVNULL)
    server = Starting(process, log_path, tmp_path).ready()
    try:
        yield server
    finally:
        server.stop()


def pipeline(name: str) -> dict[str, Any]:
    return {"name": name, "archetype": "pushed", "watch": {"enabled": False},
            "trigger": {"type": "inbox", "folder": "inbox", "job": "load-${pipelineId}"}}


async def test_serve_runs_the_example_trigger_and_alerts_through_the_example_sink(
    venv_python: Path, served: Served
) -> None:
    root = served.root
    listed = json.loads(interlock(venv_python, "plugins", "--json", cwd=root).stdout)["plugins"]
    ours = {(p["kind"], p["name"]): (p["distribution"], p["version"]) for p in listed}
    assert ours[("trigger type", "inbox")] == ("interlock-inbox-plugin", "0.1.0")
    assert ours[("alert sink", "drop-folder")] == ("interlock-inbox-plugin", "0.1.0")

    async with served.client() as client:
        # a pipeline registered over the API with the plugin's trigger type: its run drops a request
        assert (await client.post("/api/pipelines", json=pipeline("orders"))).status_code == 201
        pushed = await client.post("/api/pipelines/orders/traits/upstream-signal", json={"status": "PASS"})
        assert pushed.status_code == 201, pushed.text
        ran = await client.post("/api/pipelines/orders/run")
        assert ran.status_code in (200, 202), ran.text
        [request] = (root / "inbox").glob("*.json")
        assert json.loads(request.read_text())["job"] == "load-orders"

        # the inbox on hold: the launch fails PERMANENT and the alert reaches the plugin's sink
        (root / "inbox" / "HOLD").touch()
        assert (await client.post("/api/pipelines", json=pipeline("refunds"))).status_code == 201
        await client.post("/api/pipelines/refunds/traits/upstream-signal", json={"status": "PASS"})
        failed = await client.post("/api/pipelines/refunds/run")
        assert failed.status_code < 500, failed.text
        deadline = time.monotonic() + WAIT
        alerts: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not alerts:
            alerts = [json.loads(p.read_text()) for p in (root / "outgoing-alerts").glob("alert-*.json")]
            await anyio.sleep(0.1)
        assert alerts, f"no alert reached the drop-folder sink:\n{served.log()[-3000:]}"
        assert any("refunds" in a.get("message", "") and "on hold" in json.dumps(a) for a in alerts), alerts
