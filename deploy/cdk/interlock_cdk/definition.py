"""The Step Functions definition (ASL) and its ``${Name}`` deploy-time placeholders."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .config import ConfigError

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")

# The four functions the state machine invokes, by the placeholder that stands for each one's ARN.
WORKFLOW_PLACEHOLDERS = {
    "OrchestratorFunctionArn": "orchestrator",
    "EvaluatorFunctionArn": "evaluator",
    "TriggerFunctionArn": "trigger",
    "RunCheckerFunctionArn": "run-checker",
}
ALERT_TOPIC_PLACEHOLDER = "AlertTopicArn"
# Every placeholder the stack substitutes.
KNOWN_PLACEHOLDERS = frozenset({*WORKFLOW_PLACEHOLDERS, ALERT_TOPIC_PLACEHOLDER})


def placeholders(text: str) -> set[str]:
    """The names of the ``${Name}`` placeholders in ``text``."""
    return set(PLACEHOLDER.findall(text))


def load_definition(path: Path) -> str:
    """The ASL text of ``path``; :class:`ConfigError` unless it is a JSON state machine whose
    placeholders the stack can all fill in."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the state machine definition {path}: {exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(document, dict) or "StartAt" not in document or "States" not in document:
        raise ConfigError(f"{path} is not a state machine definition (it needs StartAt and States)")
    unknown = placeholders(text) - KNOWN_PLACEHOLDERS
    if unknown:
        names = ", ".join("${" + name + "}" for name in sorted(unknown))
        known = ", ".join(sorted(KNOWN_PLACEHOLDERS))
        raise ConfigError(f"{path} uses placeholders the stack does not fill in: {names} (it knows {known})")
    return text
