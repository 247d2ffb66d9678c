"""What the server tests share: a real project on disk (SQLite store, subprocess evaluators),
a real webhook server standing in for an orchestrator, and the API app over a real engine."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

FIXTURE_EVALUATORS = Path(__file__).resolve().parents[1] / "fixtures" / "evaluators"

GATE_ARCHETYPE = {
    "name": "gate",
    "description": "One required trait, one optional pushed trait.",
    "requiredTraits": [{"type": "source-ready", "defaultTtl": 300, "defaultTimeout": 10}],
    "optionalTraits": [{"type": "signal", "defaultTtl": 600}],
    "readinessRule": {"type": "all-required-pass"},
}


def write_project(root: Path, *, config: dict[str, Any] | None = None,
                  pipelines: list[dict[str, Any]] | None = None) -> Path:
    """A project whose evaluators are the fixture scripts (``pass``, ``fail``, ``slow`` …)."""
    for sub in ("archetypes", "pipelines", "calendars"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "archetypes" / "gate.yaml").write_text(yaml.safe_dump(GATE_ARCHETYPE))
    for pipeline in pipelines or []:
        (root / "pipelines" / f"{pipeline['name']}.yaml").write_text(yaml.safe_dump(pipeline))
    cfg: dict[str, Any] = {
        "provider": "sqlite", "sqlite": {"path": "./interlock.db"}, "alerts": [],
        "evaluatorDirs": [str(FIXTURE_EVALUATORS)], "watcher": {"enabled": False},
        "server": {"addr": "127.0.0.1:0"},
    }
    cfg.update(config or {})
    (root / "interlock.yaml").write_text(yaml.safe_dump(cfg))
    return root


def http_pipeline(name: str, url: str, *, evaluator: str = "pass", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name, "archetype": "gate",
        "traits": {"source-ready": {"evaluator": evaluator}},
        "trigger": {"type": "http", "method": "POST", "url": url, "body": {"pipeline": name}},
        "retry": {"maxAttempts": 3, "backoffSeconds": 60},
    }
    data.update(extra)
    return data


@dataclass
class Webhook:
    """An orchestrator's webhook: records every request, answers with ``status``."""

    url: str = ""
    status: int = 200
    requests: list[dict[str, Any]] = field(default_factory=list)

    def last_header(self, name: str) -> str | None:
        if not self.requests:
            return None
        headers: dict[str, str] = self.requests[-1]["headers"]
        return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


@contextmanager
def webhook_server() -> Iterator[Webhook]:
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hook.requests.append({"path": self.path, "headers": dict(self.headers),
                                  "body": json.loads(raw) if raw else None})
            body = json.dumps({"accepted": hook.status < 400}).encode()
            self.send_response(hook.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/run"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
