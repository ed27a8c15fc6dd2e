"""Every portal page on a 390 px phone in chromium: nothing scrolls sideways, no CSP
violation or script error (the tab's guard), and a screenshot of each under
var/screenshots/portal-page-*.png; signing in with a partner key through the form."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.api.pages.partner.world import portal_world
from tests.browser import Tab


def test_every_portal_page_fits_a_phone(
    client: TestClient,
    session: Session,
    sessions: sessionmaker[Session],
    live: str,
    browse: Callable[..., Tab],
) -> None:
    pw = portal_world(client, session, sessions)
    sa2 = pw.world.visits["SA2"]
    tab = browse(live, phone=True)
    pages = {
        "home": pw.link_a + "/",
        "slots": f"{pw.link_a}/visits/{sa2}/slots",
        "no-slot": f"{pw.link_a}/visits/{pw.world.visits['SA3']}/slots",
        "reports": pw.link_a + "/reports",
        "report-form": pw.link_a + "/reports/new",
        "link-gone": "/p/lnk_1_unknown/",
        "sign-in": "/portal/login",
    }
    for name, path in pages.items():
        response = tab.goto(path)
        assert response.status == (404 if name == "link-gone" else 200), name
        assert tab.fits_phone(), name
        tab.screenshot(f"portal-page-{name}")
    tab.goto(pages["link-gone"])
    assert "This link opens nothing" in tab.page.inner_text("body")
    # A slot taken meanwhile: the page says so and offers the slots free now.
    tab.goto(pages["slots"])
    first = tab.page.locator("ul.slots form").first
    first.locator('input[name="window_start"]').evaluate(
        "input => { input.value = input.value.replace(/T\\d\\d:/, 'T03:') }"
    )
    with tab.page.expect_response(lambda r: r.request.method == "POST") as taken:
        first.locator("button.slot").click()
    assert taken.value.status == 409
    assert "That slot was taken meanwhile" in tab.page.inner_text("main")
    assert tab.page.locator("button.slot").count() >= 1
    assert tab.fits_phone()
    tab.screenshot("portal-page-slot-taken")
    # An address no route serves is a page too.
    assert tab.goto(pw.link_a + "/visits/nothing").status == 404
    assert "Nothing" in tab.page.inner_text("main") and tab.fits_phone()
    tab.screenshot("portal-page-no-such-address")
    tab.goto("/portal/login")
    # Signing in with the partner key gives the same portal under /portal/.
    tab.page.fill("#api_key", pw.world.keys.partner_b)
    tab.page.click("button[type=submit]")
    tab.page.wait_for_url(live + "/portal/")
    assert tab.page.locator("article.site").count() == 1
    assert tab.fits_phone()
    tab.screenshot("portal-page-signed-in")
    tab.page.click("header button:has-text('Sign out')")
    tab.page.wait_for_url(live + "/portal/login")
