#!/usr/bin/env python3
"""CDK entry point: ``cdk synth`` / ``cdk deploy`` run this (see cdk.json), or run it directly to
synthesise offline into ``cdk.out/`` (``make cdk-synth``). Settings come from environment variables,
see interlock_cdk/config.py and docs/aws.md."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))

from interlock_cdk.config import ConfigError, StackConfig, load_config

if TYPE_CHECKING:
    import aws_cdk


WATCHDOG_RATE_CONTEXT = "watchdogRateMinutes"


def with_context(config: StackConfig, watchdog_rate: object) -> StackConfig:
    """``cdk deploy -c watchdogRateMinutes=10`` overrides INTERLOCK_WATCHDOG_RATE_MINUTES."""
    if watchdog_rate is None or str(watchdog_rate).strip() == "":
        return config
    try:
        minutes = int(str(watchdog_rate).strip())
    except ValueError:
        raise ConfigError(f"context {WATCHDOG_RATE_CONTEXT}={watchdog_rate!r} is not a whole number") from None
    return dataclasses.replace(config, watchdog_rate_minutes=minutes)


def build_app(config: StackConfig, outdir: str | None = None) -> aws_cdk.App:
    """A CDK app holding the Interlock stack (aws-cdk-lib is imported only here)."""
    import aws_cdk as cdk
    from interlock_cdk.stack import InterlockStack

    app = cdk.App(outdir=outdir or os.environ.get("CDK_OUTDIR") or "cdk.out")
    config = with_context(config, app.node.try_get_context(WATCHDOG_RATE_CONTEXT))
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
