"""The indexed router picks the route Starlette's router picks, for every documented path and
many that are not: the same route (or mount), the same path parameters, the same 405 for a
wrong method, the same 404 and slash redirect when nothing matches."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from starlette.routing import BaseRoute, Router

from interlock_server.dispatch import IndexedRouter, RouteIndex, shape
from interlock_server.routes import api_routes

from .conftest import Api

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
VALUES = ("sales", "a.b-c_1", "123", "x y", "run:1", "%41")


def filled(path: str) -> list[str]:
    """``path`` with its parameters set to each of a few values."""
    names = re.findall(r"\{[^}]+\}", path)
    out = []
    for value in VALUES:
        text = path
        for name in names:
            text = text.replace(name, value)
        out.append(text)
    return out


def paths_to_try(routes: list[BaseRoute]) -> list[str]:
    paths = {"/", "", "/api", "/api/", "/dashboard", "/static/app.css", "/static/../x", "/login", "/logout",
             "/pipelines", "/pipelines/sales", "/pipelines/sales/", "/runs/r1", "/alerts", "/nothing/here",
             "/api/pipelines//readiness", "/api/pipelines/a/b/readiness", "//api/health", "/API/health"}
    for route in routes:
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            continue
        for text in filled(path):
            paths.update({text, text + "/", text + "\n", text + "/extra", text.rstrip("/").rpartition("/")[0],
                          text.upper(), text + "x"})
    return sorted(paths)


async def resolve(router: Router, method: str, path: str, root_path: str = "") -> tuple[Any, ...]:
    """What the router does with a request: the route it hands it to and the path parameters, or
    the answer it gives itself (404, redirect)."""
    handled: list[Any] = []
    sent: list[Any] = []
    scope: dict[str, Any] = {"type": "http", "method": method, "path": root_path + path, "root_path": root_path,
                             "raw_path": path.encode(), "query_string": b"", "headers": [], "scheme": "http",
                             "server": ("localhost", 8080)}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append((message["type"], message.get("status"), sorted(message.get("headers", [])),
                     message.get("body")))

    await router.app(scope, receive, send)
    route = scope.get("route")
    handled.append((id(route) if route is not None else None, scope.get("path_params"), scope.get("endpoint")))
    return tuple(handled), tuple(sent)


@pytest.fixture
def recorded(api: Api, monkeypatch: pytest.MonkeyPatch) -> list[BaseRoute]:
    """The app's own route table, each route recording instead of answering."""
    routes: list[BaseRoute] = list(api.app.routes)
    for route in routes:
        async def handle(scope: Any, receive: Any, send: Any, route: BaseRoute = route) -> None:
            await send({"type": "http.response.start", "status": 299,
                        "headers": [(b"x-route", str(id(route)).encode())]})
        monkeypatch.setattr(route, "handle", handle)
    return routes


def test_the_app_routes_through_the_indexed_router(api: Api) -> None:
    assert isinstance(api.app.router, IndexedRouter)
    assert [shape(route) for route in api_routes()].count(None) == 0  # every API route is indexed


@pytest.mark.parametrize("root_path", ["", "/prefix"])
async def test_every_path_and_method_resolves_as_starlettes_router_resolves_it(
        recorded: list[BaseRoute], root_path: str) -> None:
    plain, indexed = Router(recorded), IndexedRouter(recorded)
    tried = 0
    for path, method in itertools.product(paths_to_try(recorded), METHODS):
        assert await resolve(indexed, method, path, root_path) == await resolve(plain, method, path, root_path), \
            (method, path)
        tried += 1
    assert tried > 1000


async def test_a_route_added_later_is_found(recorded: list[BaseRoute]) -> None:
    indexed = IndexedRouter(recorded[:3])
    indexed.routes.append(recorded[5])
    plain = Router([*recorded[:3], recorded[5]])
    for path in filled(getattr(recorded[5], "path", "")):
        assert await resolve(indexed, "GET", path) == await resolve(plain, "GET", path)
        assert (await resolve(indexed, "GET", path))[0][0][0] == id(recorded[5])


def test_candidates_keep_the_table_order_and_leave_out_only_routes_that_cannot_match() -> None:
    routes = api_routes()
    index = RouteIndex(routes)
    readiness = index.candidates("/api/pipelines/sales/readiness")
    assert readiness is not None
    assert [getattr(route, "path", None) for route in readiness] == ["/api/pipelines/{id}/readiness"]
    by_id = index.candidates("/api/pipelines/sales")
    assert by_id is not None
    assert by_id == [route for route in routes if route in by_id]  # table order
    assert index.candidates("/api/health\n") is None  # a final newline: every pattern is tried
