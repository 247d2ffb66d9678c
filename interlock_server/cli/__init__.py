"""The ``interlock`` command line."""

from ._startup import collector_paused

with collector_paused():  # every module a command needs: the collector's work at start-up (_startup)
    from .main import main

__all__ = ["main"]
