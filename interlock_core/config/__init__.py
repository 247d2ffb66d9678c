"""Loading a project: ``interlock.yaml``, archetypes, calendars and pipelines, all or nothing."""

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
