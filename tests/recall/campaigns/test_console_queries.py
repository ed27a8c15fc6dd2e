"""The queries behind the console's pages: the failure-report queue (counts by status and
age, filters, where a report may be linked), a campaign's progress day by day from the
audit trail, reminders to a partner, the outbox's counts per status, the sites a campaign
visits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from core.events import Event
from core.pagination import PageRequest
from recall.campaigns import failure_queue, progress, reminders
from recall.campaigns.failure_queue import FailureFilter
from recall.campaigns.lifecycle import change_failure_status
from recall.campaigns.repository import campaign_sites
from recall.models import OutboxMessage
from recall.notify.outbox import status_counts
from tests.fixtures import Keys
from tests.recall.campaigns.fixtures import declare, load_recall_registry, walk

# RA1 (UA1, B1, PA) occurred 2025-11-03, RB1 (UB1, B1, PB) 2025-11-04.
NOW = datetime(2025, 11, 5, 12, tzinfo=UTC)
ALL = PageRequest(limit=100, offset=0)


@pytest.fixture
def keys(session: Session) -> Keys:
    return load_recall_registry(session)


def queue(session: Session, **filters: str) -> list[str]:
    rows, total = failure_queue.page(session, filters=FailureFilter(**filters), now=NOW, page=ALL)
    assert total == len(rows)
    return [r.report_key for r in rows]


def test_the_failure_queue_counts_by_status_and_age_and_filters(
    session: Session, keys: Keys
) -> None:
    counts = failure_queue.counts(session, now=NOW)
    assert counts["open"] == {"day": 0, "week": 2, "month": 0, "older": 0}
    assert sum(sum(by_age.values()) for by_age in counts.values()) == 2
    # 28 days on, RA1 is 30.3 days old and RB1 29.3.
    later = failure_queue.counts(session, now=NOW + timedelta(days=28))["open"]
    assert (later["month"], later["older"]) == (1, 1)
    assert queue(session) == ["RA1", "RB1"]  # oldest first
    assert queue(session, status="open", age="week") == ["RA1", "RB1"]
    assert queue(session, age="day") == []
    assert queue(session, partner_key="PB") == ["RB1"]
    assert queue(session, batch_key="B2") == []
    assert queue(session, source="telemetry") == ["RB1"]
    assert queue(session, search="UA") == ["RA1"]
    assert queue(session, search="RB") == ["RB1"]
    assert queue(session, search="%") == []  # a wildcard is a character here
    with pytest.raises(ValueError, match="unknown age"):
        queue(session, age="century")
    change_failure_status(
        session,
        report_key="RA1",
        to_state="resolved",
        actor="test",
        note="swapped",
        campaign_id=None,
    )
    assert queue(session, status="resolved") == ["RA1"]
    assert failure_queue.counts(session, now=NOW)["resolved"]["week"] == 1


def test_a_queued_report_names_the_recalls_it_may_be_linked_to(
    client: TestClient, session: Session, keys: Keys
) -> None:
    [before] = failure_queue.page(session, filters=FailureFilter(search="RB1"), now=NOW, page=ALL)[
        0
    ]
    assert (before.covering_campaign_ids, before.linked_campaign_id) == ([], None)
    assert (before.partner_name, before.model, before.site_name) == (
        "Beta AB",
        "OU-200",
        "Beta One",
    )
    campaign = declare(client, keys.lead, batch_keys=["B1"])
    [after] = failure_queue.page(session, filters=FailureFilter(search="RB1"), now=NOW, page=ALL)[0]
    # The declaration linked the open report at once.
    assert after.covering_campaign_ids == [campaign["id"]]
    assert (after.linked_campaign_id, after.status) == (campaign["id"], "linked_to_recall")


def test_progress_per_day_follows_the_audit_trail(
    client: TestClient, session: Session, keys: Keys
) -> None:
    cid = declare(client, keys.lead, batch_keys=["B1"])["id"]
    # UA1 fixed; UB1 refused, then waived by the lead: both final.
    walk(session, cid, "UA1", "notified", "scheduled", "in_progress", "fixed")
    walk(session, cid, "UB1", "notified", "scheduled", "in_progress", "refused", "waived")
    today = datetime.now(UTC).date()
    [day] = progress.burn_down(session, campaign_id=cid, declared_on=today, today=today)
    assert (day.units, day.final, day.fixed, day.open) == (5, 2, 1, 3)
    # Another campaign's events do not count.
    other = declare(client, keys.lead, batch_keys=["B2"])["id"]
    [day] = progress.burn_down(session, campaign_id=other, declared_on=today, today=today)
    assert (day.units, day.final) == (1, 0)


def test_progress_counts_moves_out_of_a_final_state_back(session: Session) -> None:
    # A campaign's trail over days, written as the lifecycle writes it: three units enter
    # on day 0, U1 is fixed on day 1, U2 re-opened from fixed on day 3 (after day 2's fix).
    d0 = date(2025, 12, 1)
    trail = [
        (0, "U1", "entered", None, "affected"),
        (0, "U2", "entered", None, "affected"),
        (0, "U3", "entered", None, "affected"),
        (1, "U1", "state_changed", "in_progress", "fixed"),
        (2, "U2", "state_changed", "in_progress", "fixed"),
        (3, "U2", "state_changed", "fixed", "notified"),
        (3, "U3", "state_changed", "scheduled", "notified"),
    ]
    for offset, serial, action, was, now in trail:
        session.add(
            Event(
                occurred_at=datetime(2025, 12, 1, 9, tzinfo=UTC) + timedelta(days=offset),
                actor="test",
                entity="campaign_unit",
                entity_key=f"990001:{serial}",
                action=action,
                from_state=was,
                to_state=now,
            )
        )
    session.flush()
    days = progress.burn_down(
        session, campaign_id=990001, declared_on=d0, today=d0 + timedelta(days=4)
    )
    assert [(d.day - d0).days for d in days] == [0, 1, 2, 3, 4]
    assert [(d.units, d.final, d.fixed, d.open) for d in days] == [
        (3, 0, 0, 3),
        (3, 1, 1, 2),
        (3, 2, 2, 1),
        (3, 1, 1, 2),
        (3, 1, 1, 2),
    ]
    # A campaign id that is a prefix of another's (99000 of 990001) sees none of it.
    assert progress.burn_down(session, campaign_id=99000, declared_on=d0, today=d0)[0].units == 0


def test_a_reminder_tells_the_partner_what_is_open_once_per_click(
    client: TestClient, session: Session, keys: Keys
) -> None:
    cid = declare(client, keys.lead, batch_keys=["B1"])["id"]
    sent = reminders.remind_partner(
        session, campaign_id=cid, partner_key="PA", request_key="form-1", actor="lead"
    )
    assert [(m.channel, m.destination, m.kind, m.topic) for m in sent] == [
        ("email", "ops@alpha.example", "recall_reminder", f"campaign:{cid}")
    ]
    assert "4 of your 4 affected units still need the fix" in sent[0].body
    assert "Alpha North (SA1): the date is not planned yet" in sent[0].body
    again = reminders.remind_partner(
        session, campaign_id=cid, partner_key="PA", request_key="form-1", actor="lead"
    )
    assert [m.id for m in again] == [m.id for m in sent]
    reminders.remind_partner(
        session, campaign_id=cid, partner_key="PA", request_key="form-2", actor="lead"
    )
    kinds = select(func.count()).where(OutboxMessage.kind == "recall_reminder")
    assert session.scalar(kinds) == 2
    events = select(func.count()).where(Event.action == "partner_reminded")
    assert session.scalar(events) == 2
    with pytest.raises(NotFound, match="no partner"):
        reminders.remind_partner(
            session, campaign_id=cid, partner_key="PZ", request_key="k", actor="lead"
        )
    with pytest.raises(InvalidInput):
        reminders.remind_partner(
            session, campaign_id=cid, partner_key="PA", request_key=" ", actor="lead"
        )
    b2 = declare(client, keys.lead, batch_keys=["B2"])["id"]  # UA2 at SA2: PA only
    with pytest.raises(NotFound, match="concerns no unit of partner 'PB'"):
        reminders.remind_partner(
            session, campaign_id=b2, partner_key="PB", request_key="k", actor="lead"
        )


def test_the_outbox_counts_messages_per_status(
    client: TestClient, session: Session, keys: Keys
) -> None:
    assert status_counts(session) == {"pending": 0, "delivered": 0, "dead": 0}
    # To PA and to PB each: the recall, and that its failure report was linked to it.
    declare(client, keys.lead, batch_keys=["B1"])
    session.execute(text("UPDATE outbox_message SET status = 'dead' WHERE partner_key = 'PB'"))
    assert status_counts(session) == {"pending": 2, "delivered": 0, "dead": 2}
    assert status_counts(session, scope="PB") == {"pending": 0, "delivered": 0, "dead": 2}


def test_the_sites_a_campaign_visits_are_listed_once_each(
    client: TestClient, session: Session, keys: Keys
) -> None:
    cid = declare(client, keys.lead)["id"]
    # SA1's visit done, a revisit opened: SA1 still appears once.
    sa1 = "(SELECT id FROM site WHERE site_key = 'SA1')"
    session.execute(
        text(
            f"UPDATE visit_request SET status = 'done' WHERE campaign_id = :cid AND site_id = {sa1}"
        ),
        {"cid": cid},
    )
    session.execute(
        text(
            "INSERT INTO visit_request (campaign_id, site_id, partner_id, attempt, unit_count,"
            " estimated_minutes, priority_rank, recent_min_temp_c)"
            " SELECT campaign_id, site_id, partner_id, 2, unit_count, estimated_minutes,"
            " priority_rank, recent_min_temp_c FROM visit_request"
            f" WHERE campaign_id = :cid AND site_id = {sa1}"
        ),
        {"cid": cid},
    )
    sites = campaign_sites(session, campaign_id=cid)
    assert [(s.site_key, s.site_name, s.partner_key) for s in sites] == [
        ("SA1", "Alpha North", "PA"),
        ("SA2", "Alpha South", "PA"),
        ("SA3", "Alpha East", "PA"),
        ("SB1", "Beta One", "PB"),
    ]
