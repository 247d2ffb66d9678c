"""The AWS trigger types: ``glue``, ``emr``, ``emr-serverless`` and ``step-function``.

Each launches through the AWS API (aioboto3) and is polled until the job finishes; the modules
``aws_glue``, ``aws_emr``, ``aws_emr_serverless`` and ``aws_step_function`` hold one type each,
``aws_base`` what they share and ``aws_errors`` how AWS errors map to failure categories.
"""

from __future__ import annotations

from .aws_base import AWSTrigger, AWSTriggerConfig
from .aws_emr import EMRConfig, EMRTrigger
from .aws_emr_serverless import EMRServerlessConfig, EMRServerlessTrigger
from .aws_glue import GlueConfig, GlueTrigger
from .aws_step_function import StepFunctionConfig, StepFunctionTrigger

__all__ = [
    "AWSTrigger",
    "AWSTriggerConfig",
    "EMRConfig",
    "EMRServerlessConfig",
    "EMRServerlessTrigger",
    "EMRTrigger",
    "GlueConfig",
    "GlueTrigger",
    "StepFunctionConfig",
    "StepFunctionTrigger",
]
