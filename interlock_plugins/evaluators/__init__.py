"""Built-in evaluator runners (``subprocess``, ``http``, ``builtin``) and builtin evaluators."""

from __future__ import annotations

from typing import Any

from interlock_core.hookspecs import hookimpl


@hookimpl
def interlock_register_evaluator_runners() -> list[Any]:
    from .builtin import BuiltinRunner
    from .http import HTTPRunner
    from .subprocess import SubprocessRunner

    return [BuiltinRunner, HTTPRunner, SubprocessRunner]


@hookimpl
def interlock_register_builtin_evaluators() -> list[Any]:
    from .builtin import BUILTIN_EVALUATORS

    return list(BUILTIN_EVALUATORS)
