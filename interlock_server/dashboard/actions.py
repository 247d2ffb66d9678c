"""The buttons: evaluate, run and rerun, and sending a dead-lettered alert again, through the
engine's one control path.

Only a full API key (or an open server) may act, with the page's CSRF token. A page's script
posts with ``Accept: application/json`` and shows the answer in place; a plain form post is
answered with a redirect back to the pipeline and a one-shot notice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from interlock_core.dates import run_date_problem
from interlock_core.engine import Engine, Outcome, RunOutcome
from interlock_core.errors import InterlockError
from interlock_core.redaction import redact_text

from .session import DashboardAuth, base_path, csrf_ok
from .web import form_fields, login_redirect, redirect, with_notice

DEFAULT_RERUN_REASON = "rerun requested from the dashboard"


@dataclass(frozen=True)
class Answer:
    level: str  # ok | warn | error
    message: str


Work = Callable[[str, dict[str, str]], Awaitable[Answer]]


class Actions:
    def __init__(self, engine: Engine, auth: DashboardAuth) -> None:
        self.engine = engine
        self.auth = auth

    async def evaluate(self, request: Request) -> Response:
        return await self._act(request, self._evaluate)

    async def run(self, request: Request) -> Response:
        return await self._act(request, self._run)

    async def rerun(self, request: Request) -> Response:
        return await self._act(request, self._rerun)

    async def retry_alert(self, request: Request) -> Response:
        return await self._act(request, self._retry_alert, back="alerts")

    # ------------------------------------------------------------------------------ the work
    async def _evaluate(self, name: str, fields: dict[str, str]) -> Answer:
        result = await self.engine.evaluate(name, schedule_id=fields.get("schedule") or None)
        if result.ready:
            return Answer("ok", f"Evaluated {name}: READY")
        return Answer("warn", f"Evaluated {name}: NOT READY, blocked by {', '.join(result.blocking)}")

    async def _run(self, name: str, fields: dict[str, str]) -> Answer:
        outcome = await self.engine.start_run(name, fields.get("schedule") or None, None)
        return _outcome_answer(outcome)

    async def _rerun(self, name: str, fields: dict[str, str]) -> Answer:
        day = fields.get("date", "").strip()
        if run_date_problem(day) is not None:
            return Answer("error", "Rerun: give the date to run again as YYYY-MM-DD "
                                   "(a sub-daily cycle as YYYY-MM-DDTHH:MM)")
        reason = fields.get("reason", "").strip()[:500] or DEFAULT_RERUN_REASON
        record, outcome = await self.engine.request_rerun(name, day, reason,
                                                          schedule_id=fields.get("schedule") or None,
                                                          force=fields.get("force") == "on")
        if outcome is None:
            return Answer("ok", f"Rerun {record.rerun_id} of {day} recorded ({record.status.value})")
        answer = _outcome_answer(outcome)
        return Answer(answer.level, f"Rerun {record.rerun_id} of {day}: {answer.message}")

    async def _retry_alert(self, alert_id: str, fields: dict[str, str]) -> Answer:
        record = await self.engine.retry_alert(alert_id)
        return Answer("ok", f"Alert {record.id} to {record.sink} sent again")

    # ------------------------------------------------------------------------------ plumbing
    async def _act(self, request: Request, work: Work, *, back: str = "pipelines") -> Response:
        wants_json = "application/json" in request.headers.get("accept", "")
        viewer = self.auth.viewer(request)
        if viewer is None:
            return _refused(401, "sign in first") if wants_json else login_redirect(request)
        fields = await form_fields(request)
        if not viewer.can_act:
            return _refused(403, "this API key may only read")
        if not csrf_ok(request, viewer, fields.get("csrf")):
            return _refused(403, "the form expired: reload the page and try again")
        name = request.path_params.get("name") or request.path_params["alertId"]
        try:
            answer = await work(name, fields)
        except InterlockError as exc:
            answer = Answer("error", exc.message)
        answer = Answer(answer.level, redact_text(answer.message))
        if wants_json:
            return JSONResponse({"level": answer.level, "message": answer.message},
                                headers={"Cache-Control": "no-store"})
        target = f"{base_path(request)}/pipelines/{name}" if back == "pipelines" else f"{base_path(request)}/alerts"
        return with_notice(redirect(target), request, answer.level, answer.message)


def _refused(status: int, message: str) -> Response:
    return JSONResponse({"level": "error", "message": message}, status_code=status)


def _outcome_answer(outcome: RunOutcome) -> Answer:
    if outcome.outcome is Outcome.TRIGGERED:
        run = outcome.run
        if run is not None and run.failure_message:
            return Answer("error", f"Launch failed: {run.failure_message}")
        if run is None:
            return Answer("ok", f"Run started for {outcome.date}")
        return Answer("ok", f"Run {run.run_id} started for {outcome.date} ({run.status.value})")
    return Answer("warn", outcome.message)
