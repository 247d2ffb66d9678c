"""Sessions: garbled cookies are no session, signing out revokes the cookie on the server, and
guessing keys at the login form is throttled per client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from interlock_server.auth import Access, Tokens
from interlock_server.dashboard.session import COOKIE, LOGIN_FAILURES, LOGIN_WINDOW, DashboardAuth

from ..server.support import Webhook, webhook_server
from .conftest import Site
from .serving import FULL_KEY, READ_KEY
from .test_pages import ORIGIN, csrf_of, gated, sign_in

GARBLED = [
    "v1.full.²³.0123456789abcdef." + "a" * 64,           # digits int() refuses
    "v1.full.1.0123456789abcdef." + "é" * 64,            # a MAC hmac cannot compare as str
    "v1.full." + "9" * 5000 + ".0123456789abcdef." + "a" * 64,  # a number past int()'s digit limit
    "v1.full.1.2.3.4.5.6", "v1..", "....", "v1.admin.1.0123456789abcdef." + "a" * 64, "\x00\x01", "v1.full.-1.a.b",
]


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook_server() as server:
        yield server


@pytest.fixture
async def site(make_site: Callable[..., Any], hook: Webhook) -> Site:
    made: Site = await make_site(pipelines=[gated("sales", hook.url)])
    return made


@pytest.mark.parametrize("cookie", GARBLED)
async def test_a_garbled_session_cookie_is_no_session(site: Site, cookie: str) -> None:
    sent = (b"cookie", f"{COOKIE}={cookie}".encode("latin-1"))  # as a browser may send it, byte for byte
    for path in ("/", "/pipelines/sales"):
        page = await site.client.get(path, headers=[sent])
        assert page.status_code == 303 and "/login" in page.headers["location"], (path, page.status_code)
    acted = await site.client.post("/pipelines/sales/run", headers=[sent, (b"accept", b"application/json"),
                                                                    (b"origin", ORIGIN.encode())])
    assert acted.status_code == 401
    out = await site.client.post("/logout", headers=[sent, (b"origin", ORIGIN.encode())])
    assert out.status_code == 303
    assert (await site.client.get("/live", headers=[sent])).status_code == 401


def test_garbled_values_never_raise() -> None:
    auth = DashboardAuth(Tokens(full=(b"k",), read_only=(b"r",)), now=lambda: 1_000_000.0)
    for value in GARBLED:
        assert auth.verify(value) is None
        auth.revoke(value)  # nothing to revoke, nothing raised


async def test_signing_out_revokes_the_cookie_on_the_server(site: Site) -> None:
    client = site.client
    await sign_in(client, FULL_KEY)
    stolen = client.cookies[COOKIE]
    token = csrf_of((await client.get("/pipelines/sales")).text)
    assert (await client.post("/logout", data={"csrf": token}, headers={"Origin": ORIGIN})).status_code == 303
    client.cookies.set(COOKIE, stolen)  # a copy taken before signing out
    page = await client.get("/")
    assert page.status_code == 303 and "/login" in page.headers["location"]
    client.cookies.clear()
    await sign_in(client, FULL_KEY)  # a new session works
    assert (await client.get("/")).status_code == 200


def test_revocation_forgets_sessions_once_they_expire() -> None:
    now = [1_000_000.0]
    auth = DashboardAuth(Tokens(full=(b"k",)), now=lambda: now[0])
    first, second = auth.issue("k"), auth.issue("k")
    assert first is not None and second is not None
    auth.revoke(first)
    assert auth.verify(first) is None and auth.verify(second) is Access.FULL
    now[0] += 13 * 3600
    third = auth.issue("k")
    assert third is not None
    auth.revoke(third)
    assert len(auth._revoked) == 1  # the first one's entry went with its expiry


async def test_wrong_keys_are_throttled_per_client(site: Site) -> None:
    for _ in range(LOGIN_FAILURES):
        assert (await sign_in(site.client, "guess")).status_code == 401
    limited = await sign_in(site.client, FULL_KEY)  # even the right key waits
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= LOGIN_WINDOW + 1
    assert COOKIE not in limited.headers.get("set-cookie", "")
    assert "try again in" in limited.text
    site.clock.advance(timedelta(seconds=LOGIN_WINDOW + 1))
    signed = await sign_in(site.client, READ_KEY)
    assert signed.status_code == 303 and COOKIE in signed.headers["set-cookie"]


def test_the_throttle_is_per_client_and_a_success_clears_it() -> None:
    auth = DashboardAuth(Tokens(full=(b"k",)), now=lambda: 1_000_000.0)
    for _ in range(LOGIN_FAILURES):
        auth.failed("10.0.0.1")
    assert auth.retry_after("10.0.0.1") is not None and auth.retry_after("10.0.0.2") is None
    auth.succeeded("10.0.0.1")
    assert auth.retry_after("10.0.0.1") is None
