"""The Interlock stack: table, alert topic, archetype layer, six Lambda functions, the state machine,
the watchdog's schedule, two dead-letter queues, the alarms and their topic.

Data flow: a marker item written to the table (``SK = MARKER#...``) reaches the stream-router through
the table's stream; the router starts one execution of the state machine, whose tasks call the
orchestrator, evaluator, trigger and run-checker functions and publish alerts to the topic. An
EventBridge rule runs the watchdog function every few minutes (missed windows, stuck runs, SLA
warnings; a cycle ready but never started gets a marker, which the stream-router starts).

Failures are kept and announced: stream records the router could not start an execution for
(after bisected retries, or once too old) go to the stream dead-letter queue; alerts the functions
could not publish go to the alert dead-letter queue (``ALERT_DLQ_URL``); CloudWatch alarms (see
alarms.py) notify the alarm topic. The table has point-in-time recovery, deletion protection (unless
destroying it with the stack is opted in) and, when asked, a customer-managed KMS key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .alarms import Alarms
from .config import (
    ARCHETYPE_MOUNT,
    CREATE_TABLE_KEY,
    DEAD_LETTER_RETENTION_DAYS,
    FUNCTION_MODULES,
    LAMBDA_PYTHON_VERSION,
    STREAM_MAX_RECORD_AGE_SECONDS,
    STREAM_RETRY_ATTEMPTS,
    WATCHDOG_TIMEOUT_SECONDS,
    StackConfig,
)
from .definition import ALERT_TOPIC_PLACEHOLDER, WORKFLOW_PLACEHOLDERS, load_definition

RUNTIMES = {"3.11": lambda_.Runtime.PYTHON_3_11, "3.12": lambda_.Runtime.PYTHON_3_12}

LOG_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


@dataclass(frozen=True)
class TriggerActions:
    """IAM actions one opt-in AWS trigger type needs: to launch (trigger) and to poll (run-checker)."""

    launch: tuple[str, ...]
    poll: tuple[str, ...]


GLUE = TriggerActions(launch=("glue:StartJobRun", "glue:GetJobRun"), poll=("glue:GetJobRun",))
EMR = TriggerActions(
    launch=("elasticmapreduce:AddJobFlowSteps", "elasticmapreduce:DescribeStep"),
    poll=("elasticmapreduce:DescribeStep",),
)
EMR_SERVERLESS = TriggerActions(
    launch=("emr-serverless:StartJobRun", "emr-serverless:GetJobRun"), poll=("emr-serverless:GetJobRun",)
)
STEP_FUNCTION = TriggerActions(
    launch=("states:StartExecution", "states:DescribeExecution"), poll=("states:DescribeExecution",)
)


class InterlockStack(cdk.Stack):
    """All of Interlock's AWS mode in one stack; see the module docstring for the data flow."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        config.check_artifacts()
        definition = load_definition(config.asl_path)
        removal = cdk.RemovalPolicy.DESTROY if config.destroy_on_delete else cdk.RemovalPolicy.RETAIN

        self.table_key = self._table_key(removal)
        self.table = self._table(removal)
        self.topic = sns.Topic(self, "AlertTopic", topic_name=config.topic_name, display_name="Interlock alerts")
        self.stream_dead_letters = self._dead_letter_queue("StreamDeadLetters", config.stream_dead_letter_queue_name)
        self.alert_dead_letters = self._dead_letter_queue("AlertDeadLetters", config.alert_dead_letter_queue_name)
        # Subscriptions to the alert topic may name this queue in their redrive policy.
        self.alert_dead_letters.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlertTopicRedrive",
                principals=[iam.ServicePrincipal("sns.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.alert_dead_letters.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": self.topic.topic_arn}},
            )
        )
        self.layer = lambda_.LayerVersion(
            self,
            "ArchetypeLayer",
            code=lambda_.Code.from_asset(str(config.layer_asset_dir)),
            compatible_runtimes=[self.runtime],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description=f"Interlock archetype definitions, mounted at {ARCHETYPE_MOUNT}",
            removal_policy=cdk.RemovalPolicy.DESTROY,  # rebuilt from interlock_config/archetypes on every deploy
        )
        code = lambda_.Code.from_asset(str(config.lambda_asset_dir), exclude=["**/__pycache__", "**/*.pyc"])
        self.functions = {
            suffix: self._function(suffix, code, self._workflow_environment(), with_layer=True)
            for suffix in WORKFLOW_PLACEHOLDERS.values()
        }
        self._grant_workflow_permissions()

        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=config.state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(definition),
            definition_substitutions=self._substitutions(),
        )
        for function in self.functions.values():
            function.grant_invoke(self.state_machine)
        self.topic.grant_publish(self.state_machine)

        self.functions["stream-router"] = self._stream_router(code)
        self.functions["watchdog"] = self._watchdog(code)
        self.alarms = Alarms(
            self,
            "Alarms",
            config=config,
            functions=self.functions,
            state_machine=self.state_machine,
            dead_letter_queues={
                "Stream": (config.stream_dead_letter_queue_name, self.stream_dead_letters),
                "Alert": (config.alert_dead_letter_queue_name, self.alert_dead_letters),
            },
        )

        cdk.CfnOutput(self, "TableName", value=self.table.table_name, description="DynamoDB table")
        cdk.CfnOutput(self, "TopicArn", value=self.topic.topic_arn, description="SNS topic for alerts")
        cdk.CfnOutput(
            self, "StateMachineArn", value=self.state_machine.state_machine_arn, description="Pipeline state machine"
        )
        cdk.CfnOutput(
            self, "AlarmTopicArn", value=self.alarms.topic.topic_arn, description="SNS topic for CloudWatch alarms"
        )
        cdk.CfnOutput(
            self,
            "StreamDeadLetterQueueUrl",
            value=self.stream_dead_letters.queue_url,
            description="Stream records the stream-router gave up on",
        )
        cdk.CfnOutput(
            self,
            "AlertDeadLetterQueueUrl",
            value=self.alert_dead_letters.queue_url,
            description="Alerts that could not be published",
        )
        for key, value in config.tags.items():
            cdk.Tags.of(self).add(key, value)

    @property
    def runtime(self) -> lambda_.Runtime:
        return RUNTIMES[LAMBDA_PYTHON_VERSION]

    def _table_key(self, removal: cdk.RemovalPolicy) -> kms.IKey | None:
        """The table's customer-managed key: an existing key by ARN, one of this stack, or none
        (DynamoDB's AWS-owned key)."""
        setting = self.config.table_kms_key
        if not setting:
            return None
        if setting == CREATE_TABLE_KEY:
            return kms.Key(
                self,
                "TableKey",
                alias=f"alias/{self.config.table_name}-table",
                description=f"Interlock table {self.config.table_name}",
                enable_key_rotation=True,
                removal_policy=removal,  # the data it protects is kept: so is the key
            )
        return kms.Key.from_key_arn(self, "TableKey", setting)

    def _table(self, removal: cdk.RemovalPolicy) -> dynamodb.TableV2:
        text = dynamodb.AttributeType.STRING
        if self.table_key is None:
            encryption = dynamodb.TableEncryptionV2.dynamo_owned_key()
        else:
            encryption = dynamodb.TableEncryptionV2.customer_managed_key(self.table_key)
        return dynamodb.TableV2(
            self,
            "Table",
            table_name=self.config.table_name,
            partition_key=dynamodb.Attribute(name="PK", type=text),
            sort_key=dynamodb.Attribute(name="SK", type=text),
            billing=dynamodb.Billing.on_demand(),
            dynamo_stream=dynamodb.StreamViewType.NEW_IMAGE,
            time_to_live_attribute="ttl",
            global_secondary_indexes=[
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name="GSI1",
                    partition_key=dynamodb.Attribute(name="GSI1PK", type=text),
                    sort_key=dynamodb.Attribute(name="GSI1SK", type=text),
                )
            ],
            removal_policy=removal,
            encryption=encryption,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # a stack that destroys its table on delete must be able to
            deletion_protection=not self.config.destroy_on_delete,
        )

    def _dead_letter_queue(self, construct_id: str, name: str) -> sqs.Queue:
        return sqs.Queue(
            self,
            construct_id,
            queue_name=name,
            retention_period=cdk.Duration.days(DEAD_LETTER_RETENTION_DAYS),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

    def _workflow_environment(self) -> dict[str, str]:
        config = self.config
        environment = {
            "TABLE_NAME": self.table.table_name,
            "SNS_TOPIC_ARN": self.topic.topic_arn,
            "ARCHETYPE_DIR": ARCHETYPE_MOUNT,
            "READINESS_TTL": config.readiness_ttl,
            "RETENTION_TTL": config.retention_ttl,
            "ALERT_DLQ_URL": self.alert_dead_letters.queue_url,
        }
        if config.evaluator_base_url:
            environment["EVALUATOR_BASE_URL"] = config.evaluator_base_url
        return environment

    def _function(
        self,
        suffix: str,
        code: lambda_.Code,
        environment: Mapping[str, str],
        *,
        with_layer: bool,
        timeout_seconds: int | None = None,
    ) -> lambda_.Function:
        config = self.config
        name = config.function_name(suffix)
        construct_id = "".join(part.capitalize() for part in suffix.split("-"))
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            log_group_name=f"/aws/lambda/{name}",
            retention=LOG_RETENTION[config.log_retention_days],
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        return lambda_.Function(
            self,
            f"{construct_id}Function",
            function_name=name,
            description=f"Interlock {suffix}",
            runtime=self.runtime,
            architecture=lambda_.Architecture.ARM_64,
            handler=f"interlock_server.aws.{FUNCTION_MODULES[suffix]}.handler",
            code=code,
            memory_size=config.memory_mb,
            timeout=cdk.Duration.seconds(timeout_seconds or config.timeout_seconds),
            environment=dict(environment),
            layers=[self.layer] if with_layer else None,
            log_group=log_group,
        )

    def _grant_workflow_permissions(self) -> None:
        functions = self.functions
        for function in functions.values():
            # All four write: even the run-checker's poll step renews the cycle lease and records
            # the run's status transitions. Each holds SNS_TOPIC_ARN: the engine delivers the alerts
            # a step raises before the invocation returns.
            self.table.grant_read_write_data(function)
            self.topic.grant_publish(function)
            self.alert_dead_letters.grant_send_messages(function)
        config = self.config
        enabled = [
            (config.enable_glue_trigger, "Glue", GLUE),
            (config.enable_emr_trigger, "Emr", EMR),
            (config.enable_emr_serverless_trigger, "EmrServerless", EMR_SERVERLESS),
            (config.enable_step_function_trigger, "StepFunction", STEP_FUNCTION),
        ]
        for on, label, actions in enabled:
            if not on:
                continue
            _allow(functions["trigger"], f"{label}Launch", actions.launch)
            _allow(functions["run-checker"], f"{label}Poll", actions.poll)
        if config.enable_emr_serverless_trigger:
            # StartJobRun hands the job's execution role to EMR Serverless.
            functions["trigger"].add_to_role_policy(
                iam.PolicyStatement(
                    sid="EmrServerlessPassRole",
                    actions=["iam:PassRole"],
                    resources=["*"],
                    conditions={"StringLike": {"iam:PassedToService": "emr-serverless.amazonaws.com"}},
                )
            )

    def _substitutions(self) -> dict[str, str]:
        values = {
            placeholder: self.functions[suffix].function_arn for placeholder, suffix in WORKFLOW_PLACEHOLDERS.items()
        }
        values[ALERT_TOPIC_PLACEHOLDER] = self.topic.topic_arn
        return values

    def _stream_router(self, code: lambda_.Code) -> lambda_.Function:
        router = self._function(
            "stream-router",
            code,
            {"STATE_MACHINE_ARN": self.state_machine.state_machine_arn},
            with_layer=False,
        )
        self.state_machine.grant_start_execution(router)
        router.add_event_source(
            event_sources.DynamoEventSource(
                self.table,
                starting_position=lambda_.StartingPosition.LATEST,
                batch_size=10,
                retry_attempts=STREAM_RETRY_ATTEMPTS,
                bisect_batch_on_error=True,
                max_record_age=cdk.Duration.seconds(STREAM_MAX_RECORD_AGE_SECONDS),
                report_batch_item_failures=True,
                on_failure=event_sources.SqsDlq(self.stream_dead_letters),
                filters=[
                    lambda_.FilterCriteria.filter(
                        {
                            "eventName": lambda_.FilterRule.or_("INSERT", "MODIFY"),
                            "dynamodb": {"Keys": {"SK": {"S": lambda_.FilterRule.begins_with("MARKER#")}}},
                        }
                    )
                ],
            )
        )
        return router

    def _watchdog(self, code: lambda_.Code) -> lambda_.Function:
        """The watchdog sweep on a schedule: reads and writes the table (events, alert claims, a
        recovery marker), publishes alerts; it starts no execution itself."""
        watchdog = self._function(
            "watchdog",
            code,
            self._workflow_environment(),
            with_layer=True,
            timeout_seconds=max(WATCHDOG_TIMEOUT_SECONDS, self.config.timeout_seconds),
        )
        self.table.grant_read_write_data(watchdog)
        self.topic.grant_publish(watchdog)
        self.alert_dead_letters.grant_send_messages(watchdog)
        events.Rule(
            self,
            "WatchdogSchedule",
            rule_name=self.config.function_name("watchdog"),
            description="Interlock watchdog sweep",
            schedule=events.Schedule.rate(cdk.Duration.minutes(self.config.watchdog_rate_minutes)),
            targets=[targets.LambdaFunction(watchdog, retry_attempts=0)],
        )
        return watchdog


def _allow(function: lambda_.Function, sid: str, actions: tuple[str, ...]) -> None:
    function.add_to_role_policy(iam.PolicyStatement(sid=sid, actions=list(actions), resources=["*"]))
