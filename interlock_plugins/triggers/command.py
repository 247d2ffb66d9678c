"""The ``command`` trigger: run a local program and wait for it.

The program runs without a shell (``command`` is split like a shell would split it, then each
word is expanded on its own, so a run variable can never inject arguments) unless ``shell: true``
asks for ``sh -c``. A script never has a value pasted into it: a run variable ``${date}`` is
rewritten to the shell parameter ``${INTERLOCK_DATE}`` (set in the environment), and every other
``${NAME}`` (``env:`` keys, the environment, a loop variable) is left to the shell, so a value
can never be read as shell syntax. It runs in its own process group, which is killed whole once
the program exited, on a timeout and on a cancelled launch: no background child outlives it (the
supervisor is the evaluator runner's, :mod:`interlock_plugins.process_group`).
Launch returns once the program exited: ``succeeded`` on exit 0, ``failed`` (TRANSIENT)
otherwise, with the exit code and the tail of its output.

The child's environment names the run: ``INTERLOCK_RUN_ID``, ``INTERLOCK_RUN_KEY`` (the idempotency
key: a relaunch after a crash between launch and record carries the same key), ``INTERLOCK_ATTEMPT``,
``INTERLOCK_RELAUNCH`` (0, or how often the run was relaunched under its key), ``INTERLOCK_PIPELINE_ID``,
``INTERLOCK_SCHEDULE_ID``, ``INTERLOCK_DATE`` (the cycle's date), ``INTERLOCK_CYCLE`` (the cycle key: the
date, or ``YYYY-MM-DDTHH:MM`` for a sub-daily cron schedule) and ``INTERLOCK_CALLBACK_URL``. A command that must run
exactly once keys its side effects on ``INTERLOCK_RUN_KEY``.
"""

from __future__ import annotations

import math
import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, model_validator

from interlock_core.cycles import is_sub_daily_key
from interlock_core.errors import TriggerError
from interlock_core.model import FailureCategory
from interlock_core.plugins import PluginContext
from interlock_core.ports import LaunchRequest, LaunchResult, PollResult

from ._common import Seconds, TriggerConfig, coerce_config, expand_config

if TYPE_CHECKING:
    from ..process_group import ProcessOutcome

DEFAULT_TIMEOUT = 3600.0
"""A command without ``timeout`` is still stopped after an hour."""
OUTPUT_TAIL_BYTES = 2048
KILL_GRACE_SECONDS = 1.0
"""On a timeout or a cancelled launch, how long the process group has between SIGTERM and SIGKILL."""
_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_.]*)(?::-[^}]*)?\}")
"""``${NAME}`` / ``${NAME:-default}`` as :mod:`interlock_core.templating` writes them."""


class CommandConfig(TriggerConfig):
    command: str | None = None
    argv: list[str] | None = None
    shell: bool = False
    timeout: Seconds | None = None
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_command(self) -> CommandConfig:
        if (self.command is None) == (self.argv is None):
            raise ValueError("give exactly one of 'command' (a string) or 'argv' (a list)")
        if self.argv is not None and not self.argv:
            raise ValueError("'argv' must not be empty")
        if self.command is not None:
            if not self.command.strip():
                raise ValueError("'command' must not be empty")
            if not self.shell:
                try:
                    shlex.split(self.command)
                except ValueError as exc:
                    raise ValueError(f"'command' cannot be split into words: {exc}") from None
        return self


class CommandTrigger:
    name: ClassVar[str] = "command"
    config_model: ClassVar[type[CommandConfig]] = CommandConfig
    pollable: ClassVar[bool] = False
    api_registrable: ClassVar[bool] = False

    def __init__(self, context: PluginContext | None = None) -> None:
        self._context = context or PluginContext()

    async def launch(self, config: Any, request: LaunchRequest) -> LaunchResult:
        # the supervisor is imported by the first launch: loading a project validates this trigger's
        # config (``status`` and ``validate`` import the class) but launches nothing
        from ..process_group import run_in_process_group

        cfg = coerce_config(CommandConfig, config)
        argv, cwd, extra_env = self._prepare(cfg, request)
        env = {**os.environ, **extra_env, **_run_environment(request)}
        timeout = cfg.timeout or DEFAULT_TIMEOUT
        try:
            outcome = await run_in_process_group(
                argv, env=env, cwd=cwd, time_limit=timeout, max_stdout=0, stdout_to_stderr=True,
                stderr_keep=OUTPUT_TAIL_BYTES, term_grace=KILL_GRACE_SECONDS)
        except FileNotFoundError as exc:
            raise TriggerError(f"command not found: {argv[0]} ({exc.strerror})",
                               category=FailureCategory.PERMANENT) from None
        except PermissionError as exc:
            raise TriggerError(f"command cannot be executed: {argv[0]} ({exc.strerror})",
                               category=FailureCategory.PERMANENT) from None
        except OSError as exc:
            raise TriggerError(f"command could not start: {argv[0]}: {exc}",
                               category=FailureCategory.PERMANENT) from None
        return _result(outcome, timeout)

    async def poll(self, config: Any, metadata: Mapping[str, Any]) -> PollResult:
        return PollResult(state="running", message="non-polling trigger type")

    async def close(self) -> None:
        return None

    def _prepare(self, cfg: CommandConfig, request: LaunchRequest) -> tuple[list[str], str, dict[str, str]]:
        if cfg.shell:
            expanded = expand_config({"cwd": cfg.cwd, "env": cfg.env}, request)
            script = cfg.command if cfg.command is not None else shlex.join(cfg.argv or [])
            argv = ["sh", "-c", expand_for_shell(script)]
            expanded["env"] = {**expanded["env"], **shell_parameters(request)}
        else:
            words = shlex.split(cfg.command) if cfg.command is not None else list(cfg.argv or [])
            expanded = expand_config({"argv": words, "cwd": cfg.cwd, "env": cfg.env}, request)
            argv = list(expanded["argv"])
        base = self._context.project_dir
        cwd = Path(expanded["cwd"]) if expanded["cwd"] else base
        if not cwd.is_absolute():
            cwd = base / cwd
        if not cwd.is_dir():
            raise TriggerError(f"command working directory does not exist: {cwd}",
                               category=FailureCategory.PERMANENT)
        if not argv or not argv[0]:
            raise TriggerError("command is empty", category=FailureCategory.PERMANENT)
        return argv, str(cwd), {str(k): str(v) for k, v in expanded["env"].items()}


SHELL_PARAMETERS = {
    "date": "INTERLOCK_DATE", "cycle": "INTERLOCK_CYCLE", "hour": "INTERLOCK_HOUR",
    "minute": "INTERLOCK_MINUTE", "scheduleID": "INTERLOCK_SCHEDULE_ID",
    "scheduleId": "INTERLOCK_SCHEDULE_ID", "pipelineID": "INTERLOCK_PIPELINE_ID",
    "pipelineId": "INTERLOCK_PIPELINE_ID", "runId": "INTERLOCK_RUN_ID", "runID": "INTERLOCK_RUN_ID",
    "runKey": "INTERLOCK_RUN_KEY", "attempt": "INTERLOCK_ATTEMPT", "callbackURL": "INTERLOCK_CALLBACK_URL",
    "callbackUrl": "INTERLOCK_CALLBACK_URL", "degraded": "INTERLOCK_DEGRADED",
}
"""The environment variable a run variable becomes in a ``shell: true`` script."""


def expand_for_shell(script: str) -> str:
    """Rewrite the run variables of a shell script as shell parameters (``${date}`` ->
    ``${INTERLOCK_DATE}``, ``${date:-x}`` -> ``${INTERLOCK_DATE:-x}``); leave every other ``${...}``
    to the shell. No value is ever pasted into the script, so none can inject shell syntax."""

    def repl(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        parameter = SHELL_PARAMETERS.get(match.group(1))
        if parameter is None:
            return match.group(0)
        return "${" + parameter + match.group(0)[2 + len(match.group(1)):]

    return _REFERENCE.sub(repl, script)


def shell_parameters(request: LaunchRequest) -> dict[str, str]:
    """The values :func:`expand_for_shell` refers to, as environment variables."""
    return {parameter: str(request.variables.get(name, "")) for name, parameter in SHELL_PARAMETERS.items()
            if name in request.variables}


def _run_environment(request: LaunchRequest) -> dict[str, str]:
    env = {
        "INTERLOCK_RUN_ID": request.run_id,
        "INTERLOCK_RUN_KEY": request.run_key,
        "INTERLOCK_PIPELINE_ID": request.pipeline_id,
        "INTERLOCK_SCHEDULE_ID": request.schedule_id,
        "INTERLOCK_DATE": request.date[:10] if is_sub_daily_key(request.date) else request.date,
        "INTERLOCK_CYCLE": request.date,
        "INTERLOCK_ATTEMPT": str(request.attempt),
        "INTERLOCK_RELAUNCH": str(request.relaunch),
    }
    if request.callback_url:
        env["INTERLOCK_CALLBACK_URL"] = request.callback_url
    return env


def _result(outcome: ProcessOutcome, limit_seconds: float) -> LaunchResult:
    """What the launch answers for how the program ended (its output is one interleaved tail)."""
    output = outcome.stderr_tail.decode("utf-8", errors="replace")
    if outcome.timed_out:
        raise TriggerError(f"command timed out after {_fmt(limit_seconds)}s; process group killed"
                           + (f"; output: {output[-300:]}" if output else ""),
                           category=FailureCategory.TIMEOUT)
    code = outcome.returncode if outcome.returncode is not None else -1
    metadata: dict[str, Any] = {"exitCode": code, "outputTail": output}
    if code == 0:
        return LaunchResult(state="succeeded", metadata=metadata, message="exit status 0")
    message = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
    return LaunchResult(state="failed", metadata=metadata, message=message,
                        failure_category=FailureCategory.TRANSIENT)


def _fmt(seconds: float) -> str:
    return str(int(seconds)) if math.isclose(seconds, round(seconds)) else f"{seconds:g}"
