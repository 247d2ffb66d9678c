"""Watching processes a test started through Interlock (a job, its background children): whether
one is gone, and the files they write. Another process's state has no event to wait on, so these
poll, briefly and with a bound."""

from __future__ import annotations

from pathlib import Path

import anyio


def gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (absent, or a zombie waiting for its reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


async def wait_gone(pid: int) -> bool:
    """Poll until ``pid`` is gone, at most 3 s."""
    with anyio.move_on_after(3):
        while not gone(pid):
            await anyio.sleep(0.02)
    return gone(pid)


async def wait_file(path: Path) -> str:
    """Poll until a child process wrote ``path``; its content."""
    file = anyio.Path(path)
    with anyio.fail_after(5):
        while not await file.exists() or not (await file.read_text()).strip():
            await anyio.sleep(0.01)
    return (await file.read_text()).strip()
