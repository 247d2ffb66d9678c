"""Live updates: server-sent events saying which pipelines changed, so open pages refresh by themselves.

The feed listens where the watcher does: the engine's wake-ups (a pushed trait, a run that ended,
a cascade marker) and every event the engine records (an evaluation, a run that started). With a
notifier shared between replicas (Redis), each stream also follows its wake-ups, so a run
completed on another replica shows up too. A stream says *which* pipelines changed; the page
fetches itself again and swaps the parts that changed (no HTML travels over the stream).

A stream ends after ``STREAM_SECONDS`` and the browser reconnects (and refreshes once), which keeps
relative times fresh. :meth:`LiveFeed.close` ends every stream at once: a graceful shutdown calls
it so that open dashboards do not hold the server until its drain timeout.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

import anyio
from starlette.types import Receive, Scope, Send

from interlock_core.engine import Engine
from interlock_core.model import Event
from interlock_core.notify import LocalNotifier
from interlock_core.ports import Notifier, WakeUp

log = logging.getLogger("interlock.dashboard")

STREAM_SECONDS = 30.0
HEARTBEAT_SECONDS = 10.0
COALESCE_SECONDS = 0.15
RECONNECT_MILLISECONDS = 1500


class Subscription:
    """One open stream: the pipelines changed since it last sent, and a signal."""

    def __init__(self) -> None:
        self.changed: set[str] = set()
        self.closed = False
        self._signal = anyio.Event()

    def notify(self, pipeline_id: str) -> None:
        self.changed.add(pipeline_id)
        self._signal.set()

    async def wait(self) -> None:
        await self._signal.wait()
        self._signal = anyio.Event()

    def take(self) -> list[str]:
        names, self.changed = sorted(self.changed), set()
        return names

    def close(self) -> None:
        self.closed = True
        self._signal.set()


class LiveFeed:
    def __init__(self, engine: Engine) -> None:
        self._subscriptions: set[Subscription] = set()
        self._closed = False
        ctx = engine.ctx
        ctx.wake_listeners.append(self._on_wake)
        previous = ctx.on_event

        async def on_event(event: Event) -> None:
            self.publish(event.pipeline_id)
            if previous is not None:
                await previous(event)

        ctx.on_event = on_event
        self._remote: Notifier | None = None if isinstance(ctx.notifier, LocalNotifier) else ctx.notifier

    def _on_wake(self, wake: WakeUp) -> None:
        self.publish(wake.pipeline_id)

    def publish(self, pipeline_id: str) -> None:
        for subscription in list(self._subscriptions):
            subscription.notify(pipeline_id)

    @property
    def listeners(self) -> int:
        return len(self._subscriptions)

    def close(self) -> None:
        """End every open stream now, and any stream opened from now on at once."""
        self._closed = True
        for subscription in list(self._subscriptions):
            subscription.close()

    def response(self) -> LiveResponse:
        return LiveResponse(self)

    # ------------------------------------------------------------------------------ one stream
    async def stream(self, write: Callable[[str], Awaitable[None]], *, seconds: float = STREAM_SECONDS) -> None:
        subscription = Subscription()
        if self._closed:
            subscription.close()
        self._subscriptions.add(subscription)
        try:
            async with anyio.create_task_group() as tg:
                if self._remote is not None:
                    tg.start_soon(self._follow_remote, self._remote, subscription)
                await write(f"retry: {RECONNECT_MILLISECONDS}\nevent: hello\ndata: {{}}\n\n")
                with anyio.move_on_after(seconds):
                    while not subscription.closed:
                        with anyio.move_on_after(HEARTBEAT_SECONDS):
                            await subscription.wait()
                        if subscription.closed:
                            break
                        if not subscription.changed:
                            await write(": keep-alive\n\n")
                            continue
                        await anyio.sleep(COALESCE_SECONDS)  # one refresh for a burst of events
                        await write(f"event: change\ndata: {json.dumps(subscription.take())}\n\n")
                tg.cancel_scope.cancel()
        finally:
            self._subscriptions.discard(subscription)

    @staticmethod
    async def _follow_remote(notifier: Notifier, subscription: Subscription) -> None:
        try:
            async for wake in notifier.subscribe():
                subscription.notify(wake.pipeline_id)
        except Exception:  # the stream still has local events and the page its reconnect refresh
            log.warning("live updates lost the shared wake-up channel", exc_info=True)


class LiveResponse:
    """``text/event-stream`` until the stream ends or the browser goes away."""

    def __init__(self, feed: LiveFeed) -> None:
        self.feed = feed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-store"),
            (b"x-accel-buffering", b"no")]})

        async def write(text: str) -> None:
            await send({"type": "http.response.body", "body": text.encode(), "more_body": True})

        async with anyio.create_task_group() as tg:
            async def until_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                tg.cancel_scope.cancel()

            tg.start_soon(until_disconnect)
            try:
                await self.feed.stream(write)
            except OSError:
                pass  # the connection went away mid-write
            tg.cancel_scope.cancel()
        with anyio.CancelScope(shield=True):
            try:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            except OSError:
                pass
