"""The technician's pages behind its secret link, as the server sends them: the list of
days, a day (times in each site's zone, opening hours, access notes, tap to call, remedy,
each unit with its state and open reports and who reported them), the buttons only from
the day on, the manifest and service worker of the installable app, and the exports
(opening hours on the PDF)."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy.orm import Session

from recall.models import VisitRequest
from tests.api.pages.technician.fixtures import link_base
from tests.conftest import FieldClock
from tests.fixtures import Keys
from tests.routing.plans.fixtures import DAY, PlanWorld, at


@pytest.fixture
def base(client: TestClient, keys: Keys, world: PlanWorld, session: Session) -> str:
    session.get_one(VisitRequest, world.visits["SA1"]).partner_note = "Key at the front desk"
    session.commit()
    return link_base(client, keys.technician)


def test_the_link_opens_the_list_of_days(client: TestClient, base: str) -> None:
    bare = client.get(base.rstrip("/"), follow_redirects=False)
    assert bare.status_code == 308 and bare.headers["location"] == base
    page = client.get(base).text
    assert f'href="{base}{DAY.isoformat()}"' in page
    assert "Thu 3 Dec 2026" in page and '<span class="tag">Today</span>' in page
    assert "2 stops · 3 units" in page
    for fmt in ("pdf", "ics", "gpx", "geojson"):
        assert f'href="{base}{DAY.isoformat()}.{fmt}"' in page
    assert f'<link rel="manifest" href="{base}manifest.webmanifest">' in page


def test_the_day_shows_what_the_technician_needs_at_each_stop(
    client: TestClient, base: str
) -> None:
    page = client.get(f"{base}{DAY.isoformat()}")
    assert page.status_code == 200
    html = page.text
    stops = html.split('<li class="stop"')[1:]
    assert len(stops) == 2
    alpha, beta = stops
    # Alpha North is in Helsinki, the day's zone: no zone named.
    assert re.search(r"ETA <time [^>]*>08:20</time>", alpha)
    assert "window 08:00\u201310:00" in alpha and "Europe/Helsinki time" not in alpha
    assert '<dd class="hours">Mo-Fr 08:00-17:00</dd>' in alpha
    assert '<dd class="access">Key at the front desk</dd>' in alpha
    assert '<a class="button call" href="tel:+3581">Call +358 1</a>' in alpha
    assert '<dd class="remedy">Replace the power board</dd>' in alpha
    assert 'data-serial="UA1" data-state="scheduled"' in alpha
    assert "<strong>no boot</strong> · Mon 3 Nov 2025, reported by the partner (Alpha Oy)" in alpha
    assert 'data-serial="UA4"' in alpha
    # Beta One is in Stockholm: its times in Stockholm time, the zone named.
    assert re.search(r"ETA <time [^>]*>08:40</time>", beta)
    assert (
        "window 07:00\u201309:00" in beta
        and '<span class="zone">Europe/Stockholm time</span>' in beta
    )
    assert "<strong>display dead</strong> · Tue 4 Nov 2025, reported by telemetry" in beta
    # The buttons, for the app's script.
    assert beta.count('data-outcome="') == 4 and 'data-action="start"' in beta
    assert '<p class="notice" id="not-yet" hidden>' in html
    assert '<script type="application/json" id="field-app">' in html


def test_a_coming_day_says_from_when_work_is_recorded(
    client: TestClient, base: str, field_clock: FieldClock
) -> None:
    field_clock.set(at(7) - timedelta(hours=8))  # 23:00 the day before, in Helsinki
    html = client.get(f"{base}{DAY.isoformat()}").text
    assert '<p class="notice" id="not-yet">' in html and "from Thu 3 Dec 2026 on" in html
    # The buttons are there, hidden: the app shows them once the day has come by the
    # phone's clock (tests/api/pages/technician/test_in_a_browser.py).
    assert '<button type="button" class="start" data-action="start" hidden>' in html
    assert '"today": "2026-12-02"' in html and '"zone": "Europe/Helsinki"' in html
    assert f'"keep": ["{base}", "{base}{DAY.isoformat()}"]' in html


def test_the_app_is_installable_and_its_worker_is_served_inside_the_link(
    client: TestClient, base: str
) -> None:
    manifest = client.get(f"{base}manifest.webmanifest")
    assert manifest.headers["content-type"] == "application/manifest+json"
    body = manifest.json()
    assert body["start_url"] == base and body["scope"] == base
    assert body["display"] == "standalone"
    sizes = {icon["sizes"] for icon in body["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in body["icons"]:
        assert client.get(icon["src"]).status_code == 200
    worker = client.get(f"{base}sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["cache-control"] == "no-cache"
    assert "self.registration.scope" in worker.text
    gone = client.get("/t/lnk_nothing/sw.js")
    assert gone.status_code == 404 and gone.headers["content-type"].startswith("text/html")


def test_the_exports_stay_and_the_pdf_has_the_opening_hours(client: TestClient, base: str) -> None:
    old = client.get(f"{base}{DAY.isoformat()}.html", follow_redirects=False)
    assert old.status_code == 308 and old.headers["location"] == f"{base}{DAY.isoformat()}"
    pdf = client.get(f"{base}{DAY.isoformat()}.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Open: Mo-Fr 08:00-17:00 (site time, Europe/Helsinki)" in text
    assert "Open: Mo-Sa 09:00-18:00 (site time, Europe/Stockholm)" in text
    for fmt in ("ics", "gpx", "geojson"):
        assert client.get(f"{base}{DAY.isoformat()}.{fmt}").status_code == 200
    assert client.get(f"{base}2026-12-04").status_code == 404


def test_errors_behind_the_link_are_pages_for_a_person(client: TestClient, base: str) -> None:
    day = f"{base}{DAY.isoformat()}"
    for method, url, status, says in [
        ("GET", "/t/lnk_nothing/", 404, "the link may have expired or been revoked"),
        ("GET", "/t/lnk_nothing", 404, "the link may have expired or been revoked"),
        ("GET", f"{base}2026-13-45", 422, "Missing or invalid: day."),
        ("GET", f"{day}.docx", 422, "unknown format"),
        ("GET", f"{base}no/such/page", 404, "nothing at this address"),
        ("GET", "/t/", 404, "nothing at this address"),
        ("GET", f"{base}visits/1/start", 405, "cannot be used that way"),
        ("POST", day, 405, "cannot be used that way"),
        ("GET", f"{base}%0A", 422, "This address cannot be read: the path contains"),
    ]:
        answer = client.request(method, url)
        assert (answer.status_code, answer.headers["content-type"]) == (
            status,
            "text/html; charset=utf-8",
        ), url
        assert says in answer.text and '"error"' not in answer.text, url
    # The app's own requests are answered in JSON, which its script reads.
    sent = client.post(f"{base}visits/1/start", json={"day": "someday"})
    assert sent.status_code == 422 and sent.json()["error"] == "ValidationError"
    # Elsewhere the API's shape stays.
    assert client.get("/api/v1/nothing").json()["error"] == "NotFound"
