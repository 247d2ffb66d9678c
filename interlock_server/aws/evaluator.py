"""The evaluator Lambda: one trait of one cycle, one item of the state machine's Map.

In: ``{"pipelineId", "scheduleId", "date", "traitType", ...}`` (an item of ``resolvePipeline``'s
``traits``). Out: the trait result ``{"traitType", "status", "value", "reason",
"failureCategory", "required", ...}``. The trait's evaluator, config, timeout and TTL come from
the stored pipeline, not from the item. A misbehaving evaluator is a FAIL result with a reason,
never a Lambda error; an unknown pipeline or an unreachable store raises.
"""

from __future__ import annotations

from typing import Any

from interlock_core.engine.steps import CycleRef

from . import payloads as p
from .init import runtime


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    data = p.mapping(event)
    pipeline_id, schedule_id, trait_type = (
        p.text(data, *names) for names in (("pipelineId", "pipelineID"), ("scheduleId", "scheduleID"),
                                           ("traitType",)))
    date = p.run_date(data)
    assert pipeline_id and schedule_id and date and trait_type
    cycle = CycleRef(pipeline_id, schedule_id, date)
    step = runtime().run(lambda steps: steps.evaluate_trait(cycle, trait_type))
    return step.payload
