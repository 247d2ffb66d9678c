"""Injected faults: a store that fails on the next N calls, an alert sink that fails on demand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from interlock_core.alerts import AlertDeliveryError, AlertDispatcher
from interlock_core.errors import StoreUnavailable
from interlock_core.model import Alert, TraitEvaluation

from .oracle import observe_stored

UNFAILING = frozenset({"start", "close", "ping"})


class FaultyStore:
    """Wraps a real store. ``fail(n, lost_reply)`` makes the next ``n`` calls raise
    :class:`StoreUnavailable` — before reaching the store, or (``lost_reply``) after the store
    applied them, as when a reply is lost. ``get_trait`` results are noted for the oracle."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.failures = 0
        self.skip = 0
        self.lost_reply = False
        self.calls = 0
        self.injected = 0
        self._wrapped: dict[str, Callable[..., Any]] = {}

    def fail(self, count: int, *, lost_reply: bool = False, skip: int = 0) -> None:
        """Fail ``count`` calls, after letting the next ``skip`` through (so faults land anywhere)."""
        self.failures = count
        self.skip = skip
        self.lost_reply = lost_reply

    def heal(self) -> None:
        self.failures = 0
        self.skip = 0

    def __getattr__(self, name: str) -> Any:
        if name in self._wrapped:
            return self._wrapped[name]
        attr = getattr(self.inner, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if name not in UNFAILING and self.failures > 0 and self.skip > 0:
                self.skip -= 1
            elif name not in UNFAILING and self.failures > 0:
                self.failures -= 1
                self.injected += 1
                if self.lost_reply:
                    await attr(*args, **kwargs)
                raise StoreUnavailable(f"injected store outage on {name}")
            result = await attr(*args, **kwargs)
            if name == "get_trait":
                record: TraitEvaluation | None = result
                observe_stored(args[0], args[1], record.status if record is not None else "MISSING")
            return result

        self._wrapped[name] = call
        return call


class MemorySink:
    """An alert sink that keeps what it delivered and fails the next ``fail_next`` sends."""

    name = "memory"

    def __init__(self) -> None:
        self.delivered: list[Alert] = []
        self.fail_next = 0

    async def send(self, alert: Alert) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise AlertDeliveryError("injected sink failure")
        self.delivered.append(alert)

    async def close(self) -> None:
        return None


class RecordingAlerts:
    """What the engine submits alerts to: notes each alert, then hands it to the real dispatcher."""

    def __init__(self, dispatcher: AlertDispatcher, submitted: list[Alert]) -> None:
        self.dispatcher = dispatcher
        self.submitted = submitted

    def submit(self, alert: Alert) -> None:
        self.submitted.append(alert)
        self.dispatcher.submit(alert)
