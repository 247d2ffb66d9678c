"""JWTs for Airflow 3's REST API: ``POST <url>/auth/token`` with username and password.

A token is reused until shortly before the expiry its ``exp`` claim states (read, not verified:
Airflow verifies it) or until Airflow answers 401, whichever comes first.
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
"""A token this close to its expiry is replaced before use."""


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float | None  # epoch seconds, None when the token does not say


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
            if token is not None and not _expiring(token, now):
                return token.value, True
            token = await _fetch(client, base_url, username, password, request_timeout)
            self._tokens[key] = token
            return token.value, False

    def forget(self, base_url: str, username: str) -> None:
        self._tokens.pop((base_url, username), None)


async def _fetch(client: httpx.AsyncClient, base_url: str, username: str, password: str,
                 request_timeout: float) -> _Token:
    what = "airflow auth"
    response = await send(client, "POST", f"{base_url}/auth/token", what=what, timeout=request_timeout,
                          json={"username": username, "password": password})
    raise_for_status(response, what)
    value = json_body(response, what).get("access_token")
    if not isinstance(value, str) or not value:
        raise TriggerError(f"{what}: response missing access_token", category=FailureCategory.TRANSIENT)
    return _Token(value, _expiry(value))


def _expiring(token: _Token, now: float) -> bool:
    return token.expires_at is not None and token.expires_at - EXPIRY_MARGIN_SECONDS <= now


def _expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT, or None when it has none or is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None
