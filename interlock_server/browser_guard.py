"""What a web page in someone's browser must never do to this server: forge a write (CSRF) or
reach it under a foreign host name (DNS rebinding).

* Writes (every method but GET, HEAD, OPTIONS) are refused with 403 when they come from another
  site: an ``Origin`` that does not name this server as the client (or a proxy, through
  ``X-Forwarded-Host``) addressed it, or ``Sec-Fetch-Site: cross-site``.
* A write to the API (``/api/...``) with a body must send ``Content-Type: application/json``
  (415 otherwise): a page can post ``text/plain`` or form bodies anywhere without asking, JSON
  it cannot send cross-site without the server's consent (CORS, never granted here). The
  dashboard's own forms post to its own routes, with a CSRF token (see ``dashboard.session``).
* With no API key configured, the server answers only to loopback host names — ``localhost``,
  ``127.0.0.1``, ``[::1]`` (any numeric port) — and to the names listed in ``server.allowedHosts``:
  421 otherwise, and for a ``Host`` that is no ``name[:port]`` at all (``localhost:3301@evil.com``).
  A rebinding page reaches 127.0.0.1 under its own name, which is refused.
  ``GET /api/health`` is exempt (probes address a container by its IP; it tells nothing).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from .responses import error_response

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "localhost."})
JSON_TYPES = ("application/json",)


_HOST = re.compile(r"(?P<name>\[[0-9a-f:.]+(?:%[0-9a-z._~-]+)?\]|[a-z0-9._-]+)(?::[0-9]{1,5})?")
"""A ``Host`` header: a name (letters, digits, ``.``, ``-``, ``_``) or a bracketed IPv6 address,
then at most a numeric port. Nothing else — no ``@``, no second colon, no path."""


def host_name(host: str) -> str:
    """The name in a ``Host`` header, without port or IPv6 brackets, lower case; ``""`` when the
    header is no ``name[:port]`` at all (``localhost:3301@evil.com``)."""
    host = host.strip().lower()
    match = _HOST.fullmatch(host)
    if match is None:
        return host if _bare_ipv6(host) else ""
    name = match["name"]
    return name[1:-1] if name.startswith("[") else name


def _bare_ipv6(host: str) -> bool:
    """An IPv6 address written without brackets (``::1``): no port can follow it."""
    try:
        return isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address)
    except ValueError:
        return False


def is_loopback_name(name: str) -> bool:
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_json(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


def has_body(headers: Headers) -> bool:
    length = headers.get("content-length")
    if "transfer-encoding" in headers:
        return True
    return length is not None and length.strip() not in ("", "0")


def cross_site(headers: Headers) -> str | None:
    """Why a request comes from another site (None: it does not, as far as a browser says)."""
    if headers.get("sec-fetch-site", "").strip().lower() == "cross-site":
        return "Sec-Fetch-Site: cross-site"
    origin = headers.get("origin")
    if origin is None:
        return None
    hosts = {h.strip().lower() for h in (headers.get("host"), headers.get("x-forwarded-host")) if h}
    if origin.strip().lower() in {f"{scheme}://{host}" for host in hosts for scheme in ("http", "https")}:
        return None
    return f"Origin {origin[:100]!r} is not this server"


class BrowserGuard:
    """ASGI middleware (see the module documentation)."""

    def __init__(self, app: ASGIApp, *, loopback_only: bool, allowed_hosts: Iterable[str] = (),
                 public: Iterable[tuple[str, str]] = ()) -> None:
        self.app = app
        self.loopback_only = loopback_only
        self.allowed = frozenset(name for name in (host_name(h) for h in allowed_hosts) if name)
        self.public = frozenset(public)

    def host_allowed(self, headers: Headers) -> bool:
        name = host_name(headers.get("host", ""))
        return bool(name) and (is_loopback_name(name) or name in self.allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        method, path = scope["method"], scope["path"]
        if self.loopback_only and (method, path) not in self.public and not self.host_allowed(headers):
            await error_response(
                421, "this server has no API key and answers only to loopback host names (localhost, 127.0.0.1, "
                "[::1]); set server.apiKey, or list the host name in server.allowedHosts",
                field="Host")(scope, receive, send)
            return
        if method not in SAFE_METHODS:
            why = cross_site(headers)
            if why is not None:
                await error_response(403, f"cross-site request refused ({why})", field="Origin")(
                    scope, receive, send)
                return
            if path.startswith("/api/") and has_body(headers) and not is_json(headers.get("content-type", "")):
                await error_response(415, "a request body must be JSON: send Content-Type: application/json",
                                     field="Content-Type")(scope, receive, send)
                return
        await self.app(scope, receive, send)
