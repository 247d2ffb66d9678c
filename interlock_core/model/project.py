"""The project file ``interlock.yaml``."""

# Annotations are evaluated here (no `from __future__ import annotations`): pydantic then takes each
# field's type as it is instead of compiling it from text, at every start-up (docs/performance.md).

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, ConfigDict, Field, field_validator

from ..durations import Duration
from .base import ConfigModel, empty_list
from .limits import (
    MAX_CONCURRENCY,
    MAX_INTERVAL,
    MAX_READINESS_TTL,
    MAX_REQUEST_BODY,
    MAX_TIMEOUT_SECONDS,
    duration_at_most,
)

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


DEFAULT_ADDR = "127.0.0.1:3000"
"""Loopback unless the project says otherwise: an empty ``interlock.yaml`` serves this machine
only, with or without an API key (``":3000"`` listens on every interface)."""


class ServerConfig(ConfigModel):
    addr: str = DEFAULT_ADDR
    public_url: str | None = Field(default=None, validation_alias=AliasChoices("publicURL", "publicUrl", "public_url"),
                                   serialization_alias="publicURL")
    """Where people reach this server (``https://interlock.example.com``): alerts link back to the
    dashboard page of their pipeline under it."""
    api_key: str | None = None
    api_keys: list[str] = Field(default_factory=empty_list)
    max_request_body: int = Field(default=1_048_576, gt=0, le=MAX_REQUEST_BODY)
    read_only_api_keys: list[str] = Field(default_factory=empty_list)
    allowed_hosts: list[str] = Field(default_factory=empty_list)
    """Host names the server answers to without an API key, beyond loopback (DNS rebinding guard)."""
    read_timeout: Duration = timedelta(seconds=30)
    """How long a client may take to send a request's whole body (408 past it)."""

    @field_validator("read_timeout")
    @classmethod
    def _read_timeout(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0) or value > timedelta(hours=1):
            raise ValueError("readTimeout must be more than 0s and at most 1h")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("publicURL must be an http:// or https:// URL with a host, no query or fragment")
        if parts.username or parts.password:
            raise ValueError("publicURL must not carry credentials")
        return value.rstrip("/")

    def tokens(self) -> list[str]:
        return [k for k in [self.api_key, *self.api_keys] if k]


class EngineConfig(ConfigModel):
    default_timeout: Duration = timedelta(seconds=30)
    max_concurrency: int = Field(default=64, ge=1, le=MAX_CONCURRENCY)
    readiness_ttl: Duration = timedelta(minutes=5)
    run_lease: Duration = timedelta(minutes=5)

    _timeout = field_validator("default_timeout")(duration_at_most(timedelta(seconds=MAX_TIMEOUT_SECONDS),
                                                                   "defaultTimeout"))
    _readiness_ttl = field_validator("readiness_ttl")(duration_at_most(MAX_READINESS_TTL, "readinessTtl"))
    _run_lease = field_validator("run_lease")(duration_at_most(MAX_INTERVAL, "runLease"))


class WatchdogConfig(ConfigModel):
    """``watcher.watchdog``: the checks a watcher pass makes for what did not happen."""

    enabled: bool = True
    expected_duration: Duration = timedelta(minutes=30)
    recovery_grace: Duration = timedelta(seconds=10)

    @field_validator("expected_duration")
    @classmethod
    def _expected(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0) or value > timedelta(days=7):
            raise ValueError("must be more than 0s and at most 7d")
        return value

    @field_validator("recovery_grace")
    @classmethod
    def _grace(cls, value: timedelta) -> timedelta:
        if value < timedelta(0) or value > timedelta(days=1):
            raise ValueError("must be between 0s and 1d")
        return value


class WatcherConfig(ConfigModel):
    enabled: bool = True
    default_interval: Duration = timedelta(seconds=30)
    max_concurrent_cycles: int = Field(default=32, ge=1, le=MAX_CONCURRENCY)
    watchdog: WatchdogConfig = Field(default_factory=WatchdogConfig)

    _interval = field_validator("default_interval")(duration_at_most(MAX_INTERVAL, "defaultInterval"))


class ArchiverConfig(ConfigModel):
    enabled: bool = False
    interval: Duration = timedelta(minutes=5)
    dsn: str | None = None

    _interval = field_validator("interval")(duration_at_most(MAX_INTERVAL, "interval"))


SINK_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.#-]{0,63}$"


class AlertSpec(ConfigModel):
    """One ``alerts:`` entry. ``type`` names the sink plugin; ``name``, ``maxAttempts``,
    ``backoff`` and ``groupWindow`` say how the alert outbox delivers to it (every sink has them);
    the other keys are validated by the sink plugin's model."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(min_length=1)
    name: str | None = Field(default=None, pattern=SINK_NAME)
    """What the outbox calls the sink (default: its type, ``webhook#2`` for the second of a type).
    Pending alerts are kept under it: give one so reordering the list keeps them with their sink."""
    max_attempts: int = Field(default=8, ge=1, le=100)
    """Delivery attempts before an alert is dead-lettered (``ALERT_FAILED``)."""
    backoff: Duration = timedelta(seconds=2)
    """The wait before the second attempt; it doubles after each failure, up to 5 minutes."""
    group_window: Duration = timedelta(0)
    """Identical alerts raised within this long of the first are delivered as one, with a count
    (the first waits for the window to close); 0 delivers each at once."""

    @field_validator("backoff")
    @classmethod
    def _backoff(cls, value: timedelta) -> timedelta:
        if value < timedelta(0) or value > timedelta(hours=1):
            raise ValueError("backoff must be between 0s and 1h")
        return value

    @field_validator("group_window")
    @classmethod
    def _group_window(cls, value: timedelta) -> timedelta:
        if value < timedelta(0) or value > timedelta(days=1):
            raise ValueError("groupWindow must be between 0s and 1d")
        return value

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class LoggingConfig(ConfigModel):
    level: str = "info"
    format: str = "auto"


class ApiConfig(ConfigModel):
    """What pipelines registered over the API may use of the server."""

    allowed_env: list[str] = Field(default_factory=empty_list)
    """Environment variables an API pipeline's trigger may name as ``${NAME}`` (besides run variables)."""

    @field_validator("allowed_env")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not ENV_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not an environment variable name")
        return value


class OutboundConfig(ConfigModel):
    """Where http triggers and http evaluators may send requests (see :mod:`interlock_core.outbound`)."""

    allow_hosts: list[str] = Field(default_factory=empty_list)
    deny_hosts: list[str] = Field(default_factory=empty_list)

    @field_validator("allow_hosts", "deny_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        from ..outbound import check_entries

        bad = check_entries(value)
        if bad:
            raise ValueError(f"not a host name, *.domain, address or network: {', '.join(map(repr, bad))}")
        return value


class ProjectConfig(ConfigModel):
    provider: str = "sqlite"
    store: dict[str, Any] = Field(default_factory=dict, exclude=True)
    server: ServerConfig = Field(default_factory=ServerConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    outbound: OutboundConfig = Field(default_factory=OutboundConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    watcher: WatcherConfig = Field(default_factory=WatcherConfig)
    archiver: ArchiverConfig = Field(default_factory=ArchiverConfig)
    archetype_dirs: list[str] = Field(default_factory=lambda: ["./archetypes"])
    evaluator_dirs: list[str] = Field(default_factory=lambda: ["./evaluators"])
    evaluator_env: list[str] = Field(default_factory=empty_list)
    """Environment variables handed to subprocess evaluators besides ``PATH``, ``HOME``, ``LANG`` …
    (an evaluator never inherits the server's whole environment)."""
    pipeline_dirs: list[str] = Field(default_factory=lambda: ["./pipelines"])
    calendar_dirs: list[str] = Field(default_factory=lambda: ["./calendars"])
    alerts: list[AlertSpec] = Field(default_factory=lambda: [AlertSpec(type="console")])
    logging: LoggingConfig = Field(default_factory=LoggingConfig)

    @field_validator("evaluator_env")
    @classmethod
    def _env_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not ENV_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not an environment variable name")
        return value
