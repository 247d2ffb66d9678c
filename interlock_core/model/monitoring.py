"""A pipeline's ``watch:`` section: its interval, what late data does, and post-run monitoring with
its numeric drift rule."""

# Annotations are evaluated here (no `from __future__ import annotations`): pydantic then takes each
# field's type as it is instead of compiling it from text, at every start-up (docs/performance.md).

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ..durations import Duration
from ..jsonpath import JsonPath, parse_path
from .base import ConfigModel
from .checks import check_watchdog_duration
from .limits import MAX_INTERVAL, MAX_MONITORING, duration_at_most


class DriftRule:
    """Numeric drift as ``watch.monitoring`` configures it: the number at ``path`` in ``trait``'s
    value, compared with its baseline at completion; beyond ``threshold`` (an amount, or a
    percentage of the baseline when ``relative``) it has drifted."""

    def __init__(self, trait: str, path: JsonPath, threshold: float, relative: bool) -> None:
        self.trait, self.path, self.threshold, self.relative = trait, path, threshold, relative

    def beyond(self, baseline: float, current: float) -> bool:
        change = abs(current - baseline)
        if not self.relative:
            return change > self.threshold
        if baseline == 0:
            return change > 0
        return change / abs(baseline) * 100 > self.threshold

    @property
    def threshold_text(self) -> str:
        return f"{self.threshold:g}%" if self.relative else f"{self.threshold:g}"


def parse_threshold(value: float | str) -> tuple[float, bool]:
    """``driftThreshold``: a number (an absolute change) or ``"N%"`` (relative to the baseline)."""
    text = str(value).strip()
    relative = text.endswith("%")
    try:
        amount = float(text[:-1] if relative else text)
    except ValueError:
        raise ValueError(f"invalid drift threshold {value!r}: a number (an absolute change, e.g. 500) "
                         "or a percentage of the baseline (e.g. '10%')") from None
    if not amount >= 0 or amount == float("inf"):
        raise ValueError(f"invalid drift threshold {value!r}: must be a finite number of 0 or more")
    return amount, relative


class MonitoringConfig(ConfigModel):
    enabled: bool = False
    duration: Duration = timedelta(hours=2)
    auto_rerun: bool = True
    sensor_timeout: Duration | None = None
    drift_trait: str | None = Field(default=None, min_length=1)
    """The trait whose value holds the number ``driftField`` points at."""
    drift_field: str | None = None
    """A JSON path (``$.rows``) into ``driftTrait``'s value: the number watched for numeric drift."""
    drift_threshold: float | str | None = None
    """How far the number may move from its baseline at completion: an amount or ``"N%"``."""

    _sensor = field_validator("sensor_timeout")(check_watchdog_duration)

    @field_validator("drift_field")
    @classmethod
    def _drift_field(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        parse_path(value)
        if "drift_trait" in info.data and info.data["drift_trait"] is None:
            raise ValueError("driftField needs driftTrait (the trait whose value holds the number)")
        if info.data.get("enabled") is False:
            raise ValueError("numeric drift is checked during post-run monitoring: set enabled: true")
        return value

    @field_validator("drift_threshold", mode="before")
    @classmethod
    def _no_boolean(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"invalid drift threshold {value!r}: a number (e.g. 500) or a percentage (e.g. '10%')")
        return value

    @field_validator("drift_threshold")
    @classmethod
    def _drift_threshold(cls, value: float | str | None, info: ValidationInfo) -> float | str | None:
        if value is None:
            return None
        parse_threshold(value)
        if "drift_field" in info.data and info.data["drift_field"] is None:
            raise ValueError("driftThreshold needs driftField (the JSON path of the number to watch)")
        return value

    @model_validator(mode="after")
    def _field_with_threshold(self) -> "MonitoringConfig":
        if self.drift_field is not None and self.drift_threshold is None:
            raise ValueError("driftField needs driftThreshold (an amount like 500, or a percentage like '10%')")
        return self

    @model_validator(mode="after")
    def _sensor_within_window(self) -> "MonitoringConfig":
        if self.sensor_timeout is not None and self.sensor_timeout > self.duration:
            raise ValueError("sensorTimeout must not be longer than the monitoring duration")
        return self

    _duration = field_validator("duration")(duration_at_most(MAX_MONITORING, "monitoring.duration"))

    @property
    def drift_rule(self) -> DriftRule | None:
        if self.drift_trait is None or self.drift_field is None or self.drift_threshold is None:
            return None
        amount, relative = parse_threshold(self.drift_threshold)
        return DriftRule(self.drift_trait, parse_path(self.drift_field), amount, relative)


LateDataAction = Literal["alert", "rerun"]


class WatchConfig(ConfigModel):
    enabled: bool | None = None
    interval: Duration | None = None
    monitoring: MonitoringConfig | None = None
    on_late_data: LateDataAction = "alert"
    """What a trait value that changed after the cycle's run completed (or a newer run of an
    upstream) does: ``alert`` records LATE_DATA_ARRIVAL and alerts once; ``rerun`` also asks for a
    rerun of the cycle, under ``retry.maxDriftReruns`` and the no-new-data breaker."""

    @field_validator("interval")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value.total_seconds() <= 0:
            raise ValueError("interval must be positive")
        return duration_at_most(MAX_INTERVAL, "interval")(value)
