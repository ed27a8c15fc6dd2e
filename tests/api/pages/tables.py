"""Route tables for the page tests: every route of a surface, so that a table test
(who may call what) fails when a new route has no entry."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import fastapi.routing
from fastapi import FastAPI


def _flat(app: FastAPI) -> Iterable[Any]:
    # FastAPI >= 0.16x keeps included routers as branches; iter_route_contexts flattens
    # them. Older versions list every route in app.routes.
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    return iterate(app.routes) if iterate else app.routes


def routes_under(app: FastAPI, prefix: str) -> set[tuple[str, str]]:
    """(method, path template) of every route whose path starts with ``prefix``."""
    found = set()
    for route in _flat(app):
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if path and methods and path.startswith(prefix):
            found |= {(method, path) for method in methods if method != "HEAD"}
    return found


STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")


def state_changing_routes(app: FastAPI, modules: tuple[str, ...]) -> set[tuple[str, str]]:
    """(method, path template) of every POST, PUT, PATCH or DELETE route whose handler is
    defined in one of ``modules`` (wherever it is mounted)."""
    found = set()
    for route in _flat(app):
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        module = getattr(getattr(route, "endpoint", None), "__module__", "")
        if path and methods and module in modules:
            found |= {(method, path) for method in methods if method in STATE_CHANGING}
    return found
