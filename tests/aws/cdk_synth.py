"""Offline synthesis of the CDK stack for the tests (``aws_cdk.assertions``), and helpers that read
the synthesised template: a dummy Lambda artifact and layer in a temporary directory, the real
deploy/statemachine.asl.json (a small stand-in with the same placeholders while that file does not
exist). Each test module synthesises the variants it needs once (module-scoped fixtures)."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

# The jsii runtime (started by the aws_cdk import) warns loudly about node versions it has not
# been tested with; synthesis works all the same.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

from aws_cdk.assertions import Template

REPO = Path(__file__).resolve().parents[2]
CDK_DIR = REPO / "deploy" / "cdk"
if str(CDK_DIR) not in sys.path:
    sys.path.insert(0, str(CDK_DIR))

from interlock_cdk.config import FUNCTION_MODULES, StackConfig  # noqa: E402

REAL_ASL = REPO / "deploy" / "statemachine.asl.json"
LOGICAL_PREFIX = {
    "stream-router": "StreamRouterFunction",
    "orchestrator": "OrchestratorFunction",
    "evaluator": "EvaluatorFunction",
    "trigger": "TriggerFunction",
    "run-checker": "RunCheckerFunction",
    "watchdog": "WatchdogFunction",
}
STANDIN_ASL = {
    "Comment": "stand-in with every placeholder the stack fills in",
    "StartAt": "Orchestrate",
    "States": {
        "Orchestrate": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${OrchestratorFunctionArn}", "Payload.$": "$"},
            "Next": "Evaluate",
        },
        "Evaluate": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${EvaluatorFunctionArn}", "Payload.$": "$"},
            "Next": "Trigger",
        },
        "Trigger": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${TriggerFunctionArn}", "Payload.$": "$"},
            "Next": "Check",
        },
        "Check": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${RunCheckerFunctionArn}", "Payload.$": "$"},
            "Next": "Alert",
        },
        "Alert": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {"TopicArn": "${AlertTopicArn}", "Message.$": "States.JsonToString($)"},
            "End": True,
        },
    },
}


def load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_artifacts(root: Path) -> dict[str, Path]:
    """A dummy Lambda artifact (one handler file per function), a layer and the ASL file under ``root``."""
    handlers = root / "lambda" / "interlock_server" / "aws"
    handlers.mkdir(parents=True)
    for module in FUNCTION_MODULES.values():
        (handlers / f"{module}.py").write_text("def handler(event, context=None):\n    return {}\n")
    archetypes = root / "layer" / "archetypes"
    archetypes.mkdir(parents=True)
    starter = REPO / "interlock_config" / "archetypes" / "batch-ingestion.yaml"
    (archetypes / "batch-ingestion.yaml").write_text(starter.read_text())
    asl = REAL_ASL
    if not asl.is_file():
        asl = root / "statemachine.asl.json"
        asl.write_text(json.dumps(STANDIN_ASL, indent=2))
    return {"lambda": root / "lambda", "layer": root / "layer", "asl": asl}


def synth(artifacts: dict[str, Path], outdir: Path, **settings: Any) -> Template:
    """The stack of ``StackConfig(**settings)`` built by the real app (deploy/cdk/app.py)."""
    app_module = load_module("interlock_cdk_app", CDK_DIR / "app.py")
    config = StackConfig(
        lambda_asset_dir=artifacts["lambda"], layer_asset_dir=artifacts["layer"], asl_path=artifacts["asl"], **settings
    )
    app = app_module.build_app(config, outdir=str(outdir))
    return Template.from_stack(app.node.find_child(config.stack_name))


def resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = template.find_resources(kind)
    return found


def function(template: Template, suffix: str) -> tuple[str, dict[str, Any]]:
    for logical_id, resource in resources(template, "AWS::Lambda::Function").items():
        if logical_id.startswith(LOGICAL_PREFIX[suffix]):
            return logical_id, resource["Properties"]
    raise AssertionError(f"no {suffix} function")


def role_statements(template: Template, role_logical_id: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        properties = policy["Properties"]
        if {"Ref": role_logical_id} in properties["Roles"]:
            statements.extend(properties["PolicyDocument"]["Statement"])
    return statements


def function_statements(template: Template, suffix: str) -> list[dict[str, Any]]:
    _, properties = function(template, suffix)
    return role_statements(template, properties["Role"]["Fn::GetAtt"][0])


def actions(statements: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for statement in statements:
        action = statement["Action"]
        found.update([action] if isinstance(action, str) else action)
    return found


def state_machine(template: Template) -> tuple[str, dict[str, Any]]:
    (logical_id, resource), *rest = resources(template, "AWS::StepFunctions::StateMachine").items()
    assert not rest
    return logical_id, resource["Properties"]


def definition_text(properties: dict[str, Any]) -> str:
    definition = properties["DefinitionString"]
    if isinstance(definition, str):
        return definition
    # Fn::Join of literal parts when the definition holds tokens.
    return "".join(part if isinstance(part, str) else "<token>" for part in definition["Fn::Join"][1])


def topic_id(template: Template, suffix: str = "-alerts") -> str:
    """The alert topic (or, with ``suffix="-alarms"``, the alarm topic)."""
    (logical_id, *rest) = [
        logical_id
        for logical_id, topic in resources(template, "AWS::SNS::Topic").items()
        if topic["Properties"]["TopicName"].endswith(suffix)
    ]
    assert not rest
    return logical_id


def queue_id(template: Template, suffix: str) -> str:
    (logical_id, *rest) = [
        logical_id
        for logical_id, queue in resources(template, "AWS::SQS::Queue").items()
        if queue["Properties"]["QueueName"].endswith(suffix)
    ]
    assert not rest
    return logical_id
