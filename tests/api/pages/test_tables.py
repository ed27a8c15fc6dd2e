"""The route table helper sees every route, those of nested routers included."""

from __future__ import annotations

import fastapi
from fastapi import FastAPI

from tests.api.pages.tables import routes_under


def test_routes_under_sees_routes_of_included_routers() -> None:
    app = FastAPI()
    outer, inner = fastapi.APIRouter(prefix="/x"), fastapi.APIRouter(prefix="/y")
    inner.add_api_route("/z/{id}", lambda id: id, methods=["POST"])
    outer.include_router(inner)
    app.include_router(outer)
    assert routes_under(app, "/x") == {("POST", "/x/y/z/{id}")}
