"""A page router's refusals are HTML pages with the error's status, never the API's JSON;
a missing session sends a browser to sign in (and an htmx request is told to)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from api.errors import install_error_handlers
from api.pages.errors import PageRoute, SignInRequired
from core.errors import Conflict, NotFound


def app() -> FastAPI:
    router = APIRouter(route_class=PageRoute)

    @router.get("/p/{token}")
    def link(token: str) -> str:
        raise NotFound("This link is unknown or was replaced; ask for a new one.")

    @router.post("/p/{token}/confirm")
    def confirm(token: str, visit: int) -> str:
        raise Conflict(f"Visit {visit} is already confirmed.")

    @router.get("/private")
    def private() -> str:
        raise SignInRequired("Please sign in.", login_path="/login")

    application = FastAPI()
    application.include_router(router)
    return application


def test_domain_errors_and_bad_input_are_pages() -> None:
    client = TestClient(app())
    missing = client.get("/p/abc")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "<h1>Nothing here</h1>" in missing.text and "unknown or was replaced" in missing.text
    conflict = client.post("/p/abc/confirm?visit=7")
    assert conflict.status_code == 409 and "Visit 7 is already confirmed." in conflict.text
    invalid = client.post("/p/abc/confirm?visit=seven")
    assert invalid.status_code == 422 and "Missing or invalid: visit." in invalid.text
    assert '"error"' not in missing.text + conflict.text + invalid.text


def test_no_session_goes_to_sign_in_and_comes_back() -> None:
    client = TestClient(app())
    page = client.get("/private?tab=2", follow_redirects=False)
    assert (
        page.status_code == 303 and page.headers["location"] == "/login?next=%2Fprivate%3Ftab%3D2"
    )
    htmx = client.get("/private", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"] == "/login?next=%2Fprivate"


def test_behind_a_secret_link_even_a_failure_is_a_page() -> None:
    application = FastAPI()
    install_error_handlers(application)

    @application.get("/t/{token}/boom")
    @application.get("/api/v1/boom")
    def boom(token: str = "") -> str:
        raise RuntimeError("a bug")

    client = TestClient(application, raise_server_exceptions=False)
    page = client.get("/t/abc/boom")
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "<h1>Something went wrong</h1>" in page.text and "a bug" not in page.text
    assert client.get("/p/abc/nowhere").headers["content-type"].startswith("text/html")
    api = client.get("/api/v1/boom")
    assert api.status_code == 500 and api.json()["error"] == "InternalError"
    assert client.get("/api/v1/nowhere").json()["error"] == "NotFound"
