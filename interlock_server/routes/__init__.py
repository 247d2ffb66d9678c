"""The route table, one module per concept; each route carries its OpenAPI documentation."""

from __future__ import annotations

from ._route import ApiRoute
from .alerts import ROUTES as ALERTS
from .backfill import ROUTES as BACKFILL
from .history import ROUTES as HISTORY
from .meta import ROUTES as META
from .pipelines import ROUTES as PIPELINES
from .readiness import ROUTES as READINESS
from .reruns import ROUTES as RERUNS
from .runs import ROUTES as RUNS
from .shadow import ROUTES as SHADOW


def api_routes() -> list[ApiRoute]:
    return [*META, *PIPELINES, *READINESS, *RUNS, *BACKFILL, *HISTORY, *RERUNS, *SHADOW, *ALERTS]


__all__ = ["ApiRoute", "api_routes"]
