"""One connection on which the store's hot reads are pipelined: every request's command goes out as
soon as it is asked for, and the replies, which Redis sends in order, answer the requests in the
order they asked (a multiplexed connection). A readiness GET reads through it.

A redis-py command takes a connection from the pool, packs the command through its encoders and
wraps it in its retry and timeout layers, and every connection waits for its own replies: about
twice the CPU of the round trip itself, under load more (``bench/bench_api.py``'s *raw floor* and
*wire floor*). Here a command is packed once as bytes, written, and its reply parsed by hiredis
when it arrives, beside the replies of the other requests in flight on the same connection.

Only read commands go this way (``EVALSHA`` of a read-only script): no transaction, no blocking
command, nothing that holds the connection. Everything else, and every connection redis-py makes
that this does not do the same way (TLS, a Unix socket, a credential provider, RESP3), stays with
redis-py; so does everything after :meth:`MultiplexedReads.close`.

Failures are redis-py's exception classes, so the store turns them into ``StoreUnavailable`` in
the one place it does (:func:`.client.translate_errors`):

* connecting: refused or unreachable is a ``ConnectionError``, slower than ``connectTimeout`` a
  ``TimeoutError``, a refused ``AUTH`` an ``AuthenticationError``;
* a reply slower than ``socketTimeout``: ``TimeoutError``, and the connection is closed (what else
  is in flight on it fails the same way); the next request connects again;
* a connection lost while requests wait: they fail with ``ConnectionError``; a request that finds
  its connection dropped since it was last used connects again, once, as redis-py's retry does;
* an error reply: the class redis-py would raise (``NOSCRIPT``: the script is loaded and the call
  made once more).
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Sequence
from typing import Any

import hiredis
from redis import exceptions as redis_errors
from redis.asyncio.connection import Connection
from redis.commands.core import AsyncScript

_ERRORS: dict[str, type[redis_errors.RedisError]] = {
    "NOSCRIPT": redis_errors.NoScriptError,
    "READONLY": redis_errors.ReadOnlyError,
    "LOADING": redis_errors.BusyLoadingError,
    "NOAUTH": redis_errors.AuthenticationError,
    "WRONGPASS": redis_errors.AuthenticationError,
    "OOM": redis_errors.OutOfMemoryError,
    "TRYAGAIN": redis_errors.TryAgainError,
    "CLUSTERDOWN": redis_errors.ClusterDownError,
    "MASTERDOWN": redis_errors.ConnectionError,
}


_PACKED_KEPT = 1024
"""How many packed commands :class:`MultiplexedReads` keeps (by their parts) before it starts over."""


def error_of(reply: redis_errors.ResponseError) -> redis_errors.RedisError:
    """The exception redis-py raises for an error reply (by its first word)."""
    text = str(reply)
    code, _, rest = text.partition(" ")
    kind = _ERRORS.get(code)
    return kind(rest or text) if kind is not None else redis_errors.ResponseError(text)


def command(parts: Sequence[str | bytes | int | float]) -> bytes:
    """One command as RESP bytes (an array of bulk strings), encoded as redis-py encodes it."""
    out = [b"*%d\r\n" % len(parts)]
    append = out.append
    for part in parts:
        data: bytes
        if type(part) is str:  # the exact types first: the common case, without the ABC checks
            data = part.encode()
        elif type(part) is bytes:
            data = part
        elif type(part) is int or type(part) is float:
            data = repr(part).encode()
        elif isinstance(part, str):
            data = str.encode(part)
        elif isinstance(part, bytes):
            data = bytes(part)
        elif isinstance(part, int | float) and not isinstance(part, bool):
            data = repr(part).encode()
        else:
            raise redis_errors.DataError(f"cannot send {type(part).__name__} to redis")
        append(b"$%d\r\n" % len(data))
        append(data)
        append(b"\r\n")
    return b"".join(out)


def _plain(parts: tuple[Any, ...]) -> bool:
    """Whether every part is exactly a ``str`` or an ``int``: then equal parts pack alike (``1``,
    ``1.0`` and ``True`` are equal keys, but pack differently or not at all)."""
    for part in parts:
        kind = type(part)
        if kind is not str and kind is not int:
            return False
    return True


async def run_script(reads: MultiplexedReads | None, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
    """``script``'s reply, over ``reads``' connection while it serves, else through redis-py's pool."""
    if reads is None or reads.closed:
        return await script(keys, args)
    return await reads.evalsha(script.sha, script.script, keys, args)


class _Settings:
    """What a connection needs, as redis-py's pool resolved it from the configuration."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.host: str = kwargs.get("host") or "localhost"
        self.port = int(kwargs.get("port") or 6379)
        self.username: str | None = kwargs.get("username")
        self.password: str | None = kwargs.get("password")
        self.db = int(kwargs.get("db") or 0)
        self.client_name: str | None = kwargs.get("client_name")
        self.timeout: float | None = kwargs.get("socket_timeout")
        self.connect_timeout: float | None = kwargs.get("socket_connect_timeout") or self.timeout

    def handshake(self) -> list[bytes]:
        """The commands a new connection sends before any request, as redis-py sends them."""
        commands = []
        if self.password is not None:
            auth = ["AUTH", self.username, self.password] if self.username else ["AUTH", self.password]
            commands.append(command(auth))
        if self.client_name:
            commands.append(command(["CLIENT", "SETNAME", self.client_name]))
        if self.db:
            commands.append(command(["SELECT", self.db]))
        return commands


def _again(error: BaseException) -> BaseException:
    """A fresh exception like ``error``, for one more waiting request (each raises its own)."""
    try:
        return type(error)(*error.args)
    except Exception:
        return error


class _Wire(asyncio.Protocol):
    """The connection: requests waiting for their replies, in the order they were written, each with
    the instant its reply is due by (None: no limit). One timer watches the oldest of them (not one
    per request): when it fires, the oldest still waiting is late (the connection fails) or it is
    armed again for that one's instant."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader(encoding="utf-8", replyError=redis_errors.ResponseError)
        self.waiting: deque[tuple[asyncio.Future[Any], float | None]] = deque()
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()
        self.error: BaseException | None = None  # why it closed
        self.used = False  # a request has been answered on it
        self._watch: asyncio.TimerHandle | None = None  # the timer of the oldest request's limit

    @property
    def open(self) -> bool:
        return self.error is None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while True:
            try:
                reply = self.reader.gets()
            except Exception as exc:  # not RESP, or not UTF-8: nothing after it can be read either
                self.fail(redis_errors.ConnectionError(f"unreadable reply from redis: {exc}"))
                return
            if reply is False:
                return
            if not self.waiting:
                self.fail(redis_errors.ConnectionError("redis sent a reply nothing asked for"))
                return
            future = self.waiting.popleft()[0]
            if not future.done():  # its caller may have given up (cancelled): the reply is dropped
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(redis_errors.ConnectionError(f"connection to redis lost: {exc}" if exc else
                                               "connection closed by redis"))

    def fail(self, error: BaseException) -> None:
        """Close the connection; every waiting request fails with ``error``."""
        if self.error is None:
            self.error = error
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        while self.waiting:
            future = self.waiting.popleft()[0]
            if not future.done():
                future.set_exception(_again(error))
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    async def call(self, packed: bytes, limit: float | None) -> Any:
        if self.error is not None:
            raise _again(self.error)
        assert self.transport is not None
        future = self.loop.create_future()
        if limit:
            due = self.loop.time() + limit
            self.waiting.append((future, due))
            if self._watch is None:
                self._watch = self.loop.call_at(due, self._check, limit)
        else:
            self.waiting.append((future, None))
        self.transport.write(packed)
        reply = await future
        self.used = True
        if isinstance(reply, redis_errors.ResponseError):
            raise error_of(reply)
        return reply

    def _check(self, limit: float) -> None:
        """The watch timer: the oldest request still waiting is late (the server does not answer:
        nothing behind it on this connection will be), or the timer waits for that one's instant."""
        self._watch = None
        if self.error is not None or not self.waiting:
            return
        due = self.waiting[0][1]
        if due is None:
            return
        if due <= self.loop.time():
            self.fail(redis_errors.TimeoutError(f"no reply from redis within {limit:g}s"))
        else:
            self._watch = self.loop.call_at(due, self._check, limit)


class MultiplexedReads:
    """Read commands pipelined on one connection (see the module documentation)."""

    def __init__(self, settings: _Settings) -> None:
        self.settings = settings
        self.closed = False
        self._packed: dict[tuple[Any, ...], bytes] = {}  # commands packed lately, by their parts
        self._wire: _Wire | None = None
        self._connecting: asyncio.Task[_Wire] | None = None

    @classmethod
    def for_pool(cls, pool: Any) -> MultiplexedReads | None:
        """Reads over the connections ``pool`` makes, when they are plain TCP ones configured the
        way this connects (None otherwise: redis-py's own path serves)."""
        kwargs = getattr(pool, "connection_kwargs", None)
        if getattr(pool, "connection_class", None) is not Connection or not isinstance(kwargs, dict):
            return None
        if kwargs.get("credential_provider") is not None or kwargs.get("protocol") not in (None, 2, "2"):
            return None
        return cls(_Settings(kwargs))

    async def call(self, *parts: str | bytes | int | float) -> Any:
        """One command's reply (an error reply raised as redis-py raises it)."""
        plain = _plain(parts)  # the same reads are asked for again and again (a readiness GET's): packed once
        packed = self._packed.get(parts) if plain else None
        if packed is None:
            packed = command(parts)
            if plain:
                if len(self._packed) >= _PACKED_KEPT:
                    self._packed.clear()
                self._packed[parts] = packed
        wire = await self._connected()
        try:
            return await wire.call(packed, self.settings.timeout)
        except redis_errors.ConnectionError:
            if not wire.used:  # a connection made for this request: the server is not there
                raise
        # dropped since it was last used (a server restart, an idle timeout): once more, connected again
        return await (await self._connected()).call(packed, self.settings.timeout)

    async def evalsha(self, sha: str, script: str | bytes | memoryview, keys: Sequence[str],
                      args: Sequence[Any]) -> Any:
        """``EVALSHA`` of a script (loaded first when the server does not know it)."""
        try:
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)
        except redis_errors.NoScriptError:
            await self.call("SCRIPT", "LOAD", bytes(script) if isinstance(script, memoryview) else script)
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)

    async def close(self) -> None:
        """Close the connection; the store's reads go through redis-py from now on."""
        self.closed = True
        wire, self._wire = self._wire, None
        if wire is not None and wire.loop is asyncio.get_running_loop():
            wire.fail(redis_errors.ConnectionError("the store is closed"))

    async def _connected(self) -> _Wire:
        wire = self._wire
        loop = asyncio.get_running_loop()
        if wire is not None and wire.open and wire.loop is loop:
            return wire
        if wire is not None and wire.loop is not loop:  # made on another event loop, now gone or elsewhere
            self._wire = None
            try:
                wire.fail(redis_errors.ConnectionError("the event loop changed"))
            except RuntimeError:  # that loop is closed: its transport goes with it
                pass
        task = self._connecting
        if task is None or task.get_loop() is not loop:
            task = self._connecting = loop.create_task(self._connect())
            task.add_done_callback(self._connected_or_not)
        return await asyncio.shield(task)  # a caller cancelled while connecting leaves it to the others

    def _connected_or_not(self, task: asyncio.Task[_Wire]) -> None:
        if self._connecting is task:
            self._connecting = None
        if not task.cancelled() and task.exception() is None:
            if self.closed:  # closed while connecting: the connection is not kept
                task.result().fail(redis_errors.ConnectionError("the store is closed"))
            else:
                self._wire = task.result()

    async def _connect(self) -> _Wire:
        settings = self.settings
        loop = asyncio.get_running_loop()
        try:
            _, wire = await asyncio.wait_for(loop.create_connection(_Wire, settings.host, settings.port),
                                             settings.connect_timeout)
        except TimeoutError as exc:
            raise redis_errors.TimeoutError(f"connecting to redis at {settings.host}:{settings.port} took longer"
                                            f" than {settings.connect_timeout:g}s") from exc
        except OSError as exc:
            raise redis_errors.ConnectionError(f"cannot connect to redis at {settings.host}:{settings.port}:"
                                               f" {exc}") from exc
        try:
            for packed in settings.handshake():
                await wire.call(packed, settings.timeout)
        except redis_errors.ResponseError as exc:  # a refused SELECT or AUTH (NOAUTH, WRONGPASS are ConnectionErrors)
            wire.fail(redis_errors.ConnectionError(str(exc)))
            raise redis_errors.ConnectionError(f"redis refused the connection's set-up: {exc}") from exc
        except BaseException:
            wire.fail(redis_errors.ConnectionError("connecting was abandoned"))
            raise
        wire.used = False
        return wire
