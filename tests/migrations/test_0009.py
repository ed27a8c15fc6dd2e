"""Migration 0009 carries existing plans over: they were solved in one job, so they have
no territories and none counted done, and keep everything else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from core.db import upgrade
from tests.migrations.scratch import database_at

DATA = """
INSERT INTO recall_campaign (id, title, scope, remedy, minutes_per_unit, minutes_per_visit,
                             priority_rule, declared_by)
  VALUES (1, 'cold boot', '{"batch_keys": ["B1"]}', 'fix it', 20, 15,
          'coldest_then_most_units', 'lead');
INSERT INTO field_plan (id, campaign_id, version, status, first_day, last_day, timezone,
                        parameters, stats, created_by)
  VALUES (1, 1, 1, 'published', '2026-11-30', '2026-12-04', 'Europe/Helsinki',
          '{"seconds": 30}', '{"served": 12}', 'lead'),
         (2, 1, 2, 'queued', '2026-11-30', '2026-12-04', 'Europe/Helsinki',
          '{"seconds": 30}', NULL, 'lead');
"""


@pytest.fixture
def at_0014(engine: Engine) -> Iterator[tuple[str, Engine]]:
    with database_at(engine, "0014") as made:
        yield made


def test_existing_plans_are_carried_over_as_one_job_plans(at_0014: tuple[str, Engine]) -> None:
    url, db = at_0014
    with db.begin() as conn:
        conn.execute(text(DATA))
    upgrade(url, "0009")
    with db.begin() as conn:
        rows = conn.execute(
            text(
                "SELECT id, status, stats, territories, territories_done FROM field_plan"
                " ORDER BY id"
            )
        ).all()
        assert [tuple(r) for r in rows] == [
            (1, "published", {"served": 12}, None, 0),
            (2, "queued", None, None, 0),
        ]
        # A queued plan can now be split: its territory rows start queued.
        conn.execute(
            text(
                "INSERT INTO plan_territory (plan_id, index, problem, seconds)"
                " VALUES (2, 0, '{}', 5)"
            )
        )
        assert conn.scalar(text("SELECT status FROM plan_territory")) == "queued"
