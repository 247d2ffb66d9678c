"""The orchestrator Lambda: the state machine's lifecycle steps that are not evaluation, launch or
polling. ``{"action": <name>, "cycle": {...}, "owner": <execution name>, ...}`` in,
``{"action", "result": "proceed" | "skip", "payload"}`` out.

Every action is a call of :class:`interlock_core.engine.steps.Steps`; this module only reads the
event. Failures raise (the Lambda error's type is the exception class, e.g. ``StoreUnavailable``,
``NotFoundError``), so the state machine's Retry and Catch decide what happens next.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from interlock_core.engine.steps import Step, Steps
from interlock_core.errors import ValidationError

from . import payloads as p
from .init import runtime

Action = Callable[[Steps, Mapping[str, Any]], Awaitable[Step]]


async def _check_exclusion(steps: Steps, event: Mapping[str, Any]) -> Step:
    cycle = await steps.resolve_cycle(**p.request(event))
    return await steps.check_exclusion(cycle)


async def _release_lease(steps: Steps, event: Mapping[str, Any]) -> Step:
    """Also called from the error path with the whole state, which may not hold a cycle yet."""
    state = event.get("state")
    source = state if isinstance(state, Mapping) else event
    if not isinstance(source.get("cycle"), Mapping):
        return Step(True, {"released": False, "reason": "no cycle was resolved"})
    return await steps.release_lease(p.cycle(source), p.owner(event))


async def _check_readiness(steps: Steps, event: Mapping[str, Any]) -> Step:
    results = event.get("traitResults")
    if not isinstance(results, list):
        raise ValidationError("traitResults must be a list", field="traitResults")
    return await steps.check_readiness(p.cycle(event), results)


async def _stop_polling(steps: Steps, event: Mapping[str, Any]) -> Step:
    return await steps.stop_polling(p.cycle(event), p.run_id(event), p.optional_int(event, "polls") or 0)


ACTIONS: dict[str, Action] = {
    "checkExclusion": _check_exclusion,
    "acquireLease": lambda s, e: s.acquire_lease(p.cycle(e), p.owner(e)),
    "checkRunLog": lambda s, e: s.check_run_log(p.cycle(e), p.owner(e)),
    "resolvePipeline": lambda s, e: s.resolve_traits(p.cycle(e)),
    "checkReadiness": _check_readiness,
    "checkEvaluationSLA": lambda s, e: s.check_evaluation_sla(p.cycle(e)),
    "checkValidationTimeout": lambda s, e: s.check_validation_timeout(p.cycle(e)),
    "checkCompletionSLA": lambda s, e: s.check_completion_sla(p.cycle(e)),
    "logResult": lambda s, e: s.record_outcome(p.cycle(e), p.run_id(e), p.owner(e)),
    "stopPolling": _stop_polling,
    "notifyDownstream": lambda s, e: s.notify_downstream(p.cycle(e), p.run_id(e)),
    "monitor": lambda s, e: s.monitor(p.cycle(e), p.run_id(e), p.owner(e)),
    "releaseLease": _release_lease,
}


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    data = p.mapping(event)
    action = data.get("action")
    step = ACTIONS.get(action) if isinstance(action, str) else None
    if step is None:
        raise ValidationError(f"unknown action: {action}", field="action")
    result = runtime().run(lambda steps: step(steps, data))
    return {"action": action, **result.to_json()}
