"""Who is looking: the dashboard takes the API's own keys, from the header or from a login form.

* ``X-API-Key`` / ``Authorization: Bearer`` work as on the API (a proxy may inject them).
* The login form exchanges a key for an HttpOnly, SameSite=Strict session cookie. The cookie never
  holds the key: it is ``v1.<access>.<expires>.<nonce>.<mac>`` with the MAC keyed by the API key
  itself, so it dies with the key (rotate a key and its sessions are gone) and proves nothing to
  anyone without it. Verification checks every key of the claimed kind, in constant time.
* Signing out revokes the session on the server: its nonce is remembered until the cookie would
  have expired, so a copy of the old cookie stops working too (per process: a replica that did
  not serve the sign-out keeps honouring the cookie until it expires or its key is rotated).
* Signing in is rate limited per client address (:mod:`interlock_server.throttle`, one budget with
  the API's wrong keys): after ``LOGIN_FAILURES`` wrong keys within ``LOGIN_WINDOW`` seconds the
  form answers 429 with ``Retry-After`` (even to the right key), before reading the form.
* With no key configured (loopback only) the dashboard is open and may act.

Every action form carries a CSRF token derived from the viewer's credential (the cookie, the
header key, or a per-process secret when open), and a cross-origin ``Origin`` is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

from ..auth import Access, Tokens, presented_token
from ..throttle import FAILURES, WINDOW, KeyThrottle

COOKIE = "interlock_session"
SESSION_SECONDS = 12 * 3600
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
_VERSION = "v1"
LOGIN_FAILURES = FAILURES
LOGIN_WINDOW = WINDOW

_SESSION = re.compile(
    rf"{_VERSION}\.(?P<access>{Access.FULL.value}|{Access.READ_ONLY.value})\.(?P<expires>[0-9]{{1,12}})"
    r"\.(?P<nonce>[0-9a-f]{16})\.(?P<mac>[0-9a-f]{64})", re.ASCII)
"""What :meth:`DashboardAuth.issue` writes; anything else is no session."""

Via = Literal["open", "header", "cookie"]


@dataclass(frozen=True)
class Viewer:
    access: Access
    via: Via
    csrf: str

    @property
    def can_act(self) -> bool:
        return self.access is Access.FULL

    @property
    def signed_in(self) -> bool:
        return self.via == "cookie"


def _mac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def _csrf(secret: bytes) -> str:
    return _mac(secret, "interlock-dashboard-csrf")[:40]


class DashboardAuth:
    def __init__(self, tokens: Tokens, *, now: Callable[[], float] = time.time,
                 throttle: KeyThrottle | None = None) -> None:
        self.tokens = tokens
        self._now = now
        self._open_secret = secrets.token_bytes(32)
        self._revoked: dict[str, float] = {}  # session nonce -> when the cookie expires anyway
        self.throttle = throttle or KeyThrottle(now)

    # ------------------------------------------------------------------------------ sign-in throttle
    def retry_after(self, client: str) -> int | None:
        """Seconds until ``client`` may try a key again (None: now)."""
        return self.throttle.retry_after(client)

    def failed(self, client: str) -> None:
        self.throttle.failed(client)

    def succeeded(self, client: str) -> None:
        self.throttle.succeeded(client)

    @property
    def enabled(self) -> bool:
        return self.tokens.enabled

    # ------------------------------------------------------------------------------ sessions
    def issue(self, key: str) -> str | None:
        """A session cookie value for ``key``, or None when it is no API key."""
        token = key.strip().encode()
        access = self.tokens.access(token) if token else None
        if access is None:
            return None
        expires = int(self._now()) + SESSION_SECONDS
        payload = f"{_VERSION}.{access.value}.{expires}.{secrets.token_hex(8)}"
        return f"{payload}.{_mac(token, payload)}"

    def verify(self, value: str) -> Access | None:
        """The access a session cookie grants; None for anything else, however garbled."""
        match = _SESSION.fullmatch(value)
        if match is None:
            return None
        access = Access(match["access"])
        if int(match["expires"]) < self._now() or match["nonce"] in self._revoked:
            return None
        payload, mac = value.rpartition(".")[0], match["mac"].encode()
        keys = self.tokens.full if access is Access.FULL else self.tokens.read_only
        found = False
        for key in keys:  # no early exit
            found |= hmac.compare_digest(mac, _mac(key, payload).encode())
        return access if found else None

    def revoke(self, value: str) -> None:
        """Sign a session out: the cookie ``value`` no longer verifies (here), however copied."""
        match = _SESSION.fullmatch(value)
        if match is None or self.verify(value) is None:
            return
        now = self._now()
        for nonce in [n for n, expires in self._revoked.items() if expires < now]:
            del self._revoked[nonce]
        self._revoked[match["nonce"]] = float(match["expires"])

    # ------------------------------------------------------------------------------ viewers
    def viewer(self, request: Request) -> Viewer | None:
        """The viewer of ``request``, or None when a key is required and none was presented."""
        if not self.tokens.enabled:
            return Viewer(Access.FULL, "open", _csrf(self._open_secret))
        token = presented_token(request.scope["headers"])
        access = self.tokens.access(token)
        if token is not None and access is not None:
            return Viewer(access, "header", _csrf(token))
        cookie = request.cookies.get(COOKIE)
        if cookie:
            access = self.verify(cookie)
            if access is not None:
                return Viewer(access, "cookie", _csrf(cookie.encode()))
        return None


# ---------------------------------------------------------------------------------- helpers


def set_session(response: Response, request: Request, value: str) -> None:
    response.set_cookie(COOKIE, value, max_age=SESSION_SECONDS, path=base_path(request) or "/", httponly=True,
                        samesite="strict", secure=is_https(request))


def clear_session(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path=base_path(request) or "/", httponly=True, samesite="strict",
                           secure=is_https(request))


def is_https(request: Request) -> bool:
    """Served over TLS, here or at a proxy in front (then cookies are ``Secure``)."""
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"


def client_address(request: Request) -> str:
    """Who is signing in, for the throttle: the peer address (a proxy's own, behind one)."""
    return request.client.host if request.client else "unknown"


def base_path(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def same_origin(request: Request) -> bool:
    """A browser's ``Origin`` (when it sends one) names this server, as the client or a proxy in
    front of it (``X-Forwarded-Host``) addressed it."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    hosts = {h.strip() for h in (request.headers.get("host"), request.headers.get("x-forwarded-host")) if h}
    return any(origin in (f"http://{host}", f"https://{host}") for host in hosts)


def csrf_ok(request: Request, viewer: Viewer, submitted: str | None) -> bool:
    token = submitted or request.headers.get(CSRF_HEADER) or ""
    return same_origin(request) and hmac.compare_digest(token.encode(), viewer.csrf.encode())


def safe_next(target: str | None, base: str) -> str:
    """Where to go after signing in: a path on this server, never another site."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")) and "\r" not in target \
            and "\n" not in target:
        return target
    return base + "/"

