"""The run-checker Lambda: where a launched run stands.

In: ``{"cycle", "owner", "runId"}``. Out: ``{"result", "payload"}`` with ``payload.state``
``running`` / ``succeeded`` / ``failed``. A RUNNING job is polled through its trigger type; a
completion callback that arrived through the API meanwhile is simply read from the store.
"""

from __future__ import annotations

from typing import Any

from . import payloads as p
from .init import runtime


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    data = p.mapping(event)
    cycle, owner, run_id = p.cycle(data), p.owner(data), p.run_id(data)
    step = runtime().run(lambda steps: steps.poll(cycle, run_id, owner))
    return step.to_json()
