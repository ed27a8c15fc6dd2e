"""The field app on a phone in chromium, for the browser tests: open a page of the app
online with its pages kept offline, record an outcome through the confirmation, wait
until the app is quiet, and watch what it posts."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, Request, expect

from tests.browser import Tab

TILES = "https://tile.openstreetmap.org/"  # the default tile host: tried, and aborted


def open_app(browse: Callable[..., Tab], live: str, path: str) -> Tab:
    """A page of the app (a day, or the list of days) opened online, on a phone, with
    the pages kept for offline use."""
    tab = browse(live, phone=True, service_workers=True)
    tab.offsite_allowed = TILES
    tab.goto(path)
    expect(tab.page.locator("body")).to_have_attribute("data-offline", "kept", timeout=20_000)
    if tab.page.locator("#day-map").count():
        tab.drawn("#day-map")
    return tab


def settle(page: Page) -> None:
    """Wait until the app has sent its queue and kept its pages again: the live server
    shares the test's connection, so the test reads the database only while the app is
    quiet."""
    page.evaluate("window.fieldApp.settled()")


def record(
    page: Page, stop: int, serial: str, outcome: str, note: str, shot: Tab | None = None
) -> None:
    unit = page.locator(f'#stop-{stop} li.unit[data-serial="{serial}"]')
    unit.locator(f'button[data-outcome="{outcome}"]').click()
    dialog = page.locator("dialog#confirm")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"Record {serial} at stop {stop}, ")
    page.fill("#confirm-note", note)
    if shot:
        shot.screenshot("field-app-confirm", full_page=False)
    page.click("#confirm-ok")
    expect(dialog).to_be_hidden()


def posts(page: Page) -> list[str]:
    sent: list[str] = []

    def seen(request: Request) -> None:
        if request.method == "POST":
            sent.append(request.url)

    page.on("request", seen)
    return sent
