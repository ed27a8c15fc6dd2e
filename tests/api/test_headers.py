"""The security headers on every response: API JSON, errors, pages, static files and the
docs; the map tile host from the settings in img-src; ReDoc's two relaxations alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import Response
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.headers import content_security_policy, tile_source
from core.settings import Settings, get_settings

STRICT = (
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: https://tile.openstreetmap.org; font-src 'self'; "
    "connect-src 'self'; manifest-src 'self'; worker-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


@pytest.fixture(autouse=True)
def default_tiles(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("FIELDRECALL_MAP_TILE_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/healthz", 200),
        ("/api/v1/partners", 401),
        ("/api/v1/no-such-route", 404),
        ("/console/login", 200),
        ("/console/", 303),
        ("/", 307),
        ("/docs", 200),
        ("/openapi.json", 200),
        ("/static/fieldrecall/pages.js", 200),
        ("/static/no-such-file.js", 404),
        ("/t/not-a-token", 404),
        ("/favicon.ico", 302),
    ],
)
def test_every_response_carries_the_security_headers(
    client: TestClient, path: str, status: int
) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == status
    assert response.headers["Content-Security-Policy"] == STRICT
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_redoc_alone_may_use_inline_styles_and_a_blob_worker(client: TestClient) -> None:
    policy = client.get("/redoc").headers["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline';" in policy
    assert "worker-src 'self' blob:;" in policy
    assert "script-src 'self';" in policy  # never a script relaxation


def test_a_route_cannot_weaken_the_headers(sessions: sessionmaker[Session]) -> None:
    app = create_app(sessions)

    def framable() -> Response:
        return Response(
            "x", headers={"X-Frame-Options": "SAMEORIGIN", "Content-Security-Policy": ""}
        )

    app.add_api_route("/framable", framable)
    response = TestClient(app).get("/framable")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Content-Security-Policy"] == STRICT


def test_the_tile_host_of_the_setting_is_allowed_for_images(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "FIELDRECALL_MAP_TILE_URL", "https://{s}.tiles.example.org/a/{z}/{x}/{y}.png"
    )
    get_settings.cache_clear()
    policy = TestClient(create_app(sessions)).get("/healthz").headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://*.tiles.example.org;" in policy


@pytest.mark.parametrize(
    ("url", "source"),
    [
        ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "https://tile.openstreetmap.org"),
        ("http://{s}.tiles.local:8080/{z}/{x}/{y}.png", "http://*.tiles.local:8080"),
        ("/tiles/{z}/{x}/{y}.png", None),  # this server: 'self' covers it
        ("", None),  # no tiles
    ],
)
def test_tile_sources(url: str, source: str | None) -> None:
    assert tile_source(url) == source
    assert ("img-src 'self' data:;" in content_security_policy(url)) == (source is None)


@pytest.mark.parametrize(
    "url",
    [
        "tile.openstreetmap.org/{z}/{x}/{y}.png",
        "https://tiles.example.org/{z}/{x}.png",
        "ftp://x/{z}/{x}/{y}",
    ],
)
def test_a_tile_url_that_cannot_work_is_refused_at_start_up(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIELDRECALL_MAP_TILE_URL", url)
    with pytest.raises(ValidationError, match="map_tile_url"):
        Settings()
