"""JWTs for Airflow 3's REST API: ``POST <url>/auth/token`` with username and password.

A token is reused until shortly before the expiry its ``exp`` claim states (read, not verified:
Airflow verifies it) or until Airflow answers 401, whichever comes first. "Shortly" is
:data:`EXPIRY_MARGIN_SECONDS`, or half the token's lifetime when that is less, so a token that lives
30 s or less is still reused for half its life rather than replaced before every call. The lifetime
(``exp - iat``) is counted on Interlock's clock from when the token arrived, so a clock that
disagrees with Airflow's neither renews every call nor keeps a token past its life.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import anyio
import httpx

from interlock_core.clock import Clock
from interlock_core.errors import TriggerError
from interlock_core.model import FailureCategory

from ._common import json_body, raise_for_status, send

EXPIRY_MARGIN_SECONDS = 30.0
"""A token this close to its expiry is replaced before use (at most half its lifetime)."""


def renewal_margin(lifetime: float) -> float:
    """How long before its expiry a token of ``lifetime`` seconds is replaced: min(30 s, lifetime/2)."""
    return min(EXPIRY_MARGIN_SECONDS, max(lifetime, 0.0) / 2)


@dataclass(frozen=True)
class _Token:
    value: str
    renew_at: float | None
    """When to replace it (epoch seconds on Interlock's clock); None when the token states no expiry."""


class TokenCache:
    """Access tokens per (Airflow URL, username)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._lock = anyio.Lock()

    async def get(self, client: httpx.AsyncClient, base_url: str, username: str, password: str,
                  request_timeout: float) -> tuple[str, bool]:
        """A valid token, and whether it came from the cache."""
        key = (base_url, username)
        async with self._lock:
            token = self._tokens.get(key)
            now = self._clock.now().timestamp()
            if token is not None and (token.renew_at is None or now < token.renew_at):
                return token.value, True
            value = await _fetch(client, base_url, username, password, request_timeout)
            token = _Token(value, _renew_at(value, self._clock.now().timestamp()))
            self._tokens[key] = token
            return token.value, False

    def forget(self, base_url: str, username: str) -> None:
        self._tokens.pop((base_url, username), None)


async def _fetch(client: httpx.AsyncClient, base_url: str, username: str, password: str,
                 request_timeout: float) -> str:
    what = "airflow auth"
    response = await send(client, "POST", f"{base_url}/auth/token", what=what, timeout=request_timeout,
                          json={"username": username, "password": password})
    raise_for_status(response, what)
    value = json_body(response, what).get("access_token")
    if not isinstance(value, str) or not value:
        raise TriggerError(f"{what}: response missing access_token", category=FailureCategory.TRANSIENT)
    return value


def _renew_at(token: str, received: float) -> float | None:
    """When a token received at ``received`` (our clock) is replaced: its lifetime (``exp - iat``;
    ``exp`` minus the time received without ``iat``) less :func:`renewal_margin`. None when the
    token states no expiry, or one already past on our clock with no ``iat`` to measure it by."""
    claims = _claims(token)
    exp, iat = _number(claims.get("exp")), _number(claims.get("iat"))
    if exp is None:
        return None
    lifetime = exp - iat if iat is not None else exp - received
    if lifetime <= 0:
        return None  # it cannot be judged: use it until Airflow refuses it (then one fresh token is fetched)
    return received + lifetime - renewal_margin(lifetime)


def _claims(token: str) -> dict[str, object]:
    """The payload of a JWT (read, not verified), or {} when it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
