"""The SNS sink against moto in server mode, read back through an SQS subscription."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pydantic
import pytest

from interlock_core.alerts import AlertDeliveryError
from interlock_core.model import Alert, AlertLevel
from interlock_core.plugins import PluginContext
from interlock_plugins.alerts.sns import SNSSink, SNSSinkConfig, subject_for

pytestmark = pytest.mark.usefixtures("fake_aws_credentials")


@pytest.fixture
def topic(moto_endpoint: str) -> tuple[str, Any, str]:
    """A fresh topic subscribed by a fresh queue: (topic ARN, SQS client, queue URL)."""
    name = f"alerts-{uuid.uuid4().hex[:12]}"
    sns = boto3.client("sns", endpoint_url=moto_endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    queue_arn = attributes["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn, sqs, queue_url


def sink(**options: Any) -> SNSSink:
    return SNSSink(SNSSinkConfig.model_validate(options), PluginContext(project_dir=Path.cwd()))


async def test_publishes_subject_and_alert_json(moto_endpoint: str, topic: tuple[str, Any, str],
                                                make_alert: Callable[..., Alert]) -> None:
    topic_arn, sqs, queue_url = topic
    sns_sink = sink(topicArn=topic_arn, endpointURL=moto_endpoint)
    alert = make_alert()
    await sns_sink.send(alert)
    await sns_sink.send(make_alert("second", pipeline=None, level=AlertLevel.WARNING))
    await sns_sink.close()
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    envelopes = sorted((json.loads(m["Body"]) for m in messages), key=lambda e: e["Subject"])
    assert [e["Subject"] for e in envelopes] == ["[error] orders", "[warning] system"]
    assert json.loads(envelopes[0]["Message"]) == json.loads(alert.to_json())


async def test_unknown_topic_raises(moto_endpoint: str, make_alert: Callable[..., Alert]) -> None:
    sns_sink = sink(topicARN="arn:aws:sns:us-east-1:123456789012:missing-topic", endpointUrl=moto_endpoint,
                    region="us-east-1")
    with pytest.raises(AlertDeliveryError, match="publishing to SNS"):
        await sns_sink.send(make_alert())
    await sns_sink.close()


def test_subject_is_truncated_and_printable(make_alert: Callable[..., Alert]) -> None:
    subject = subject_for(make_alert(pipeline="p" * 150))
    assert len(subject) == 100 and subject.startswith("[error] ppp")
    assert subject_for(make_alert(pipeline="caf\u00e9\nx")) == "[error] caf??x"


def test_config_aliases_and_validation() -> None:
    arn = "arn:aws:sns:eu-west-1:123456789012:alerts"
    for key in ("topicArn", "topicARN"):
        config = SNSSinkConfig.model_validate({key: arn, "endpointURL": "http://127.0.0.1:1"})
        assert config.topic_arn == arn and config.endpoint_url == "http://127.0.0.1:1"
    assert sink(topicArn=arn).region == "eu-west-1"
    assert sink(topicArn=arn, region="us-east-2").region == "us-east-2"
    with pytest.raises(pydantic.ValidationError, match="ARN"):
        SNSSinkConfig.model_validate({"topicArn": "alerts"})
    with pytest.raises(pydantic.ValidationError):
        SNSSinkConfig.model_validate({})
    with pytest.raises(pydantic.ValidationError):
        SNSSinkConfig.model_validate({"topicArn": arn, "subject": "x"})
