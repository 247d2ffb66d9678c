"""The live feed: the engine's events and wake-ups become server-sent events naming pipelines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from interlock_core.model import Event, EventKind
from interlock_core.ports import WakeUp
from interlock_server.dashboard.live import LiveFeed

from .conftest import Site
from .test_pages import gated


async def next_message(received: MemoryObjectReceiveStream[str]) -> str:
    with anyio.fail_after(5):
        while True:
            message = await received.receive()
            if not message.startswith(":"):  # keep-alives
                return message


async def test_events_and_wake_ups_name_the_pipelines_that_changed(make_site: Callable[..., Any]) -> None:
    site: Site = await make_site(pipelines=[gated("sales", "http://127.0.0.1:9/run")])
    feed = LiveFeed(site.engine)
    send, received = anyio.create_memory_object_stream[str](100)
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: feed.stream(send.send, seconds=30))
        hello = await next_message(received)
        assert hello.startswith("retry: ") and "event: hello" in hello
        assert feed.listeners == 1
        await site.engine.evaluate("sales")  # several events, one refresh
        assert await next_message(received) == 'event: change\ndata: ["sales"]\n\n'
        for listener in site.engine.ctx.wake_listeners:
            listener(WakeUp(pipeline_id="orders", reason="cascade"))
        assert await next_message(received) == 'event: change\ndata: ["orders"]\n\n'
        tg.cancel_scope.cancel()
    assert feed.listeners == 0


async def test_the_feed_keeps_an_existing_event_listener(make_site: Callable[..., Any]) -> None:
    site: Site = await make_site(pipelines=[gated("sales", "http://127.0.0.1:9/run")])
    seen: list[str] = []

    async def before(event: Event) -> None:
        seen.append(event.pipeline_id)

    site.engine.ctx.on_event = before
    feed = LiveFeed(site.engine)
    subscription_hits: list[str] = []
    feed.publish = subscription_hits.append  # type: ignore[method-assign,assignment]
    await site.engine.ctx.emit(EventKind.TRAIT_PUSHED, "sales")
    assert seen == ["sales"] and subscription_hits == ["sales"]


async def test_a_stream_ends_by_itself_and_tells_the_browser_when_to_come_back(make_site: Callable[..., Any]) -> None:
    site: Site = await make_site()
    feed = LiveFeed(site.engine)
    written: list[str] = []

    async def write(text: str) -> None:
        written.append(text)

    await feed.stream(write, seconds=0)
    assert written == ["retry: 1500\nevent: hello\ndata: {}\n\n"]
    assert feed.listeners == 0


async def test_closing_the_feed_ends_every_stream_at_once(make_site: Callable[..., Any]) -> None:
    site: Site = await make_site()
    feed = LiveFeed(site.engine)
    send, received = anyio.create_memory_object_stream[str](100)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: feed.stream(send.send, seconds=3600))
            await next_message(received)
            feed.close()  # the task group exits only when the stream has ended
    assert feed.listeners == 0
    written: list[str] = []

    async def write(text: str) -> None:
        written.append(text)

    with anyio.fail_after(5):
        await feed.stream(write, seconds=3600)  # a stream opened after closing ends at once
    assert len(written) == 1
