"""How `interlock serve` is put together: where it listens, when it refuses to, which notifier
(its store's) and archiver it runs."""

from __future__ import annotations

import argparse
from pathlib import Path

import anyio
import pytest
import yaml

from interlock_core.archiver import Archiver
from interlock_core.config import load_project
from interlock_core.engine import NullAlerts
from interlock_core.engine.factory import build_engine
from interlock_core.errors import ConfigError
from interlock_core.notify import LocalNotifier
from interlock_plugins.stores.redis_notify import RedisNotifier
from interlock_plugins.stores.sqlite_notify import SQLiteNotifier
from interlock_server import serve as serve_module
from interlock_server.cli.output import Out
from interlock_server.listen import (
    ListenAddress,
    bind_socket,
    callback_base_url,
    is_loopback,
    parse_addr,
    resolve_listen,
)
from interlock_server.serve import _archiver, serve
from interlock_server.state import ApiState
from tests.helpers.backends import REDIS_ADDR

from .support import write_project


@pytest.mark.parametrize(("addr", "host", "port"), [
    (":3000", "", 3000), ("127.0.0.1:8080", "127.0.0.1", 8080), ("[::1]:9000", "::1", 9000),
    ("localhost", "localhost", 3000), ("4000", "", 4000), ("0.0.0.0:0", "0.0.0.0", 0), ("::1", "::1", 3000),
])
def test_parse_addr(addr: str, host: str, port: int) -> None:
    assert parse_addr(addr) == ListenAddress(host, port)


@pytest.mark.parametrize("addr", ["host:port", "1.2.3.4:70000", "[::1"])
def test_parse_addr_rejects(addr: str) -> None:
    with pytest.raises(ConfigError):
        parse_addr(addr)


def test_flags_override_the_config() -> None:
    assert resolve_listen(":3000", "127.0.0.1", None) == ListenAddress("127.0.0.1", 3000)
    assert resolve_listen("127.0.0.1:3000", None, 0) == ListenAddress("127.0.0.1", 0)
    assert resolve_listen(":3000", None, None).every_interface


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("::1", True), ("localhost", True), ("127.0.0.2", True), ("", False),
    ("0.0.0.0", False), ("::", False), ("10.1.2.3", False),
])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_callback_url_follows_the_bound_port() -> None:
    listen = ListenAddress("127.0.0.1", 0)
    sock = bind_socket(listen)
    try:
        port = sock.getsockname()[1]
        assert callback_base_url(sock, listen, {}) == f"http://127.0.0.1:{port}"
        assert callback_base_url(sock, listen, {"INTERLOCK_PUBLIC_URL": "https://gate.example/"}) == \
            "https://gate.example"
    finally:
        sock.close()


async def test_serve_refuses_a_public_address_without_a_key(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTERLOCK_API_KEY", raising=False)
    root = write_project(tmp_path)
    args = argparse.Namespace(project=str(root), host="0.0.0.0", port=0, insecure=False, no_watcher=True)
    with pytest.raises(ConfigError, match=r"refusing to listen on 0\.0\.0\.0 without an API key"):
        await serve(args, Out())


async def test_engines_get_the_notifier_of_their_store(tmp_path: Path) -> None:
    """serve and every CLI command: wake-ups reach the other processes on the store (Redis pub/sub,
    the SQLite file's wake-up table); an in-memory SQLite store stays in-process."""
    root = write_project(tmp_path, config={"provider": "redis"})
    config = yaml.safe_load((root / "interlock.yaml").read_text())
    del config["sqlite"]
    config["redis"] = {"addr": REDIS_ADDR, "keyPrefix": "serve-setup-test:"}
    (root / "interlock.yaml").write_text(yaml.safe_dump(config))
    redis_engine = build_engine(load_project(root), alerts=NullAlerts())
    notifier = redis_engine.ctx.notifier
    assert isinstance(notifier, RedisNotifier)
    assert notifier.channel == "serve-setup-test:wake"
    await redis_engine.aclose()
    sqlite_engine = build_engine(load_project(write_project(tmp_path / "sqlite")), alerts=NullAlerts())
    assert isinstance(sqlite_engine.ctx.notifier, SQLiteNotifier)
    await sqlite_engine.aclose()
    memory = write_project(tmp_path / "memory", config={"sqlite": {"path": ":memory:"}})
    memory_engine = build_engine(load_project(memory), alerts=NullAlerts())
    assert type(memory_engine.ctx.notifier) is LocalNotifier
    await memory_engine.aclose()


async def test_archiver_wiring(tmp_path: Path) -> None:
    root = write_project(tmp_path, config={"archiver": {"enabled": True, "interval": "90s",
                                                        "dsn": "postgresql://interlock@127.0.0.1:5432/interlock"}})
    project = load_project(root)
    engine = build_engine(project, alerts=NullAlerts())
    try:
        archiver = _archiver(project, engine)
        assert isinstance(archiver, Archiver)
        assert archiver.interval == 90.0
        assert archiver.store is engine.store
        project.config.archiver.dsn = None
        with pytest.raises(ConfigError, match=r"archiver\.dsn"):
            _archiver(project, engine)
        project.config.archiver.enabled = False
        assert _archiver(project, engine) is None
    finally:
        await engine.aclose()


async def test_a_crashed_watcher_is_reported_then_restarted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(serve_module, "WATCHER_RESTART_MIN", 0.01)
    project = load_project(write_project(tmp_path))
    engine = build_engine(project, alerts=NullAlerts())
    state = ApiState(engine=engine)
    seen: list[str | None] = []

    class CrashingOnce:
        calls = 0

        async def run(self) -> None:
            self.calls += 1
            seen.append(state.watcher_error)
            if self.calls == 1:
                raise RuntimeError("boom")

    watcher = CrashingOnce()
    with anyio.fail_after(5):
        await serve_module._supervise_watcher(watcher, state)  # type: ignore[arg-type]
    assert watcher.calls == 2
    assert seen == [None, None]  # cleared when it restarts
    await engine.aclose()


async def test_a_crash_is_visible_while_the_watcher_is_down(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    monkeypatch.setattr(serve_module, "WATCHER_RESTART_MIN", 30.0)
    project = load_project(write_project(tmp_path))
    engine = build_engine(project, alerts=NullAlerts())
    state = ApiState(engine=engine)

    class Crashing:
        async def run(self) -> None:
            raise RuntimeError("boom")

    async with anyio.create_task_group() as tg:
        tg.start_soon(serve_module._supervise_watcher, Crashing(), state)
        with anyio.fail_after(5):
            while state.watcher_error is None:
                await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    assert state.watcher_error == "RuntimeError: boom"
    await engine.aclose()
