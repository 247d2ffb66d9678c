"""Built-in trigger types: command, http, airflow, databricks, glue, emr, emr-serverless, step-function,
lambda.

Registered lazily (:class:`~interlock_core.plugins.LazyPlugin`): a trigger type's module (httpx,
boto) is imported only when a pipeline uses that type."""

from __future__ import annotations

from typing import Any

from interlock_core.hookspecs import hookimpl
from interlock_core.plugins import LazyPlugin


@hookimpl
def interlock_register_trigger_types() -> list[Any]:
    return [
        LazyPlugin("command", "interlock_plugins.triggers.command:CommandTrigger"),
        LazyPlugin("http", "interlock_plugins.triggers.http:HTTPTrigger"),
        LazyPlugin("airflow", "interlock_plugins.triggers.airflow:AirflowTrigger"),
        LazyPlugin("databricks", "interlock_plugins.triggers.databricks:DatabricksTrigger"),
        LazyPlugin("glue", "interlock_plugins.triggers.aws_glue:GlueTrigger"),
        LazyPlugin("emr", "interlock_plugins.triggers.aws_emr:EMRTrigger"),
        LazyPlugin("emr-serverless", "interlock_plugins.triggers.aws_emr_serverless:EMRServerlessTrigger"),
        LazyPlugin("step-function", "interlock_plugins.triggers.aws_step_function:StepFunctionTrigger"),
        LazyPlugin("lambda", "interlock_plugins.triggers.aws_lambda:LambdaTrigger"),
    ]
