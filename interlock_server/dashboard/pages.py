"""The pages: the overview, a pipeline, signing in and out, and the live stream."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from interlock_core.engine import Engine
from interlock_core.errors import InterlockError
from interlock_core.pipeline_state import PipelineState

from .alerts import alert_outbox
from .gather import overview_rows, pipeline_detail
from .live import LiveFeed, LiveResponse
from .overview import Counts, Selection, SlaState, count_label
from .session import (
    COOKIE,
    DashboardAuth,
    base_path,
    clear_session,
    client_address,
    csrf_ok,
    safe_next,
    same_origin,
    set_session,
)
from .web import Renderer, form_fields, login_redirect, redirect


class Pages:
    def __init__(self, engine: Engine, auth: DashboardAuth, renderer: Renderer, live: LiveFeed) -> None:
        self.engine = engine
        self.auth = auth
        self.render = renderer
        self.live = live

    async def overview(self, request: Request) -> Response:
        viewer = self.auth.viewer(request)
        if viewer is None:
            return login_redirect(request)
        selection = Selection.parse(dict(request.query_params))
        try:
            rows = await overview_rows(self.engine)
        except InterlockError as exc:
            return self.render.error(request, viewer, exc.status_code, exc.message)
        return self.render.page(request, "overview.html", viewer, rows=selection.apply(rows), counts=Counts.of(rows),
                                selection=selection, query=selection.query, state_choices=list(PipelineState),
                                count_label=count_label, sla_choices=[s for s in SlaState if s is not SlaState.NONE])

    async def pipeline(self, request: Request) -> Response:
        viewer = self.auth.viewer(request)
        if viewer is None:
            return login_redirect(request)
        try:
            detail = await pipeline_detail(self.engine, request.path_params["name"])
        except InterlockError as exc:
            return self.render.error(request, viewer, exc.status_code, exc.message)
        return self.render.page(request, "pipeline.html", viewer, detail=detail, row=detail.row)

    async def alerts(self, request: Request) -> Response:
        viewer = self.auth.viewer(request)
        if viewer is None:
            return login_redirect(request)
        try:
            outbox = await alert_outbox(self.engine)
        except InterlockError as exc:
            return self.render.error(request, viewer, exc.status_code, exc.message)
        return self.render.page(request, "alerts.html", viewer, outbox=outbox)

    # ------------------------------------------------------------------------------ sign in / out
    async def login_form(self, request: Request) -> Response:
        target = safe_next(request.query_params.get("next"), base_path(request))
        if self.auth.viewer(request) is not None:
            return redirect(target)
        return self.render.page(request, "login.html", None, target=target, failed=False)

    async def login(self, request: Request) -> Response:
        client = client_address(request)
        wait = self.auth.retry_after(client) if self.auth.enabled else None
        if wait is not None:  # a throttled client is answered before a byte of its body is read
            target = safe_next(request.query_params.get("next"), base_path(request))
            response = self.render.page(request, "login.html", None, status_code=429, target=target, failed=True,
                                        retry_after=wait)
            response.headers["Retry-After"] = str(wait)
            return response
        fields = await form_fields(request)
        target = safe_next(fields.get("next"), base_path(request))
        if not self.auth.enabled:
            return redirect(target)
        session = self.auth.issue(fields.get("key", "")) if same_origin(request) else None
        if session is None:
            self.auth.failed(client)
            return self.render.page(request, "login.html", None, status_code=401, target=target, failed=True)
        self.auth.succeeded(client)
        response = redirect(target)
        set_session(response, request, session)
        return response

    async def logout(self, request: Request) -> Response:
        viewer = self.auth.viewer(request)
        fields = await form_fields(request)
        if viewer is not None and not csrf_ok(request, viewer, fields.get("csrf")):
            return self.render.error(request, viewer, 403, "the form expired: reload the page and try again")
        cookie = request.cookies.get(COOKIE)
        if cookie:
            self.auth.revoke(cookie)
        response = redirect(f"{base_path(request)}/login")
        clear_session(response, request)
        return response

    # ------------------------------------------------------------------------------ live
    async def stream(self, request: Request) -> Response | LiveResponse:
        if self.auth.viewer(request) is None:
            return Response("sign in first", status_code=401, media_type="text/plain")
        return self.live.response()
