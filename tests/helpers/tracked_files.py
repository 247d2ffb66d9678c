"""A test run must not change a file git tracks: tests write into tmp paths only.

At the start of a session the files git reports as changed (a developer's own edits) are noted
with a digest of their content; at the end, any tracked file that changed since — newly modified,
deleted, or an already-modified file whose content moved — fails the session, naming the files.
Only inside a git checkout with ``git`` on PATH (an installed package or an sdist skips it).
``INTERLOCK_SCREENSHOTS`` (the dashboard's screenshot directory when regenerating the docs'
screenshots on purpose) is left out; ``ALLOW_TRACKED_CHANGES=1`` turns the check off,
say while editing files during a long run."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

SNAPSHOT = pytest.StashKey[tuple[Path, dict[str, str]]]()


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=60,
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def checkout_root(start: Path) -> Path | None:
    """The top of the git checkout ``start`` is in, or None (no git, not a checkout)."""
    if shutil.which("git") is None:
        return None
    top = _git(start, "rev-parse", "--show-toplevel")
    return Path(top.strip()) if top and top.strip() else None


def changed_tracked_files(root: Path) -> dict[str, str]:
    """Tracked files that differ from the index or HEAD: path → digest of the content (or "deleted")."""
    out = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=no", "--ignore-submodules")
    if out is None:
        return {}
    changed: dict[str, str] = {}
    entries = out.split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        status, path = entry[:2], entry[3:]
        if "R" in status or "C" in status:
            i += 1  # the source path of a rename or copy follows
        file = root / path
        try:
            changed[path] = hashlib.sha256(file.read_bytes()).hexdigest() if file.is_file() else "deleted"
        except OSError:
            changed[path] = "unreadable"
    return changed


def _exempt(root: Path) -> list[Path]:
    screenshots = os.environ.get("INTERLOCK_SCREENSHOTS")
    return [Path(screenshots).resolve()] if screenshots else []


def changes_since(root: Path, before: dict[str, str]) -> list[str]:
    """Tracked files the run changed: not in ``before``, or with other content now."""
    exempt = _exempt(root)
    after = changed_tracked_files(root)
    changed = []
    for path, digest in sorted(after.items()):
        if before.get(path) == digest:
            continue
        full = (root / path).resolve()
        if any(full.is_relative_to(place) for place in exempt):
            continue
        changed.append(path)
    return changed


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("ALLOW_TRACKED_CHANGES") == "1":
        return
    root = checkout_root(Path(str(session.config.rootpath)))
    if root is not None:
        session.stash[SNAPSHOT] = (root, changed_tracked_files(root))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    snapshot = session.stash.get(SNAPSHOT, None)
    if snapshot is None:
        return
    root, before = snapshot
    changed = changes_since(root, before)
    if not changed:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = ["tests changed files git tracks (tests must write into tmp paths):", *(f"  {p}" for p in changed),
             "(ALLOW_TRACKED_CHANGES=1 skips this check, e.g. while you edit files during a run)"]
    if reporter is not None:
        reporter.write_line("")
        for line in lines:
            reporter.write_line(line, red=True, bold=line == lines[0])
    else:  # pragma: no cover - no terminal reporter (-p no:terminal)
        print("\n".join(lines))
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
