"""Migration 0009 carries existing plans over: they were solved in one job, so they have
no territories and none counted done, and keep everything else."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from core.db import upgrade

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
def at_0013(engine: Engine) -> Iterator[tuple[str, Engine]]:
    name = f"fieldrecall_0009_{uuid.uuid4().hex[:12]}"
    admin = engine.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = engine.url.set(database=name)
    fresh = create_engine(url)
    try:
        upgrade(url.render_as_string(hide_password=False), "0013")
        yield url.render_as_string(hide_password=False), fresh
    finally:
        fresh.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


def test_existing_plans_are_carried_over_as_one_job_plans(at_0013: tuple[str, Engine]) -> None:
    url, db = at_0013
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
