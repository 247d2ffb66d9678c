"""Loading a project: ``interlock.yaml``, archetypes, calendars and pipelines, all or nothing.

Public names are imported on first use (:mod:`interlock_core.exports`)."""

import typing

from ..exports import exported as _exported

if typing.TYPE_CHECKING:
    from .cross_checks import validate_pipeline
    from .loader import load_project, reload_pipelines
    from .project import CONFIG_FILENAMES, Project, find_config_file
    from .yamlsource import Located, parse_yaml, read_yaml

__all__ = [
    "CONFIG_FILENAMES",
    "Located",
    "Project",
    "find_config_file",
    "load_project",
    "parse_yaml",
    "read_yaml",
    "reload_pipelines",
    "validate_pipeline",
]

__getattr__, __dir__ = _exported(__name__, {
    ".cross_checks": ("validate_pipeline",),
    ".loader": ("load_project", "reload_pipelines"),
    ".project": ("CONFIG_FILENAMES", "Project", "find_config_file"),
    ".yamlsource": ("Located", "parse_yaml", "read_yaml"),
}, globals())
