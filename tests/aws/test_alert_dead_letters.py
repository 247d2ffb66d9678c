"""Alerts the Lambda functions cannot publish go to the alert dead-letter queue (``ALERT_DLQ_URL``),
against moto in server mode: a Lambda runtime on a moto DynamoDB table raises an alert in a step;
the SNS topic it publishes to does not exist, so every attempt fails; once the outbox sender has
spent its attempts the alert must arrive in the SQS queue as the JSON the topic would have carried,
with the ``ALERT_FAILED`` event saying so."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from interlock_core.model import AlertLevel, AlertStatus, EventKind
from interlock_plugins.stores.dynamodb import DynamoDBStore
from interlock_server.aws import dead_letters, init
from tests.aws.stack import ShiftedClock
from tests.moto_server import FAKE_ACCOUNT, FAKE_REGION, MotoServer, fake_aws_environment

MISSING_TOPIC = f"arn:aws:sns:{FAKE_REGION}:{FAKE_ACCOUNT}:no-such-topic"


@pytest.fixture
def moto(aws_moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    fake_aws_environment(monkeypatch, aws_moto_server)
    aws_moto_server.reset()
    monkeypatch.setattr(dead_letters, "ALERT_RETRY_BACKOFF_SECONDS", 0.0)  # the attempts, without the waits
    return aws_moto_server


def client(moto: MotoServer, service: str) -> Any:
    return boto3.client(service, region_name=FAKE_REGION, endpoint_url=moto.url)


@pytest.fixture
def make_runtime(moto: MotoServer) -> Iterator[Callable[..., init.LambdaRuntime]]:
    made: list[init.LambdaRuntime] = []

    def make(topic_arn: str, dead_letter_url: str | None) -> init.LambdaRuntime:
        table = f"interlock-{uuid.uuid4().hex[:8]}"
        env = {"TABLE_NAME": table, "AWS_REGION": FAKE_REGION, "SNS_TOPIC_ARN": topic_arn,
               "AWS_ENDPOINT_URL": moto.url, "ARCHETYPE_DIR": "/nonexistent", "ALERT_DLQ_URL": dead_letter_url or ""}
        clock = ShiftedClock()
        store = DynamoDBStore(table_name=table, region=FAKE_REGION, endpoint=moto.url, create_table=True, clock=clock)
        runtime = init.LambdaRuntime(init.LambdaSettings.from_env(env), clock=clock, store=store)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


def raise_alert(runtime: init.LambdaRuntime, message: str, pipeline: str | None = "orders") -> None:
    """One step that raises an alert, run as every handler runs its step: the alerts it raised are
    delivered (or given up on) before the call returns."""

    async def step(steps: Any) -> None:
        await steps.ctx.alert(AlertLevel.ERROR, message, pipeline, details={"window": "06:00"})

    runtime.run(step)


def failed_alert_events(runtime: init.LambdaRuntime, pipeline: str = "orders") -> list[Any]:
    events = runtime.run(lambda steps: steps.ctx.store.list_events(pipeline, 50))
    return [e for e in events if e.kind is EventKind.ALERT_FAILED]


def received(moto: MotoServer, queue_url: str) -> list[dict[str, Any]]:
    got = client(moto, "sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                              MessageAttributeNames=["All"])
    return list(got.get("Messages", []))


def test_an_alert_that_cannot_be_published_is_kept_in_the_dead_letter_queue(
    moto: MotoServer, make_runtime: Callable[..., init.LambdaRuntime]
) -> None:
    queue_url = client(moto, "sqs").create_queue(QueueName="interlock-alert-dlq")["QueueUrl"]
    runtime = make_runtime(MISSING_TOPIC, queue_url)

    raise_alert(runtime, "orders missed its 06:00 window")
    raise_alert(runtime, "watchdog sweep failed", pipeline=None)  # not a pipeline's: kept, no event

    first, second = received(moto, queue_url)
    alert = json.loads(first["Body"])
    assert alert["level"] == "error" and alert["pipelineId"] == "orders"
    assert alert["message"] == "orders missed its 06:00 window" and alert["details"] == {"window": "06:00"}
    attributes = {name: value["StringValue"] for name, value in first["MessageAttributes"].items()}
    assert attributes["sink"] == "sns" and attributes["pipelineId"] == "orders" and attributes["level"] == "error"
    assert attributes["error"].startswith("AlertDeliveryError: publishing to SNS")
    assert json.loads(second["Body"])["message"] == "watchdog sweep failed"
    assert "pipelineId" not in second["MessageAttributes"]

    (event,) = failed_alert_events(runtime)
    assert {k: event.details[k] for k in ("sink", "alert", "attempts", "deadLetterQueue")} == {
        "sink": "sns", "alert": "orders missed its 06:00 window", "attempts": 3, "deadLetterQueue": queue_url}
    failed = runtime.run(lambda steps: steps.ctx.store.list_alerts(AlertStatus.FAILED, limit=10))
    assert sorted((r.attempts, r.sink) for r in failed) == [(3, "sns"), (3, "sns")]  # three attempts each
    assert runtime.run(lambda steps: steps.ctx.store.list_alerts(AlertStatus.PENDING, limit=10)) == []


def test_a_published_alert_is_not_dead_lettered(
    moto: MotoServer, make_runtime: Callable[..., init.LambdaRuntime]
) -> None:
    queue_url = client(moto, "sqs").create_queue(QueueName="interlock-alert-dlq")["QueueUrl"]
    topic = client(moto, "sns").create_topic(Name="interlock-alerts")["TopicArn"]
    runtime = make_runtime(topic, queue_url)
    raise_alert(runtime, "orders is late")
    assert received(moto, queue_url) == []
    assert failed_alert_events(runtime) == []


def test_an_unreachable_dead_letter_queue_still_records_the_failure(
    moto: MotoServer, make_runtime: Callable[..., init.LambdaRuntime], caplog: pytest.LogCaptureFixture
) -> None:
    missing_queue = f"{moto.url}/{FAKE_ACCOUNT}/no-such-queue"
    runtime = make_runtime(MISSING_TOPIC, missing_queue)
    raise_alert(runtime, "orders missed its 06:00 window")
    (event,) = failed_alert_events(runtime)
    assert event.details["alert"] == "orders missed its 06:00 window"
    assert "deadLetterQueue" not in event.details  # not kept
    assert "the dead-letter queue" in caplog.text and "is unreachable" in caplog.text


def test_without_a_dead_letter_queue_a_dead_letter_stays_in_the_outbox(
    moto: MotoServer, make_runtime: Callable[..., init.LambdaRuntime]
) -> None:
    runtime = make_runtime(MISSING_TOPIC, None)
    assert runtime.dead_letters is None and runtime.engine is not None
    assert runtime.engine.ctx.alerts.sink_names == ["sns"]
    raise_alert(runtime, "orders missed its 06:00 window")
    (event,) = failed_alert_events(runtime)
    assert "deadLetterQueue" not in event.details
    (failed,) = runtime.run(lambda steps: steps.ctx.store.list_alerts(AlertStatus.FAILED, limit=10))
    assert failed.alert.message == "orders missed its 06:00 window"  # retried from the API or the CLI
