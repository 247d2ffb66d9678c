"""``interlock serve``: the HTTP API, the watcher, the alert worker, the pipeline-file watch and
(when enabled) the archiver, as siblings in one anyio task group. The pipeline-file watch re-reads
the pipeline directories when a file is added, edited or deleted, so a deleted file retires its
pipeline without a restart (:mod:`interlock_core.engine.pipeline_files`).

SIGTERM or SIGINT starts a graceful shutdown: the server stops accepting connections and drains
the requests in flight (up to ``GRACEFUL_TIMEOUT``), then the watcher and archiver are cancelled
(the watcher releases its cycle leases on the way out), queued alerts get a last chance, and the
engine closes the store. A second signal stops at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import anyio
import structlog
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig
from starlette.applications import Starlette

from interlock_core.config import Project, load_project
from interlock_core.engine import Engine
from interlock_core.engine.factory import build_engine, start_engine
from interlock_core.engine.pipeline_files import PipelineFileWatch
from interlock_core.errors import ConfigError, PluginError
from interlock_core.plugins import load_plugins
from interlock_core.watcher import Watcher

from .app import create_app
from .auth import ENV_API_KEY, Tokens, resolve_tokens
from .cli.output import EXIT_OK, Out
from .listen import bind_socket, bound_url, callback_base_url, is_loopback, resolve_listen
from .logging import configure_logging
from .state import ApiState
from .telemetry import configure_telemetry

log = structlog.get_logger("interlock.serve")

GRACEFUL_TIMEOUT = 10.0
ALERT_FLUSH_TIMEOUT = 5.0
WATCHER_RESTART_MIN, WATCHER_RESTART_MAX = 1.0, 30.0


async def serve(args: argparse.Namespace, out: Out) -> int:
    project = load_project(args.project)
    level = "debug" if getattr(args, "verbose", False) else project.config.logging.level
    configure_telemetry()  # before logging, so log lines carry trace ids when it is on
    configure_logging(level, "json" if out.json_mode else project.config.logging.format)
    listen = resolve_listen(project.config.server.addr, args.host, args.port)
    tokens = resolve_tokens(project.config.server, os.environ)
    if not tokens.enabled and not is_loopback(listen.host) and not args.insecure:
        raise ConfigError(
            f"refusing to listen on {listen.host or 'every interface'} without an API key: set server.apiKey "
            f"or {ENV_API_KEY}, listen on 127.0.0.1, or pass --insecure", key="server.apiKey")
    sock = bind_socket(listen)
    try:
        await _serve_on(sock, project, args, out, tokens, callback_base_url(sock, listen, os.environ),
                        bound_url(sock, listen))
    finally:
        sock.close()  # a no-op once hypercorn owns it
    _say(out, out.green("Server stopped gracefully"), event="stopped")
    return EXIT_OK


def _say(out: Out, text: str, **fields: Any) -> None:
    """A line for the operator; with ``--json`` one JSON object per line instead (``event`` first)."""
    if out.json_mode:
        print(json.dumps(fields, separators=(",", ":")), file=out.stream, flush=True)
    else:
        out.line(text)


async def _serve_on(sock: socket.socket, project: Project, args: argparse.Namespace, out: Out, tokens: Tokens,
                    callback_base: str, url: str) -> None:
    # wake-ups travel through the store (SQLite table, Redis pub/sub): see build_engine
    engine = build_engine(project, callback_base_url=callback_base)
    try:
        await start_engine(engine, project)
        files = PipelineFileWatch(engine, project)
        watcher = Watcher(engine) if project.config.watcher.enabled and not args.no_watcher else None
        # the name handed to orchestrators for callbacks is one this server answers to, key or not
        callback_host = urlsplit(callback_base).hostname
        app = create_app(engine, server=project.config.server, watcher=watcher,
                         provider=project.config.provider, tokens=tokens, evaluator_dirs=project.evaluator_dirs,
                         allowed_hosts=[callback_host] if callback_host else [])
        archiver = _archiver(project, engine)
        if out.json_mode:
            _say(out, "", event="listening", url=url, store=project.config.provider, watcher=watcher is not None,
                 archiver=archiver is not None, auth=tokens.enabled)
        else:
            out.line(f"Interlock server listening on {url}")
            out.line(f"  store: {project.config.provider}   watcher: {'on' if watcher else 'off'}   "
                     f"archiver: {'on' if archiver else 'off'}   auth: {'on' if tokens.enabled else 'off'}")
        if not tokens.enabled and args.insecure and not out.json_mode:
            out.line(out.dim("  no API key: only loopback host names, the callback host and server.allowedHosts "
                             "are answered (see docs/security.md)"))
        await _run(app, sock, engine, watcher, archiver, out, files)
    finally:
        await engine.aclose()


async def _run(app: Starlette, sock: socket.socket, engine: Engine, watcher: Watcher | None,
               archiver: Any, out: Out, files: PipelineFileWatch | None = None) -> None:
    """Serve until SIGTERM/SIGINT, then shut down in order."""
    shutdown = anyio.Event()
    alerts = engine.ctx.alerts
    state: ApiState = app.state.api
    async with anyio.create_task_group() as outer:
        if hasattr(alerts, "run"):
            outer.start_soon(alerts.run)
        async with anyio.create_task_group() as services:
            dashboard = getattr(app.state, "dashboard", None)
            services.start_soon(_on_signals, shutdown, out, outer.cancel_scope,
                                getattr(dashboard, "close", None))
            if watcher is not None:
                services.start_soon(_supervise_watcher, watcher, state)
            if files is not None:
                services.start_soon(files.run)
            if archiver is not None:
                await services.start(archiver.run)  # a failing archive migration is fatal
            services.start_soon(_serve_http, app, sock, shutdown, services.cancel_scope)
        if hasattr(alerts, "flush"):
            await alerts.flush(ALERT_FLUSH_TIMEOUT)
        outer.cancel_scope.cancel()
    if archiver is not None:
        await _close(archiver.archive)


async def _serve_http(app: Starlette, sock: socket.socket, shutdown: anyio.Event,
                      services: anyio.CancelScope) -> None:
    """Hypercorn, in its own task: its asyncio task group must not share the host task's
    cancellation state. When it has drained, the sibling services stop."""
    try:
        await hypercorn_serve(app, _hypercorn_config(sock), shutdown_trigger=shutdown.wait)  # type: ignore[arg-type]
    finally:
        services.cancel()


def _hypercorn_config(sock: socket.socket) -> HypercornConfig:
    config = HypercornConfig()
    config.bind = [f"fd://{sock.detach()}"]  # hypercorn owns the socket from here on
    config.graceful_timeout = GRACEFUL_TIMEOUT
    config.accesslog = None  # one access line per request comes from the request-context middleware
    config.errorlog = logging.getLogger("hypercorn.error")
    return config


async def _on_signals(shutdown: anyio.Event, out: Out, hard_stop: anyio.CancelScope,
                      close_streams: Callable[[], None] | None = None) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            name = signal.Signals(signum).name
            if shutdown.is_set():
                _say(out, out.red(f"Received {name} again, stopping now"), event="signal", signal=name, stopping="now")
                hard_stop.cancel()
                return
            _say(out, out.yellow(f"Received {name}, shutting down..."), event="signal", signal=name,
                 stopping="gracefully")
            shutdown.set()
            if close_streams is not None:  # live dashboard streams would hold the drain open
                close_streams()


async def _supervise_watcher(watcher: Watcher, state: ApiState) -> None:
    """Run the watcher; if it crashes, report it in health and restart it with backoff."""
    delay = WATCHER_RESTART_MIN
    while True:
        try:
            await watcher.run()
            return
        except Exception as exc:
            state.watcher_error = f"{type(exc).__name__}: {exc}"
            log.exception("watcher crashed; restarting", retry_in_s=delay)
        await anyio.sleep(delay)
        delay = min(delay * 2, WATCHER_RESTART_MAX)
        state.watcher_error = None


ARCHIVE = "postgres"
"""The archive plugin the archiver writes to (``archiver.dsn`` is its PostgreSQL DSN)."""


def _archiver(project: Project, engine: Engine) -> Any:
    """The archiver over the ``postgres`` archive plugin (None when ``archiver.enabled`` is off, or
    with a warning when no installed package provides that archive or its driver is missing)."""
    settings = project.config.archiver
    if not settings.enabled:
        return None
    plugins = project.plugins or load_plugins()
    try:
        archive_cls = plugins.archives.get(ARCHIVE)
    except PluginError as exc:
        log.warning("archiver enabled but not available in this build", error=exc.message)
        return None
    if not settings.dsn:
        raise ConfigError("archiver.dsn is required when archiver.enabled is true", key="archiver.dsn")
    from interlock_core.archiver import Archiver

    return Archiver(engine.store, archive_cls.from_config(settings), interval=settings.interval.total_seconds(),
                    clock=engine.ctx.clock)


async def _close(resource: Any) -> None:
    close = getattr(resource, "close", None) or getattr(resource, "aclose", None)
    if close is None:
        return
    with anyio.CancelScope(shield=True):
        try:
            await close()
        except Exception:
            log.warning("error while closing", resource=type(resource).__name__, exc_info=True)
