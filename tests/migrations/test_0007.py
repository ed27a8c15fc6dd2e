"""Migration 0007 carries existing recalls over: units given up as unreachable or not
found (final until then) come back for a revisit, refused ones wait for the lead, each
unit's visits are counted from its history, and a scheduled visit knows whether its date
was delivered."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from core.db import upgrade
from tests.migrations.scratch import database_at

# An active recall as 0006 left it: SA1 visited (UA1 fixed, UA2 not reachable, UA3
# refused), SB1 scheduled and told by a delivered notice, SB2 scheduled and not told.
DATA = """
INSERT INTO partner (id, partner_key, name) VALUES (1, 'PA', 'Alpha');
INSERT INTO site (id, site_key, partner_id, name, lat, lon) VALUES
  (1, 'SA1', 1, 'A1', 65.0, 25.5), (2, 'SB1', 1, 'B1', 65.1, 25.6), (3, 'SB2', 1, 'B2', 65.2, 25.7);
INSERT INTO batch (id, batch_key, model) VALUES (1, 'B1', 'OU-200');
INSERT INTO unit (id, serial, batch_id, site_id) VALUES
  (1, 'UA1', 1, 1), (2, 'UA2', 1, 1), (3, 'UA3', 1, 1), (4, 'UB1', 1, 2), (5, 'UC1', 1, 3);
INSERT INTO recall_campaign (id, title, scope, remedy, minutes_per_unit, minutes_per_visit,
                             priority_rule, declared_by)
  VALUES (1, 'cold boot', '{"batch_keys": ["B1"]}', 'fix it', 20, 15,
          'coldest_then_most_units', 'lead');
INSERT INTO campaign_unit (campaign_id, unit_id, site_id, partner_id, state, added_by) VALUES
  (1, 1, 1, 1, 'fixed', 'declaration'), (1, 2, 1, 1, 'unable_to_access', 'declaration'),
  (1, 3, 1, 1, 'refused', 'declaration'), (1, 4, 2, 1, 'scheduled', 'declaration'),
  (1, 5, 3, 1, 'scheduled', 'declaration');
INSERT INTO event (actor, entity, entity_key, action, from_state, to_state) VALUES
  ('t', 'campaign_unit', '1:UA1', 'state_changed', 'in_progress', 'fixed'),
  ('t', 'campaign_unit', '1:UA2', 'state_changed', 'in_progress', 'unable_to_access'),
  ('t', 'campaign_unit', '1:UA3', 'state_changed', 'in_progress', 'refused');
INSERT INTO visit_request (id, campaign_id, site_id, partner_id, status, unit_count,
                           estimated_minutes, priority_rank, scheduled_date) VALUES
  (1, 1, 1, 1, 'done', 3, 75, 1, '2026-12-01'),
  (2, 1, 2, 1, 'scheduled', 1, 35, 2, '2026-12-03'),
  (3, 1, 3, 1, 'scheduled', 1, 35, 3, '2026-12-04');
INSERT INTO outbox_message (idempotency_key, channel, destination, partner_key, topic, kind,
                            subject, body, data, status, delivered_at) VALUES
  ('plan:1:v1:visit:2:scheduled', 'email', 'a@x', 'PA', 'campaign:1', 'visit_scheduled',
   's', 'b', '{"visit_id": 2, "scheduled_date": "2026-12-03"}', 'delivered',
   '2026-11-30 10:00+00'),
  ('plan:1:v1:visit:3:scheduled', 'email', 'a@x', 'PA', 'campaign:1', 'visit_scheduled',
   's', 'b', '{"visit_id": 3, "scheduled_date": "2026-12-04"}', 'pending', NULL);
SELECT setval(pg_get_serial_sequence(t, 'id'), 100)
  FROM unnest(ARRAY['partner', 'site', 'batch', 'unit', 'recall_campaign', 'visit_request']) t;
"""


@pytest.fixture
def at_0006(engine: Engine) -> Iterator[tuple[str, Engine]]:
    with database_at(engine, "0006") as made:
        yield made


def test_existing_recalls_are_carried_over(at_0006: tuple[str, Engine]) -> None:
    url, db = at_0006
    with db.begin() as conn:
        for statement in DATA.split(";"):
            if statement.strip():
                conn.execute(text(statement))
    upgrade(url, "0007")
    with db.connect() as conn:
        units = dict(
            conn.execute(
                text(
                    "SELECT u.serial, cu.state || '/' || cu.visit_attempts FROM campaign_unit cu"
                    " JOIN unit u ON u.id = cu.unit_id"
                )
            ).all()
        )
        visits = conn.execute(
            text(
                "SELECT s.site_key, v.attempt, v.status, v.unit_count, v.told_at IS NOT NULL"
                " FROM visit_request v JOIN site s ON s.id = v.site_id ORDER BY s.site_key, v.attempt"
            )
        ).all()
        moved = conn.execute(
            text(
                "SELECT from_state, to_state, actor FROM event"
                " WHERE entity_key = '1:UA2' ORDER BY id"
            )
        ).all()
    assert units == {
        "UA1": "fixed/1",
        "UA2": "notified/1",  # back for a revisit
        "UA3": "refused/1",  # waits for the lead's decision
        "UB1": "scheduled/0",
        "UC1": "scheduled/0",
    }
    assert [tuple(v) for v in visits] == [
        ("SA1", 1, "done", 3, False),
        ("SA1", 2, "requested", 1, False),  # the revisit, for UA2
        ("SB1", 1, "scheduled", 1, True),  # its date was delivered
        ("SB2", 1, "scheduled", 1, False),  # not yet told
    ]
    assert [tuple(m) for m in moved][-1] == ("unable_to_access", "notified", "migration 0007")
