"""Subcommand parsers built when first used.

``interlock`` has about twenty subcommands; building every one's :class:`argparse.ArgumentParser`
(its help option and each argument ask :mod:`gettext` for their words and measure the terminal)
cost each command about 21 million instructions (callgrind, ``interlock status``), when a command
line uses one of them. A
:class:`DeferredParser` keeps a subcommand's arguments and builds its parser, with them in the
order they were given, the first time anything else is asked of it: parsing that subcommand's
arguments (:meth:`argparse._SubParsersAction.__call__` hands them to it), its ``--help``, or a look
at its actions. The top-level help lists subcommands from their ``help=`` alone and builds none.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

Step = Callable[[argparse.ArgumentParser], object]


class DeferredParser:
    """What ``add_parser`` returns when ``add_subparsers(parser_class=DeferredParser)``: arguments
    and :func:`deferred` steps are kept until the parser is built; any other attribute builds it."""

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._steps: list[Step] = []
        self._built: argparse.ArgumentParser | None = None

    def add_argument(self, *args: Any, **kwargs: Any) -> None:
        if self._built is not None:
            self._built.add_argument(*args, **kwargs)
        else:
            self._steps.append(lambda parser: parser.add_argument(*args, **kwargs))

    def parser(self) -> argparse.ArgumentParser:
        """The parser itself, built now if it was not yet."""
        if self._built is None:
            built = argparse.ArgumentParser(**self._kwargs)
            for step in self._steps:
                step(built)
            self._built = built
            self._steps = []
        return self._built

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_kwargs", "_steps", "_built"):
            raise AttributeError(name)
        return getattr(self.parser(), name)


def deferred(parser: Any, step: Step) -> None:
    """Apply ``step`` to ``parser`` when it is built (at once when it is an ordinary parser)."""
    if isinstance(parser, DeferredParser) and parser._built is None:
        parser._steps.append(step)
    else:
        step(parser.parser() if isinstance(parser, DeferredParser) else parser)
