"""A test run must not write a file git tracks: tests write into tmp paths only.

At the start of a session every tracked file's modification time and size are noted; at the end,
any tracked file written since (even with the same bytes: the dashboard's screenshots used to be
rewritten on every run), deleted, or changed in size fails the session, naming the files. Only
inside a git checkout with ``git`` on PATH (an installed package or an sdist skips it).
``INTERLOCK_SCREENSHOTS`` (the dashboard's screenshot directory when regenerating the docs'
screenshots on purpose) is left out; ``ALLOW_TRACKED_CHANGES=1`` turns the check off, say while
editing files during a long run."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

Stamp = tuple[int, int] | None
SNAPSHOT = pytest.StashKey[tuple[Path, dict[str, Stamp]]]()


def checkout_root(start: Path) -> Path | None:
    """The top of the git checkout ``start`` is in, or None (no git, not a checkout)."""
    if shutil.which("git") is None:
        return None
    try:
        done = subprocess.run(["git", "-C", str(start), "rev-parse", "--show-toplevel"], capture_output=True,
                              text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    top = done.stdout.strip() if done.returncode == 0 else ""
    return Path(top) if top else None


def _stamp(file: Path) -> Stamp:
    try:
        status = file.lstat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


def tracked_stamps(root: Path) -> dict[str, Stamp]:
    """Every tracked file: path → (modification time, size), None when missing."""
    try:
        done = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, timeout=60,
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return {}
    if done.returncode != 0:
        return {}
    paths = [p for p in done.stdout.decode("utf-8", "surrogateescape").split("\0") if p]
    return {path: _stamp(root / path) for path in paths}


def _exempt() -> list[Path]:
    screenshots = os.environ.get("INTERLOCK_SCREENSHOTS")
    return [Path(screenshots).resolve()] if screenshots else []


def written_since(root: Path, before: dict[str, Stamp]) -> list[str]:
    """Tracked files written, deleted or resized since ``before`` was taken."""
    exempt = _exempt()
    written = []
    for path, stamp in sorted(before.items()):
        if _stamp(root / path) == stamp:
            continue
        if any((root / path).resolve().is_relative_to(place) for place in exempt):
            continue
        written.append(path)
    return written


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("ALLOW_TRACKED_CHANGES") == "1":
        return
    root = checkout_root(Path(str(session.config.rootpath)))
    if root is not None:
        session.stash[SNAPSHOT] = (root, tracked_stamps(root))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    snapshot = session.stash.get(SNAPSHOT, None)
    if snapshot is None:
        return
    root, before = snapshot
    written = written_since(root, before)
    if not written:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = ["tests wrote files git tracks (tests must write into tmp paths):", *(f"  {p}" for p in written),
             "(ALLOW_TRACKED_CHANGES=1 skips this check, e.g. while you edit files during a run)"]
    if reporter is not None:
        reporter.write_line("")
        for line in lines:
            reporter.write_line(line, red=True, bold=line == lines[0])
    else:  # pragma: no cover - no terminal reporter (-p no:terminal)
        print("\n".join(lines))
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
