"""What the dashboard's handlers share: rendering with security headers, form bodies, redirects,
the one-shot notice shown after an action posted without script."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from interlock_core.clock import Clock

from .session import Viewer, base_path, is_https

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
NOTICE_COOKIE = "interlock_notice"
NOTICE_LEVELS = ("ok", "warn", "error")
MAX_FORM_BYTES = 16 * 1024


class Renderer:
    def __init__(self, templates: Jinja2Templates, clock: Clock, *, auth_enabled: bool) -> None:
        self.templates = templates
        self.clock = clock
        self.auth_enabled = auth_enabled

    def page(self, request: Request, template: str, viewer: Viewer | None, status_code: int = 200,
             **context: Any) -> Response:
        notice = read_notice(request)
        values = {"viewer": viewer, "base": base_path(request), "auth_enabled": self.auth_enabled,
                  "now": self.clock.now(), "notice": notice, **context}
        response = self.templates.TemplateResponse(request, template, values, status_code=status_code,
                                                   headers=SECURITY_HEADERS)
        if notice is not None:
            response.delete_cookie(NOTICE_COOKIE, path=base_path(request) or "/")
        return response

    def error(self, request: Request, viewer: Viewer | None, status_code: int, message: str) -> Response:
        return self.page(request, "error.html", viewer, status_code=status_code, status=status_code, message=message)


async def form_fields(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (what the pages' forms send)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {key: value for key, value in pairs}


def redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"})


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(f"{base_path(request)}/login?next={quote(target, safe='')}")


def with_notice(response: Response, request: Request, level: str, message: str) -> Response:
    response.set_cookie(NOTICE_COOKIE, quote(f"{level}:{message[:300]}"), max_age=60,
                        path=base_path(request) or "/", httponly=True, samesite="strict", secure=is_https(request))
    return response


def read_notice(request: Request) -> Mapping[str, str] | None:
    raw = request.cookies.get(NOTICE_COOKIE)
    if not raw:
        return None
    level, _, message = unquote(raw).partition(":")
    return {"level": level if level in NOTICE_LEVELS else "ok", "message": message}
