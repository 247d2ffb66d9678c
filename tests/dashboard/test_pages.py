"""The dashboard over HTTP (in-process): keys, the login form and its cookie, read-only keys, the
actions' CSRF protection, secrets kept off the pages."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from interlock_server.auth import Access, Tokens
from interlock_server.dashboard.session import COOKIE, SESSION_SECONDS, DashboardAuth, safe_next

from ..server.support import Webhook, webhook_server
from .conftest import Site
from .serving import FULL_KEY, READ_KEY

SECRET = "tok-7f3e-never-shown"
ORIGIN = "http://localhost"


def gated(name: str, url: str, status: str = "PASS", reason: str | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"status": status, **({"reason": reason} if reason else {})}
    return {"name": name, "archetype": "gate", "traits": {"source-ready": {"evaluator": "scripted", "config": config}},
            "trigger": {"type": "http", "method": "POST", "url": url, "headers": {"Authorization": f"Bearer {SECRET}"}}}


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook_server() as server:
        yield server


@pytest.fixture
async def site(make_site: Callable[..., Any], hook: Webhook) -> Site:
    made: Site = await make_site(pipelines=[gated("sales", hook.url), gated("orders", hook.url, "FAIL", "no rows yet")])
    return made


async def sign_in(client: httpx.AsyncClient, key: str, target: str = "/") -> httpx.Response:
    return await client.post("/login", data={"key": key, "next": target}, headers={"Origin": ORIGIN})


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match, "the page carries a CSRF token"
    return match.group(1)


# ---------------------------------------------------------------------------------- keys


async def test_pages_need_a_key_and_offer_a_login_form(site: Site) -> None:
    client = site.client
    first = await client.get("/pipelines/sales?x=1")
    assert first.status_code == 303
    assert first.headers["location"] == "/login?next=%2Fpipelines%2Fsales%3Fx%3D1"
    form = await client.get("/login")
    assert form.status_code == 200 and 'name="key"' in form.text and 'type="password"' in form.text
    assert (await client.get("/live")).status_code == 401
    assert (await client.get("/static/dashboard.css")).status_code == 200
    assert (await client.post("/pipelines/sales/evaluate", headers={"Accept": "application/json"})).status_code == 401
    # the API keeps its own answers
    assert (await client.get("/api/nowhere")).status_code == 401
    assert (await client.get("/api/pipelines")).status_code == 401
    assert (await client.get("/", headers={"X-API-Key": FULL_KEY})).status_code == 200
    assert (await client.get("/", headers={"Authorization": f"Bearer {READ_KEY}"})).status_code == 200


async def test_login_sets_an_httponly_session_cookie_that_is_not_the_key(site: Site) -> None:
    client = site.client
    wrong = await sign_in(client, "not-a-key")
    assert wrong.status_code == 401 and "not an API key" in wrong.text
    assert COOKIE not in client.cookies
    signed = await sign_in(client, FULL_KEY, "/pipelines/sales")
    assert signed.status_code == 303 and signed.headers["location"] == "/pipelines/sales"
    header = signed.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=strict" in header and "path=/" in header
    assert FULL_KEY not in signed.headers["set-cookie"]
    page = await client.get("/pipelines/sales")
    assert page.status_code == 200 and "/pipelines/sales/evaluate" in page.text and "Sign out" in page.text
    out = await client.post("/logout", data={"csrf": csrf_of(page.text)}, headers={"Origin": ORIGIN})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert (await client.get("/")).status_code == 303


async def test_login_never_redirects_off_site_nor_accepts_a_foreign_form(site: Site) -> None:
    assert (await sign_in(site.client, FULL_KEY, "//evil.example/x")).headers["location"] == "/"
    foreign = await site.client.post("/login", data={"key": FULL_KEY}, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403  # refused before the form is read (cross-site write)
    assert COOKIE not in foreign.headers.get("set-cookie", "")
    for target in ("https://evil.example", "/\\evil.example", "/ok\r\nSet-Cookie: x=1", None, ""):
        assert safe_next(target, "") in ("/", target)
    assert safe_next("/pipelines/a?b=c", "") == "/pipelines/a?b=c"


def test_session_cookies_are_signed_by_the_key_and_expire() -> None:
    now = [1_000_000.0]
    auth = DashboardAuth(Tokens(full=(b"full-1", b"full-2"), read_only=(b"reader",)), now=lambda: now[0])
    full, reader = auth.issue("full-2"), auth.issue(" reader ")
    assert full is not None and reader is not None and auth.issue("nope") is None and auth.issue("") is None
    assert auth.verify(full) is Access.FULL and auth.verify(reader) is Access.READ_ONLY
    forged = reader.replace("read-only", "full", 1)
    assert auth.verify(forged) is None
    assert auth.verify(full[:-1] + ("0" if full[-1] != "0" else "1")) is None
    assert auth.verify("v1.full.notanumber.x.y") is None and auth.verify("garbage") is None
    rotated = DashboardAuth(Tokens(full=(b"full-1",)), now=lambda: now[0])
    assert rotated.verify(full) is None  # its key is gone, so is the session
    now[0] += SESSION_SECONDS + 1
    assert auth.verify(full) is None


# ---------------------------------------------------------------------------------- acting


async def test_a_read_only_key_sees_no_buttons_and_cannot_act(site: Site) -> None:
    headers = {"X-API-Key": READ_KEY}
    page = await site.client.get("/pipelines/sales", headers=headers)
    assert page.status_code == 200 and "source-ready" in page.text
    assert "/evaluate" not in page.text and "/rerun" not in page.text and "Read-only" in page.text
    refused = await site.client.post("/pipelines/sales/evaluate", headers={**headers, "Accept": "application/json"},
                                     data={"csrf": "x"})
    assert refused.status_code == 403 and refused.json()["message"] == "this API key may only read"
    await sign_in(site.client, READ_KEY)
    assert "/evaluate" not in (await site.client.get("/pipelines/sales")).text


async def test_actions_need_the_page_token_and_this_origin(site: Site) -> None:
    client = site.client
    await sign_in(client, FULL_KEY)
    token = csrf_of((await client.get("/pipelines/sales")).text)
    as_json = {"Accept": "application/json", "Origin": ORIGIN}
    assert (await client.post("/pipelines/sales/evaluate", headers=as_json)).status_code == 403
    foreign = await client.post("/pipelines/sales/evaluate", data={"csrf": token},
                                headers={**as_json, "Origin": "http://evil.example"})
    assert foreign.status_code == 403
    done = await client.post("/pipelines/sales/evaluate", data={"csrf": token}, headers=as_json)
    assert done.status_code == 200 and done.json() == {"level": "ok", "message": "Evaluated sales: READY"}
    proxied = await client.post("/pipelines/sales/evaluate", data={"csrf": token}, headers={
        **as_json, "Origin": "https://dash.example", "X-Forwarded-Host": "dash.example"})
    assert proxied.status_code == 200  # behind a proxy that names the public host
    blocked = await client.post("/pipelines/orders/evaluate", data={"csrf": token}, headers=as_json)
    assert blocked.json() == {"level": "warn", "message": "Evaluated orders: NOT READY, blocked by source-ready"}


async def test_a_plain_form_post_redirects_back_with_a_one_shot_notice(site: Site) -> None:
    client = site.client
    await sign_in(client, FULL_KEY)
    token = csrf_of((await client.get("/pipelines/orders")).text)
    posted = await client.post("/pipelines/orders/evaluate", data={"csrf": token}, headers={"Origin": ORIGIN})
    assert posted.status_code == 303 and posted.headers["location"] == "/pipelines/orders"
    shown = await client.get("/pipelines/orders")
    assert "Evaluated orders: NOT READY, blocked by source-ready" in shown.text
    assert "no rows yet" in shown.text  # the reason, now stored
    assert "Evaluated orders" not in (await client.get("/pipelines/orders")).text


async def test_run_and_rerun_go_through_the_engine(site: Site, hook: Webhook) -> None:
    headers = {"X-API-Key": FULL_KEY, "Accept": "application/json"}
    token = csrf_of((await site.client.get("/pipelines/sales", headers=headers)).text)
    ran = (await site.client.post("/pipelines/sales/run", data={"csrf": token}, headers=headers)).json()
    assert ran["level"] == "ok" and ran["message"].startswith("Run sales-") and len(hook.requests) == 1
    again = (await site.client.post("/pipelines/sales/run", data={"csrf": token}, headers=headers)).json()
    assert again["level"] == "warn" and len(hook.requests) == 1
    runs = await site.engine.store.list_runs("sales", 5)
    await site.engine.complete_run(runs[0].run_id, "success")
    bad = (await site.client.post("/pipelines/sales/rerun", data={"csrf": token, "date": "soon"}, headers=headers))
    assert bad.json()["level"] == "error"
    unchanged = (await site.client.post("/pipelines/sales/rerun", headers=headers, data={
        "csrf": token, "date": runs[0].date, "reason": "late data fixed"})).json()
    assert unchanged["level"] == "error" and "no new data" in unchanged["message"] and len(hook.requests) == 1
    rerun = (await site.client.post("/pipelines/sales/rerun", headers=headers, data={  # "even without new data"
        "csrf": token, "date": runs[0].date, "reason": "late data fixed", "force": "on"})).json()
    assert rerun["level"] == "ok" and "Rerun" in rerun["message"] and len(hook.requests) == 2
    [record] = await site.engine.store.list_reruns("sales", 5)
    assert record.reason == "late data fixed"
    page = (await site.client.get("/pipelines/sales", headers=headers)).text
    assert record.rerun_id in page and "late data fixed" in page
    unknown = await site.client.post("/pipelines/nope/evaluate", data={"csrf": token}, headers=headers)
    assert unknown.json()["level"] == "error" and "not found" in unknown.json()["message"]


async def test_an_open_server_lets_everyone_act(make_site: Callable[..., Any], hook: Webhook) -> None:
    site: Site = await make_site(auth=False, pipelines=[gated("sales", hook.url)])
    page = await site.client.get("/pipelines/sales")
    assert page.status_code == 200 and "/pipelines/sales/evaluate" in page.text and "Sign out" not in page.text
    assert (await site.client.get("/login")).headers["location"] == "/"


# ---------------------------------------------------------------------------------- what pages show


async def test_pages_never_show_secrets(make_site: Callable[..., Any], hook: Webhook) -> None:
    vault = gated("vault", hook.url)
    vault["traits"]["source-ready"]["config"]["value"] = {"password": "pw-123", "rows": 10}
    site: Site = await make_site(pipelines=[vault])
    await site.engine.evaluate("vault")
    headers = {"X-API-Key": FULL_KEY}
    for path in ("/", "/pipelines/vault"):
        text = (await site.client.get(path, headers=headers)).text
        assert SECRET not in text and "pw-123" not in text and FULL_KEY not in text
    shown = html.unescape((await site.client.get("/pipelines/vault", headers=headers)).text)
    assert '"Authorization": "***"' in shown  # the trigger's header, in the configuration
    assert '{"password": "***", "rows": 10}' in shown  # the trait's value


async def test_unknown_pipeline_is_a_404_page_and_pages_carry_security_headers(site: Site) -> None:
    missing = await site.client.get("/pipelines/nope", headers={"X-API-Key": FULL_KEY})
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    assert "pipeline &#39;nope&#39; not found" in missing.text
    page = await site.client.get("/", headers={"X-API-Key": FULL_KEY})
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"


async def test_overview_filters_and_sorts_from_the_query_string(site: Site) -> None:
    await site.engine.evaluate("orders")
    headers = {"X-API-Key": FULL_KEY}

    async def rows(query: str) -> list[str]:
        text = (await site.client.get(f"/?{query}", headers=headers)).text
        return re.findall(r'<tr data-pipeline="([^"]+)"', text)

    assert await rows("") == ["orders", "sales"]  # blocked first
    assert await rows("sort=name&order=desc") == ["sales", "orders"]
    assert await rows("readiness=NOT_READY") == ["orders"]
    assert await rows("q=SAL") == ["sales"]
    assert await rows("readiness=bogus&sort=bogus") == ["orders", "sales"]
