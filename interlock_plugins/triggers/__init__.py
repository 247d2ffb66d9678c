"""Built-in trigger types: command, http, airflow, databricks, glue, emr, emr-serverless, step-function."""

from __future__ import annotations

from typing import Any

from interlock_core.hookspecs import hookimpl


@hookimpl
def interlock_register_trigger_types() -> list[Any]:
    from .airflow import AirflowTrigger
    from .aws import EMRServerlessTrigger, EMRTrigger, GlueTrigger, StepFunctionTrigger
    from .command import CommandTrigger
    from .databricks import DatabricksTrigger
    from .http import HTTPTrigger

    return [
        CommandTrigger,
        HTTPTrigger,
        AirflowTrigger,
        DatabricksTrigger,
        GlueTrigger,
        EMRTrigger,
        EMRServerlessTrigger,
        StepFunctionTrigger,
    ]
