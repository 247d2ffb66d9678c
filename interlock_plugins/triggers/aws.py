"""The AWS trigger types: ``glue``, ``emr``, ``emr-serverless``, ``step-function`` and ``lambda``.

Each launches through the AWS API (aioboto3) and is polled until the job finishes (``lambda``:
its result comes with the invocation, or through the callback); the modules ``aws_glue``,
``aws_emr``, ``aws_emr_serverless``, ``aws_step_function`` and ``aws_lambda`` hold one type each,
``aws_base`` what they share and ``aws_errors`` how AWS errors map to failure categories.
"""

from __future__ import annotations

from .aws_base import AWSTrigger, AWSTriggerConfig
from .aws_emr import EMRConfig, EMRTrigger
from .aws_emr_serverless import EMRServerlessConfig, EMRServerlessTrigger
from .aws_glue import GlueConfig, GlueTrigger
from .aws_lambda import LambdaConfig, LambdaTrigger
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
    "LambdaConfig",
    "LambdaTrigger",
    "StepFunctionConfig",
    "StepFunctionTrigger",
]
