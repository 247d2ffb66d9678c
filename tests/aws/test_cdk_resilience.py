"""The stack's failure handling, synthesised offline: dead-letter queues for the stream-router and
for alert delivery, partial batch failures on the stream, the table's encryption / point-in-time
recovery / deletion protection, and the CloudWatch alarms on their SNS topic.

Three synths per run: defaults; a stack that destroys its table on delete, creates its table key
and mails its alarms (watchdog every 15 minutes); a stack with an existing table key (watchdog once
a day)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="aws-cdk-lib is not installed (pip install -e '.[cdk]')")

from aws_cdk.assertions import Match, Template

from tests.aws.cdk_synth import (
    CDK_DIR,
    actions,
    function,
    function_statements,
    load_module,
    make_artifacts,
    queue_id,
    resources,
    state_machine,
    synth,
    topic_id,
)

assert str(CDK_DIR) in sys.path  # cdk_synth put deploy/cdk there

from interlock_cdk.config import FUNCTION_MODULES, ConfigError, StackConfig, load_config  # noqa: E402

KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ACCOUNT = {"account": "111122223333", "region": "eu-west-1"}
WORKFLOW = ("orchestrator", "evaluator", "trigger", "run-checker")
FOURTEEN_DAYS = 14 * 24 * 3600


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_artifacts(tmp_path_factory.mktemp("cdk-artifacts"))


@pytest.fixture(scope="module")
def template(artifacts: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Template:
    return synth(artifacts, tmp_path_factory.mktemp("cdk-out"))


@pytest.fixture(scope="module")
def created_key(artifacts: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Template:
    return synth(
        artifacts,
        tmp_path_factory.mktemp("cdk-out-created-key"),
        table_name="interlock-e2e",
        destroy_on_delete=True,
        table_kms_key="create",
        alarm_email="data-oncall@example.com",
        watchdog_rate_minutes=15,
        **ACCOUNT,
    )


@pytest.fixture(scope="module")
def existing_key(artifacts: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Template:
    return synth(
        artifacts, tmp_path_factory.mktemp("cdk-out-existing-key"), table_kms_key=KEY_ARN, watchdog_rate_minutes=1440,
        **ACCOUNT,
    )


def _table(template: Template) -> dict[str, Any]:
    (table,) = resources(template, "AWS::DynamoDB::GlobalTable").values()
    return table


def _alarms(template: Template) -> dict[str, dict[str, Any]]:
    """Alarm properties by alarm name."""
    found = {}
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        found[properties["AlarmName"]] = properties
    return found


# --- table ----------------------------------------------------------------------------------


def test_table_has_point_in_time_recovery_and_deletion_protection(template: Template) -> None:
    (replica,) = _table(template)["Properties"]["Replicas"]
    assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert replica["DeletionProtectionEnabled"] is True


def test_a_table_destroyed_with_the_stack_has_no_deletion_protection(created_key: Template) -> None:
    table = _table(created_key)
    (replica,) = table["Properties"]["Replicas"]
    assert replica["DeletionProtectionEnabled"] is False  # else deleting the stack would fail
    assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["DeletionPolicy"] == "Delete"


def test_table_is_encrypted_with_the_aws_owned_key_by_default(template: Template) -> None:
    table = _table(template)["Properties"]
    assert table["SSESpecification"] == {"SSEEnabled": False}  # DynamoDB's AWS-owned key
    assert "SSESpecification" not in table["Replicas"][0]
    template.resource_count_is("AWS::KMS::Key", 0)
    assert not [a for a in actions(function_statements(template, "orchestrator")) if a.startswith("kms:")]


def test_table_key_created_by_the_stack(created_key: Template) -> None:
    (key_id, key), *rest = resources(created_key, "AWS::KMS::Key").items()
    assert not rest
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Delete"  # goes with the table it protects
    created_key.has_resource_properties(
        "AWS::KMS::Alias", {"AliasName": "alias/interlock-e2e-table", "TargetKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    )
    table = _table(created_key)["Properties"]
    assert table["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    assert table["Replicas"][0]["SSESpecification"] == {"KMSMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    _assert_functions_use_the_key(created_key, {"Fn::GetAtt": [key_id, "Arn"]})


def test_table_key_given_by_arn(existing_key: Template) -> None:
    existing_key.resource_count_is("AWS::KMS::Key", 0)
    table = _table(existing_key)
    assert table["Properties"]["Replicas"][0]["SSESpecification"] == {"KMSMasterKeyId": KEY_ARN}
    assert table["DeletionPolicy"] == "Retain"
    _assert_functions_use_the_key(existing_key, KEY_ARN)


def _assert_functions_use_the_key(template: Template, key: object) -> None:
    for suffix in (*WORKFLOW, "watchdog"):
        (statement,) = [s for s in function_statements(template, suffix) if "kms:Decrypt" in s["Action"]]
        assert statement["Resource"] == key, suffix
        assert {"kms:Encrypt", "kms:GenerateDataKey*"} <= set(statement["Action"]), suffix
    # the stream-router only reads the (encrypted) stream
    (statement,) = [s for s in function_statements(template, "stream-router") if "kms:Decrypt" in s["Action"]]
    assert statement["Resource"] == key and "kms:Encrypt" not in statement["Action"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"table_kms_key": "alias/mine", **ACCOUNT}, "is neither a KMS key ARN"),
        ({"table_kms_key": KEY_ARN}, "needs the stack's region: set CDK_DEFAULT_REGION"),
        ({"table_kms_key": "create"}, "needs the stack's region"),
        ({"table_kms_key": KEY_ARN, "region": "us-east-1"}, "is not in the stack's region us-east-1"),
        ({"alarm_email": "oncall"}, "alarm e-mail 'oncall' is not an e-mail address"),
    ],
)
def test_bad_key_and_email_settings(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        StackConfig(**settings)


def test_key_and_email_from_the_environment_and_the_context() -> None:
    config = load_config({"INTERLOCK_TABLE_KMS_KEY": KEY_ARN, "INTERLOCK_ALARM_EMAIL": "a@example.com",
                          "CDK_DEFAULT_REGION": "eu-west-1"})
    assert (config.table_kms_key, config.alarm_email) == (KEY_ARN, "a@example.com")
    assert (load_config({}).table_kms_key, load_config({}).alarm_email) == ("", "")
    app = load_module("interlock_cdk_app_resilience", CDK_DIR / "app.py")
    overridden = app.with_context(config, None, table_kms_key="create", alarm_email="b@example.com")
    assert (overridden.table_kms_key, overridden.alarm_email) == ("create", "b@example.com")
    assert app.with_context(config, None, table_kms_key="", alarm_email=None) == config
    with pytest.raises(ConfigError, match="context alarmEmail: alarm e-mail 'nobody' is not an e-mail address"):
        app.with_context(config, None, alarm_email="nobody")
    with pytest.raises(ConfigError, match="context tableKmsKey: table KMS key 'mine' is neither"):
        app.with_context(config, None, table_kms_key="mine")


# --- dead-letter queues ---------------------------------------------------------------------


def test_two_dead_letter_queues_keep_messages_fourteen_days(template: Template) -> None:
    template.resource_count_is("AWS::SQS::Queue", 2)
    for name in ("interlock-stream-dlq", "interlock-alert-dlq"):
        template.has_resource_properties(
            "AWS::SQS::Queue",
            {"QueueName": name, "MessageRetentionPeriod": FOURTEEN_DAYS, "SqsManagedSseEnabled": True},
        )
        template.has_resource_properties(
            "AWS::SQS::QueuePolicy",
            {
                "Queues": [{"Ref": queue_id(template, name[len("interlock"):])}],
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                    )
                },
            },
        )


def test_stream_event_source_reports_batch_item_failures_and_dead_letters(template: Template) -> None:
    (mapping,) = resources(template, "AWS::Lambda::EventSourceMapping").values()
    properties = mapping["Properties"]
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["BisectBatchOnFunctionError"] is True
    assert properties["MaximumRetryAttempts"] == 3
    assert properties["MaximumRecordAgeInSeconds"] == 3600
    stream_dlq = queue_id(template, "-stream-dlq")
    assert properties["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [stream_dlq, "Arn"]}}}
    # the router itself hands the failed range to the queue
    send = [s for s in function_statements(template, "stream-router") if "sqs:SendMessage" in s["Action"]]
    assert [s["Resource"] for s in send] == [{"Fn::GetAtt": [stream_dlq, "Arn"]}]


def test_functions_that_deliver_alerts_can_dead_letter_them(template: Template) -> None:
    alert_dlq = queue_id(template, "-alert-dlq")
    for suffix in (*WORKFLOW, "watchdog"):
        _, properties = function(template, suffix)
        assert properties["Environment"]["Variables"]["ALERT_DLQ_URL"] == {"Ref": alert_dlq}, suffix
        send = [s for s in function_statements(template, suffix) if "sqs:SendMessage" in s["Action"]]
        assert [s["Resource"] for s in send] == [{"Fn::GetAtt": [alert_dlq, "Arn"]}], suffix
    _, router = function(template, "stream-router")
    assert "ALERT_DLQ_URL" not in router["Environment"]["Variables"]


def test_subscriptions_of_the_alert_topic_may_redrive_to_the_alert_queue(template: Template) -> None:
    alert_dlq = queue_id(template, "-alert-dlq")
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": alert_dlq}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Sid": "AlertTopicRedrive",
                            "Effect": "Allow",
                            "Principal": {"Service": "sns.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": {"Fn::GetAtt": [alert_dlq, "Arn"]},
                            "Condition": {"ArnEquals": {"aws:SourceArn": {"Ref": topic_id(template)}}},
                        }
                    ]
                )
            },
        },
    )


# --- alarms ---------------------------------------------------------------------------------


def test_alarm_topic_with_an_optional_email_subscription(template: Template, created_key: Template) -> None:
    template.has_resource_properties("AWS::SNS::Topic", {"TopicName": "interlock-alarms"})
    template.resource_count_is("AWS::SNS::Subscription", 0)
    created_key.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "email", "Endpoint": "data-oncall@example.com",
         "TopicArn": {"Ref": topic_id(created_key, "-alarms")}},
    )


def test_every_alarm_notifies_the_alarm_topic_on_alarm_and_recovery(template: Template) -> None:
    alarms = _alarms(template)
    assert len(alarms) == 2 * len(FUNCTION_MODULES) + 2 + 1 + 1
    alarm_topic = {"Ref": topic_id(template, "-alarms")}
    for name, properties in alarms.items():
        assert properties["AlarmActions"] == [alarm_topic], name
        assert properties["OKActions"] == [alarm_topic], name


def test_errors_and_throttles_of_every_function(template: Template) -> None:
    alarms = _alarms(template)
    for suffix in FUNCTION_MODULES:
        function_id, _ = function(template, suffix)
        for metric in ("Errors", "Throttles"):
            properties = alarms[f"interlock-{suffix}-{metric.lower()}"]
            assert properties["Namespace"] == "AWS/Lambda" and properties["MetricName"] == metric
            assert properties["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
            assert (properties["Statistic"], properties["Period"], properties["EvaluationPeriods"]) == ("Sum", 300, 1)
            assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
            assert properties["Threshold"] == 1 and properties["TreatMissingData"] == "notBreaching"


def test_dead_letter_depth_and_failed_executions(template: Template) -> None:
    alarms = _alarms(template)
    for queue in ("stream", "alert"):
        properties = alarms[f"interlock-{queue}-dlq-depth"]
        assert properties["Namespace"] == "AWS/SQS" and properties["MetricName"] == "ApproximateNumberOfMessagesVisible"
        queue_name = {"Fn::GetAtt": [queue_id(template, f"-{queue}-dlq"), "QueueName"]}
        assert properties["Dimensions"] == [{"Name": "QueueName", "Value": queue_name}]
        assert properties["Statistic"] == "Maximum" and properties["Threshold"] == 1
        assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    failed = alarms["interlock-pipeline-failed"]
    state_machine_id, _ = state_machine(template)
    assert failed["Namespace"] == "AWS/States" and failed["MetricName"] == "ExecutionsFailed"
    assert failed["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": state_machine_id}}]
    assert failed["Statistic"] == "Sum" and failed["Threshold"] == 1


@pytest.mark.parametrize(
    ("stack", "name", "period", "periods"),
    [
        ("template", "interlock-watchdog-not-run", 10 * 60, 1),  # every 5 minutes
        ("created_key", "interlock-e2e-watchdog-not-run", 30 * 60, 1),  # every 15 minutes
        ("existing_key", "interlock-watchdog-not-run", 24 * 3600, 2),  # once a day: two days without
    ],
)
def test_watchdog_not_run_within_twice_its_rate(
    stack: str, name: str, period: int, periods: int, request: pytest.FixtureRequest
) -> None:
    template: Template = request.getfixturevalue(stack)
    properties = _alarms(template)[name]
    watchdog_id, _ = function(template, "watchdog")
    metrics = {m["Id"]: m for m in properties["Metrics"]}
    (expression,) = [m for m in properties["Metrics"] if "Expression" in m]
    assert expression["Expression"] == "FILL(invocations, 0) - FILL(errors, 0)"  # successful sweeps
    for metric_id, metric_name in (("invocations", "Invocations"), ("errors", "Errors")):
        stat = metrics[metric_id]["MetricStat"]
        assert stat["Metric"]["MetricName"] == metric_name and stat["Metric"]["Namespace"] == "AWS/Lambda"
        assert stat["Metric"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": watchdog_id}}]
        assert (stat["Period"], stat["Stat"]) == (period, "Sum")
    assert properties["ComparisonOperator"] == "LessThanThreshold" and properties["Threshold"] == 1
    assert properties["EvaluationPeriods"] == periods and properties["DatapointsToAlarm"] == periods
    assert properties["TreatMissingData"] == "breaching"  # no invocation at all is the case to catch


def test_outputs_name_the_alarm_topic_and_the_queues(template: Template) -> None:
    outputs = template.find_outputs("*")
    assert outputs["AlarmTopicArn"]["Value"] == {"Ref": topic_id(template, "-alarms")}
    assert outputs["StreamDeadLetterQueueUrl"]["Value"] == {"Ref": queue_id(template, "-stream-dlq")}
    assert outputs["AlertDeadLetterQueueUrl"]["Value"] == {"Ref": queue_id(template, "-alert-dlq")}
    json.dumps(template.to_json())  # the whole template renders
