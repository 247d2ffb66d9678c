"""A low-overhead HTTP/1.1 load generator and a process CPU meter, for ``bench_api.py``.

The generator keeps ``connections`` keep-alive connections, each with exactly one request in flight
(no pipelining): as soon as a response is complete the next request goes out on the same
connection. It runs on asyncio *protocols* — one prebuilt request, a byte buffer and a
``Content-Length`` scan per response, no coroutine, no parser object, no client library — so it
costs a few µs of CPU per request, far below what the server spends (the JSON of every
measurement reports both: a generator must never be the bottleneck it measures). Responses must
carry ``Content-Length`` (hypercorn's do for a JSON body).

:func:`process_cpu_seconds` reads the user + system CPU of another process (every thread) from
``/proc/<pid>/stat``.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (all its threads), NaN without /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return float("nan")
    # after the command name: state is field 3, utime field 14, stime field 15 (1-based, man 5 proc)
    return (int(fields[11]) + int(fields[12])) / _TICKS


@dataclass
class Load:
    """What one run of the generator saw."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    reconnects: int = 0
    elapsed: float = 0.0
    client_cpu: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed if self.elapsed else float("nan")


class _Connection(asyncio.Protocol):
    def __init__(self, generator: _Generator) -> None:
        self.generator = generator
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.started = 0.0
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.send()

    def send(self) -> None:
        assert self.transport is not None
        if not self.generator.running:
            self.transport.close()
            return
        self.started = time.perf_counter()
        self.transport.write(self.generator.request)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while True:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = bytes(buffer[:head_end]).lower()
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                self.generator.load.errors += 1  # not something this generator can frame
                assert self.transport is not None
                self.transport.close()
                return
            line_end = head.find(b"\r\n", at + 2)
            length = int(head[at + 17: line_end if line_end >= 0 else len(head)])
            end = head_end + 4 + length
            if len(buffer) < end:
                return
            ok = buffer[9:12] == b"200"
            del buffer[:end]
            self.generator.done(time.perf_counter() - self.started, ok)
            self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class _Generator:
    def __init__(self, request: bytes, load: Load, deadline: float) -> None:
        self.request = request
        self.load = load
        self.deadline = deadline
        self.running = True

    def done(self, latency: float, ok: bool) -> None:
        if time.perf_counter() > self.deadline:
            self.running = False
            return
        self.load.latencies.append(latency)
        if not ok:
            self.load.errors += 1


async def generate(url: str, *, connections: int, duration: float, headers: dict[str, str]) -> Load:
    """GET ``url`` on ``connections`` keep-alive connections for ``duration`` seconds."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Accept: */*",
             *(f"{name}: {value}" for name, value in headers.items())]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    load = Load()
    cpu, began = time.process_time(), time.perf_counter()
    generator = _Generator(request, load, began + duration)
    protocols: list[_Connection] = []
    while generator.running:
        alive = [p for p in protocols if not p.closed.done()]
        for _ in range(connections - len(alive)):
            if protocols:
                load.reconnects += 1
            _, protocol = await loop.create_connection(lambda: _Connection(generator), host, port)
            alive.append(protocol)
        protocols = alive
        await asyncio.wait([p.closed for p in protocols], timeout=max(0.0, generator.deadline - time.perf_counter()),
                           return_when=asyncio.FIRST_COMPLETED)
        if time.perf_counter() >= generator.deadline:
            generator.running = False
    load.elapsed = time.perf_counter() - began
    for protocol in protocols:
        if protocol.transport is not None:
            protocol.transport.close()
    await asyncio.wait([p.closed for p in protocols], timeout=5)
    load.client_cpu = time.process_time() - cpu
    return load
