"""The project file ``interlock.yaml``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from ..durations import Duration
from .base import ConfigModel


class ServerConfig(ConfigModel):
    addr: str = ":3000"
    api_key: str | None = None
    api_keys: list[str] = Field(default_factory=list)
    max_request_body: int = Field(default=1_048_576, gt=0)
    read_only_api_keys: list[str] = Field(default_factory=list)

    def tokens(self) -> list[str]:
        return [k for k in [self.api_key, *self.api_keys] if k]


class EngineConfig(ConfigModel):
    default_timeout: Duration = timedelta(seconds=30)
    max_concurrency: int = Field(default=64, ge=1)
    readiness_ttl: Duration = timedelta(minutes=5)
    run_lease: Duration = timedelta(minutes=5)


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
    max_concurrent_cycles: int = Field(default=32, ge=1)
    watchdog: WatchdogConfig = Field(default_factory=WatchdogConfig)


class ArchiverConfig(ConfigModel):
    enabled: bool = False
    interval: Duration = timedelta(minutes=5)
    dsn: str | None = None


class AlertSpec(ConfigModel):
    """One ``alerts:`` entry; keys beyond ``type`` are validated by the alert sink plugin's model."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(min_length=1)

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class LoggingConfig(ConfigModel):
    level: str = "info"
    format: str = "auto"


class ProjectConfig(ConfigModel):
    provider: str = "sqlite"
    store: dict[str, Any] = Field(default_factory=dict, exclude=True)
    server: ServerConfig = Field(default_factory=ServerConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    watcher: WatcherConfig = Field(default_factory=WatcherConfig)
    archiver: ArchiverConfig = Field(default_factory=ArchiverConfig)
    archetype_dirs: list[str] = Field(default_factory=lambda: ["./archetypes"])
    evaluator_dirs: list[str] = Field(default_factory=lambda: ["./evaluators"])
    pipeline_dirs: list[str] = Field(default_factory=lambda: ["./pipelines"])
    calendar_dirs: list[str] = Field(default_factory=lambda: ["./calendars"])
    alerts: list[AlertSpec] = Field(default_factory=lambda: [AlertSpec(type="console")])
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
