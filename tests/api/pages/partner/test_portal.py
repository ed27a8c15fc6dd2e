"""The partner portal over HTTP: the recalls in plain words, one-tap confirmation, slots
booked at once, "none of these", failure reports with their timeline, the visit day's
progress, unknown and revoked links, and signing in with a partner key."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from devices.models import FailureReport
from recall.campaigns.lifecycle import change_failure_status
from recall.inbox.models import InboxItem
from recall.models import OutboxMessage, VisitRequest
from routing.plans.models import FieldPlan, PlanRoute, PlanStop
from tests.api.pages.partner.world import PortalWorld, portal_world


@pytest.fixture
def pw(client: TestClient, session: Session, sessions: sessionmaker[Session]) -> PortalWorld:
    return portal_world(client, session, sessions)


def cards(html: str) -> list[str]:
    """The site cards' data-site, in page order."""
    return re.findall(r'<article class="site"[^>]*data-site="([^"]+)"', html)


def test_the_recalls_in_plain_words_sorted_by_date(pw: PortalWorld, client: TestClient) -> None:
    page = client.get(pw.link_a + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "OU-200 cold boot" in html and "4 of your units at 3 sites are affected" in html
    # SA2 and SA1 are planned (Helsinki time), SA3 is out of reach: still being planned.
    assert cards(html)[-1] == "SA3" and set(cards(html)) == {"SA1", "SA2", "SA3"}
    assert "(Europe/Helsinki time)" in html
    assert "<strong>UA5</strong>: affected: it needs the fix" in html
    assert "We are planning this visit" in html and "Please confirm the date" in html
    # Partner B's page shows its own site only, its window in Stockholm time.
    other = client.get(pw.link_b + "/").text
    assert cards(other) == ["SB1"] and "(Europe/Stockholm time)" in other
    assert "One of your units is affected; not yet done." in other
    assert "Alpha" not in other and "UA1" not in other


def test_old_addresses_unknown_and_revoked_links(
    pw: PortalWorld, client: TestClient, session: Session
) -> None:
    moved = client.get(pw.link_a, follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (308, pw.link_a + "/")
    for gone in ("/p/lnk_nothing/", "/p/lnk_nothing/reports"):
        page = client.get(gone)
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert "This link opens nothing" in page.text and "/portal/login" in page.text
    # A second link opens beside the first.
    lead = {"X-API-Key": pw.world.keys.lead}
    new_a = client.post("/api/v1/links", headers={"X-API-Key": pw.world.keys.partner_a}).json()
    assert client.get(pw.link_a + "/").status_code == 200
    assert client.get(page_of(new_a)).status_code == 200
    # This one, the world's, and the one the recall's notices made; the longest-lived
    # first (the test's clock stands still: then the oldest), the partner's stable link.
    listed = client.get("/api/v1/links?partner=PA", headers=lead).json()
    assert len(listed) == 3 and new_a["id"] in {link["id"] for link in listed}
    stable = listed[0]
    # Re-sending the stable link by notice cancels nothing.
    resent = client.post("/api/v1/links/resend?partner=PA", headers=lead)
    assert resent.status_code == 201 and resent.json()["urls"] == stable["urls"]
    notice = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "portal_link")).one()
    assert notice.partner_key == "PA" and notice.channel == "email"
    assert notice.idempotency_key == resent.json()["idempotency_key"]
    assert all(client.get(page_of(link)).status_code == 200 for link in listed)
    # Revoked one by one: that link answers the page that says how to get in, the others
    # open, and notices carry the next one; another partner cannot revoke a link of A's.
    assert client.delete(f"/api/v1/links/{stable['id']}", headers=h_b(pw)).status_code == 404
    assert client.delete(f"/api/v1/links/{stable['id']}", headers=lead).status_code == 200
    gone = client.get(page_of(stable))
    assert gone.status_code == 404 and "This link opens nothing" in gone.text
    assert all(client.get(page_of(link)).status_code == 200 for link in listed[1:])
    again = client.post("/api/v1/links/resend?partner=PA", headers=lead).json()
    assert again["urls"] == listed[1]["urls"]


def page_of(link: dict) -> str:
    """The portal's address of a link as the API lists it."""
    status: str = link["urls"]["status"]
    return status[status.index("/p/") :] + "/"


def h_b(pw: PortalWorld) -> dict[str, str]:
    return {"X-API-Key": pw.world.keys.partner_b}


def test_confirm_with_one_tap_twice_is_once(
    pw: PortalWorld, client: TestClient, session: Session
) -> None:
    visit_id = pw.world.visits["SA1"]
    tapped = client.post(f"{pw.link_a}/visits/{visit_id}/confirm", follow_redirects=False)
    assert tapped.status_code == 303
    assert tapped.headers["location"] == f"{pw.link_a}/?done=confirmed#visit-{visit_id}"
    confirmed_at = session.get_one(VisitRequest, visit_id).partner_confirmed_at
    assert confirmed_at is not None
    again = client.post(f"{pw.link_a}/visits/{visit_id}/confirm", follow_redirects=False)
    assert again.status_code == 303
    session.expire_all()
    assert session.get_one(VisitRequest, visit_id).partner_confirmed_at == confirmed_at
    items = session.scalars(select(InboxItem).where(InboxItem.kind == "visit_confirmed")).all()
    assert [i.visit_id for i in items] == [visit_id]
    page = client.get(f"{pw.link_a}/?done=confirmed").text
    assert "the date is confirmed" in page and 'data-state="confirmed"' in page


def test_book_an_offered_slot_at_once_and_a_second_tap_changes_nothing(
    pw: PortalWorld, client: TestClient, session: Session
) -> None:
    visit_id = pw.world.visits["SA2"]
    slots = client.get(f"{pw.link_a}/visits/{visit_id}/slots")
    assert slots.status_code == 200
    offered = re.findall(
        r'name="day" value="([^"]+)">\s*<input type="hidden" name="window_start" value="([^"]+)"',
        slots.text,
    )
    assert 1 <= len(offered) <= 5
    day, start = offered[-1]
    booked = client.post(
        f"{pw.link_a}/visits/{visit_id}/slots",
        data={"day": day, "window_start": start},
        follow_redirects=False,
    )
    assert booked.status_code == 303 and "done=booked" in booked.headers["location"]
    versions = session.scalar(select(func.count()).select_from(FieldPlan))
    visit = session.get_one(VisitRequest, visit_id)
    assert (visit.scheduled_date.isoformat(), visit.window_start) == (  # type: ignore[union-attr]
        day,
        datetime.fromisoformat(start),
    )
    again = client.post(
        f"{pw.link_a}/visits/{visit_id}/slots",
        data={"day": day, "window_start": start},
        follow_redirects=False,
    )
    assert again.status_code == 303
    assert session.scalar(select(func.count()).select_from(FieldPlan)) == versions
    # A slot nobody can serve (a Sunday at 03:00) is "taken": the free ones are offered.
    sunday = pw.monday + timedelta(days=6)
    taken = client.post(
        f"{pw.link_a}/visits/{visit_id}/slots",
        data={"day": sunday.isoformat(), "window_start": f"{sunday}T01:00:00+00:00"},
    )
    assert taken.status_code == 409 and "That slot was taken meanwhile" in taken.text
    assert 'class="slot"' in taken.text


def test_none_of_these_leaves_blocked_dates_and_a_window_the_lead_sees(
    pw: PortalWorld, client: TestClient, session: Session
) -> None:
    visit_id = pw.world.visits["SA2"]
    blocked = [(pw.monday + timedelta(days=d)).isoformat() for d in (1, 2)]
    sent = client.post(
        f"{pw.link_a}/visits/{visit_id}/wishes",
        data={"blocked": blocked, "prefer_from": "10:00", "prefer_to": "14:00", "note": "gate"},
        follow_redirects=False,
    )
    assert sent.status_code == 303 and "done=asked" in sent.headers["location"]
    visit = session.get_one(VisitRequest, visit_id)
    assert visit.status == "requested"
    assert [d.isoformat() for d in visit.blocked_dates] == blocked
    assert visit.preferred_windows == [{"on": None, "start": "10:00:00", "end": "14:00:00"}]
    item = session.scalars(select(InboxItem).where(InboxItem.kind == "reschedule_requested")).one()
    assert item.visit_id == visit_id and "gate" in item.summary
    half = client.post(f"{pw.link_a}/visits/{visit_id}/wishes", data={"prefer_from": "10:00"})
    assert half.status_code == 422 and "needs both a start and an end" in half.text
    backwards = client.post(
        f"{pw.link_a}/visits/{visit_id}/wishes", data={"prefer_from": "14:00", "prefer_to": "10:00"}
    )
    assert backwards.status_code == 422 and "ends before it starts" in backwards.text


def test_report_a_failure_acknowledged_linked_and_resolved_with_the_note(
    pw: PortalWorld, client: TestClient, session: Session
) -> None:
    form = client.get(pw.link_a + "/reports/new").text
    key = re.search(r'name="report_key" value="([^"]+)"', form)[1]  # type: ignore[index]
    assert "UA1 (OU-200, in a recall)" in form and "UB1" not in form
    when = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    body = {"report_key": key, "serial": "UA1", "symptom": "no boot after frost", "occurred": when}
    sent = client.post(pw.link_a + "/reports", data=body, follow_redirects=False)
    assert sent.status_code == 303
    again = client.post(pw.link_a + "/reports", data=body, follow_redirects=False)
    assert again.status_code == 303  # the second tap stores nothing new
    report = session.scalars(select(FailureReport).where(FailureReport.report_key == key)).one()
    assert (report.status, report.source) == ("linked_to_recall", "partner")
    linked = session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "failure_linked")
    ).all()
    assert key in {m.data["report_key"] for m in linked}  # RA1 and RB1 were linked earlier
    # A unit under no recall (UA2, batch B2): acknowledged by a failure_received notice.
    other = {"report_key": key + "-2", "serial": "UA2", "symptom": "fan noise", "occurred": when}
    assert (
        client.post(pw.link_a + "/reports", data=other, follow_redirects=False).status_code == 303
    )
    received = session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "failure_received")
    ).all()
    assert {m.data["report_key"] for m in received} == {key + "-2"}

    for message in linked + received:  # the worker delivers them (the test's clock stands
        # still: every step of this transaction happens at its start)
        message.status, message.delivered_at = "delivered", report.received_at
    change_failure_status(
        session,
        report_key=key,
        to_state="resolved",
        actor="lead",
        note="Power board replaced on the spot.",
        campaign_id=None,
    )
    session.commit()
    page = client.get(pw.link_a + "/reports").text
    mine = page[page.index(f'id="report-{key}"') :]
    mine = mine[: mine.index("</article>")]
    steps = re.findall(r'data-step="([^"]+)"', mine)
    assert steps == ["reported", "linked_to_recall", "acknowledged", "resolved"]
    assert "Power board replaced on the spot." in mine and 'data-acknowledged="yes"' in mine
    # Partner B lists none of it; its form cannot name A's unit.
    assert key not in client.get(pw.link_b + "/reports").text
    refused = client.post(pw.link_b + "/reports", data={**body, "report_key": "X1"})
    assert refused.status_code == 404
    future = {**body, "report_key": "F1", "occurred": "2099-01-01T10:00"}
    assert client.post(pw.link_a + "/reports", data=future).status_code == 422


def test_the_visit_day_shows_the_technicians_progress(
    pw: PortalWorld, client: TestClient, session: Session
) -> None:
    # Move the published route of SA2 to today, as if its day had come.
    visit_id = pw.world.visits["SA2"]
    visit = session.get_one(VisitRequest, visit_id)
    stop = session.scalars(select(PlanStop).where(PlanStop.visit_request_id == visit_id)).one()
    today = datetime.now(UTC).date()
    shift = today - visit.scheduled_date  # type: ignore[operator]
    route = session.get_one(PlanRoute, stop.route_id)
    route.day = today
    visit.scheduled_date = today
    visit.window_start += shift  # type: ignore[operator]
    visit.window_end += shift  # type: ignore[operator]
    stop.arrival += shift
    session.commit()
    page = client.get(pw.link_a + "/").text
    assert 'data-progress="planned"' in page and "Expected at about" in page
    fragment = client.get(f"{pw.link_a}/visits/{visit_id}/progress")
    assert fragment.status_code == 200 and fragment.text.startswith('<div class="progress"')
    stop.status, stop.started_at = "started", datetime.now(UTC)
    session.commit()
    assert 'data-progress="here"' in client.get(f"{pw.link_a}/visits/{visit_id}/progress").text


def test_a_partner_key_signs_in_and_uses_the_same_portal(
    pw: PortalWorld, client: TestClient, session: Session
) -> None:
    form = client.get("/portal/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)[1]  # type: ignore[index]
    lead = client.post("/portal/login", data={"api_key": pw.world.keys.lead, "csrf_token": token})
    assert lead.status_code == 403 and "a support_lead key cannot sign in" in lead.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', lead.text)[1]  # type: ignore[index]
    signed = client.post(
        "/portal/login",
        data={"api_key": pw.world.keys.partner_a, "csrf_token": token},
        follow_redirects=False,
    )
    assert (signed.status_code, signed.headers["location"]) == (303, "/portal/")
    home = client.get("/portal/").text
    assert set(cards(home)) == {"SA1", "SA2", "SA3"} and "Sign out" in home
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', home)[1]  # type: ignore[index]
    visit_id = pw.world.visits["SA1"]
    without = client.post(f"/portal/visits/{visit_id}/confirm", follow_redirects=False)
    assert without.status_code == 403
    assert session.get_one(VisitRequest, visit_id).partner_confirmed_at is None
    done = client.post(
        f"/portal/visits/{visit_id}/confirm", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/portal/?done=")
    client.cookies.clear()
    assert (
        client.get("/portal/", follow_redirects=False)
        .headers["location"]
        .startswith("/portal/login?next=")
    )


def test_every_answer_under_the_portal_is_a_page_for_a_person(
    pw: PortalWorld, client: TestClient
) -> None:
    """Refusals of the routes, and the answers no route made (a mistyped address, a
    wrong method, a failure of ours), are HTML pages that say what happened, never the
    API's JSON; the API keeps its JSON."""
    sa2 = pw.world.visits["SA2"]
    asked = [
        ("GET", pw.link_a + "/nothing", None, 404, "Nothing at this address"),
        ("GET", "/p/", None, 404, "Nothing at this address"),
        ("GET", "/portal/nothing", None, 404, "Nothing at this address"),
        ("PUT", pw.link_a + "/", None, 405, "cannot be used that way"),
        ("GET", pw.link_a + "/visits/abc/slots", None, 422, "Missing or invalid: visit_id."),
        ("GET", pw.link_a + "/visits/999999/slots", None, 404, "no visit 999999"),
        ("POST", f"{pw.link_a}/visits/{sa2}/slots", {}, 422, "day, window_start"),
        ("POST", f"{pw.link_a}/visits/{sa2}/wishes", {"prefer_from": "25:00"}, 422, "HH:MM"),
        ("POST", pw.link_a + "/reports", {"serial": "UA1"}, 422, "report_key, symptom"),
        ("GET", "/p/lnk_nothing/visits/1/progress", None, 404, "This link opens nothing"),
    ]
    for method, path, form, status, words in asked:
        answer = client.request(method, path, data=form, follow_redirects=False)
        assert answer.status_code == status, path
        assert answer.headers["content-type"].startswith("text/html"), path
        assert words in answer.text, path
        # A way back to the portal's first page, unless the link itself opens nothing.
        back = re.findall(r'<a class="back" href="([^"]+)">Back to your recalls</a>', answer.text)
        if path.startswith(pw.link_a):
            assert back == [pw.link_a + "/"], path
        elif path.startswith("/portal/"):
            assert back == ["/portal/"], path
        else:
            assert back == [], path
    api = client.get("/api/v1/nothing")
    assert api.status_code == 404 and api.json()["error"] == "NotFound"


def test_a_failure_of_ours_under_the_portal_is_a_page(sessions: sessionmaker[Session]) -> None:
    app = create_app(sessions)

    def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/p/{token}/broken", broken)
    app.add_api_route("/api/v1/broken", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/p/lnk_x/broken")
        assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
        assert "Something went wrong on our side" in page.text and "a bug" not in page.text
        assert client.get("/api/v1/broken").json()["error"] == "InternalError"
