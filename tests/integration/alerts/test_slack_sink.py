"""The slack sink against a local fake of Slack's Web API (``fake_slack_api``): one thread per
pipeline and cycle kept in the store across restarts, severity colours, dashboard links, Slack's
rate-limit and error answers, the token never shown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pydantic
import pytest
from fake_slack_api import FakeSlack

from interlock_core.alerts import AlertDeliveryError
from interlock_core.clock import FakeClock
from interlock_core.model import Alert, AlertLevel
from interlock_core.plugins import PluginContext
from interlock_core.sink_state import StoreSinkState
from interlock_plugins.alerts.slack import SlackSink, SlackSinkConfig
from interlock_plugins.stores.sqlite import SQLiteStore
from tests.integration.triggers.serve_asgi import closed_port, serving

WHEN = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
async def slack() -> AsyncIterator[tuple[FakeSlack, str]]:
    fake = FakeSlack()
    async with serving(fake.app()) as url:
        yield fake, url + "/api"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "interlock.db", clock=FakeClock())
    await opened.start()
    yield opened
    await opened.close()


def make_sink(api_url: str, store: SQLiteStore | None = None, *, public_url: str | None = None,
              **options: Any) -> SlackSink:
    config = SlackSinkConfig.model_validate({"token": FakeSlack.token, "channel": "C0ALERTS", "apiURL": api_url,
                                             **options})
    context = PluginContext(project_dir=Path.cwd(), state=StoreSinkState(store) if store else None,
                            public_url=public_url)
    return SlackSink(config, context)


def alert(message: str, level: AlertLevel = AlertLevel.ERROR, pipeline: str | None = "sales",
          date: str | None = "2026-03-02", **fields: Any) -> Alert:
    return Alert(level=level, message=message, pipeline_id=pipeline, timestamp=WHEN, schedule_id="daily",
                 date=date, **fields)


async def test_one_thread_per_pipeline_and_cycle_kept_across_a_restart(
        slack: tuple[FakeSlack, str], store: SQLiteStore) -> None:
    fake, url = slack
    sink = make_sink(url, store, public_url="https://interlock.example.com")
    await sink.send(alert("Pipeline sales blocked by: [volume]", AlertLevel.WARNING))
    await sink.send(alert("Pipeline sales completion SLA breached: cycle NOT_STARTED past 10:00"))
    await sink.send(alert("Pipeline orders blocked by: [volume]", AlertLevel.WARNING, pipeline="orders"))
    await sink.send(alert("Pipeline sales blocked by: [volume]", AlertLevel.WARNING, date="2026-03-03"))
    await sink.close()
    restarted = make_sink(url, store, public_url="https://interlock.example.com")  # a new process, one store
    await restarted.send(alert("Pipeline sales SLA met: cycle 2026-03-02/daily completed", AlertLevel.INFO))
    await restarted.close()

    root = fake.posted[0]
    story = fake.thread(root.ts)
    assert [p.text for p in story] == [
        ":large_orange_circle: Pipeline sales blocked by: [volume]",
        ":red_circle: Pipeline sales completion SLA breached: cycle NOT_STARTED past 10:00",
        ":large_green_circle: Pipeline sales SLA met: cycle 2026-03-02/daily completed"]
    assert root.thread_ts is None and all(p.thread_ts == root.ts for p in story[1:])
    assert story[1].body.get("reply_broadcast") is True  # an error also shows in the channel
    assert "reply_broadcast" not in story[2].body
    others = [p for p in fake.posted if p not in story]
    assert [p.thread_ts for p in others] == [None, None]  # another pipeline, another cycle: own threads
    colours = [p.body["attachments"][0]["color"] for p in story]
    assert colours == ["#ECB22E", "#E01E5A", "#2EB67D"]
    context = story[1].body["attachments"][0]["blocks"][1]["elements"][0]["text"]
    assert "*sales*" in context and "daily 2026-03-02" in context
    assert "<https://interlock.example.com/pipelines/sales|Open in Interlock>" in context


async def test_without_a_store_or_a_public_url(slack: tuple[FakeSlack, str]) -> None:
    fake, url = slack
    sink = make_sink(url, threads=True)
    await sink.send(alert("first"))
    await sink.send(alert("second"))
    await sink.send(alert("a system alert", pipeline=None))
    await sink.close()
    assert fake.posted[1].thread_ts == fake.posted[0].ts  # threads kept in memory
    assert fake.posted[2].thread_ts is None
    assert "Open in Interlock" not in str(fake.posted[0].body)
    flat = make_sink(url, threads=False)
    await flat.send(alert("third"))
    await flat.close()
    assert fake.posted[3].thread_ts is None


async def test_text_from_a_pipeline_cannot_ping_or_link(slack: tuple[FakeSlack, str]) -> None:
    fake, url = slack
    sink = make_sink(url)
    await sink.send(alert("Trait t failed for sales: <!channel> see <https://evil.example|here> & more",
                          trait_type="t<x>"))
    await sink.close()
    body = str(fake.posted[0].body)
    assert "<!channel>" not in body and "<https://evil.example" not in body
    assert "&lt;!channel&gt;" in fake.posted[0].text and "&amp; more" in fake.posted[0].text


async def test_rate_limits_are_waits_and_refusals_are_for_good(slack: tuple[FakeSlack, str]) -> None:
    fake, url = slack
    sink = make_sink(url)
    fake.limit(retry_after=7)
    with pytest.raises(AlertDeliveryError) as limited:
        await sink.send(alert("one"))
    assert limited.value.retry_after == 7 and not limited.value.permanent
    fake.fail("ratelimited")  # an ok:false answer without the header: a second
    with pytest.raises(AlertDeliveryError) as soft:
        await sink.send(alert("one"))
    assert soft.value.retry_after == 1
    fake.fail("internal_error")
    with pytest.raises(AlertDeliveryError) as transient:
        await sink.send(alert("one"))
    assert not transient.value.permanent and transient.value.retry_after is None
    fake.fail(status=503)
    with pytest.raises(AlertDeliveryError, match="HTTP 503") as unavailable:
        await sink.send(alert("one"))
    assert not unavailable.value.permanent
    await sink.send(alert("one"))
    assert [p.text for p in fake.posted] == [":red_circle: one"]

    for channel, error in (("C0QUIET", "not_in_channel"), ("C0NOWHERE", "channel_not_found")):
        elsewhere = make_sink(url, channel=channel)
        with pytest.raises(AlertDeliveryError, match=error) as refused:
            await elsewhere.send(alert("two"))
        assert refused.value.permanent
        await elsewhere.close()
    await sink.close()


async def test_a_thread_whose_first_message_is_gone_starts_again(slack: tuple[FakeSlack, str],
                                                                store: SQLiteStore) -> None:
    fake, url = slack
    state = StoreSinkState(store)
    await state.put_if_absent("slack-thread:C0ALERTS:sales:2026-03-02", "1700000000.000001", 3600)
    sink = make_sink(url, store)
    await sink.send(alert("after the thread's message was deleted"))
    await sink.close()
    assert fake.posted[0].thread_ts is None


async def test_the_token_is_never_shown(slack: tuple[FakeSlack, str], tmp_path: Path) -> None:
    fake, url = slack
    config = SlackSinkConfig.model_validate({"token": fake.token, "channel": "C0ALERTS", "apiURL": url})
    assert fake.token not in repr(config) and fake.token not in config.model_dump_json()
    wrong = make_sink(url, token="xoxb-someone-else")
    with pytest.raises(AlertDeliveryError) as refused:
        await wrong.send(alert("x"))
    assert refused.value.permanent and "invalid_auth" in refused.value.message
    await wrong.close()
    nowhere = make_sink(f"http://127.0.0.1:{closed_port()}/api")
    with pytest.raises(AlertDeliveryError) as failed:
        await nowhere.send(alert("x"))
    assert fake.token not in failed.value.message and not failed.value.permanent
    assert fake.token not in repr(nowhere)
    await nowhere.close()
    for bad in ({"channel": "C0ALERTS"}, {"token": "xoxb-a b", "channel": "C"}, {"token": "t", "channel": ""},
                {"token": "t", "channel": "C", "apiURL": "ftp://slack"}):
        with pytest.raises(pydantic.ValidationError):
            SlackSinkConfig.model_validate(bad)
