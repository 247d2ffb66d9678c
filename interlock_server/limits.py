"""Request body limits: at most ``server.maxRequestBody`` bytes (1 MiB by default; 413 JSON, never a
read of more than the limit), all of it within ``server.readTimeout`` of the first read (30 s by
default; 408 JSON): a client that opens a request and never finishes its body holds no
connection for ever. Once the body is complete, waiting for the client (a disconnect during a
streamed answer) is not bounded."""

from __future__ import annotations

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import RequestBodyTooLarge, RequestTimeout
from .responses import error_response


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


DEFAULT_READ_TIMEOUT = 30.0


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, read_timeout: float = DEFAULT_READ_TIMEOUT) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout = read_timeout

    def _too_large(self) -> RequestBodyTooLarge:
        return RequestBodyTooLarge(f"request body larger than {self.max_bytes} bytes", limit=self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            error = self._too_large()
            await error_response(413, error.message, **error.details)(scope, receive, send)
            return
        received = 0
        deadline: float | None = None
        complete = False

        async def limited_receive() -> Message:
            nonlocal received, deadline, complete
            if complete:
                return await receive()
            if deadline is None:
                deadline = anyio.current_time() + self.read_timeout
            with anyio.move_on_after(max(deadline - anyio.current_time(), 0.0)):
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_bytes:
                        raise self._too_large()  # becomes the 413 answer in the exception handler
                    complete = not message.get("more_body", False)
                else:
                    complete = True
                return message
            raise RequestTimeout(f"the request body was not received within {self.read_timeout:g} seconds",
                                 field="body")  # the 408 answer

        await self.app(scope, limited_receive, send)
