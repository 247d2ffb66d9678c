"""Run one executable in its own process group, under a deadline, with bounded output.

The executable gets its own session (so its own process group). When the deadline passes, when
its output grows past the cap, when the caller is cancelled, and in any case as soon as it has
exited, the whole group is killed with SIGKILL: a grandchild left behind (``sleep 30 &``) can
neither outlive the evaluation nor hold its stdout open and block the caller.

stdout and stderr are plain pipes read here (not asyncio subprocess pipes), so waiting for the
process is waiting for the *process*, never for the last holder of its stdout to close it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO

import anyio

#: How long the pipes may stay open once the group is killed (a process that escaped it by
#: starting its own session still holds them).
PIPE_GRACE_SECONDS = 0.5
#: How long to wait for a SIGKILLed process to be reaped before reporting anyway.
REAP_GRACE_SECONDS = 2.0
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class ProcessOutcome:
    """How the process ended. ``returncode`` is negative (``-signal``) when a signal killed it and
    ``None`` when it could not be reaped in time after being killed."""

    returncode: int | None
    stdout: bytes
    stderr_tail: bytes
    timed_out: bool = False
    stdout_overflow: bool = False


def kill_process_group(pgid: int) -> None:
    """SIGKILL every process of the group; a group that is already gone is not an error."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


async def _open_reader(pipe: BinaryIO) -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_CHUNK)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    return reader, transport


async def _spawn(
    argv: Sequence[str], stdin: bytes, env: Mapping[str, str] | None, cwd: str | None, out_w: int, err_w: int
) -> asyncio.subprocess.Process:
    # stdin is a file, not a pipe: an executable that never reads it cannot block the writer.
    with tempfile.TemporaryFile() as stdin_file:
        stdin_file.write(stdin)
        stdin_file.seek(0)
        return await asyncio.create_subprocess_exec(
            *argv,
            stdin=stdin_file,
            stdout=out_w,
            stderr=err_w,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )


async def run_in_process_group(
    argv: Sequence[str],
    *,
    stdin: bytes = b"",
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    time_limit: float,
    max_stdout: int,
    stderr_keep: int = 2048,
) -> ProcessOutcome:
    """Run ``argv`` (no shell) for at most ``time_limit`` seconds and collect its outcome.

    Raises ``OSError`` (``FileNotFoundError``, ``PermissionError`` …) only when the executable
    cannot be started at all; everything the running process does is in the outcome."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        proc = await _spawn(argv, stdin, env, cwd, out_w, err_w)
    except BaseException:
        os.close(out_r)
        os.close(err_r)
        raise
    finally:
        os.close(out_w)
        os.close(err_w)

    pgid = proc.pid
    pipes = [os.fdopen(out_r, "rb", buffering=0), os.fdopen(err_r, "rb", buffering=0)]
    transports: list[asyncio.BaseTransport] = []
    stdout = bytearray()
    stderr = bytearray()
    overflow = False
    try:
        out_reader, out_transport = await _open_reader(pipes[0])
        transports.append(out_transport)
        err_reader, err_transport = await _open_reader(pipes[1])
        transports.append(err_transport)
        out_closed, err_closed = anyio.Event(), anyio.Event()

        async def capture_stdout() -> None:
            nonlocal overflow
            try:
                while chunk := await out_reader.read(_CHUNK):
                    if len(stdout) + len(chunk) > max_stdout:
                        overflow = True
                        kill_process_group(pgid)
                        break
                    stdout.extend(chunk)
            finally:
                out_closed.set()

        async def capture_stderr() -> None:
            try:
                while chunk := await err_reader.read(_CHUNK):
                    stderr.extend(chunk)
                    if len(stderr) > stderr_keep:
                        del stderr[: len(stderr) - stderr_keep]
            finally:
                err_closed.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(capture_stdout)
            tg.start_soon(capture_stderr)
            with anyio.move_on_after(time_limit):
                await proc.wait()
            timed_out = proc.returncode is None
            # Nothing of the group outlives its leader (or the deadline): a grandchild holding
            # the pipes dies here, so they reach EOF once what is buffered in them is read.
            kill_process_group(pgid)
            if timed_out:
                with anyio.move_on_after(REAP_GRACE_SECONDS):
                    await proc.wait()
            with anyio.move_on_after(PIPE_GRACE_SECONDS):  # only a process that left the group stalls
                await out_closed.wait()
                await err_closed.wait()
            tg.cancel_scope.cancel()
    finally:
        # Also on cancellation: synchronous, so nothing here can be interrupted.
        kill_process_group(pgid)
        for transport in transports:
            transport.close()
        for pipe in pipes:
            pipe.close()
    return ProcessOutcome(
        returncode=proc.returncode,
        stdout=bytes(stdout),
        stderr_tail=bytes(stderr),
        timed_out=timed_out,
        stdout_overflow=overflow,
    )
