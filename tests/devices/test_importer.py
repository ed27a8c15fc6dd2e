"""The CSV importer against real PostGIS: idempotence, refusal of bad files, reporting."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from api.demo.scenario import DemoSpec, generate
from core.errors import ImportRejected, InvalidInput
from devices.csv_formats import IMPORT_ORDER
from devices.importer import import_csv, import_directory
from devices.models import Batch, FailureReport, Site, Technician, Unit
from tests.fixtures import CSV, load_registry, row_counts


def rejected(session: Session, kind: str, body: str | bytes) -> dict:
    data = body.encode() if isinstance(body, str) else body
    with pytest.raises(ImportRejected) as info:
        import_csv(session, kind, data, filename=f"{kind}.csv")
    return info.value.detail


def test_importing_the_demo_twice_changes_no_row_count(session: Session, tmp_path: Path) -> None:
    # The scenario `make demo` loads (default sizes and seed), all eight files.
    summary = generate(tmp_path, DemoSpec())
    first = import_directory(session, tmp_path)
    after_first = row_counts(session)
    second = import_directory(session, tmp_path)
    assert row_counts(session) == after_first
    assert [r.kind for r in first] == list(IMPORT_ORDER)
    assert all(count > 0 for count in after_first.values()), after_first
    assert after_first["unit"] == summary.row_counts["units"] == DemoSpec().units
    assert all(r.inserted == r.rows or r.kind == "failures" for r in first)
    assert all(r.inserted == 0 and r.updated == 0 and r.unchanged == r.rows for r in second)


def test_one_bad_row_among_ten_thousand_imports_nothing_and_is_named(session: Session) -> None:
    load_registry(session)
    before = row_counts(session)
    lines = ["serial,batch_key,site_key,installed_on"]
    lines += [f"N{i:05d},B1,SA1,2025-04-01" for i in range(10_000)]
    lines[5001] = "N05000,B1,NO-SUCH-SITE,2025-04-01"  # data row 5001 sits on file line 5002
    detail = rejected(session, "units", "\n".join(lines) + "\n")
    assert row_counts(session) == before
    assert detail["bad_rows"] == 1 and detail["rows"] == 10_000
    [error] = detail["errors"]
    assert error["line"] == 5002
    assert error["column"] == "site_key" and error["column_number"] == 3
    assert "NO-SUCH-SITE" in error["reason"]


def test_every_bad_row_is_reported_with_line_column_and_reason(session: Session) -> None:
    load_registry(session)
    body = (
        "site_key,partner_key,name,lat,lon,timezone,opening_hours\n"
        "X1,PA,Ok,60,25,Europe/Helsinki,Mo-Fr 08:00-17:00\n"
        "X2,PA,Bad lat,95,25,,\n"
        "X3,PZ,Unknown partner,60,25,,\n"
        "X4,PA,,60,abc,Mars/Olympus,Mo-Fx 08:00-17:00\n"
    )
    detail = rejected(session, "sites", body)
    found = {(e["line"], e["column"]) for e in detail["errors"]}
    assert found == {
        (3, "lat"),
        (4, "partner_key"),
        (5, "name"),
        (5, "lon"),
        (5, "timezone"),
        (5, "opening_hours"),
    }
    assert detail["bad_rows"] == 3
    assert session.scalar(select(func.count()).where(Site.site_key.like("X%"))) == 0


def test_line_numbers_count_quoted_fields_that_span_lines(session: Session) -> None:
    load_registry(session)
    body = (
        "site_key,partner_key,name,address,lat,lon\n"
        'Q1,PA,Two line,"Street 1\nBuilding B",60,25\n'
        "Q2,PA,Bad,,60,999\n"
    )
    [error] = rejected(session, "sites", body)["errors"]
    assert error["line"] == 4 and error["column"] == "lon"


def test_a_quote_left_open_to_the_end_of_the_file_is_named(session: Session) -> None:
    body = 'partner_key,name\nP1,Ok\nP2,"never closed\nP3,Three\n'
    [error] = rejected(session, "partners", body)["errors"]
    assert error["line"] == 3 and "end of data" in error["reason"]
    assert row_counts(session)["partner"] == 0


def test_a_long_file_name_is_shortened_in_the_audit_trail(session: Session) -> None:
    name = "/deep" * 60 + "/partners.csv"
    import_csv(session, "partners", b"partner_key,name\nPL,Long\n", filename=name)
    key = session.scalar(text("SELECT entity_key FROM event WHERE action = 'import_partners'"))
    assert key is not None and len(key) == 200 and key.endswith("/deep/partners.csv")


def test_known_keys_update_and_unchanged_rows_are_left_alone(session: Session) -> None:
    load_registry(session)
    body = "batch_key,model,hardware_rev,manufactured_on\nB1,OU-200,C,2025-01-10\nB2,GW-10,B,2025-02-10\n"
    result = import_csv(session, "batches", body.encode())
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 1)
    assert session.scalar(select(Batch.hardware_rev).where(Batch.batch_key == "B1")) == "C"


def test_failure_reports_are_immutable_even_inside_one_file(session: Session) -> None:
    load_registry(session)
    body = (
        "report_key,serial,occurred_at,symptom\n"
        "RA1,UA1,2025-11-05T07:15:00+02:00,changed text\n"  # known key: a no-op
        "RN1,UA2,2025-11-05T07:15:00+02:00,first\n"
        "RN1,UA2,2025-11-06T07:15:00+02:00,repeat in the same file\n"
    )
    result = import_csv(session, "failures", body.encode())
    assert result.inserted == 1 and result.updated == 0
    symptoms = dict(session.execute(select(FailureReport.report_key, FailureReport.symptom)).all())
    assert symptoms["RA1"] == "no boot"
    assert symptoms["RN1"] == "first"


def test_a_later_row_with_the_same_key_wins_for_upserted_kinds(session: Session) -> None:
    load_registry(session)
    body = "serial,batch_key,site_key,firmware\nD1,B1,SA1,1.0\nD1,B1,SA2,2.0\n"
    import_csv(session, "units", body.encode())
    site = session.scalar(
        select(Site.site_key).join(Unit, Unit.site_id == Site.id).where(Unit.serial == "D1")
    )
    assert site == "SA2"


@pytest.mark.parametrize(
    ("kind", "body", "column", "reason_part"),
    [
        (
            "units",
            "serial,batch_key,site_key,installed_on\nZ1,B1,SA1,2025-02-30\n",
            "installed_on",
            "not a date",
        ),
        (
            "units",
            "serial,batch_key,site_key,installed_on\nZ1,B1,SA1,2024-12-31\n",
            "installed_on",
            "before its batch",
        ),
        (
            "failures",
            "report_key,serial,occurred_at\nR9,NOPE,2025-11-03T07:15:00+02:00\n",
            "serial",
            "unknown serial",
        ),
        (
            "failures",
            "report_key,serial,occurred_at\nR9,UA1,2025-11-03T07:15:00\n",
            "occurred_at",
            "time zone",
        ),
        (
            "failures",
            "report_key,serial,occurred_at\nR9,UA1,2090-11-03T07:15:00Z\n",
            "occurred_at",
            "future",
        ),
        (
            "failures",
            "report_key,serial,occurred_at,source\nR9,UA1,2025-11-03T07:15:00Z,rumour\n",
            "source",
            "must be one of",
        ),
        (
            "failures",
            "report_key,serial,occurred_at,ambient_temp_c\nR9,UA1,2025-11-03T07:15:00Z,-95\n",
            "ambient_temp_c",
            "out of range",
        ),
        (
            "weather",
            "station_key,day,temp_min_c,temp_max_c\nW1,2025-11-05,-3,-8\n",
            "temp_max_c",
            "below temp_min_c",
        ),
        (
            "weather",
            "station_key,day,temp_min_c\nW1,2025-11-05,cold\n",
            "temp_min_c",
            "not a number",
        ),
        (
            "technicians",
            "technician_key,name,home_lat,home_lon,shift_start,shift_end\nT9,N,60,25,17:00,08:00\n",
            "shift_end",
            "not after",
        ),
        (
            "technicians",
            "technician_key,name,home_lat,home_lon,workdays\nT9,N,60,25,Weekdays\n",
            "workdays",
            "unknown day",
        ),
        (
            "partners",
            "partner_key,name,contact_email\nP9,N,not-an-email\n",
            "contact_email",
            "email",
        ),
    ],
)
def test_bad_values_are_refused_with_a_reason(
    session: Session, kind: str, body: str, column: str, reason_part: str
) -> None:
    load_registry(session)
    before = row_counts(session)
    [error] = rejected(session, kind, body)["errors"]
    assert error["line"] == 2 and error["column"] == column
    assert reason_part in error["reason"]
    assert row_counts(session) == before


def test_missing_required_columns_are_named(session: Session) -> None:
    detail = rejected(session, "units", "serial,site_key\nU1,S1\n")
    assert "batch_key" in detail["message"]


def test_a_file_that_is_not_utf8_is_refused_with_its_line(session: Session) -> None:
    data = "partner_key,name\nP1,Ok\nP2,Caf\u00e9\n".encode("latin-1")
    detail = rejected(session, "partners", data)
    assert "UTF-8" in detail["message"] and detail["errors"][0]["line"] == 3
    assert row_counts(session)["partner"] == 0


def test_rows_with_the_wrong_number_of_fields_are_all_reported(session: Session) -> None:
    detail = rejected(session, "partners", "partner_key,name\nP1,A\nP2\nP3,C,extra\nP4,D\n")
    assert [e["line"] for e in detail["errors"]] == [3, 4]
    assert row_counts(session)["partner"] == 0


def test_unknown_kind_and_empty_file(session: Session) -> None:
    with pytest.raises(InvalidInput):
        import_csv(session, "gadgets", b"a,b\n")
    assert "empty" in rejected(session, "partners", b"")["message"]


def test_extra_columns_are_ignored_and_skills_become_a_list(session: Session) -> None:
    load_registry(session)
    body = (
        "technician_key,name,home_lat,home_lon,skills,shoe_size\nT2,Two,60,25, OU-200 ;;KX-5,44\n"
    )
    import_csv(session, "technicians", body.encode())
    skills = session.scalar(select(Technician.skills).where(Technician.technician_key == "T2"))
    assert skills == ["OU-200", "KX-5"]


def test_locations_are_postgis_points_in_srid_4326(session: Session) -> None:
    load_registry(session)
    srid, x, y = session.execute(
        text(
            "SELECT ST_SRID(location::geometry), ST_X(location::geometry), ST_Y(location::geometry) FROM site WHERE site_key = 'SA1'"
        )
    ).one()
    assert (srid, x, y) == (4326, 25.47, 65.01)


def test_the_database_itself_refuses_bad_coordinates_and_temperatures(session: Session) -> None:
    load_registry(session)
    for statement in (
        "UPDATE site SET lat = 91 WHERE site_key = 'SA1'",
        "UPDATE weather_observation SET temp_min_c = -100",
        "UPDATE unit SET installed_on = '1900-01-01'",
    ):
        with pytest.raises(DBAPIError, match="violates check constraint"), session.begin_nested():
            session.execute(text(statement))


def test_the_event_trail_is_append_only(session: Session) -> None:
    load_registry(session)
    assert session.scalar(text("SELECT count(*) FROM event WHERE action = 'import_units'")) == 1
    for statement in ("UPDATE event SET actor = 'me'", "DELETE FROM event", "TRUNCATE event"):
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(text(statement))


def test_fixture_csv_covers_every_kind() -> None:
    assert set(CSV) == {
        "partners",
        "sites",
        "batches",
        "units",
        "failures",
        "stations",
        "weather",
        "technicians",
    }
