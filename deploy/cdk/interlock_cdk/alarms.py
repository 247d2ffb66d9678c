"""CloudWatch alarms of the Interlock stack and the SNS topic they notify.

One alarm per condition an operator must hear about, each named ``<table>-...``:

* ``<function>-errors`` / ``<function>-throttles``: any error or throttle of one of the six
  functions within five minutes;
* ``<queue>-depth``: a message waits in a dead-letter queue (stream records that could not be
  routed, alerts that could not be published);
* ``<state machine>-failed``: an execution failed;
* ``<table>-watchdog-not-run``: no successful watchdog sweep for twice its rate (an invocation that
  errors does not count as a sweep; no data at all counts as not run).

Every alarm notifies the alarm topic when it goes into ALARM and again when it returns to OK.
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .config import StackConfig

ALARM_PERIOD = cdk.Duration.minutes(5)
# CloudWatch caps a period at one day, and a period of under an hour at one day of evaluation.
MAX_PERIOD_MINUTES = 1440


def watchdog_window(rate_minutes: int) -> tuple[int, int]:
    """(period in minutes, periods to evaluate) for "no sweep within twice the rate": one period of
    twice the rate while that fits in a day, else two consecutive periods of the rate."""
    if 2 * rate_minutes <= MAX_PERIOD_MINUTES:
        return 2 * rate_minutes, 1
    return rate_minutes, 2


class Alarms(Construct):
    """The alarm topic (optionally with an e-mail subscription) and every alarm of the stack."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        functions: Mapping[str, lambda_.Function],
        state_machine: sfn.StateMachine,
        dead_letter_queues: Mapping[str, tuple[str, sqs.Queue]],
    ) -> None:
        """``dead_letter_queues``: label (``Stream``, ``Alert``) -> (queue name, queue)."""
        super().__init__(scope, construct_id)
        self.config = config
        self.topic = sns.Topic(self, "Topic", topic_name=config.alarm_topic_name, display_name="Interlock alarms")
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self.alarms: list[cloudwatch.Alarm] = []

        for suffix, function in functions.items():
            name = config.function_name(suffix)
            construct_id = "".join(part.capitalize() for part in suffix.split("-"))
            self._at_least_one(
                f"{construct_id}Errors", f"{name}-errors", f"Interlock {suffix}: invocations failed",
                function.metric_errors(period=ALARM_PERIOD, statistic="Sum"),
            )
            self._at_least_one(
                f"{construct_id}Throttles", f"{name}-throttles", f"Interlock {suffix}: invocations throttled",
                function.metric_throttles(period=ALARM_PERIOD, statistic="Sum"),
            )
        for label, (queue_name, queue) in dead_letter_queues.items():
            self._at_least_one(
                f"{label}DeadLetters", f"{queue_name}-depth",
                f"Interlock: messages wait in the {label.lower()} dead-letter queue",
                queue.metric_approximate_number_of_messages_visible(period=ALARM_PERIOD, statistic="Maximum"),
            )
        self._at_least_one(
            "ExecutionsFailed", f"{config.state_machine_name}-failed", "Interlock: state machine executions failed",
            state_machine.metric_failed(period=ALARM_PERIOD, statistic="Sum"),
        )
        self._watchdog_not_run(functions["watchdog"])

    def _notify(self, alarm: cloudwatch.Alarm) -> cloudwatch.Alarm:
        action = actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        self.alarms.append(alarm)
        return alarm

    def _at_least_one(self, construct_id: str, name: str, description: str, metric: cloudwatch.IMetric) -> None:
        self._notify(
            cloudwatch.Alarm(
                self,
                construct_id,
                alarm_name=name,
                alarm_description=description,
                metric=metric,
                threshold=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        )

    def _watchdog_not_run(self, watchdog: lambda_.Function) -> None:
        rate = self.config.watchdog_rate_minutes
        period_minutes, periods = watchdog_window(rate)
        period = cdk.Duration.minutes(period_minutes)
        sweeps = cloudwatch.MathExpression(
            expression="FILL(invocations, 0) - FILL(errors, 0)",
            using_metrics={
                "invocations": watchdog.metric_invocations(period=period, statistic="Sum"),
                "errors": watchdog.metric_errors(period=period, statistic="Sum"),
            },
            label="successful watchdog sweeps",
            period=period,
        )
        self._notify(
            cloudwatch.Alarm(
                self,
                "WatchdogNotRun",
                alarm_name=f"{self.config.function_name('watchdog')}-not-run",
                alarm_description=(
                    f"Interlock watchdog: no successful sweep within {2 * rate} minutes (it runs every {rate})"
                ),
                metric=sweeps,
                threshold=1,
                comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                evaluation_periods=periods,
                datapoints_to_alarm=periods,
                treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
            )
        )
