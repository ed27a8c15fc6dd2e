"""The console's forms given bad input by a signed-in lead: each answers a 4xx page that
names the problem, and nothing changes (the audit trail, the outbox, the plans and the
recall's units stay as they were). A table: one row per way a form can be wrong."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.api.pages.console.test_access import csrf_of, sign_in
from tests.api.pages.console.world import World, make_world

PLAN = "/console/campaigns/{campaign_id}/plans"
UNIT = "/console/campaigns/{campaign_id}/units/{serial}/state"

# (path, form, status, what the page must say)
BAD = [
    (PLAN, {"first_day": "2026-12-11", "last_day": "2026-12-07", "seconds": "5"}, 422,
     "last_day 2026-12-07 is before first_day 2026-12-11"),
    (PLAN, {"first_day": "2026-12-07", "last_day": "2026-12-11", "seconds": "0"}, 422,
     "Missing or invalid: seconds"),
    (UNIT.replace("{serial}", "UA5"), {"state": "waived", "reason": " "}, 422,
     "waiving unit UA5 needs a reason"),
    (UNIT.replace("{serial}", "UA5"), {"state": "fixed", "reason": "x"}, 422,
     "Missing or invalid: state"),
    (UNIT.replace("{serial}", "NOPE"), {"state": "waived", "reason": "x"}, 404,
     "no unit 'NOPE' in campaign"),
    ("/console/campaigns/{campaign_id}/close", {"note": ""}, 409,
     "every unit must be fixed or waived before it is closed"),
    ("/console/campaigns/{campaign_id}/remind", {"partner_key": "PZ", "request_key": "r"}, 404,
     "no partner with partner_key 'PZ'"),
    ("/console/failures/RA1/status", {"status": "resolved", "note": ""}, 422,
     "resolving failure report RA1 needs a resolution note"),
    ("/console/failures/RA1/status", {"status": "linked_to_recall", "campaign_id": "x"}, 422,
     "campaign_id must be a recall's number"),
    ("/console/failures/NOPE/status", {"status": "triaged"}, 404, "no failure report 'NOPE'"),
    ("/console/campaigns/dry-run", {"title": "t", "remedy": "r"}, 422,
     "scope needs at least one of batch_keys, models or serial_ranges"),
    ("/console/campaigns/dry-run", {"title": "t", "remedy": "r", "batch_keys": "NOPE"}, 422,
     "the scope names what the registry does not know: batch 'NOPE'"),
    ("/console/campaigns", {"spec": "{not json", "idempotency_key": "k" * 16}, 422,
     "the declaration was not understood"),
    ("/console/absences", {"technician_key": "T999", "first_day": "2026-12-04"}, 404,
     "no technician 'T999'"),
    ("/console/site-closures",
     {"site_key": "SA1", "first_day": "2026-12-04", "last_day": "2026-12-01"}, 422,
     "last_day 2026-12-01 is before first_day 2026-12-04"),
    ("/console/outbox/{pending_id}/retry", {}, 409, "only dead messages are retried"),
    ("/console/inbox/mark", {"ids": "abc", "read": "true"}, 422, "Missing or invalid: ids"),
    ("/console/signals/{open_signal_id}/status", {"status": "bogus", "reason": "x"}, 422,
     "Missing or invalid: status"),
]  # fmt: skip

STATE = (
    "SELECT (SELECT count(*) FROM event), (SELECT count(*) FROM outbox_message),"
    " (SELECT count(*) FROM field_plan), (SELECT count(*) FROM technician_absence),"
    " (SELECT count(*) FROM site_closure), (SELECT count(*) FROM recall_campaign),"
    " (SELECT string_agg(state, ',' ORDER BY id) FROM campaign_unit),"
    " (SELECT string_agg(status, ',' ORDER BY id) FROM failure_report),"
    " (SELECT count(*) FROM inbox_item WHERE read_at IS NOT NULL)"
)


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


@pytest.mark.parametrize(("path", "form", "status", "says"), BAD)
def test_a_bad_form_is_refused_with_a_page_naming_the_problem_and_changes_nothing(
    path: str,
    form: dict[str, str],
    status: int,
    says: str,
    client: TestClient,
    session: Session,
    world: World,
) -> None:
    pending = session.scalar(text("SELECT min(id) FROM outbox_message WHERE status = 'pending'"))
    url = world.fill(path).replace("{pending_id}", str(pending))
    sign_in(client, world.keys.lead)
    csrf = csrf_of(client)
    before = session.execute(text(STATE)).one()
    response = client.post(url, data={**form, "csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == status, response.text[-500:]
    assert response.headers["content-type"].startswith("text/html")
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.text)).split())
    assert says in words, words[:600]
    session.expire_all()
    assert session.execute(text(STATE)).one() == before
