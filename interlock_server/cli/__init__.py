"""The ``interlock`` command line."""

from ..collector import collector_paused

with collector_paused():  # every module a command needs: the collector's work at start-up (..collector)
    from .main import main

__all__ = ["main"]
