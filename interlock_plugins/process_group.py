"""Run one executable in its own process group, under a deadline, with bounded output: the one
supervisor of the evaluator runner (``evaluators/subprocess.py``) and the ``command`` trigger.

The executable gets a process group of its own. When the deadline passes, when its output grows
past the cap, when the caller is cancelled, and in any case as soon as it has exited, the whole
group is killed with SIGKILL (after a SIGTERM and ``term_grace`` seconds, when the caller gives
some: the ``command`` trigger lets a job clean up): a grandchild left behind (``sleep 30 &``) can
neither outlive the evaluation or launch nor hold its stdout open and block the caller. While
this process has a controlling terminal (``interlock evaluate`` typed in a shell), the executable
also gets a session of its own, so it cannot open that terminal (a password prompt fails at once
instead of stopping the process until the deadline). Without one (a server), a session would isolate nothing more than
the group does, and ``setsid`` is not free: with the kernel's autogroup scheduling each session
gets a scheduling group of its own, which measured about 0.7 ms per process and half the spawn
rate at 64 processes at a time (docs/performance.md).

The spawn path is kept lean because an evaluation is mostly this (see docs/performance.md):

* the process is started with ``subprocess.Popen`` and no ``preexec_fn``, so CPython starts it
  with ``vfork`` (a new group or session and ``close_fds`` keep it eligible); the parent does
  not copy its page tables and the event loop is held only until the ``exec``;
* stdin is a pipe filled *before* the spawn when the input fits in it (a trait config almost
  always does) and closed, so the child reads its config and then end-of-file; a larger input is
  fed by a non-blocking writer as the child reads it, so an executable that never reads its
  stdin cannot block anything;
* stdout, stderr and the process's exit are watched by event-loop callbacks on three file
  descriptors (two pipes and a ``pidfd``): no reader tasks, no stream objects, no waiter thread.
  A ``pidfd`` also lets the group be killed while its leader is an unreaped zombie, so the
  process-group id cannot have been reused by then. Where ``pidfd_open`` is missing (not
  Linux, or a kernel before 5.3), one thread per process waits for its exit instead.

Waiting for the process is waiting for the *process*, never for the last holder of its stdout to
close it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

#: How long the pipes may stay open once the group is killed (a process that escaped it by
#: starting its own session still holds them).
PIPE_GRACE_SECONDS = 0.5
#: How long to wait for a SIGKILLed process to be reaped before reporting anyway.
REAP_GRACE_SECONDS = 2.0
_CHUNK = 64 * 1024

Environment = Mapping[str, str] | Mapping[bytes, bytes]


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


@functools.cache
def has_controlling_terminal() -> bool:
    """Whether this process has a controlling terminal (looked up once)."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


def new_session() -> bool:
    """Whether a process gets a session of its own (where there is a terminal to keep it away
    from) or only a process group of its own; either keeps the spawn eligible for ``vfork``."""
    return has_controlling_terminal()


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when ``pid`` exits, or None where there is none."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        fd: int = opener(pid)
    except OSError:  # an old kernel, a sandbox that forbids it, no descriptor left: wait in a thread
        return None
    return fd


def _write_some(fd: int, data: memoryview) -> int:
    """Write what the pipe takes now (the descriptor is non-blocking); -1 when the reader is gone."""
    try:
        return os.write(fd, data)
    except BlockingIOError:
        return 0
    except OSError:  # EPIPE: the process exited or closed its stdin without reading it all
        return -1


class _Child:
    """One running process and what it has said so far, driven by event-loop callbacks.

    Everything here runs on the event loop's thread, so no state needs a lock."""

    def __init__(self, loop: asyncio.AbstractEventLoop, popen: subprocess.Popen[bytes], *,
                 stdout_fd: int, stderr_fd: int, stdin_fd: int | None, stdin_rest: memoryview,
                 max_stdout: int, stderr_keep: int) -> None:
        self._loop = loop
        self._popen = popen
        self.pid = popen.pid
        self.returncode: int | None = None
        self.reaped = False
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.overflow = False
        self._max_stdout = max_stdout
        self._stderr_keep = stderr_keep
        self._readers: set[int] = set()
        self._stdin_fd = stdin_fd
        self._stdin_rest = stdin_rest
        self._waiter: asyncio.Future[None] | None = None
        for fd, callback in ((stdout_fd, self._read_stdout), (stderr_fd, self._read_stderr)):
            os.set_blocking(fd, False)
            loop.add_reader(fd, callback, fd)
            self._readers.add(fd)
        if stdin_fd is not None:
            loop.add_writer(stdin_fd, self._feed_stdin)
        self._pidfd = _pidfd(self.pid)
        if self._pidfd is not None:
            loop.add_reader(self._pidfd, self._exited)
        else:
            threading.Thread(target=self._wait_in_thread, name=f"evaluator-{self.pid}", daemon=True).start()

    # ----------------------------------------------------------------------- state
    def has_exited(self) -> bool:
        return self.reaped

    def pipes_closed(self) -> bool:
        return not self._readers

    def kill_group(self) -> None:
        """Kill the group while its leader is not reaped (afterwards, the group was killed at its
        exit and its id may already belong to someone else)."""
        if not self.reaped:
            kill_process_group(self.pid)

    def terminate_group(self) -> None:
        """SIGTERM the group while its leader is not reaped (a job may clean up; SIGKILL follows)."""
        if not self.reaped:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGTERM)

    async def until(self, condition: Callable[[], bool], seconds: float) -> bool:
        """Wait until ``condition()`` holds or ``seconds`` pass; whether it holds."""
        if condition():
            return True
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            self._wake()

        timer = self._loop.call_later(seconds, expire)
        try:
            while not expired and not condition():
                self._waiter = self._loop.create_future()
                await self._waiter
        finally:
            self._waiter = None
            timer.cancel()
        return condition()

    def release(self, term_grace: float = 0.0) -> None:
        """Synchronous, so cancellation cannot interrupt it: kill what is left of the group and
        close every descriptor. With ``term_grace``, SIGTERM now and the rest from the event loop
        that many seconds later (the pipes stay open meanwhile: a job writing while it cleans up
        must not die of SIGPIPE). An unreaped process stays watched until it is reaped."""
        if term_grace > 0 and not self.reaped:
            self.terminate_group()
            self._loop.call_later(term_grace, self.release)
            return
        self.kill_group()
        for fd in list(self._readers):
            self._close_reader(fd)
        self._close_stdin()

    # ----------------------------------------------------------------------- callbacks
    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _read(self, fd: int) -> bytes | None:
        try:
            return os.read(fd, _CHUNK)
        except BlockingIOError:
            return None
        except OSError:
            return b""

    def _read_stdout(self, fd: int) -> None:
        chunk = self._read(fd)
        if chunk is None:
            return
        if not chunk:
            self._close_reader(fd)
        elif len(self.stdout) + len(chunk) > self._max_stdout:
            self.overflow = True
            self.kill_group()
            self._close_reader(fd)
        else:
            self.stdout += chunk

    def _read_stderr(self, fd: int) -> None:
        chunk = self._read(fd)
        if chunk is None:
            return
        if not chunk:
            self._close_reader(fd)
            return
        self.stderr += chunk
        if len(self.stderr) > self._stderr_keep:
            del self.stderr[: len(self.stderr) - self._stderr_keep]

    def _close_reader(self, fd: int) -> None:
        if fd in self._readers:
            self._readers.discard(fd)
            self._loop.remove_reader(fd)
            os.close(fd)
            self._wake()

    def _feed_stdin(self) -> None:
        written = _write_some(self._stdin_fd, self._stdin_rest) if self._stdin_fd is not None else -1
        if written < 0 or written == len(self._stdin_rest):
            self._close_stdin()
        else:
            self._stdin_rest = self._stdin_rest[written:]

    def _close_stdin(self) -> None:
        if self._stdin_fd is not None:
            self._loop.remove_writer(self._stdin_fd)
            os.close(self._stdin_fd)
            self._stdin_fd = None

    def _exited(self) -> None:
        """The process has exited and is a zombie: kill its group (the id cannot be reused while
        the zombie exists), then reap it."""
        kill_process_group(self.pid)
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored …): the status is lost
            self._reaped(None)
            return
        if pid:
            self._reaped(os.waitstatus_to_exitcode(status))

    def _reaped(self, returncode: int | None) -> None:
        self.returncode = returncode
        self.reaped = True
        self._popen.returncode = returncode if returncode is not None else -signal.SIGKILL
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        self._wake()

    def _wait_in_thread(self) -> None:
        """Without a pidfd: wait for the exit without reaping (``WNOWAIT``), then let the loop kill
        the group and reap, in the same order as with one."""
        try:
            os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            pass
        try:
            self._loop.call_soon_threadsafe(self._exited)
        except RuntimeError:  # the loop is closed: nobody is waiting, reap here
            self._exited()


def _start(argv: Sequence[str], stdin: bytes, env: Environment | None, cwd: str | None,
           max_stdout: int, stderr_keep: int, stdout_to_stderr: bool = False) -> _Child:
    loop = asyncio.get_running_loop()
    session = new_session()
    owned: list[int] = []  # descriptors to close if the start fails
    try:
        in_r, in_w = os.pipe()
        owned += [in_r, in_w]
        os.set_blocking(in_w, False)
        rest = memoryview(stdin)
        written = _write_some(in_w, rest)
        rest = rest[max(written, 0):]
        stdin_fd: int | None = in_w
        if not rest or written < 0:  # all of it is in the pipe: the child reads it, then EOF
            owned.remove(in_w)
            os.close(in_w)
            stdin_fd = None
        out_r, out_w = os.pipe()
        owned += [out_r, out_w]
        err_r, err_w = os.pipe()
        owned += [err_r, err_w]
        popen = subprocess.Popen(  # argv: a resolved path or command words, no shell
            list(argv), stdin=in_r, stdout=err_w if stdout_to_stderr else out_w, stderr=err_w, env=env, cwd=cwd,
            start_new_session=session, process_group=None if session else 0,
        )
        for fd in (in_r, out_w, err_w):  # the child's ends
            owned.remove(fd)
            os.close(fd)
        owned.clear()
    except BaseException:
        for fd in owned:
            os.close(fd)
        raise
    try:
        return _Child(loop, popen, stdout_fd=out_r, stderr_fd=err_r, stdin_fd=stdin_fd, stdin_rest=rest,
                      max_stdout=max_stdout, stderr_keep=stderr_keep)
    except BaseException:  # pragma: no cover - the loop refused a descriptor: nothing may keep running
        kill_process_group(popen.pid)
        for leftover in (out_r, err_r, stdin_fd):
            if leftover is not None:
                with contextlib.suppress(OSError, ValueError):
                    loop.remove_reader(leftover)
                    loop.remove_writer(leftover)
                os.close(leftover)
        raise


async def run_in_process_group(
    argv: Sequence[str],
    *,
    stdin: bytes = b"",
    env: Environment | None = None,
    cwd: str | None = None,
    time_limit: float,
    max_stdout: int,
    stderr_keep: int = 2048,
    stdout_to_stderr: bool = False,
    term_grace: float = 0.0,
) -> ProcessOutcome:
    """Run ``argv`` (no shell) for at most ``time_limit`` seconds and collect its outcome.

    ``stdout_to_stderr``: the process writes both streams to one pipe, and the outcome's
    ``stderr_tail`` is the tail of both, interleaved (``stdout`` stays empty). ``term_grace``: on
    the deadline or a cancellation, the group gets SIGTERM and that many seconds before SIGKILL.

    Raises ``OSError`` (``FileNotFoundError``, ``PermissionError`` …) only when the executable
    cannot be started at all, ``ValueError`` for an argument or environment value no process can
    be given (a NUL byte); everything the running process does is in the outcome."""
    child = _start(argv, stdin, env, cwd, max_stdout, stderr_keep, stdout_to_stderr)
    try:
        timed_out = not await child.until(child.has_exited, time_limit)
        if timed_out and term_grace > 0:
            child.terminate_group()
            await child.until(child.has_exited, term_grace)
        # Nothing of the group outlives its leader (or the deadline): a grandchild holding the
        # pipes dies here, so they reach EOF once what is buffered in them is read.
        child.kill_group()
        if timed_out:
            await child.until(child.has_exited, REAP_GRACE_SECONDS)
        # only a process that left the group keeps the pipes open past this
        await child.until(child.pipes_closed, PIPE_GRACE_SECONDS)
    finally:
        child.release(term_grace)
    return ProcessOutcome(
        returncode=child.returncode,
        stdout=bytes(child.stdout),
        stderr_tail=bytes(child.stderr),
        timed_out=timed_out,
        stdout_overflow=child.overflow,
    )
