"""A small fake of Slack's Web API ``chat.postMessage``, built from its documentation.

* ``POST /api/chat.postMessage`` with ``Authorization: Bearer <token>``; the body is JSON
  (``application/json; charset=utf-8``) or a form. Answers are HTTP 200 with ``{"ok": true,
  "channel", "ts", "message"}`` or ``{"ok": false, "error"}``: ``not_authed`` without a token,
  ``invalid_auth`` with another, ``channel_not_found`` for an unknown channel, ``not_in_channel``
  where the bot was not invited, ``no_text`` without ``text``/``blocks``/``attachments``,
  ``thread_not_found`` for a ``thread_ts`` that is no message of the channel.
* ``ts`` is unique per channel (``<seconds>.<6 digits>``); a reply's ``message`` carries its
  ``thread_ts``. A reply to a reply lands in the parent's thread, as the docs advise against it.
* Rate limits: :meth:`FakeSlack.limit` answers the next calls HTTP 429 with ``Retry-After`` and
  ``{"ok": false, "error": "ratelimited"}``; :meth:`FakeSlack.fail` scripts other answers.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Posted:
    channel: str
    ts: str
    body: dict[str, Any]

    @property
    def thread_ts(self) -> str | None:
        value = self.body.get("thread_ts")
        return str(value) if value else None

    @property
    def text(self) -> str:
        return str(self.body.get("text", ""))


@dataclass
class FakeSlack:
    token: str = "xoxb-fake-7f3e9c-secret"
    channels: dict[str, str] = field(default_factory=lambda: {"C0ALERTS": "data-alerts", "C0QUIET": "quiet"})
    member_of: set[str] = field(default_factory=lambda: {"C0ALERTS"})
    posted: list[Posted] = field(default_factory=list)
    scripted: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    calls: int = 0
    _clock: Any = field(default_factory=lambda: itertools.count(1))

    def limit(self, retry_after: int, times: int = 1) -> None:
        for _ in range(times):
            self.scripted.append((429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}))

    def fail(self, error: str | None = None, *, status: int = 200, times: int = 1) -> None:
        body = {"ok": False, "error": error} if error else {}
        for _ in range(times):
            self.scripted.append((status, body, {}))

    def thread(self, ts: str) -> list[Posted]:
        """The message ``ts`` and its replies, in order."""
        return [p for p in self.posted if p.ts == ts or p.thread_ts == ts]

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/api/chat.postMessage", self._post_message, methods=["POST"])])

    async def _post_message(self, request: Request) -> Response:
        self.calls += 1
        if self.scripted:
            status, body, headers = self.scripted.pop(0)
            return JSONResponse(body, status_code=status, headers=headers) if body else Response(status_code=status)
        auth = request.headers.get("authorization", "")
        args = await _arguments(request)
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else args.get("token")
        if not token:
            return _error("not_authed")
        if token != self.token:
            return _error("invalid_auth")
        channel = str(args.get("channel") or "")
        channel = next((cid for cid, name in self.channels.items() if channel in (cid, name, f"#{name}")), "")
        if not channel:
            return _error("channel_not_found")
        if channel not in self.member_of:
            return _error("not_in_channel")
        if not (args.get("text") or args.get("blocks") or args.get("attachments")):
            return _error("no_text")
        thread = args.get("thread_ts")
        if thread:
            parent = next((p for p in self.posted if p.channel == channel and p.ts == str(thread)), None)
            if parent is None:
                return _error("thread_not_found")
            args["thread_ts"] = parent.thread_ts or parent.ts
        ts = f"{1772452800 + next(self._clock)}.{len(self.posted):06d}"
        self.posted.append(Posted(channel, ts, args))
        message = {"type": "message", "text": args.get("text", ""), "ts": ts, "bot_id": "B0INTERLOCK"}
        if thread:
            message["thread_ts"] = args["thread_ts"]
        return JSONResponse({"ok": True, "channel": channel, "ts": ts, "message": message})


async def _arguments(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        data = json.loads(raw or b"{}")
        return data if isinstance(data, dict) else {}
    return dict(parse_qsl(raw.decode()))


def _error(code: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": code})
