"""Launch requests as the engine builds them, for trigger tests."""

from __future__ import annotations

from collections.abc import Callable

from interlock_core.ports import LaunchRequest
from interlock_core.templating import run_variables

MakeRequest = Callable[..., LaunchRequest]
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
TRACE_CONTEXT = {"traceparent": TRACEPARENT, "tracestate": "vendor=1"}
"""What the engine hands a trigger when tracing is on (the launch span's W3C context)."""


def launch_request(pipeline_id: str = "daily-sales", schedule_id: str = "h07", date: str = "2026-03-02",
                   attempt: int = 1, run_key: str | None = None, run_id: str | None = None,
                   callback_url: str | None = None, relaunch: int = 0,
                   trace_context: dict[str, str] | None = None) -> LaunchRequest:
    run_key = run_key or f"{pipeline_id}:{schedule_id}:{date}:{attempt}"
    run_id = run_id or f"run-{attempt}-0001"
    return LaunchRequest(
        pipeline_id=pipeline_id,
        run_id=run_id,
        run_key=run_key,
        schedule_id=schedule_id,
        date=date,
        attempt=attempt,
        variables=run_variables(pipeline_id, schedule_id, date, run_id, run_key, attempt, callback_url or ""),
        callback_url=callback_url,
        relaunch=relaunch,
        trace_context=trace_context or {},
    )
