"""OpenTelemetry, on when asked for by its standard environment variables, and free when not.

:func:`configure_telemetry` looks at the environment only. Tracing and metrics are on when
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` /
``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT``) is set, or an exporter is named by
``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` (other than ``none``), and
``OTEL_SDK_DISABLED`` is not ``true``. Then — and only then — :mod:`interlock_server.otel` imports
the OpenTelemetry SDK (the ``interlock[otel]`` extra) and installs itself behind core's tracing
port (:mod:`interlock_core.tracing`) and metrics hook. Without those variables nothing of
OpenTelemetry is imported and every span in the control path is a no-op call.

Everything else is OpenTelemetry's own configuration: ``OTEL_SERVICE_NAME`` (default
``interlock``), ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_HEADERS``, ``…_TIMEOUT``,
``OTEL_TRACES_SAMPLER``, ``OTEL_PROPAGATORS``, ``OTEL_BSP_*``, ``OTEL_METRIC_EXPORT_INTERVAL`` …
See docs/observability.md.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Protocol

log = logging.getLogger("interlock.telemetry")

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                      "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
EXPORTER_VARIABLES = ("OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER")
INSTALL_HINT = "pip install 'interlock[otel]'"


class Telemetry(Protocol):
    """What :func:`configure_telemetry` returns when OpenTelemetry is on."""

    def flush(self, timeout_s: float = 5.0) -> None: ...

    def shutdown(self) -> None: ...


_active: Telemetry | None = None


def requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for OpenTelemetry (see the module's description)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if any(env.get(name, "").strip() for name in ENDPOINT_VARIABLES):
        return any(env.get(name, "otlp").strip().lower() != "none" for name in EXPORTER_VARIABLES)
    return any(env.get(name, "").strip().lower() not in ("", "none") for name in EXPORTER_VARIABLES)


def configure_telemetry(environ: Mapping[str, str] | None = None) -> Telemetry | None:
    """Turn OpenTelemetry on when the environment asks for it (once per process); None when off.

    When it is asked for but not installed, one warning says how to install it and everything
    stays off (the server runs as usual)."""
    global _active
    if _active is not None:
        return _active
    if not requested(environ):
        return None
    try:
        from . import otel
    except ImportError as exc:
        log.warning("OpenTelemetry is configured (OTEL_* variables) but not installed (%s): tracing stays off; "
                    "%s", exc, INSTALL_HINT)
        return None
    try:
        _active = otel.install()
    except Exception as exc:  # a bad OTEL_* value must not stop the gate
        log.warning("OpenTelemetry could not be started, tracing stays off: %s", exc)
        return None
    return _active


def flush_telemetry() -> None:
    """Export what is buffered now (a Lambda invocation about to be frozen)."""
    if _active is not None:
        try:
            _active.flush()
        except Exception:
            log.warning("exporting telemetry failed", exc_info=True)


def shutdown_telemetry() -> None:
    """Export what is left and uninstall (the process is about to end). Idempotent."""
    global _active
    active, _active = _active, None
    if active is not None:
        try:
            active.shutdown()
        except Exception:
            log.warning("shutting telemetry down failed", exc_info=True)
