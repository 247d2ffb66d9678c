"""The ``subprocess`` evaluator runner: evaluators are executables speaking JSON on stdin/stdout.

The executable gets the trait's resolved config as JSON on stdin and the cycle it is asked about
as ``INTERLOCK_*`` environment variables; it answers with one JSON object on stdout. It runs in
its own process group, killed whole on timeout, so a hung grandchild never blocks anything.

Where the evaluator is looked for: a bare name (``check-freshness``) in each evaluator directory,
then on ``$PATH`` (for a pipeline registered over the API: only a bare name, only in the
evaluator directories); a relative path (``evaluators/check-x``, ``./evaluators/check-x``) under each
evaluator directory, under each evaluator directory's parent (the project directory) and under
the working directory; an absolute path as it is.

Its environment is explicit, never the server's own (which may hold ``INTERLOCK_API_KEY``, cloud
credentials, ``${VAR}`` secrets of triggers): the ``INTERLOCK_*`` cycle variables, a few
variables a program needs to start (``BASE_ENVIRONMENT``: ``PATH``, ``HOME``, ``LANG``, ``LC_*``,
``TZ``, ``TMPDIR`` …) and the variables the project lists in ``evaluatorEnv`` (passed on as the
server has them).
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from interlock_core.config.registration import EVALUATOR_NAME
from interlock_core.model import FailureCategory, PipelineOrigin
from interlock_core.ports import EvaluatorInput, EvaluatorOutput, RunnerContext

from ..process_group import ProcessOutcome, run_in_process_group
from .output import (
    MAX_OUTPUT_BYTES,
    InputNotEncodable,
    encode_config,
    excerpt,
    failed,
    invalid_output,
    parse_output,
)

DEFAULT_TIMEOUT_SECONDS = 30.0
STDERR_KEEP_BYTES = 2048
BASE_ENVIRONMENT = frozenset({"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
                              "SYSTEMROOT"})
"""Variables every evaluator gets from the server's environment (and ``LC_*``); ``evaluatorEnv`` adds more."""


@dataclass(frozen=True)
class Resolution:
    """Where an evaluator was found (``path``), or why not (``failure``)."""

    path: Path | None = None
    failure: EvaluatorOutput | None = None


def _candidates(evaluator: str, evaluator_dirs: tuple[Path, ...]) -> Iterator[Path]:
    relative = Path(evaluator)
    if relative.is_absolute():
        yield relative
        return
    for directory in evaluator_dirs:
        yield directory / relative
    if "/" in evaluator:
        for directory in evaluator_dirs:
            yield directory.parent / relative
        yield Path.cwd() / relative


def resolve_evaluator(evaluator: str, evaluator_dirs: tuple[Path, ...], *, anywhere: bool = True) -> Resolution:
    """Find the executable for ``evaluator``; a FAIL says where it looked when it is not there.

    Without ``anywhere`` (a pipeline registered over the API) only a bare name in an evaluator
    directory is looked for: no path, no ``$PATH``."""
    if not evaluator.strip():
        return Resolution(
            failure=failed("EVALUATOR_NOT_FOUND: empty evaluator path", FailureCategory.PERMANENT)
        )
    if not anywhere:
        return _resolve_bare_name(evaluator, evaluator_dirs)
    looked: list[str] = []
    try:
        for candidate in _candidates(evaluator, evaluator_dirs):
            shown = os.path.normpath(candidate)
            if shown in looked:
                continue
            looked.append(shown)
            if candidate.is_file():
                if os.access(candidate, os.X_OK):
                    return Resolution(path=candidate)
                return Resolution(failure=_not_executable(candidate, "permission denied (no execute bit)"))
        if "/" not in evaluator:
            looked.append("$PATH")
            found = shutil.which(evaluator)
            if found:
                return Resolution(path=Path(found))
    except (OSError, ValueError) as exc:
        return Resolution(
            failure=failed(f"EVALUATOR_NOT_FOUND: {evaluator!r}: {exc}", FailureCategory.PERMANENT)
        )
    return Resolution(
        failure=failed(
            f"EVALUATOR_NOT_FOUND: {evaluator} (looked in: {', '.join(looked)})", FailureCategory.PERMANENT
        )
    )


def _resolve_bare_name(evaluator: str, evaluator_dirs: tuple[Path, ...]) -> Resolution:
    if not EVALUATOR_NAME.fullmatch(evaluator):
        reason = f"EVALUATOR_NOT_FOUND: {evaluator!r}: a pipeline registered via API names its evaluator by bare name"
        return Resolution(failure=failed(reason, FailureCategory.PERMANENT))
    for directory in evaluator_dirs:
        candidate = directory / evaluator
        try:
            if candidate.is_file():
                if os.access(candidate, os.X_OK):
                    return Resolution(path=candidate)
                return Resolution(failure=_not_executable(candidate, "permission denied (no execute bit)"))
        except (OSError, ValueError):
            continue
    looked = ", ".join(os.path.normpath(d) for d in evaluator_dirs) or "no evaluator directory"
    return Resolution(failure=failed(f"EVALUATOR_NOT_FOUND: {evaluator} (looked in: {looked})",
                                     FailureCategory.PERMANENT))


def _not_executable(path: Path, why: str) -> EvaluatorOutput:
    return failed(f"EVALUATOR_NOT_EXECUTABLE: {path}: {why}", FailureCategory.PERMANENT)


def encode_environment(variables: Mapping[str, str]) -> dict[bytes, bytes]:
    """``variables`` as the bytes a process is given (encoded once, not for every process)."""
    return {os.fsencode(name): os.fsencode(value) for name, value in variables.items()}


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _stderr_note(outcome: ProcessOutcome) -> str:
    text = outcome.stderr_tail.decode("utf-8", errors="replace").strip()
    if not text:
        return ""
    if len(outcome.stderr_tail) >= STDERR_KEEP_BYTES:
        text = "…" + text
    return f" (stderr: {text})"


def interpret(outcome: ProcessOutcome, timeout: float) -> EvaluatorOutput:
    """Map how the process ended to the evaluator's output (SPEC "Evaluator Protocol")."""
    stderr = _stderr_note(outcome)
    if outcome.timed_out:
        return failed(
            f"EVALUATOR_TIMEOUT: no result after {timeout:g}s; process group killed{stderr}",
            FailureCategory.TIMEOUT,
        )
    if outcome.stdout_overflow:
        return invalid_output(f"stdout exceeds {MAX_OUTPUT_BYTES} bytes; process group killed")
    code = outcome.returncode
    if code is None:  # pragma: no cover - only when a killed process cannot be reaped
        return failed(f"EVALUATOR_ERROR: process did not exit{stderr}", FailureCategory.EVALUATOR_CRASH)
    if code < 0:
        return failed(
            f"EVALUATOR_ERROR: killed by signal {_signal_name(-code)}{stderr}",
            FailureCategory.EVALUATOR_CRASH,
        )
    if code != 0:
        if code == 2:
            category = FailureCategory.PERMANENT
        elif code >= 128:  # a shell reporting a child killed by signal (128 + n)
            category = FailureCategory.EVALUATOR_CRASH
        else:
            category = FailureCategory.TRANSIENT
        return failed(f"EVALUATOR_ERROR: exit status {code}{stderr}", category)
    return parse_output(outcome.stdout, source="stdout")


class SubprocessRunner:
    """Runs every evaluator the other runners do not claim, as a local executable."""

    name: ClassVar[str] = "subprocess"
    priority: ClassVar[int] = 0

    def __init__(self, context: RunnerContext) -> None:
        self.context = context
        self._base_environment = encode_environment(self.base_environment())

    def handles(self, evaluator: str) -> bool:
        return True

    def base_environment(self) -> Mapping[str, str]:
        """What every evaluator's environment starts from, read once when the runner is made: never
        the server's whole environment (see the module documentation), only what a program needs to
        start and the variables ``evaluatorEnv`` names."""
        passed = BASE_ENVIRONMENT | frozenset(self.context.options.get("evaluator_env", ()))
        return {k: v for k, v in os.environ.items() if k in passed or k.startswith("LC_")}

    def environment(self, request: EvaluatorInput) -> dict[bytes, bytes]:
        """The base environment (encoded once) plus the cycle asked about, as ``INTERLOCK_*``."""
        env = self._base_environment.copy()
        env[b"INTERLOCK_PIPELINE_ID"] = os.fsencode(request.pipeline_id)
        env[b"INTERLOCK_TRAIT_TYPE"] = os.fsencode(request.trait_type)
        env[b"INTERLOCK_SCHEDULE_ID"] = os.fsencode(request.schedule_id)
        env[b"INTERLOCK_DATE"] = os.fsencode(request.date)
        return env

    async def run(self, evaluator: str, request: EvaluatorInput) -> EvaluatorOutput:
        resolution = resolve_evaluator(evaluator, tuple(self.context.evaluator_dirs),
                                       anywhere=request.origin is not PipelineOrigin.API)
        if resolution.path is None:
            assert resolution.failure is not None
            return resolution.failure
        path = resolution.path
        timeout = request.timeout if request.timeout > 0 else DEFAULT_TIMEOUT_SECONDS
        try:
            stdin = encode_config(request.config)
        except InputNotEncodable as exc:
            return exc.output()
        try:
            outcome = await run_in_process_group(
                [str(path)],
                stdin=stdin,
                env=self.environment(request),
                time_limit=timeout,
                max_stdout=MAX_OUTPUT_BYTES,
                stderr_keep=STDERR_KEEP_BYTES,
            )
        except FileNotFoundError as exc:
            # The file is there, so what is missing is its interpreter (a bad ``#!`` line).
            return _not_executable(path, f"cannot start: {exc.strerror or exc} (check its #! line)")
        except PermissionError as exc:
            return _not_executable(path, f"cannot start: {exc.strerror or exc}")
        except OSError as exc:  # e.g. exec format error: no #! line and not a binary
            return _not_executable(path, f"cannot start: {excerpt(exc.strerror or str(exc))}")
        except ValueError as exc:  # e.g. a NUL byte in the pipeline id given as environment
            return failed(
                f"EVALUATOR_ERROR: cannot start {path}: {excerpt(str(exc))}", FailureCategory.PERMANENT
            )
        return interpret(outcome, timeout)

    async def close(self) -> None:
        return None
