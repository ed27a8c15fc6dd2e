"""The page building blocks in chromium, under the Content-Security-Policy: a Vega-Lite
chart declared with Altair, a Leaflet map with numbered markers and coloured lines and no
tiles, the CSRF header on htmx requests, and titles shown as text (never as markup)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import altair as alt
import pytest
from fastapi import Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.pages.templating import environment
from api.pages.widgets import PALETTE, feature_collection, line, point, vega_lite
from core.settings import get_settings
from tests.browser import Tab, live_server, serial_sessions

PAGE = """{% extends "base.html" %}{% import "widgets.html" as widgets %}
{% block head %}{{ widgets.map_styles() }}{% endblock %}
{% block scripts %}{{ widgets.chart_scripts() }}{{ widgets.map_scripts() }}{% endblock %}
{% block content %}
{{ widgets.chart("temps", spec, "Failures by temperature") }}
{{ widgets.map("route", features, "A route") }}
<button id="echo" hx-post="/test/echo" hx-target="#echoed">Send</button>
<p id="echoed"></p>
{% endblock %}"""
TOKEN = "token-of-this-page"


def widgets_page(request: Request) -> HTMLResponse:
    data = alt.Data(values=[{"temp": t, "failures": n} for t, n in [(-20, 9), (-10, 4), (0, 1)]])
    spec = vega_lite(alt.Chart(data).mark_bar().encode(x="temp:O", y="failures:Q"))
    features = feature_collection(
        [
            point(65.01, 25.47, label=1, title="<b>First</b> stop"),
            point(65.05, 25.60, label=2, title="Second stop"),
            point(65.10, 25.30, title="a site"),
            line([(65.0, 25.4), (65.01, 25.47), (65.05, 25.60)], color="#D55E00"),
            line([(65.0, 25.4), (65.10, 25.30)]),
        ]
    )
    body = environment("api.pages").from_string(PAGE)
    return HTMLResponse(body.render(spec=spec, features=features, csrf_token=TOKEN))


def echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.headers.get("X-CSRF-Token", "none"))


@pytest.fixture
def no_tiles(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FIELDRECALL_MAP_TILE_URL", "")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def widgets_server(no_tiles: None, sessions: sessionmaker[Session]) -> Iterator[str]:
    app = create_app(serial_sessions(sessions))
    app.add_api_route("/test/widgets", widgets_page, methods=["GET"])
    app.add_api_route("/test/echo", echo, methods=["POST"])
    with live_server(app) as base:
        yield base


def test_a_chart_a_map_without_tiles_and_htmx_under_the_policy(
    widgets_server: str, browse: Callable[..., Tab]
) -> None:
    tab = browse(widgets_server, phone=True)
    tab.goto("/test/widgets")
    tab.drawn("#temps")
    tab.drawn("#route")
    page = tab.page
    # Three bars, drawn as SVG by Vega through its expression interpreter (no eval).
    assert page.locator("#temps svg .mark-rect path").count() == 3
    # Two numbered markers, one dot, two lines: the first in its own colour, the second
    # in the palette's first.
    assert page.locator("#route .fr-marker").all_inner_texts() == ["1", "2"]
    strokes = page.locator("#route path.leaflet-interactive").evaluate_all(
        "paths => paths.map(p => p.getAttribute('stroke'))"
    )
    assert sorted(strokes) == sorted(["#D55E00", PALETTE[0], "#ffffff"])
    # No tile layer at all, so nothing was asked of a tile server.
    assert page.locator("#route .leaflet-tile").count() == 0 and tab.offsite == []
    # A title is text, never markup.
    page.locator("#route .fr-marker").first.click()
    popup = page.locator(".leaflet-popup-content")
    assert popup.inner_text() == "<b>First</b> stop" and popup.locator("b").count() == 0
    # htmx sends the page's CSRF token with its requests.
    page.click("#echo")
    expect(page.locator("#echoed")).to_have_text(TOKEN)
    assert tab.fits_phone()
    tab.screenshot("widgets-phone")
