"""The container image and the local Docker demo: the files are valid and what they install works.

No Docker engine is needed: the compose file is checked with ``docker-compose config`` when that is
installed, the Dockerfile is read, and the image's install path (a wheel built from exactly what
``.dockerignore`` lets into the build context) is built here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import tomllib
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen
from uuid import uuid4

import pytest

from interlock_core.config import load_project

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo" / "local"
DOCKERFILE = ROOT / "Dockerfile"
PACKAGES = ("interlock_core", "interlock_plugins", "interlock_server", "interlock_config")


# ---- docker-compose.yaml ---------------------------------------------------------------------


def _compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def test_demo_compose_file_is_valid() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed")
    result = subprocess.run([*command, "-f", str(DEMO / "docker-compose.yaml"), "config", "-q"],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr or result.stdout


def test_demo_compose_services_and_dependencies() -> None:
    import yaml

    compose = yaml.safe_load((DEMO / "docker-compose.yaml").read_text())
    services = compose["services"]
    assert set(services) >= {"valkey", "postgres", "interlock", "airflow", "seed"}
    interlock = services["interlock"]
    assert interlock["build"]["dockerfile"] == "Dockerfile"
    assert (DEMO / interlock["build"]["context"] / "Dockerfile").resolve() == DOCKERFILE
    assert "INTERLOCK_API_KEY" in interlock["environment"]
    assert interlock["depends_on"]["valkey"]["condition"] == "service_healthy"
    assert interlock["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
    for mount in interlock["volumes"]:
        source = mount.split(":", 1)[0]
        if source.startswith("./"):
            assert (DEMO / source).exists(), f"{source} is mounted but missing"


# ---- the demo project ------------------------------------------------------------------------


def test_demo_project_loads_with_defaults_only() -> None:
    project = load_project(DEMO, env={})  # every ${VAR:-default} falls back to its default
    assert project.config.provider == "redis"
    assert project.config.watcher.default_interval.total_seconds() == 15
    assert project.config.archiver.enabled and project.config.archiver.dsn
    assert [spec.type for spec in project.config.alerts] == ["console", "file"]
    assert set(project.pipelines) == {"airflow-success", "airflow-failure", "blocked-pipeline",
                                      "http-callback", "silver", "gold"}
    assert project.pipelines["gold"].upstream_pipelines() == {"silver"}
    assert project.pipelines["airflow-failure"].retry_policy.max_attempts == 3
    airflow = project.pipelines["airflow-success"].trigger
    assert airflow is not None and airflow.options()["apiVersion"] == "v2"


def test_demo_evaluators_exist_and_are_executable() -> None:
    project = load_project(DEMO, env={})
    named = {trait.evaluator for pipeline in project.pipelines.values() for trait in pipeline.traits.values()
             if trait.evaluator and not trait.evaluator.startswith("builtin:")}
    assert named
    for name in named:
        path = DEMO / "evaluators" / name
        assert path.is_file() and os.access(path, os.X_OK), f"evaluator {name} missing or not executable"


@pytest.mark.redis
@pytest.mark.parametrize(("script", "config", "stored", "expected"), [
    ("check-freshness", {"maxLagSeconds": 60}, "30", "PASS"),
    ("check-freshness", {"maxLagSeconds": 60}, "90", "FAIL"),
    ("check-freshness", {}, None, "FAIL"),
    ("check-record-count", {"threshold": 1000}, "1500", "PASS"),
    ("check-record-count", {"threshold": 1000}, "not-a-number", "FAIL"),
    ("check-upstream", {}, "true", "PASS"),
    ("check-upstream", {}, "false", "FAIL"),
])
def test_demo_sensor_evaluators_read_valkey(script: str, config: dict[str, Any], stored: str | None,
                                            expected: str) -> None:
    import redis

    key = f"test-deploy-{uuid4().hex}:sensor"
    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        if stored is not None:
            client.set(key, stored, ex=60)
        result = subprocess.run([sys.executable, str(DEMO / "evaluators" / script)],
                                input=json.dumps({**config, "sensor": key}), capture_output=True, text=True,
                                timeout=30, env={**os.environ, "REDIS_ADDR": "127.0.0.1:6379"})
    finally:
        client.delete(key)
        client.close()
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["status"] == expected, output
    assert output["reason"]


def test_demo_sensor_evaluator_reports_an_unreachable_store() -> None:
    result = subprocess.run([sys.executable, str(DEMO / "evaluators" / "check-upstream")], input="{}",
                            capture_output=True, text=True, timeout=30,
                            env={**os.environ, "REDIS_ADDR": "127.0.0.1:1"})
    assert result.returncode == 1  # a TRANSIENT evaluator error with the reason on stderr
    assert "cannot read sensor:upstream" in result.stderr


# ---- seed.py ---------------------------------------------------------------------------------


def _load_seed() -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"demo_seed_{uuid4().hex}", DEMO / "seed.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _serve(server: ThreadingHTTPServer) -> Iterator[str]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def callbacks() -> Iterator[tuple[str, list[dict[str, Any]], threading.Event]]:
    """A stand-in for Interlock's completion endpoint: records what it is sent."""
    received: list[dict[str, Any]] = []
    arrived = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append({"path": self.path, "apiKey": self.headers.get("X-API-Key"), "body": body})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status": "COMPLETED"}')
            arrived.set()

        def log_message(self, format: str, *args: Any) -> None:
            return

    for url in _serve(ThreadingHTTPServer(("127.0.0.1", 0), Handler)):
        yield url, received, arrived


def _post(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    request = Request(url, data=b"{}", method="POST", headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except HTTPError as exc:
        return exc.code, json.load(exc)


def test_seed_gate_and_completion_callback(callbacks: tuple[str, list[dict[str, Any]], threading.Event]) -> None:
    callback_base, received, arrived = callbacks
    seed = _load_seed()
    setattr(seed, "COMPLETE_AFTER", 0.0)  # noqa: B010 (module globals the handler reads)
    setattr(seed, "API_KEY", "k-test")  # noqa: B010
    for base in _serve(ThreadingHTTPServer(("127.0.0.1", 0), seed.Handler)):
        assert _post(f"{base}/gate") == (500, {"error": "gate closed"})
        assert _post(f"{base}/gate/open") == (200, {"status": "open"})
        status, _ = _post(f"{base}/gate", {"X-Interlock-Run-Id": "run-1",
                                           "X-Interlock-Callback-Url": f"{callback_base}/api/runs/run-1/complete"})
        assert status == 200
        assert arrived.wait(10)
        assert _post(f"{base}/gate/close") == (200, {"status": "closed"})
        assert _post(f"{base}/anything")[0] == 200
    assert received == [{"path": "/api/runs/run-1/complete", "apiKey": "k-test",
                         "body": {"status": "success", "metadata": {"source": "demo-seed"}}}]


# ---- Dockerfile --------------------------------------------------------------------------------


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        out.append((keyword.upper(), rest.strip()))
        pending = ""
    return out


def test_dockerfile_is_multi_stage_non_root_with_healthcheck() -> None:
    steps = _instructions(DOCKERFILE.read_text())
    stages = [args for keyword, args in steps if keyword == "FROM"]
    assert len(stages) >= 2, "expected a builder stage and a runtime stage"
    assert any(" AS builder" in stage for stage in stages)
    assert stages[-1].startswith("python:${PYTHON_VERSION}-slim")
    runtime = steps[max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM"):]
    assert any(k == "COPY" and a.startswith("--from=builder") for k, a in runtime)
    users = [args for keyword, args in runtime if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    healthchecks = [args for keyword, args in runtime if keyword == "HEALTHCHECK"]
    assert healthchecks and "/api/health" in " ".join(
        [*healthchecks, *(a for k, a in runtime if k == "ENV")])
    assert ("ENTRYPOINT", '["interlock"]') in runtime
    assert ("CMD", '["serve", "--host", "0.0.0.0"]') in runtime
    assert ("EXPOSE", "3000") in runtime
    assert ("WORKDIR", "/project") in runtime
    assert any(k == "ENV" and "PYTHONDONTWRITEBYTECODE=1" in a for k, a in runtime)


def test_the_image_installs_the_pinned_dependency_versions() -> None:
    runtime = _instructions(DOCKERFILE.read_text())
    installs = [args for keyword, args in runtime if keyword == "RUN" and "pip install" in args
                and "/tmp/wheels/" in args]
    assert installs and all("-c /tmp/constraints.txt" in args for args in installs)
    assert any(k == "COPY" and a.endswith("/deploy/constraints.txt /tmp/constraints.txt") for k, a in runtime)
    assert "!deploy/constraints.txt" in (ROOT / ".dockerignore").read_text().splitlines()


def _pins() -> dict[str, str]:
    lines = (ROOT / "deploy" / "constraints.txt").read_text().splitlines()
    return dict(line.split("==", 1) for line in lines if line and not line.startswith("#"))


@pytest.mark.parametrize(("name", "floor"), [("starlette", "0.49.1"), ("jinja2", "3.1.6"), ("h11", "0.16"),
                                           ("urllib3", "2.7.0"), ("aiohttp", "3.14.3")])
def test_dependency_floors_past_known_cves(name: str, floor: str) -> None:
    from importlib.metadata import version

    from packaging.requirements import Requirement
    from packaging.version import Version

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = [Requirement(text) for text in project["dependencies"]]
    required = next(r for r in specs if r.name.lower() == name)
    assert any(s.operator == ">=" and Version(s.version) >= Version(floor) for s in required.specifier), required
    assert Version(floor) in required.specifier
    assert Version(_pins()[name]) in required.specifier  # the image's pin satisfies the floor
    assert Version(version(name)) in required.specifier  # and so does what the tests run against


def test_constraints_pin_every_runtime_dependency() -> None:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = _pins()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for text in project["dependencies"]:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate():
            assert canonicalize_name(requirement.name) in pins, requirement.name


def _build_context(target: Path) -> None:
    """Copy what ``.dockerignore`` lets into the build context (its ``!name`` top-level entries)."""
    allowed = [line[1:].strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.startswith("!")]
    assert set(PACKAGES) <= set(allowed), ".dockerignore leaves a package out of the build context"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")
    for name in allowed:
        source = ROOT / name
        if source.is_symlink():
            (target / name).symlink_to(os.readlink(source))
        elif source.is_dir():
            shutil.copytree(source, target / name, symlinks=True, ignore=ignore)
        else:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


@pytest.mark.slow
def test_wheel_from_the_build_context_holds_the_packaged_config(tmp_path: Path) -> None:
    context, wheels = tmp_path / "context", tmp_path / "wheels"
    context.mkdir()
    _build_context(context)
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(wheels),
                             str(context)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = wheels.glob("interlock-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for kind in ("archetypes", "calendars"):
        shipped = sorted(p.name for p in (ROOT / "interlock_config" / kind).glob("*.yaml"))
        assert shipped
        for name in shipped:
            assert f"interlock_config/{kind}/{name}" in names
    for package in PACKAGES:
        assert f"{package}/__init__.py" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "interlock = interlock_server.cli.main:main" in text
