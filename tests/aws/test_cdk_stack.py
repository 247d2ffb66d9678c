"""The CDK stack (deploy/cdk), synthesised offline and checked with ``aws_cdk.assertions``.

Two synths per run (defaults, and every opt-in switched on), against a dummy Lambda artifact and
layer in a temporary directory (see cdk_synth.py). Dead-letter queues, alarms and the table's
protection are checked in test_cdk_resilience.py.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

# The jsii runtime (started by the aws_cdk import) warns loudly about node versions it has not
# been tested with; synthesis works all the same.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

pytest.importorskip("aws_cdk", reason="aws-cdk-lib is not installed (pip install -e '.[cdk]')")

from aws_cdk.assertions import Match, Template

from tests.aws.cdk_synth import CDK_DIR, REAL_ASL, REPO, STANDIN_ASL, make_artifacts  # puts deploy/cdk on sys.path
from tests.aws.cdk_synth import actions as _actions
from tests.aws.cdk_synth import definition_text as _definition_text
from tests.aws.cdk_synth import function as _function
from tests.aws.cdk_synth import function_statements as _function_statements
from tests.aws.cdk_synth import load_module as _load_module
from tests.aws.cdk_synth import queue_id as _queue_id
from tests.aws.cdk_synth import resources as _resources
from tests.aws.cdk_synth import role_statements as _role_statements
from tests.aws.cdk_synth import state_machine as _state_machine
from tests.aws.cdk_synth import synth as _synth
from tests.aws.cdk_synth import topic_id as _topic_id

assert str(CDK_DIR) in sys.path

from interlock_cdk.config import (  # noqa: E402
    FUNCTION_MODULES,
    LAMBDA_PYTHON_VERSION,
    ConfigError,
    StackConfig,
    load_config,
)
from interlock_cdk.definition import KNOWN_PLACEHOLDERS, load_definition, placeholders  # noqa: E402

RUNTIME = f"python{LAMBDA_PYTHON_VERSION}"
WORKFLOW = ("orchestrator", "evaluator", "trigger", "run-checker")


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A dummy Lambda artifact (one handler file per function), a layer and the ASL file."""
    return make_artifacts(tmp_path_factory.mktemp("cdk-artifacts"))


@pytest.fixture(scope="module")
def template(artifacts: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Template:
    return _synth(artifacts, tmp_path_factory.mktemp("cdk-out"))


@pytest.fixture(scope="module")
def enabled(artifacts: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Template:
    """Every opt-in on: trigger permissions, destroy on delete, an evaluator base URL, other names."""
    return _synth(
        artifacts,
        tmp_path_factory.mktemp("cdk-out-enabled"),
        table_name="interlock-e2e",
        destroy_on_delete=True,
        evaluator_base_url="https://evaluators.example.com/v1",
        enable_glue_trigger=True,
        enable_emr_trigger=True,
        enable_emr_serverless_trigger=True,
        enable_step_function_trigger=True,
        watchdog_rate_minutes=15,
    )


# --- table, topic, layer -------------------------------------------------------------------


def test_table_keys_ttl_stream_and_gsi(template: Template) -> None:
    template.resource_count_is("AWS::DynamoDB::GlobalTable", 1)
    template.has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {
            "TableName": "interlock",
            "KeySchema": [{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            "AttributeDefinitions": Match.array_with(
                [
                    {"AttributeName": "PK", "AttributeType": "S"},
                    {"AttributeName": "SK", "AttributeType": "S"},
                    {"AttributeName": "GSI1PK", "AttributeType": "S"},
                    {"AttributeName": "GSI1SK", "AttributeType": "S"},
                ]
            ),
            "BillingMode": "PAY_PER_REQUEST",
            "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
            "GlobalSecondaryIndexes": [
                Match.object_like(
                    {
                        "IndexName": "GSI1",
                        "KeySchema": [
                            {"AttributeName": "GSI1PK", "KeyType": "HASH"},
                            {"AttributeName": "GSI1SK", "KeyType": "RANGE"},
                        ],
                    }
                )
            ],
        },
    )


def test_table_is_retained_unless_destroy_is_opted_in(template: Template, enabled: Template) -> None:
    template.has_resource("AWS::DynamoDB::GlobalTable", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
    enabled.has_resource("AWS::DynamoDB::GlobalTable", {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"})
    enabled.has_resource_properties("AWS::DynamoDB::GlobalTable", {"TableName": "interlock-e2e"})


def test_alert_topic_is_named_after_the_table(template: Template, enabled: Template) -> None:
    template.has_resource_properties("AWS::SNS::Topic", {"TopicName": "interlock-alerts"})
    enabled.has_resource_properties("AWS::SNS::Topic", {"TopicName": "interlock-e2e-alerts"})


def test_archetype_layer_is_arm64_python(template: Template) -> None:
    template.resource_count_is("AWS::Lambda::LayerVersion", 1)
    template.has_resource_properties(
        "AWS::Lambda::LayerVersion", {"CompatibleArchitectures": ["arm64"], "CompatibleRuntimes": [RUNTIME]}
    )


# --- functions ------------------------------------------------------------------------------


def test_exactly_the_six_named_functions(template: Template, enabled: Template) -> None:
    # Log groups are explicit resources, so no log-retention helper function is added.
    template.resource_count_is("AWS::Lambda::Function", 6)
    for suffix, module in FUNCTION_MODULES.items():
        template.has_resource_properties(
            "AWS::Lambda::Function",
            {
                "FunctionName": f"interlock-{suffix}",
                "Runtime": RUNTIME,
                "Architectures": ["arm64"],
                "Handler": f"interlock_server.aws.{module}.handler",
                "MemorySize": 256,
                "Timeout": 300 if suffix == "watchdog" else 60,
            },
        )
        enabled.has_resource_properties("AWS::Lambda::Function", {"FunctionName": f"interlock-e2e-{suffix}"})


def test_workflow_functions_get_the_engine_environment_and_the_layer(template: Template) -> None:
    layer_id = next(iter(_resources(template, "AWS::Lambda::LayerVersion")))
    table_id = next(iter(_resources(template, "AWS::DynamoDB::GlobalTable")))
    for suffix in WORKFLOW:
        _, properties = _function(template, suffix)
        variables = properties["Environment"]["Variables"]
        assert variables == {
            "TABLE_NAME": {"Ref": table_id},
            "SNS_TOPIC_ARN": {"Ref": _topic_id(template)},
            "ARCHETYPE_DIR": "/opt/archetypes",
            "READINESS_TTL": "1h",
            "RETENTION_TTL": "168h",
            "ALERT_DLQ_URL": {"Ref": _queue_id(template, "-alert-dlq")},
        }, suffix
        assert properties["Layers"] == [{"Ref": layer_id}]


def test_evaluator_base_url_is_passed_when_set(enabled: Template) -> None:
    for suffix in WORKFLOW:
        _, properties = _function(enabled, suffix)
        assert properties["Environment"]["Variables"]["EVALUATOR_BASE_URL"] == "https://evaluators.example.com/v1"


def test_stream_router_gets_the_state_machine_arn_and_no_layer(template: Template) -> None:
    state_machine_id, _ = _state_machine(template)
    _, properties = _function(template, "stream-router")
    assert properties["Environment"]["Variables"] == {"STATE_MACHINE_ARN": {"Ref": state_machine_id}}
    assert "Layers" not in properties
    statements = _function_statements(template, "stream-router")
    start = [s for s in statements if s["Action"] == "states:StartExecution"]
    assert start and start[0]["Resource"] == {"Ref": state_machine_id}
    assert not {"dynamodb:PutItem", "dynamodb:UpdateItem"} & _actions(statements)


def test_watchdog_function_gets_the_engine_environment_and_the_layer(template: Template) -> None:
    layer_id = next(iter(_resources(template, "AWS::Lambda::LayerVersion")))
    _, workflow = _function(template, "orchestrator")
    _, properties = _function(template, "watchdog")
    assert properties["Handler"] == "interlock_server.aws.watchdog.handler"
    assert properties["Environment"] == workflow["Environment"]
    assert properties["Layers"] == [{"Ref": layer_id}]
    # it starts no execution itself: a recovery marker goes through the stream-router
    assert "states:StartExecution" not in _actions(_function_statements(template, "watchdog"))


def test_watchdog_runs_every_five_minutes_or_as_configured(template: Template, enabled: Template) -> None:
    for stack, rate, name in ((template, 5, "interlock-watchdog"), (enabled, 15, "interlock-e2e-watchdog")):
        stack.resource_count_is("AWS::Events::Rule", 1)
        watchdog_id, _ = _function(stack, "watchdog")
        (rule,) = _resources(stack, "AWS::Events::Rule").values()
        properties = rule["Properties"]
        assert properties["ScheduleExpression"] == f"rate({rate} minutes)"
        assert properties["State"] == "ENABLED" and properties["Name"] == name
        (target,) = properties["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [watchdog_id, "Arn"]}
        stack.has_resource_properties(
            "AWS::Lambda::Permission",
            {"Action": "lambda:InvokeFunction", "Principal": "events.amazonaws.com",
             "FunctionName": {"Fn::GetAtt": [watchdog_id, "Arn"]}},
        )


def test_watchdog_rate_from_context_overrides_the_environment() -> None:
    app_module = _load_module("interlock_cdk_app_context", CDK_DIR / "app.py")
    config = load_config({"INTERLOCK_WATCHDOG_RATE_MINUTES": "10"})
    assert config.watchdog_rate_minutes == 10 and load_config({}).watchdog_rate_minutes == 5
    assert app_module.with_context(config, None).watchdog_rate_minutes == 10
    assert app_module.with_context(config, "30").watchdog_rate_minutes == 30
    with pytest.raises(ConfigError, match="watchdogRateMinutes='often' is not a whole number"):
        app_module.with_context(config, "often")
    with pytest.raises(ConfigError, match="watchdog rate 2000 minutes is outside 1-1440"):
        app_module.with_context(config, 2000)


def test_log_groups_keep_a_week(template: Template) -> None:
    template.resource_count_is("AWS::Logs::LogGroup", 6)
    for suffix in FUNCTION_MODULES:
        template.has_resource_properties(
            "AWS::Logs::LogGroup", {"LogGroupName": f"/aws/lambda/interlock-{suffix}", "RetentionInDays": 7}
        )


def test_stream_event_source_latest_batches_of_ten_markers_only(template: Template) -> None:
    template.resource_count_is("AWS::Lambda::EventSourceMapping", 1)
    router_id, _ = _function(template, "stream-router")
    (mapping,) = _resources(template, "AWS::Lambda::EventSourceMapping").values()
    properties = mapping["Properties"]
    assert properties["StartingPosition"] == "LATEST"
    assert properties["BatchSize"] == 10
    assert properties["FunctionName"] == {"Ref": router_id}
    assert properties["EventSourceArn"]["Fn::GetAtt"][1] == "StreamArn"
    (pattern,) = [json.loads(f["Pattern"]) for f in properties["FilterCriteria"]["Filters"]]
    assert pattern["dynamodb"]["Keys"]["SK"]["S"] == [{"prefix": "MARKER#"}]
    assert sorted(pattern["eventName"]) == ["INSERT", "MODIFY"]


# --- IAM ------------------------------------------------------------------------------------

READ = {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"}
WRITE = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}


def test_workflow_functions_read_write_the_table_and_publish_alerts(template: Template) -> None:
    topic_id = _topic_id(template)
    for suffix in (*WORKFLOW, "watchdog"):
        statements = _function_statements(template, suffix)
        assert READ | WRITE <= _actions(statements), suffix
        publish = [s for s in statements if s["Action"] == "sns:Publish"]
        assert publish and publish[0]["Resource"] == {"Ref": topic_id}, suffix


def test_run_checker_has_the_read_grant_and_writes_lease_and_status(template: Template) -> None:
    """The predecessor gave the run-checker a read-only grant; here its poll step renews the cycle
    lease and records the run's status transitions, so it needs the write actions too."""
    actions = _actions(_function_statements(template, "run-checker"))
    assert {"dynamodb:BatchGetItem", "dynamodb:DescribeTable"} <= actions
    assert {"dynamodb:UpdateItem", "dynamodb:PutItem"} <= actions


def test_no_trigger_permissions_unless_opted_in(template: Template) -> None:
    everything = json.dumps(template.to_json())
    for action in ("glue:", "elasticmapreduce:", "emr-serverless:", "iam:PassRole", "states:DescribeExecution"):
        assert action not in everything
    assert "states:StartExecution" not in _actions(_function_statements(template, "trigger"))


@pytest.mark.parametrize(
    ("launch", "poll"),
    [
        ({"glue:StartJobRun", "glue:GetJobRun"}, {"glue:GetJobRun"}),
        ({"elasticmapreduce:AddJobFlowSteps", "elasticmapreduce:DescribeStep"}, {"elasticmapreduce:DescribeStep"}),
        ({"emr-serverless:StartJobRun", "emr-serverless:GetJobRun", "iam:PassRole"}, {"emr-serverless:GetJobRun"}),
        ({"states:StartExecution", "states:DescribeExecution"}, {"states:DescribeExecution"}),
    ],
    ids=["glue", "emr", "emr-serverless", "step-function"],
)
def test_opted_in_trigger_permissions(enabled: Template, launch: set[str], poll: set[str]) -> None:
    assert launch <= _actions(_function_statements(enabled, "trigger"))
    checker = _actions(_function_statements(enabled, "run-checker"))
    assert poll <= checker
    assert not (launch - poll) & checker  # the run-checker only polls


def test_emr_serverless_pass_role_is_limited_to_that_service(enabled: Template) -> None:
    (statement,) = [s for s in _function_statements(enabled, "trigger") if s["Action"] == "iam:PassRole"]
    assert statement["Condition"] == {"StringLike": {"iam:PassedToService": "emr-serverless.amazonaws.com"}}


# --- state machine --------------------------------------------------------------------------


def test_state_machine_is_standard_and_named_after_the_table(template: Template) -> None:
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine", {"StateMachineType": "STANDARD", "StateMachineName": "interlock-pipeline"}
    )


def test_every_placeholder_is_substituted(template: Template, artifacts: dict[str, Path]) -> None:
    _, properties = _state_machine(template)
    definition = _definition_text(properties)
    substitutions = properties["DefinitionSubstitutions"]
    assert set(substitutions) == set(KNOWN_PLACEHOLDERS)
    assert placeholders(definition) <= set(substitutions)
    assert placeholders(artifacts["asl"].read_text()) == placeholders(definition)
    rendered = definition
    for name in substitutions:
        rendered = rendered.replace("${" + name + "}", "arn:aws:example")
    assert not re.search(r"\$\{", rendered)
    json.loads(rendered)


def test_substitutions_point_at_the_right_resources(template: Template) -> None:
    _, properties = _state_machine(template)
    substitutions = properties["DefinitionSubstitutions"]
    expected = {
        "OrchestratorFunctionArn": "orchestrator",
        "EvaluatorFunctionArn": "evaluator",
        "TriggerFunctionArn": "trigger",
        "RunCheckerFunctionArn": "run-checker",
    }
    for placeholder, suffix in expected.items():
        function_id, _ = _function(template, suffix)
        assert substitutions[placeholder] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert substitutions["AlertTopicArn"] == {"Ref": _topic_id(template)}


def test_state_machine_role_invokes_the_four_functions_and_publishes_alerts(template: Template) -> None:
    _, properties = _state_machine(template)
    statements = _role_statements(template, properties["RoleArn"]["Fn::GetAtt"][0])
    invoked = json.dumps([s["Resource"] for s in statements if s["Action"] == "lambda:InvokeFunction"])
    for suffix in WORKFLOW:
        assert _function(template, suffix)[0] in invoked
    assert _function(template, "stream-router")[0] not in invoked
    assert _function(template, "watchdog")[0] not in invoked
    publish = [s for s in statements if s["Action"] == "sns:Publish"]
    assert publish and publish[0]["Resource"] == {"Ref": _topic_id(template)}


def test_outputs(template: Template) -> None:
    outputs = template.find_outputs("*")
    assert set(outputs) == {
        "TableName",
        "TopicArn",
        "StateMachineArn",
        "AlarmTopicArn",
        "StreamDeadLetterQueueUrl",
        "AlertDeadLetterQueueUrl",
    }
    state_machine_id, _ = _state_machine(template)
    assert outputs["StateMachineArn"]["Value"] == {"Ref": state_machine_id}
    assert outputs["TopicArn"]["Value"] == {"Ref": _topic_id(template)}
    assert outputs["AlarmTopicArn"]["Value"] == {"Ref": _topic_id(template, "-alarms")}
    assert outputs["StreamDeadLetterQueueUrl"]["Value"] == {"Ref": _queue_id(template, "-stream-dlq")}
    assert outputs["AlertDeadLetterQueueUrl"]["Value"] == {"Ref": _queue_id(template, "-alert-dlq")}


# --- configuration (no synth) ---------------------------------------------------------------


def test_load_config_defaults_and_overrides() -> None:
    config = load_config({})
    assert (config.stack_name, config.table_name, config.destroy_on_delete) == ("InterlockStack", "interlock", False)
    assert not any(
        (
            config.enable_glue_trigger,
            config.enable_emr_trigger,
            config.enable_emr_serverless_trigger,
            config.enable_step_function_trigger,
        )
    )
    assert config.lambda_asset_dir == REPO / "deploy" / "dist" / "lambda"
    assert config.asl_path == REAL_ASL
    config = load_config(
        {
            "INTERLOCK_STACK_NAME": "InterlockStack-e2e",
            "INTERLOCK_TABLE_NAME": "interlock-e2e",
            "INTERLOCK_DESTROY_ON_DELETE": "true",
            "INTERLOCK_ENABLE_GLUE_TRIGGER": "TRUE",
            "INTERLOCK_ENABLE_EMR_TRIGGER": "1",
            "INTERLOCK_ENABLE_EMR_SERVERLESS_TRIGGER": "yes",
            "INTERLOCK_ENABLE_STEP_FUNCTION_TRIGGER": "false",
            "EVALUATOR_BASE_URL": "https://abc.execute-api.eu-west-1.amazonaws.com",
            "INTERLOCK_LAMBDA_ASSET_DIR": "/tmp/somewhere",
            "INTERLOCK_LAMBDA_MEMORY_MB": "512",
            "CDK_DEFAULT_REGION": "eu-west-1",
        }
    )
    assert config.stack_name == "InterlockStack-e2e" and config.table_name == "interlock-e2e"
    assert config.destroy_on_delete and config.enable_glue_trigger and config.enable_emr_trigger
    assert config.enable_emr_serverless_trigger and not config.enable_step_function_trigger
    assert config.lambda_asset_dir == Path("/tmp/somewhere") and config.memory_mb == 512
    assert (config.account, config.region) == (None, "eu-west-1")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("INTERLOCK_ENABLE_GLUE_TRIGGER", "maybe", "INTERLOCK_ENABLE_GLUE_TRIGGER='maybe' is not a boolean"),
        ("INTERLOCK_TABLE_NAME", "bad name!", "table name 'bad name!' is invalid"),
        ("INTERLOCK_TABLE_NAME", "x" * 51, "is invalid"),
        ("INTERLOCK_STACK_NAME", "1stack", "stack name '1stack' is invalid"),
        ("EVALUATOR_BASE_URL", "ftp://host", "is not an http(s) URL"),
        ("INTERLOCK_READINESS_TTL", "soon", "readiness TTL 'soon' is not a duration"),
        ("INTERLOCK_LAMBDA_TIMEOUT_SECONDS", "1000", "outside 1-900"),
        ("INTERLOCK_LAMBDA_MEMORY_MB", "lots", "is not a whole number"),
        ("INTERLOCK_LOG_RETENTION_DAYS", "8", "log retention 8 days is not one of"),
        ("INTERLOCK_WATCHDOG_RATE_MINUTES", "0", "watchdog rate 0 minutes is outside 1-1440"),
    ],
)
def test_bad_settings_are_config_errors(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config({variable: value})


def test_missing_artifacts_say_how_to_build_them(tmp_path: Path, artifacts: dict[str, Path]) -> None:
    config = StackConfig(lambda_asset_dir=tmp_path / "nope", layer_asset_dir=artifacts["layer"])
    with pytest.raises(ConfigError, match="make build-lambda"):
        config.check_artifacts()
    stale = tmp_path / "stale"
    (stale / "interlock_server").mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"stream_router\.py is missing"):
        StackConfig(lambda_asset_dir=stale).check_artifacts()
    config = StackConfig(
        lambda_asset_dir=artifacts["lambda"], layer_asset_dir=artifacts["layer"], asl_path=tmp_path / "none.json"
    )
    with pytest.raises(ConfigError, match="state machine definition"):
        config.check_artifacts()


def test_app_reports_a_config_error_without_synthesising(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app_module = _load_module("interlock_cdk_app_main", CDK_DIR / "app.py")
    monkeypatch.setenv("INTERLOCK_LAMBDA_ASSET_DIR", str(tmp_path / "missing"))
    assert app_module.main() == 2
    assert "run `make build-lambda` first" in capsys.readouterr().err


def test_definition_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"StartAt": ')
    with pytest.raises(ConfigError, match="is not valid JSON: line 1"):
        load_definition(broken)
    not_a_machine = tmp_path / "list.json"
    not_a_machine.write_text("[]")
    with pytest.raises(ConfigError, match="needs StartAt and States"):
        load_definition(not_a_machine)
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({**STANDIN_ASL, "Comment": "${QueueUrl}"}))
    with pytest.raises(ConfigError, match=re.escape("${QueueUrl}")):
        load_definition(unknown)


def test_build_script_targets_the_runtime_python() -> None:
    build_lambda = _load_module("interlock_build_lambda", REPO / "deploy" / "build_lambda.py")
    assert build_lambda.PYTHON_VERSION == LAMBDA_PYTHON_VERSION
    assert all(platform.endswith("_aarch64") for platform in build_lambda.PLATFORMS)
