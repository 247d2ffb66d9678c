"""The dashboard: server-rendered pages over the engine, served by the API's own app at ``/``.

Routes (all read-only but the actions, which go through the engine):

* ``GET /`` - every pipeline: its state, blockers, last run, today's cycles, SLA, next window
* ``GET /pipelines/{name}`` - traits, runs, run logs, reruns, events, upstream and downstream
* ``POST /pipelines/{name}/evaluate|run|rerun`` - the buttons (full API key only)
* ``GET /alerts`` - the alert outbox: dead letters and alerts on their way;
  ``POST /alerts/{id}/retry`` sends one again (full API key only)
* ``GET|POST /login``, ``POST /logout`` - exchange an API key for a session cookie
* ``GET /live`` - server-sent events naming the pipelines that changed
* ``/static/...`` - the stylesheet and the page script (no build step)

The pages authenticate themselves (see :mod:`.session`); :meth:`Dashboard.owns` tells the API's
token middleware which requests those are.
"""

from __future__ import annotations

from pathlib import Path

from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import Scope

from interlock_core.engine import Engine

from ..auth import Tokens
from ..throttle import KeyThrottle
from .actions import Actions
from .formatting import environment
from .live import LiveFeed
from .pages import Pages
from .session import DashboardAuth
from .web import Renderer

STATIC = Path(__file__).with_name("static")


class Dashboard:
    def __init__(self, engine: Engine, tokens: Tokens, throttle: KeyThrottle | None = None) -> None:
        self.engine = engine
        clock = engine.ctx.clock
        self.auth = DashboardAuth(tokens, now=lambda: clock.now().timestamp(), throttle=throttle)
        self.live = LiveFeed(engine)
        renderer = Renderer(Jinja2Templates(env=environment()), engine.ctx.clock, auth_enabled=tokens.enabled)
        pages = Pages(engine, self.auth, renderer, self.live)
        actions = Actions(engine, self.auth)
        self.routes: list[BaseRoute] = [
            Route("/", pages.overview, methods=["GET"], name="overview"),
            Route("/pipelines/{name}", pages.pipeline, methods=["GET"], name="pipeline"),
            Route("/pipelines/{name}/evaluate", actions.evaluate, methods=["POST"], name="evaluate"),
            Route("/pipelines/{name}/run", actions.run, methods=["POST"], name="run"),
            Route("/pipelines/{name}/rerun", actions.rerun, methods=["POST"], name="rerun"),
            Route("/alerts", pages.alerts, methods=["GET"], name="alerts"),
            Route("/alerts/{alertId}/retry", actions.retry_alert, methods=["POST"], name="retry-alert"),
            Route("/login", pages.login_form, methods=["GET"], name="login-form"),
            Route("/login", pages.login, methods=["POST"], name="login"),
            Route("/logout", pages.logout, methods=["POST"], name="logout"),
            Route("/live", pages.stream, methods=["GET"], name="live"),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
        self.mount = _Pages(self)
        """For the app's route table, after the API's routes."""
        firsts = {_first_segment(str(getattr(route, "path", ""))) for route in self.routes}
        self._first_segments = frozenset(f for f in firsts if f is not None) \
            if all(f is not None and "{" not in f for f in firsts) else None
        """The first segment of every route's path (``""`` for ``/``): a path beginning with another
        one is no page's (every API request), told without asking each route."""

    def owns(self, scope: Scope) -> bool:
        """Whether a request is the dashboard's (it authenticates those itself)."""
        if self._first_segments is not None and scope["type"] == "http":
            first = _first_segment(get_route_path(scope))
            if first is not None and first not in self._first_segments:
                return False
        return any(route.matches(scope)[0] is not Match.NONE for route in self.routes)

    def close(self) -> None:
        """End the live streams (at the start of a graceful shutdown)."""
        self.live.close()


def _first_segment(path: str) -> str | None:
    parts = path.split("/", 2)
    return parts[1] if len(parts) > 1 and not parts[0] else None


class _Pages(Mount):
    """The dashboard's routes as one entry of the app's table, claiming only its own paths (so
    everything else keeps the app's own 404, slash redirects and metrics labels)."""

    def __init__(self, dashboard: Dashboard) -> None:
        super().__init__("", app=Router(dashboard.routes), name="dashboard")
        self._owns = dashboard.owns

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or not self._owns(scope):
            return Match.NONE, {}
        return super().matches(scope)


__all__ = ["Dashboard"]
