"""The eight interchange formats of design.md, declared once.

Each column says how its text is checked; the importer turns these declarations into one
set-based validation query and a per-format upsert. Rules and upserts are SQL over the
row ``s`` of the typed staging table, where empty strings are NULL and typed columns
already hold their date, number or time (NULL when the text did not parse), plus the
joined reference rows.
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
    # Free text (an address, a symptom) may hold line breaks and tabs; every other text
    # column is one line, without any control character (core/inputs.py).
    multiline: bool = False
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
class Upsert:
    """Where a format's rows go: ``values`` maps each target column to its SQL over the
    typed row ``s`` and the rows joined by ``joins``; ``key`` names the target columns of
    the natural key."""

    table: str
    key: tuple[str, ...]
    values: dict[str, str]
    joins: str = ""
    has_updated_at: bool = True
    # SQL over the target row ``t`` that a key is unique within (failure reports: the
    # operator's namespace of keys, where imports file theirs).
    key_scope: str = ""


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
    upsert: Upsert | None = field(default=None, repr=False)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def header(self) -> tuple[str, ...]:
        """Every column in file order: the header row a file of this kind is written with."""
        return tuple(c.name for c in self.columns)

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
    upsert=Upsert(
        table="partner",
        key=("partner_key",),
        values={
            "partner_key": "s.partner_key",
            "name": "s.name",
            "contact_email": "s.contact_email",
            "contact_phone": "s.contact_phone",
        },
    ),
)

SITES = CsvFormat(
    kind="sites",
    columns=(
        Column("site_key", required=True),
        Column("partner_key", required=True),
        Column("name", required=True, max_len=300),
        Column("address", max_len=1000, multiline=True),
        LAT,
        LON,
        Column("timezone", max_len=64, python_check=_timezone_problem),
        Column("opening_hours", max_len=300, python_check=opening_hours_problem),
    ),
    key=("site_key",),
    references=(Reference("partner_key", "partner", "partner_key", "r_partner"),),
    upsert=Upsert(
        table="site",
        key=("site_key",),
        values={
            "site_key": "s.site_key",
            "partner_id": "r_partner.id",
            "name": "s.name",
            "address": "s.address",
            "lat": "s.lat",
            "lon": "s.lon",
            "timezone": "coalesce(s.timezone, 'UTC')",
            "opening_hours": "s.opening_hours",
        },
        joins="JOIN partner r_partner ON r_partner.partner_key = s.partner_key",
    ),
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
    upsert=Upsert(
        table="batch",
        key=("batch_key",),
        values={
            "batch_key": "s.batch_key",
            "model": "s.model",
            "hardware_rev": "s.hardware_rev",
            "manufactured_on": "s.manufactured_on",
        },
    ),
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
            "s.installed_on < r_batch.manufactured_on",
            "'installed before its batch was manufactured (' || r_batch.manufactured_on || ')'",
        ),
    ),
    upsert=Upsert(
        table="unit",
        key=("serial",),
        values={
            "serial": "s.serial",
            "batch_id": "r_batch.id",
            "site_id": "r_site.id",
            "installed_on": "s.installed_on",
            "firmware": "s.firmware",
        },
        joins="JOIN batch r_batch ON r_batch.batch_key = s.batch_key"
        " JOIN site r_site ON r_site.site_key = s.site_key",
    ),
)

FAILURES = CsvFormat(
    kind="failures",
    columns=(
        Column("report_key", required=True),
        Column("serial", required=True),
        Column("occurred_at", "timestamptz", required=True),
        Column("symptom", max_len=2000, multiline=True),
        Column("ambient_temp_c", "float", min=TEMP_MIN, max=TEMP_MAX),
        Column("source", choices=FAILURE_SOURCES),
    ),
    key=("report_key",),
    references=(Reference("serial", "unit", "serial", "r_unit"),),
    immutable=True,
    rules=(
        Rule(
            "occurred_at",
            "s.occurred_at > now() + interval '1 day'",
            "'is in the future'",
        ),
        Rule(
            "occurred_at",
            "s.occurred_at < r_unit.installed_on - interval '1 day'",
            "'before the unit was installed (' || r_unit.installed_on || ')'",
        ),
    ),
    upsert=Upsert(
        table="failure_report",
        key=("report_key",),
        values={
            "report_key": "s.report_key",
            "unit_id": "r_unit.id",
            "occurred_at": "s.occurred_at",
            "symptom": "s.symptom",
            "ambient_temp_c": "s.ambient_temp_c",
            "source": "s.source",
        },
        joins="JOIN unit r_unit ON r_unit.serial = s.serial",
        has_updated_at=False,
        key_scope="t.reported_by_partner_id IS NULL",
    ),
)

STATIONS = CsvFormat(
    kind="stations",
    columns=(Column("station_key", required=True), Column("name", max_len=300), LAT, LON),
    key=("station_key",),
    upsert=Upsert(
        table="weather_station",
        key=("station_key",),
        values={"station_key": "s.station_key", "name": "s.name", "lat": "s.lat", "lon": "s.lon"},
    ),
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
            "s.temp_max_c < s.temp_min_c",
            "'is below temp_min_c'",
        ),
        Rule(
            "day",
            "s.day > current_date + 1",
            "'is in the future'",
        ),
    ),
    upsert=Upsert(
        table="weather_observation",
        key=("station_id", "day"),
        values={
            "station_id": "r_station.id",
            "day": "s.day",
            "temp_min_c": "s.temp_min_c",
            "temp_max_c": "s.temp_max_c",
        },
        joins="JOIN weather_station r_station ON r_station.station_key = s.station_key",
        has_updated_at=False,
    ),
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
            "coalesce(s.shift_end, time '16:00') <= coalesce(s.shift_start, time '08:00')",
            "'is not after shift_start'",
        ),
    ),
    upsert=Upsert(
        table="technician",
        key=("technician_key",),
        values={
            "technician_key": "s.technician_key",
            "name": "s.name",
            "home_lat": "s.home_lat",
            "home_lon": "s.home_lon",
            # "OU-200; ;KX-5" -> {OU-200,KX-5}
            "skills": "coalesce(array_remove(ARRAY(SELECT btrim(x) FROM"
            " unnest(string_to_array(s.skills, ';')) x), ''), '{}')::varchar[]",
            "shift_start": "coalesce(s.shift_start, time '08:00')",
            "shift_end": "coalesce(s.shift_end, time '16:00')",
            "workdays": "coalesce(s.workdays, 'Mo-Fr')",
        },
    ),
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
