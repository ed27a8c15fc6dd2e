"""The eight interchange formats of design.md, declared once.

Each column says how its text is checked; the importer turns these declarations into one
set-based validation query over the staging table and a per-format upsert. Rules are SQL
over the cleaned staging row ``s`` (empty strings already NULL) and the joined reference
rows; every rule yields a reason or NULL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

from devices.models import FAILURE_SOURCES, MAX_DATE, MIN_DATE
from devices.opening_hours import opening_hours_problem, workdays_problem

ColumnType = Literal["text", "float", "date", "timestamptz", "time"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType = "text"
    required: bool = False
    max_len: int = 100
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    # Checked in Python once per distinct value (grammars SQL cannot express well).
    python_check: Callable[[str], str | None] | None = None


@dataclass(frozen=True)
class Reference:
    """A foreign key given by natural key: ``column`` must name a row of ``table``."""

    column: str
    table: str
    key: str
    alias: str


@dataclass(frozen=True)
class Rule:
    """A cross-column rule: when ``bad`` (SQL) holds, the row is bad at ``column``."""

    column: str
    bad: str
    reason: str  # SQL text expression


@dataclass(frozen=True)
class CsvFormat:
    kind: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    references: tuple[Reference, ...] = ()
    rules: tuple[Rule, ...] = ()
    # Immutable records (failure reports): the first row with a key wins, and a known
    # key is a no-op; other kinds upsert, a later row of the file updating an earlier one.
    immutable: bool = False
    upsert: str = field(default="", repr=False)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


def _timezone_problem(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ValueError, KeyError, OSError):
        return f"unknown IANA time zone {value!r}"
    return None


LAT = Column("lat", "float", required=True, min=-90, max=90)
LON = Column("lon", "float", required=True, min=-180, max=180)
TEMP_MIN, TEMP_MAX = -90.0, 60.0

# A known row is only rewritten when something changed, so importing the same file
# twice touches nothing (updated_at included).
PARTNERS = CsvFormat(
    kind="partners",
    columns=(
        Column("partner_key", required=True),
        Column("name", required=True, max_len=300),
        Column("contact_email", max_len=300),
        Column("contact_phone"),
    ),
    key=("partner_key",),
    rules=(
        Rule(
            "contact_email",
            r"s.contact_email IS NOT NULL AND s.contact_email !~ '^[^@\s]+@[^@\s]+$'",
            "'not an email address: ' || quote_literal(left(s.contact_email, 60))",
        ),
    ),
    upsert="""
        INSERT INTO partner AS t (partner_key, name, contact_email, contact_phone)
        SELECT DISTINCT ON (s.partner_key) s.partner_key, s.name, s.contact_email, s.contact_phone
        FROM src s ORDER BY s.partner_key, s.rn DESC
        ON CONFLICT (partner_key) DO UPDATE SET name = EXCLUDED.name,
            contact_email = EXCLUDED.contact_email, contact_phone = EXCLUDED.contact_phone,
            updated_at = now()
        WHERE (t.name, t.contact_email, t.contact_phone)
            IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.contact_email, EXCLUDED.contact_phone)
    """,
)

SITES = CsvFormat(
    kind="sites",
    columns=(
        Column("site_key", required=True),
        Column("partner_key", required=True),
        Column("name", required=True, max_len=300),
        Column("address", max_len=1000),
        LAT,
        LON,
        Column("timezone", max_len=64, python_check=_timezone_problem),
        Column("opening_hours", max_len=300, python_check=opening_hours_problem),
    ),
    key=("site_key",),
    references=(Reference("partner_key", "partner", "partner_key", "r_partner"),),
    upsert="""
        INSERT INTO site AS t (site_key, partner_id, name, address, lat, lon, timezone,
                               opening_hours)
        SELECT DISTINCT ON (s.site_key) s.site_key, r_partner.id, s.name, s.address,
               s.lat::float8, s.lon::float8, coalesce(s.timezone, 'UTC'), s.opening_hours
        FROM src s JOIN partner r_partner ON r_partner.partner_key = s.partner_key
        ORDER BY s.site_key, s.rn DESC
        ON CONFLICT (site_key) DO UPDATE SET partner_id = EXCLUDED.partner_id,
            name = EXCLUDED.name, address = EXCLUDED.address, lat = EXCLUDED.lat,
            lon = EXCLUDED.lon, timezone = EXCLUDED.timezone,
            opening_hours = EXCLUDED.opening_hours, updated_at = now()
        WHERE (t.partner_id, t.name, t.address, t.lat, t.lon, t.timezone, t.opening_hours)
            IS DISTINCT FROM (EXCLUDED.partner_id, EXCLUDED.name, EXCLUDED.address,
                EXCLUDED.lat, EXCLUDED.lon, EXCLUDED.timezone, EXCLUDED.opening_hours)
    """,
)

BATCHES = CsvFormat(
    kind="batches",
    columns=(
        Column("batch_key", required=True),
        Column("model", required=True),
        Column("hardware_rev"),
        Column("manufactured_on", "date"),
    ),
    key=("batch_key",),
    upsert="""
        INSERT INTO batch AS t (batch_key, model, hardware_rev, manufactured_on)
        SELECT DISTINCT ON (s.batch_key) s.batch_key, s.model, s.hardware_rev,
               s.manufactured_on::date
        FROM src s ORDER BY s.batch_key, s.rn DESC
        ON CONFLICT (batch_key) DO UPDATE SET model = EXCLUDED.model,
            hardware_rev = EXCLUDED.hardware_rev, manufactured_on = EXCLUDED.manufactured_on,
            updated_at = now()
        WHERE (t.model, t.hardware_rev, t.manufactured_on)
            IS DISTINCT FROM (EXCLUDED.model, EXCLUDED.hardware_rev, EXCLUDED.manufactured_on)
    """,
)

UNITS = CsvFormat(
    kind="units",
    columns=(
        Column("serial", required=True),
        Column("batch_key", required=True),
        Column("site_key", required=True),
        Column("installed_on", "date"),
        Column("firmware"),
    ),
    key=("serial",),
    references=(
        Reference("batch_key", "batch", "batch_key", "r_batch"),
        Reference("site_key", "site", "site_key", "r_site"),
    ),
    rules=(
        Rule(
            "installed_on",
            "fr_is_date(s.installed_on) AND r_batch.manufactured_on IS NOT NULL"
            " AND s.installed_on::date < r_batch.manufactured_on",
            "'installed before its batch was manufactured (' || r_batch.manufactured_on || ')'",
        ),
    ),
    upsert="""
        INSERT INTO unit AS t (serial, batch_id, site_id, installed_on, firmware)
        SELECT DISTINCT ON (s.serial) s.serial, r_batch.id, r_site.id, s.installed_on::date,
               s.firmware
        FROM src s
        JOIN batch r_batch ON r_batch.batch_key = s.batch_key
        JOIN site r_site ON r_site.site_key = s.site_key
        ORDER BY s.serial, s.rn DESC
        ON CONFLICT (serial) DO UPDATE SET batch_id = EXCLUDED.batch_id,
            site_id = EXCLUDED.site_id, installed_on = EXCLUDED.installed_on,
            firmware = EXCLUDED.firmware, updated_at = now()
        WHERE (t.batch_id, t.site_id, t.installed_on, t.firmware)
            IS DISTINCT FROM (EXCLUDED.batch_id, EXCLUDED.site_id, EXCLUDED.installed_on,
                EXCLUDED.firmware)
    """,
)

FAILURES = CsvFormat(
    kind="failures",
    columns=(
        Column("report_key", required=True),
        Column("serial", required=True),
        Column("occurred_at", "timestamptz", required=True),
        Column("symptom", max_len=2000),
        Column("ambient_temp_c", "float", min=TEMP_MIN, max=TEMP_MAX),
        Column("source", choices=FAILURE_SOURCES),
    ),
    key=("report_key",),
    references=(Reference("serial", "unit", "serial", "r_unit"),),
    immutable=True,
    rules=(
        Rule(
            "occurred_at",
            "fr_is_timestamptz(s.occurred_at) AND s.occurred_at::timestamptz"
            " > now() + interval '1 day'",
            "'is in the future'",
        ),
        Rule(
            "occurred_at",
            "fr_is_timestamptz(s.occurred_at) AND r_unit.installed_on IS NOT NULL"
            " AND s.occurred_at::timestamptz < r_unit.installed_on - interval '1 day'",
            "'before the unit was installed (' || r_unit.installed_on || ')'",
        ),
    ),
    upsert="""
        INSERT INTO failure_report AS t (report_key, unit_id, occurred_at, symptom,
                                         ambient_temp_c, source)
        SELECT DISTINCT ON (s.report_key) s.report_key, r_unit.id,
               s.occurred_at::timestamptz, s.symptom, s.ambient_temp_c::float8, s.source
        FROM src s JOIN unit r_unit ON r_unit.serial = s.serial
        ORDER BY s.report_key, s.rn
        ON CONFLICT (report_key) DO NOTHING
    """,
)

STATIONS = CsvFormat(
    kind="stations",
    columns=(Column("station_key", required=True), Column("name", max_len=300), LAT, LON),
    key=("station_key",),
    upsert="""
        INSERT INTO weather_station AS t (station_key, name, lat, lon)
        SELECT DISTINCT ON (s.station_key) s.station_key, s.name, s.lat::float8, s.lon::float8
        FROM src s ORDER BY s.station_key, s.rn DESC
        ON CONFLICT (station_key) DO UPDATE SET name = EXCLUDED.name, lat = EXCLUDED.lat,
            lon = EXCLUDED.lon, updated_at = now()
        WHERE (t.name, t.lat, t.lon) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.lat, EXCLUDED.lon)
    """,
)

WEATHER = CsvFormat(
    kind="weather",
    columns=(
        Column("station_key", required=True),
        Column("day", "date", required=True),
        Column("temp_min_c", "float", required=True, min=TEMP_MIN, max=TEMP_MAX),
        Column("temp_max_c", "float", min=TEMP_MIN, max=TEMP_MAX),
    ),
    key=("station_key", "day"),
    references=(Reference("station_key", "weather_station", "station_key", "r_station"),),
    rules=(
        Rule(
            "temp_max_c",
            "fr_is_number(s.temp_min_c) AND fr_is_number(s.temp_max_c)"
            " AND s.temp_max_c::float8 < s.temp_min_c::float8",
            "'is below temp_min_c'",
        ),
        Rule(
            "day",
            "fr_is_date(s.day) AND s.day::date > current_date + 1",
            "'is in the future'",
        ),
    ),
    upsert="""
        INSERT INTO weather_observation AS t (station_id, day, temp_min_c, temp_max_c)
        SELECT DISTINCT ON (r_station.id, s.day::date) r_station.id, s.day::date,
               s.temp_min_c::float8, s.temp_max_c::float8
        FROM src s JOIN weather_station r_station ON r_station.station_key = s.station_key
        ORDER BY r_station.id, s.day::date, s.rn DESC
        ON CONFLICT (station_id, day) DO UPDATE SET temp_min_c = EXCLUDED.temp_min_c,
            temp_max_c = EXCLUDED.temp_max_c
        WHERE (t.temp_min_c, t.temp_max_c)
            IS DISTINCT FROM (EXCLUDED.temp_min_c, EXCLUDED.temp_max_c)
    """,
)

TECHNICIANS = CsvFormat(
    kind="technicians",
    columns=(
        Column("technician_key", required=True),
        Column("name", required=True, max_len=300),
        Column("home_lat", "float", required=True, min=-90, max=90),
        Column("home_lon", "float", required=True, min=-180, max=180),
        Column("skills", max_len=1000),
        Column("shift_start", "time"),
        Column("shift_end", "time"),
        Column("workdays", max_len=50, python_check=workdays_problem),
    ),
    key=("technician_key",),
    rules=(
        Rule(
            "shift_end",
            "fr_is_hhmm(coalesce(s.shift_start, '08:00')) AND fr_is_hhmm(coalesce(s.shift_end,"
            " '16:00')) AND coalesce(s.shift_end, '16:00')::time"
            " <= coalesce(s.shift_start, '08:00')::time",
            "'is not after shift_start'",
        ),
    ),
    upsert="""
        INSERT INTO technician AS t (technician_key, name, home_lat, home_lon, skills,
                                     shift_start, shift_end, workdays)
        SELECT DISTINCT ON (s.technician_key) s.technician_key, s.name, s.home_lat::float8,
               s.home_lon::float8,
               coalesce(array_remove(
                   ARRAY(SELECT btrim(x) FROM unnest(string_to_array(s.skills, ';')) x), ''),
                   '{}'),
               coalesce(s.shift_start, '08:00')::time, coalesce(s.shift_end, '16:00')::time,
               coalesce(s.workdays, 'Mo-Fr')
        FROM src s ORDER BY s.technician_key, s.rn DESC
        ON CONFLICT (technician_key) DO UPDATE SET name = EXCLUDED.name,
            home_lat = EXCLUDED.home_lat, home_lon = EXCLUDED.home_lon,
            skills = EXCLUDED.skills, shift_start = EXCLUDED.shift_start,
            shift_end = EXCLUDED.shift_end, workdays = EXCLUDED.workdays, updated_at = now()
        WHERE (t.name, t.home_lat, t.home_lon, t.skills, t.shift_start, t.shift_end,
               t.workdays)
            IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.home_lat, EXCLUDED.home_lon,
                EXCLUDED.skills, EXCLUDED.shift_start, EXCLUDED.shift_end, EXCLUDED.workdays)
    """,
)

FORMATS: dict[str, CsvFormat] = {
    f.kind: f for f in (PARTNERS, SITES, BATCHES, UNITS, FAILURES, STATIONS, WEATHER, TECHNICIANS)
}
# The order in which a directory of files must be imported (references point backwards).
IMPORT_ORDER = (
    "partners",
    "sites",
    "batches",
    "units",
    "failures",
    "stations",
    "weather",
    "technicians",
)
DATE_BOUNDS = (MIN_DATE, MAX_DATE)
