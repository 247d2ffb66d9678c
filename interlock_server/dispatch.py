"""Finding a request's route without trying every route's pattern.

Starlette's router tries the routes in order, each one's regular expression, until one matches
(a readiness GET tried nine). :class:`IndexedRouter` tries only the routes that *can* match the
path — those with as many segments and, where a route's last segment is fixed, the same last
segment — in the same order, with the same ``matches``; a route it cannot reason about (a mount,
a ``{path:path}`` parameter, a segment that mixes text and a parameter, its own ``matches``) is
always tried. A route left out could only have answered no match, so the route chosen, a 405
for the wrong method (the first partial match) and the path parameters are Starlette's own.
When no candidate matches, Starlette's full walk runs as before (slash redirects, 404).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send

try:  # the path as Starlette's routes match it (a private helper: a later Starlette may move it)
    from starlette._utils import get_route_path
except ImportError:  # pragma: no cover - the same rule, written out
    def get_route_path(scope: Scope) -> str:
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if not root_path or not path.startswith(root_path):
            return path
        if path == root_path:
            return ""
        return path[len(root_path):] if path[len(root_path)] == "/" else path

_PARAMETER = re.compile(r"\{[a-zA-Z_][a-zA-Z0-9_]*(?::(?:str|int|float|uuid))?\}")
"""A whole segment that is one parameter whose pattern never spans a ``/``."""

ANY = None
"""A last segment that is a parameter: any text."""

Shape = tuple[int, str | None]


def shape(route: BaseRoute) -> Shape | None:
    """(number of segments, the last one when fixed) of every path ``route`` can match; None when
    that cannot be told from its path."""
    if not isinstance(route, Route) or type(route).matches is not Route.matches:
        return None
    segments = route.path.split("/")
    for segment in segments:
        if "{" in segment or "}" in segment:
            if _PARAMETER.fullmatch(segment) is None:
                return None
    last = segments[-1]
    return len(segments), ANY if "{" in last else last


class RouteIndex:
    """The routes a path can match, in table order, by the path's shape."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.size = len(routes)
        shapes = [shape(route) for route in routes]

        def picked(keep: set[Shape]) -> list[BaseRoute]:
            return [route for route, found in zip(routes, shapes, strict=True) if found is None or found in keep]

        self.always = picked(set())
        self.by_length = {n: picked({(n, ANY)}) for n, _ in filter(None, shapes)}
        self.by_shape = {found: picked({found, (found[0], ANY)}) for found in filter(None, shapes)
                         if found[1] is not ANY}

    def candidates(self, path: str) -> list[BaseRoute] | None:
        """The routes worth trying for ``path``, None for all of them."""
        if path.endswith("\n"):  # ``$`` matches before a final newline: leave it to the patterns
            return None
        length = path.count("/") + 1
        last = path.rpartition("/")[2]
        found = self.by_shape.get((length, last))
        if found is not None:
            return found
        return self.by_length.get(length, self.always)


class IndexedRouter(Router):
    """Starlette's router, trying only the candidates of :class:`RouteIndex` first (routes added
    later are indexed again)."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        super().__init__(routes)
        self.index = RouteIndex(self.routes)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if self.index.size != len(self.routes):
                self.index = RouteIndex(self.routes)
            candidates = self.index.candidates(get_route_path(scope))
            if candidates is not None and await self._dispatch(candidates, scope, receive, send):
                return
        await super().app(scope, receive, send)

    async def _dispatch(self, candidates: list[BaseRoute], scope: Scope, receive: Receive, send: Send) -> bool:
        """Router.app's walk over ``candidates``: the first full match, else the first partial one;
        False when none matches."""
        chosen: tuple[BaseRoute, Scope] | None = None
        for route in candidates:
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                chosen = (route, child_scope)
                break
            if match is Match.PARTIAL and chosen is None:
                chosen = (route, child_scope)
        if chosen is None:
            return False
        route, child_scope = chosen
        if "router" not in scope:
            scope["router"] = self
        scope["route"] = route
        scope.update(child_scope)
        await route.handle(scope, receive, send)
        return True
