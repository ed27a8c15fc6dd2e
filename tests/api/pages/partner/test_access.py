"""Isolation of the partner portal (issue 12's acceptance table): every portal route,
reached with another partner's link, another partner's signed-in key, or with another
partner's ids, answers 404 and changes nothing; an unknown link answers 404 on every
route. The table lists every route under /p/, /portal and /feeds/: a new route without
an entry fails the first test."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from api.pages.partner.access import PORTAL
from api.pages.sessions import PageKeys
from core.security import ApiKey
from devices.models import Partner
from tests.api.pages.partner.world import PortalWorld, portal_world
from tests.api.pages.tables import routes_under

BASES = ("/p/{token}", "/portal")


@dataclass(frozen=True)
class Case:
    """How to reach partner A's things: ``path`` with {visit} (A's visit) filled in,
    the form a valid post sends (with A's serial), and for routes that name nothing of
    A's, the text of A's that must not show (they answer the caller's own data)."""

    path: str
    form: dict[str, str] = field(default_factory=dict)
    names_nothing: bool = False


# Every portal route below a base, and how to call it about partner A.
ROUTES = {
    ("GET", "/"): Case("/", names_nothing=True),
    ("GET", "/visits/{visit_id}/progress"): Case("/visits/{visit}/progress"),
    ("POST", "/visits/{visit_id}/confirm"): Case("/visits/{visit}/confirm"),
    ("GET", "/visits/{visit_id}/slots"): Case("/visits/{visit}/slots"),
    ("POST", "/visits/{visit_id}/slots"): Case(
        "/visits/{visit}/slots", {"day": "{day}", "window_start": "{day}T06:00:00+00:00"}
    ),
    ("POST", "/visits/{visit_id}/wishes"): Case(
        "/visits/{visit}/wishes", {"blocked": "{day}", "note": "not then"}
    ),
    ("GET", "/reports"): Case("/reports", names_nothing=True),
    ("GET", "/reports/new"): Case("/reports/new", names_nothing=True),
    ("POST", "/reports"): Case(
        "/reports",
        {"report_key": "X-1", "serial": "UA1", "symptom": "dead", "occurred": "{day}T08:00"},
    ),
}
# Routes outside the table above: sign-in and sign-out (a session's own), the old
# address of the link (a redirect) and the calendar feed (tested for 404 below).
OTHERS = {
    ("GET", "/portal/login"),
    ("POST", "/portal/login"),
    ("GET", "/portal/logout"),
    ("POST", "/portal/logout"),
    ("GET", "/p/{token}"),
    ("GET", "/feeds/{token}.ics"),
}
# A's data that must never show to B.
A_TEXT = ("Alpha", "UA1", "UA3", "SA1")
STATE_TABLES = (
    "visit_request",
    "campaign_unit",
    "failure_report",
    "inbox_item",
    "outbox_message",
    "field_plan",
    "plan_stop",
    "event",
)


def test_the_table_lists_every_portal_route(client: TestClient) -> None:
    listed = {(method, base + path) for base in BASES for method, path in ROUTES} | OTHERS
    found = set()
    for prefix in ("/p/", "/portal", "/feeds/"):
        found |= routes_under(client.app, prefix)  # type: ignore[arg-type]
    assert found == listed


@pytest.fixture
def pw(client: TestClient, session: Session, sessions: sessionmaker[Session]) -> PortalWorld:
    return portal_world(client, session, sessions)


def state(session: Session) -> dict[str, object]:
    """Every row of the tables a portal route may change, to show that nothing did."""
    session.expire_all()
    return {
        t: session.execute(
            text(f"SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM {t} x")
        ).scalar()
        for t in STATE_TABLES
    }


def session_cookie(client: TestClient, session: Session, partner_key: str) -> str:
    """Partner B signed in: a session cookie as the portal signs it, CSRF 'known'."""
    key_id = session.scalars(
        select(ApiKey.id)
        .join(Partner, Partner.id == ApiKey.partner_id)
        .where(Partner.partner_key == partner_key)
    ).first()
    keys: PageKeys = client.app.state.page_keys  # type: ignore[attr-defined]

    class Now(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time())

    serializer = PORTAL.serializer(keys)
    serializer.signer = Now
    return serializer.dumps({"key": key_id, "csrf": "known"})


def call(client: TestClient, method: str, url: str, form: dict[str, str]):  # type: ignore[no-untyped-def]
    if method == "GET":
        return client.get(url, follow_redirects=False)
    return client.post(url, data={**form, "csrf_token": "known"}, follow_redirects=False)


def fill(case: Case, pw: PortalWorld) -> tuple[str, dict[str, str]]:
    values = {"visit": str(pw.world.visits["SA2"]), "day": pw.monday.isoformat()}
    return case.path.format(**values), {k: v.format(**values) for k, v in case.form.items()}


@pytest.mark.parametrize("how", ["link", "key"])
def test_another_partner_reaches_nothing_of_a_and_changes_nothing(
    pw: PortalWorld, client: TestClient, session: Session, how: str
) -> None:
    if how == "link":
        base = pw.link_b
    else:
        client.cookies.set(PORTAL.cookie, session_cookie(client, session, "PB"), path="/portal")
        base = "/portal"
    for (method, _), case in ROUTES.items():
        path, form = fill(case, pw)
        before = state(session)
        response = call(client, method, base + path, form)
        assert state(session) == before, (method, path)
        if case.names_nothing and method == "GET":
            assert response.status_code == 200, (method, path, response.text)
            assert not any(t in response.text for t in A_TEXT), (method, path)
        else:
            assert response.status_code == 404, (method, path, response.status_code)
            assert response.headers["content-type"].startswith("text/html")


def test_an_unknown_link_opens_no_route(
    pw: PortalWorld, client: TestClient, session: Session
) -> None:
    for (method, _), case in ROUTES.items():
        path, form = fill(case, pw)
        before = state(session)
        response = call(client, method, "/p/lnk_1_unknown" + path, form)
        assert (response.status_code, state(session) == before) == (404, True), (method, path)
    assert client.get("/feeds/lnk_1_unknown.ics").status_code == 404
    # A's own link works on the same routes (the table's cases are real requests).
    assert (
        client.get(pw.link_a + "/visits/{}/slots".format(pw.world.visits["SA2"])).status_code == 200
    )
