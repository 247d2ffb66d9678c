"""The trigger Lambda: claim the attempt the run-log gate allowed and launch the job.

In: ``{"cycle", "owner", "runLogVersion", "rerunId", "degraded"?}`` (``degraded``: why the job
runs although its cycle is not ready, ``onDeadline: trigger``). Out: ``{"result", "payload"}`` where
``payload.state`` is ``running`` (poll it), ``succeeded`` or ``failed`` (the launch itself ended
the job, or could not start it), and ``payload.outcome`` is ``claim_lost`` when another caller
claimed the cycle first. A failed launch is recorded as a FAILED run (with its failure category)
by the lifecycle, not raised.
"""

from __future__ import annotations

from typing import Any

from . import payloads as p
from .init import runtime


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    data = p.mapping(event)
    cycle, owner = p.cycle(data), p.owner(data)
    version = p.optional_int(data, "runLogVersion")
    rerun_id = p.text(data, "rerunId", required=False)
    degraded = p.text(data, "degraded", required=False)  # onDeadline: trigger, with its reason
    step = runtime().run(lambda steps: steps.launch(cycle, owner, run_log_version=version, rerun_id=rerun_id,
                                                    degraded=degraded))
    return step.to_json()
