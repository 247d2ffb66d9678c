"""A moto server inside the test process, for code that talks to AWS through aioboto3.

moto's in-process ``mock_aws`` does not work with aioboto3, so tests run moto in server mode on
127.0.0.1 (an ephemeral port) and point clients at it with ``endpoint_url``. moto's state is
module-global and outlives a test: :meth:`MotoServer.reset` wipes it (call it per test).

Typical fixtures::

    @pytest.fixture(scope="session")
    def moto_server() -> Iterator[MotoServer]:
        with MotoServer() as server:
            yield server

    @pytest.fixture
    def moto(moto_server, monkeypatch) -> MotoServer:
        fake_aws_environment(monkeypatch, moto_server)
        moto_server.reset()
        return moto_server
"""

from __future__ import annotations

import json
import logging
import urllib.request
from types import TracebackType
from typing import Any, Protocol

FAKE_REGION = "us-east-1"
FAKE_ACCOUNT = "123456789012"


class _EnvPatcher(Protocol):
    def setenv(self, name: str, value: str) -> None: ...

    def delenv(self, name: str, raising: bool = ...) -> None: ...


class MotoServer:
    """A ``ThreadedMotoServer`` on 127.0.0.1 with an ephemeral port."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request in test output
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.url = ""
        self.port = 0

    def start(self) -> MotoServer:
        self._server.start()
        host, self.port = self._server.get_host_and_port()
        self.url = f"http://{host}:{self.port}"
        return self

    def stop(self) -> None:
        self._server.stop()
        inner = getattr(self._server, "_server", None)
        if inner is not None:
            inner.server_close()

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every resource in every service (moto's state is shared by the whole process)."""
        self._post("/moto-api/reset", None)

    def configure(self, config: dict[str, Any]) -> None:
        """Change moto's configuration, e.g. ``{"stepfunctions": {"execute_state_machine": True}}``."""
        self._post("/moto-api/config", config)

    def _post(self, path: str, body: dict[str, Any] | None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        request = urllib.request.Request(self.url + path, data=data, method="POST")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


def fake_aws_environment(env: _EnvPatcher, server: MotoServer | None = None) -> None:
    """Dummy credentials and region so nothing can reach a real account; ``MOTO_PORT`` lets moto's
    Step Functions interpreter call the other services of ``server``."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        env.delenv(name, raising=False)
    env.setenv("AWS_ACCESS_KEY_ID", "testing")
    env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    env.setenv("AWS_DEFAULT_REGION", FAKE_REGION)
    env.setenv("AWS_REGION", FAKE_REGION)
    env.setenv("AWS_CONFIG_FILE", "/dev/null")
    env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    env.setenv("AWS_EC2_METADATA_DISABLED", "true")
    if server is not None:
        env.setenv("MOTO_PORT", str(server.port))
