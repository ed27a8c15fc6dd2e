"""/docs and /redoc draw the API documentation in chromium from the vendored assets, with
every request off the live server aborted (none is even attempted) and under the
Content-Security-Policy (no violation reported)."""

from __future__ import annotations

from collections.abc import Callable

from tests.browser import Tab

REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def test_swagger_ui_renders_offline(live: str, browse: Callable[..., Tab]) -> None:
    tab = browse(live)
    tab.goto("/docs")
    tab.page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    paths = tab.page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/partners" in paths and "/api/v1/campaigns/{campaign_id}/ledger" in paths
    assert tab.page.locator(".opblock-get").count() > 20
    # The validator badge would fetch an image from an outside server.
    assert tab.page.locator(".swagger-ui img[src*='validator']").count() == 0
    tab.screenshot("docs-swagger", full_page=False)
    assert tab.offsite == [] and tab.problems == []


def test_redoc_renders_offline(live: str, browse: Callable[..., Tab]) -> None:
    tab = browse(live)
    tab.goto("/redoc")
    tab.page.wait_for_selector("[data-section-id^='tag/']", timeout=30_000)
    assert tab.page.get_by_text("/api/v1/partners").count() > 0
    tab.screenshot("docs-redoc", full_page=False)
    # ReDoc's menu shows Redocly's logo from their server; the policy blocks it before any
    # request (so nothing is fetched), and ReDoc hides the image. That violation is the
    # only one.
    logo = [p for p in tab.problems if REDOCLY_LOGO in p]
    assert len(logo) >= 1 and [p for p in tab.problems if p not in logo] == []
    assert tab.offsite == []
    tab.problems.clear()
