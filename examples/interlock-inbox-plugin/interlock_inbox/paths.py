"""A folder named in a project's configuration: relative to the project directory, and never
outside it (a pipeline registered over the HTTP API may name one)."""

from __future__ import annotations

from pathlib import Path


def folder_problem(value: str) -> str | None:
    """Why ``value`` is not a folder inside the project, or None."""
    path = Path(value)
    if path.is_absolute() or ".." in path.parts:
        return "must be a relative path inside the project directory"
    return None


def project_folder(project_dir: Path, value: str) -> Path:
    folder = Path(project_dir) / value
    folder.mkdir(parents=True, exist_ok=True)
    return folder
