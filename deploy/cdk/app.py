#!/usr/bin/env python3
"""CDK entry point: ``cdk synth`` / ``cdk deploy`` run this (see cdk.json), or run it directly to
synthesise offline into ``cdk.out/`` (``make cdk-synth``). Settings come from environment variables,
see interlock_cdk/config.py and docs/aws.md."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from interlock_cdk.config import ConfigError, StackConfig, load_config

if TYPE_CHECKING:
    import aws_cdk


WATCHDOG_RATE_CONTEXT = "watchdogRateMinutes"
TABLE_KMS_KEY_CONTEXT = "tableKmsKey"
ALARM_EMAIL_CONTEXT = "alarmEmail"


def _context_text(value: object) -> str | None:
    """A context value as text; None when it is not given (absent or empty)."""
    if value is None or str(value).strip() == "":
        return None
    return str(value).strip()


def with_context(
    config: StackConfig, watchdog_rate: object = None, *, table_kms_key: object = None, alarm_email: object = None
) -> StackConfig:
    """CDK context values override the environment: ``cdk deploy -c watchdogRateMinutes=10``
    (INTERLOCK_WATCHDOG_RATE_MINUTES), ``-c tableKmsKey=<key ARN>|create`` (INTERLOCK_TABLE_KMS_KEY),
    ``-c alarmEmail=ops@example.com`` (INTERLOCK_ALARM_EMAIL)."""
    changes: dict[str, Any] = {}
    rate = _context_text(watchdog_rate)
    if rate is not None:
        try:
            changes["watchdog_rate_minutes"] = int(rate)
        except ValueError:
            raise ConfigError(f"context {WATCHDOG_RATE_CONTEXT}={watchdog_rate!r} is not a whole number") from None
    for name, context, value in (
        ("table_kms_key", TABLE_KMS_KEY_CONTEXT, table_kms_key),
        ("alarm_email", ALARM_EMAIL_CONTEXT, alarm_email),
    ):
        text = _context_text(value)
        if text is not None:
            one: dict[str, Any] = {name: text}
            try:
                dataclasses.replace(config, **one)
            except ConfigError as exc:
                raise ConfigError(f"context {context}: {exc}") from None
            changes[name] = text
    return dataclasses.replace(config, **changes) if changes else config


def build_app(config: StackConfig, outdir: str | None = None) -> aws_cdk.App:
    """A CDK app holding the Interlock stack (aws-cdk-lib is imported only here)."""
    import aws_cdk as cdk
    from interlock_cdk.stack import InterlockStack

    app = cdk.App(outdir=outdir or os.environ.get("CDK_OUTDIR") or "cdk.out")
    config = with_context(
        config,
        app.node.try_get_context(WATCHDOG_RATE_CONTEXT),
        table_kms_key=app.node.try_get_context(TABLE_KMS_KEY_CONTEXT),
        alarm_email=app.node.try_get_context(ALARM_EMAIL_CONTEXT),
    )
    environment = cdk.Environment(account=config.account, region=config.region)
    InterlockStack(
        app,
        config.stack_name,
        config=config,
        env=environment,
        description="Interlock: readiness gate for data pipelines (DynamoDB, Lambda, Step Functions)",
    )
    return app


def main() -> int:
    # The jsii runtime warns loudly about node versions it has not been tested with; synth works.
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    try:
        config = load_config()
        config.check_artifacts()
        app = build_app(config)
    except ConfigError as exc:
        print(f"interlock cdk: {exc}", file=sys.stderr)
        return 2
    assembly = app.synth()
    print(f"synthesised {config.stack_name} into {assembly.directory}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
