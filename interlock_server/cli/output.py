"""Terminal output: colours on a TTY only, JSON for scripts."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

from interlock_core.model import ReadinessResult, RunStatus, TraitEvaluation

EXIT_OK = 0
EXIT_BLOCKED = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class Out:
    def __init__(self, stream: TextIO | None = None, *, json_mode: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.json_mode = json_mode
        self.color = self.stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"

    def paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def green(self, t: str) -> str:
        return self.paint(t, "32")

    def red(self, t: str) -> str:
        return self.paint(t, "31")

    def yellow(self, t: str) -> str:
        return self.paint(t, "33")

    def cyan(self, t: str) -> str:
        return self.paint(t, "36")

    def bold(self, t: str) -> str:
        return self.paint(t, "1")

    def dim(self, t: str) -> str:
        return self.paint(t, "2")

    def line(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

    def json(self, data: Any) -> None:
        print(json.dumps(data, indent=2, default=str), file=self.stream, flush=True)

    # ------------------------------------------------------------------------ domain
    def status_word(self, status: str) -> str:
        if status in (RunStatus.COMPLETED, "READY", "PASS", "on time"):
            return self.green(status)
        if status in (RunStatus.FAILED, RunStatus.CANCELLED, "NOT_READY", "FAIL", "ERROR", "breached"):
            return self.red(status)
        if status in ("STALE", "RETRYING", RunStatus.SKIPPED, "at risk"):
            return self.yellow(status)
        return self.cyan(status)

    def trait_line(self, ev: TraitEvaluation, indent: str = "  ") -> str:
        if ev.status == "PASS":
            mark, word = self.green("✓"), self.green("PASS")
        elif ev.status == "STALE":
            mark, word = self.yellow("○"), self.yellow("STALE")
        else:
            mark, word = self.red("✗"), self.red(ev.status)
        extra = []
        if ev.reason and ev.status != "PASS":
            extra.append(ev.reason)
        if ev.failure_category:
            extra.append(ev.failure_category.value)
        timing = self.dim(f" {ev.duration_ms:.0f}ms") if ev.duration_ms is not None else ""
        detail = f" ({'; '.join(extra)})" if extra else ""
        return f"{indent}{mark} {ev.trait_type}: {word}{detail}{timing}"

    def readiness(self, result: ReadinessResult) -> None:
        self.line()
        self.line(self.bold(f"Pipeline: {result.pipeline_id}") +
                  self.dim(f"  ({result.schedule_id or 'daily'} {result.date or ''})".rstrip()))
        if result.excluded:
            traits = "traits ready" if result.ready else "traits not ready"
            self.line(f"Status: {self.yellow('EXCLUDED')}  ({traits})")
            self.line(self.yellow(result.excluded))
        elif result.ready:
            self.line(f"Status: {self.green('READY ✓')}")
        else:
            self.line(f"Status: {self.red('NOT READY ✗')}")
        if not result.ready and result.blocking:
            self.line(self.red("Blocking traits:"))
            for entry in result.blocking:
                self.line(f"  - {entry}")
        self.line()
        self.line("Trait evaluations:")
        for ev in result.traits:
            self.line(self.trait_line(ev))
        self.line()
