"""The registry's overview queries behind the console's home: failure reports per week over
the fleet (zero-filled) and the sites with their unit and failure counts."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from devices.importer import import_csv
from devices.overview import failures_per_week, site_overview
from tests.fixtures import load_registry

LATER = """report_key,serial,occurred_at,symptom,ambient_temp_c,source
RA2,UA2,2025-11-16T23:30:00-02:00,no boot,-3,partner
"""


def test_no_report_no_weeks(session: Session) -> None:
    assert failures_per_week(session, weeks=4) == []


def test_weeks_up_to_the_latest_report_in_utc_with_empty_weeks_counted(session: Session) -> None:
    load_registry(session)  # RA1 and RB1 in the week of Monday 3 November 2025
    # Sunday 16 November 23:30 at -02:00 is Monday 17 November in UTC.
    import_csv(session, "failures", LATER.encode(), filename="failures.csv")
    assert failures_per_week(session, weeks=4) == [
        (date(2025, 10, 27), 0),
        (date(2025, 11, 3), 2),
        (date(2025, 11, 10), 0),
        (date(2025, 11, 17), 1),
    ]
    assert failures_per_week(session, weeks=1) == [(date(2025, 11, 17), 1)]


def test_sites_with_the_most_failures_first_and_the_total(session: Session) -> None:
    load_registry(session)
    sites, total = site_overview(session, limit=2)
    assert total == 3
    assert [(s.site_key, s.partner_key, s.units, s.failures) for s in sites] == [
        ("SA1", "PA", 1, 1),
        ("SB1", "PB", 1, 1),
    ]
    everything, _ = site_overview(session, limit=10)
    assert [(s.site_key, s.failures, s.lat, s.lon) for s in everything][-1] == (
        "SA2",
        0,
        60.17,
        24.94,
    )
