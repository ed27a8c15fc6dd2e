"""The README's screenshots of the support lead's console, made from the demo.

    make demo                     # once: the demo data (its recall, plan and signal)
    DATABASE_URL=... .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

It serves the app on the demo's database in this process (a free loopback port), signs
in to the console with a support-lead key it makes (label "screenshots"), opens the
flagged batch's signal, the recall's campaign page and its published plan in Debian's
chromium (Playwright), waits until every chart and map is drawn, and writes
``signal.png``, ``campaign.png`` and ``plan.png``: the top 1,400 pixels of each page,
reduced to a 256-colour palette to keep the files small. Map tiles are not fetched (the
markers and routes are drawn without them), so the pictures do not depend on a tile
server.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from PIL import Image
from playwright.sync_api import Page, Route, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.app import create_app  # noqa: E402
from api.keys import create_key  # noqa: E402
from core.db import transaction  # noqa: E402
from recall.campaigns import service as campaigns  # noqa: E402
from recall.detection import repository as detection  # noqa: E402
from routing.plans import service as plans  # noqa: E402

VIEWPORT = {"width": 1200, "height": 1000}
WIDGETS = "[data-vega-lite], [data-geojson]"  # charts and maps; pages.js sets data-state


@dataclass(frozen=True)
class Shot:
    name: str
    path: str
    height: int = 1400  # of the picture from the page's top, in CSS pixels


def pages_of_the_demo() -> list[Shot]:
    """The signal, campaign and plan pages to show (the demo's recall of its signal)."""
    with transaction() as session:
        signals = detection.list_signals(session)
        listed = campaigns.list_campaigns(session, partner_id=None)
        if not signals or not listed:
            raise SystemExit("no signal or recall in this database: run `make demo` first")
        campaign = next((c for c in listed if c.signal_id is not None), listed[-1])
        signal_id = campaign.signal_id or signals[0][0].id
        versions = plans.list_plans(session, campaign_id=campaign.id)
        plan = next((p for p in versions if p.status == "published"), None)
        if plan is None:
            raise SystemExit(f"recall {campaign.id} has no published plan: run `make demo`")
    return [
        Shot("signal", f"/console/signals/{signal_id}"),
        Shot("campaign", f"/console/campaigns/{campaign.id}"),
        Shot("plan", f"/console/campaigns/{campaign.id}/plans/{plan.id}"),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve() -> tuple[uvicorn.Server, str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("the app did not start")
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def reduce_colours(path: Path) -> None:
    """Rewrite the PNG with a palette of its 256 most frequent colours, each pixel taking
    the nearest: a page's flat fills keep their exact colour (median cut turned a small
    orange legend dot brown, octree whitened the notices' pale tint); only anti-aliased
    edges move a little."""
    image = Image.open(path).convert("RGB")
    common = sorted(image.getcolors(image.width * image.height) or [], reverse=True)[:256]
    flat = [channel for _, rgb in common for channel in rgb]
    palette = Image.new("P", (1, 1))
    palette.putpalette(flat + flat[:3] * (256 - len(common)))
    image.quantize(palette=palette, dither=Image.Dither.NONE).save(path, optimize=True)


def shoot(page: Page, base: str, shot: Shot, out: Path) -> Path:
    page.set_viewport_size({"width": VIEWPORT["width"], "height": shot.height})
    page.goto(base + shot.path)
    for widget in page.locator(WIDGETS).all():
        widget.scroll_into_view_if_needed()
    # (No wait_for_function: the Content-Security-Policy forbids the eval it needs.)
    page.wait_for_selector(
        ", ".join(f"{w}:not([data-state=drawn])" for w in WIDGETS.split(", ")),
        state="detached",
        timeout=30_000,
    )
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(300)  # Leaflet settles its panes after a scroll
    path = out / f"{shot.name}.png"
    page.screenshot(path=str(path))
    reduce_colours(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    shots = pages_of_the_demo()
    with transaction() as session:
        key = create_key(session, role="support_lead", label="screenshots")
    server, base = serve()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("needs Debian's chromium (scripts/ensure_chromium.sh installs it)")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
            )
            context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)

            def local_only(route: Route) -> None:
                if route.request.url.startswith(base):
                    route.continue_()
                else:
                    route.abort("blockedbyclient")  # map tiles: drawn without them

            context.route("**/*", local_only)
            page = context.new_page()
            page.goto(base + "/console/login")
            page.fill("#api_key", key)
            page.click("button[type=submit]")
            page.wait_for_url(base + "/console/")
            for shot in shots:
                path = shoot(page, base, shot, args.out)
                print(f"{path}: {path.stat().st_size // 1024} KiB")
            browser.close()
    finally:
        server.should_exit = True


if __name__ == "__main__":
    main()
