"""Deployment settings of the Interlock CDK stack: code defaults, overridden by environment variables.

Nothing here imports aws-cdk-lib, so a bad setting is reported in milliseconds, before the jsii
runtime starts. Every problem is a :class:`ConfigError` naming the variable and what it accepts.

The opt-in trigger permissions default to off; switch one on either by changing its default below
(``ENABLE_GLUE_TRIGGER = True``) or per deployment with its environment variable
(``INTERLOCK_ENABLE_GLUE_TRIGGER=true``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
DEPLOY_DIR = REPO_ROOT / "deploy"

# Opt-in IAM permissions for the AWS trigger types (EnableGlueTrigger, EnableEMRTrigger, ...).
ENABLE_GLUE_TRIGGER = False
ENABLE_EMR_TRIGGER = False
ENABLE_EMR_SERVERLESS_TRIGGER = False
ENABLE_STEP_FUNCTION_TRIGGER = False

DEFAULT_STACK_NAME = "InterlockStack"
DEFAULT_TABLE_NAME = "interlock"
DEFAULT_READINESS_TTL = "1h"
DEFAULT_RETENTION_TTL = "168h"
DEFAULT_MEMORY_MB = 256
DEFAULT_TIMEOUT_SECONDS = 60
DEFAULT_LOG_RETENTION_DAYS = 7
DEFAULT_WATCHDOG_RATE_MINUTES = 5
WATCHDOG_TIMEOUT_SECONDS = 300  # one sweep reads every pipeline's cycles in view
# The table stream -> stream-router mapping: a failing batch is split in halves (bisect) and retried
# this often; a record older than this goes to the stream dead-letter queue instead of holding
# up its shard (the watchdog starts a cycle whose marker was lost).
STREAM_RETRY_ATTEMPTS = 3
STREAM_MAX_RECORD_AGE_SECONDS = 3600
# Dead-letter queues keep a message this long (SQS's maximum).
DEAD_LETTER_RETENTION_DAYS = 14
# ``tableKmsKey`` / INTERLOCK_TABLE_KMS_KEY: this word makes the stack create the customer-managed key.
CREATE_TABLE_KEY = "create"
DEFAULT_LAMBDA_ASSET_DIR = DEPLOY_DIR / "dist" / "lambda"
DEFAULT_LAYER_ASSET_DIR = DEPLOY_DIR / "dist" / "layer"
DEFAULT_ASL_PATH = DEPLOY_DIR / "statemachine.asl.json"

# The Lambda runtime; deploy/build_lambda.py builds the artifact for the same Python version.
LAMBDA_PYTHON_VERSION = "3.11"
ARCHETYPE_MOUNT = "/opt/archetypes"

# Function name suffix -> module of interlock_server.aws holding its ``handler``.
FUNCTION_MODULES: Mapping[str, str] = {
    "stream-router": "stream_router",
    "orchestrator": "orchestrator",
    "evaluator": "evaluator",
    "trigger": "trigger",
    "run-checker": "run_checker",
    "watchdog": "watchdog",
}

# CloudWatch Logs accepts only these retention periods (the ones offered here).
LOG_RETENTION_CHOICES = (1, 3, 5, 7, 14, 30, 60, 90, 180, 365)

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
# Names derived from the table must stay valid: "<table>-stream-router" is a Lambda name (<= 64).
_TABLE_NAME = re.compile(r"[A-Za-z0-9_-]{3,50}")
_STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d))+|\d+(?:\.\d+)?")
_URL = re.compile(r"https?://[^\s/?#]+[^\s]*")
_KMS_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class ConfigError(ValueError):
    """A deployment setting is invalid or a build artifact is missing."""


@dataclass(frozen=True)
class StackConfig:
    """Everything the stack needs to know; build one with :func:`load_config` or directly in tests."""

    stack_name: str = DEFAULT_STACK_NAME
    table_name: str = DEFAULT_TABLE_NAME
    destroy_on_delete: bool = False
    evaluator_base_url: str = ""
    readiness_ttl: str = DEFAULT_READINESS_TTL
    retention_ttl: str = DEFAULT_RETENTION_TTL
    memory_mb: int = DEFAULT_MEMORY_MB
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    watchdog_rate_minutes: int = DEFAULT_WATCHDOG_RATE_MINUTES
    table_kms_key: str = ""  # "": AWS-owned key; "create": a key of the stack; or a KMS key ARN
    alarm_email: str = ""  # subscribed to the alarm topic when set
    enable_glue_trigger: bool = ENABLE_GLUE_TRIGGER
    enable_emr_trigger: bool = ENABLE_EMR_TRIGGER
    enable_emr_serverless_trigger: bool = ENABLE_EMR_SERVERLESS_TRIGGER
    enable_step_function_trigger: bool = ENABLE_STEP_FUNCTION_TRIGGER
    lambda_asset_dir: Path = DEFAULT_LAMBDA_ASSET_DIR
    layer_asset_dir: Path = DEFAULT_LAYER_ASSET_DIR
    asl_path: Path = DEFAULT_ASL_PATH
    account: str | None = None
    region: str | None = None
    tags: Mapping[str, str] = field(default_factory=lambda: {"project": "interlock"})

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` for the first invalid value."""
        if not _TABLE_NAME.fullmatch(self.table_name):
            raise ConfigError(
                f"table name {self.table_name!r} is invalid: use 3-50 letters, digits, '-' or '_' "
                "(it also names the Lambda functions, the topic and the state machine)"
            )
        if not _STACK_NAME.fullmatch(self.stack_name):
            raise ConfigError(
                f"stack name {self.stack_name!r} is invalid: start with a letter, then letters, digits or '-'"
            )
        if self.evaluator_base_url and not _URL.fullmatch(self.evaluator_base_url):
            raise ConfigError(f"evaluator base URL {self.evaluator_base_url!r} is not an http(s) URL")
        for name, value in (("readiness TTL", self.readiness_ttl), ("retention TTL", self.retention_ttl)):
            if not _DURATION.fullmatch(value):
                raise ConfigError(f"{name} {value!r} is not a duration like '1h' or '168h'")
        if not 128 <= self.memory_mb <= 10240:
            raise ConfigError(f"Lambda memory {self.memory_mb} MB is outside 128-10240")
        if not 1 <= self.timeout_seconds <= 900:
            raise ConfigError(f"Lambda timeout {self.timeout_seconds} s is outside 1-900")
        if not 1 <= self.watchdog_rate_minutes <= 1440:
            raise ConfigError(f"watchdog rate {self.watchdog_rate_minutes} minutes is outside 1-1440")
        if self.log_retention_days not in LOG_RETENTION_CHOICES:
            choices = ", ".join(str(days) for days in LOG_RETENTION_CHOICES)
            raise ConfigError(f"log retention {self.log_retention_days} days is not one of {choices}")
        key = self.table_kms_key
        if key and key != CREATE_TABLE_KEY and not _KMS_KEY_ARN.fullmatch(key):
            raise ConfigError(
                f"table KMS key {key!r} is neither a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>) "
                f"nor {CREATE_TABLE_KEY!r}"
            )
        if key and not self.region:
            raise ConfigError(
                "a customer-managed table key needs the stack's region: set CDK_DEFAULT_REGION "
                "(cdk deploy sets it from your credentials)"
            )
        if key and key != CREATE_TABLE_KEY and key.split(":")[3] != self.region:
            raise ConfigError(f"table KMS key {key!r} is not in the stack's region {self.region}")
        if self.alarm_email and not _EMAIL.fullmatch(self.alarm_email):
            raise ConfigError(f"alarm e-mail {self.alarm_email!r} is not an e-mail address")

    def function_name(self, suffix: str) -> str:
        return f"{self.table_name}-{suffix}"

    @property
    def topic_name(self) -> str:
        return f"{self.table_name}-alerts"

    @property
    def state_machine_name(self) -> str:
        return f"{self.table_name}-pipeline"

    @property
    def alarm_topic_name(self) -> str:
        return f"{self.table_name}-alarms"

    @property
    def stream_dead_letter_queue_name(self) -> str:
        return f"{self.table_name}-stream-dlq"

    @property
    def alert_dead_letter_queue_name(self) -> str:
        return f"{self.table_name}-alert-dlq"

    def check_artifacts(self) -> None:
        """Raise :class:`ConfigError` unless the Lambda artifact, the layer and the ASL file exist."""
        hint = "run `make build-lambda` first"
        if not self.lambda_asset_dir.is_dir():
            raise ConfigError(
                f"Lambda artifact directory {self.lambda_asset_dir} does not exist: {hint} "
                "(or point INTERLOCK_LAMBDA_ASSET_DIR at a built artifact)"
            )
        for module in FUNCTION_MODULES.values():
            handler_file = self.lambda_asset_dir / "interlock_server" / "aws" / f"{module}.py"
            if not handler_file.is_file():
                raise ConfigError(f"{handler_file} is missing from the Lambda artifact: {hint} again")
        archetypes = self.layer_asset_dir / "archetypes"
        if not archetypes.is_dir():
            raise ConfigError(
                f"layer directory {archetypes} does not exist: {hint} (or set INTERLOCK_LAYER_ASSET_DIR)"
            )
        if not self.asl_path.is_file():
            raise ConfigError(f"state machine definition {self.asl_path} does not exist (INTERLOCK_ASL_PATH)")


def load_config(environ: Mapping[str, str] | None = None) -> StackConfig:
    """The defaults above, overridden by the ``INTERLOCK_*`` / ``EVALUATOR_BASE_URL`` variables."""
    env = os.environ if environ is None else environ
    return StackConfig(
        stack_name=_text(env, "INTERLOCK_STACK_NAME", DEFAULT_STACK_NAME),
        table_name=_text(env, "INTERLOCK_TABLE_NAME", DEFAULT_TABLE_NAME),
        destroy_on_delete=_flag(env, "INTERLOCK_DESTROY_ON_DELETE", False),
        evaluator_base_url=_text(env, "EVALUATOR_BASE_URL", ""),
        readiness_ttl=_text(env, "INTERLOCK_READINESS_TTL", DEFAULT_READINESS_TTL),
        retention_ttl=_text(env, "INTERLOCK_RETENTION_TTL", DEFAULT_RETENTION_TTL),
        memory_mb=_number(env, "INTERLOCK_LAMBDA_MEMORY_MB", DEFAULT_MEMORY_MB),
        timeout_seconds=_number(env, "INTERLOCK_LAMBDA_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS),
        log_retention_days=_number(env, "INTERLOCK_LOG_RETENTION_DAYS", DEFAULT_LOG_RETENTION_DAYS),
        watchdog_rate_minutes=_number(env, "INTERLOCK_WATCHDOG_RATE_MINUTES", DEFAULT_WATCHDOG_RATE_MINUTES),
        table_kms_key=_text(env, "INTERLOCK_TABLE_KMS_KEY", ""),
        alarm_email=_text(env, "INTERLOCK_ALARM_EMAIL", ""),
        enable_glue_trigger=_flag(env, "INTERLOCK_ENABLE_GLUE_TRIGGER", ENABLE_GLUE_TRIGGER),
        enable_emr_trigger=_flag(env, "INTERLOCK_ENABLE_EMR_TRIGGER", ENABLE_EMR_TRIGGER),
        enable_emr_serverless_trigger=_flag(
            env, "INTERLOCK_ENABLE_EMR_SERVERLESS_TRIGGER", ENABLE_EMR_SERVERLESS_TRIGGER
        ),
        enable_step_function_trigger=_flag(
            env, "INTERLOCK_ENABLE_STEP_FUNCTION_TRIGGER", ENABLE_STEP_FUNCTION_TRIGGER
        ),
        lambda_asset_dir=_path(env, "INTERLOCK_LAMBDA_ASSET_DIR", DEFAULT_LAMBDA_ASSET_DIR),
        layer_asset_dir=_path(env, "INTERLOCK_LAYER_ASSET_DIR", DEFAULT_LAYER_ASSET_DIR),
        asl_path=_path(env, "INTERLOCK_ASL_PATH", DEFAULT_ASL_PATH),
        account=_text(env, "CDK_DEFAULT_ACCOUNT", "") or None,
        region=_text(env, "CDK_DEFAULT_REGION", "") or None,
    )


def _text(env: Mapping[str, str], name: str, default: str) -> str:
    """The variable's trimmed value; unset or empty means the default."""
    value = env.get(name, "").strip()
    return value or default


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={env[name]!r} is not a boolean: use true or false")


def _number(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a whole number") from None


def _path(env: Mapping[str, str], name: str, default: Path) -> Path:
    value = env.get(name, "").strip()
    return Path(value).expanduser().resolve() if value else default
