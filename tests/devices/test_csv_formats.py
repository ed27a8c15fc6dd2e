"""The eight CSV formats are design.md's: same files, same columns, same order."""

from __future__ import annotations

from devices.csv_formats import FORMATS, IMPORT_ORDER

# The interchange formats of design.md, copied on purpose: they are a contract with every
# partner's files, so a change to the formats must fail here and be made on purpose.
DESIGN_HEADERS = {
    "partners": ["partner_key", "name", "contact_email", "contact_phone"],
    "sites": [
        "site_key", "partner_key", "name", "address", "lat", "lon", "timezone", "opening_hours",
    ],
    "batches": ["batch_key", "model", "hardware_rev", "manufactured_on"],
    "units": ["serial", "batch_key", "site_key", "installed_on", "firmware"],
    "failures": ["report_key", "serial", "occurred_at", "symptom", "ambient_temp_c", "source"],
    "stations": ["station_key", "name", "lat", "lon"],
    "weather": ["station_key", "day", "temp_min_c", "temp_max_c"],
    "technicians": [
        "technician_key", "name", "home_lat", "home_lon", "skills", "shift_start", "shift_end",
        "workdays",
    ],
}  # fmt: skip


def test_every_format_has_design_mds_columns_in_order() -> None:
    assert {kind: list(fmt.header) for kind, fmt in FORMATS.items()} == DESIGN_HEADERS


def test_a_directory_imports_in_reference_order() -> None:
    assert set(IMPORT_ORDER) == set(DESIGN_HEADERS)
    # A file may only reference kinds imported before it.
    assert IMPORT_ORDER.index("partners") < IMPORT_ORDER.index("sites")
    assert IMPORT_ORDER.index("sites") < IMPORT_ORDER.index("units")
    assert IMPORT_ORDER.index("batches") < IMPORT_ORDER.index("units")
    assert IMPORT_ORDER.index("units") < IMPORT_ORDER.index("failures")
    assert IMPORT_ORDER.index("stations") < IMPORT_ORDER.index("weather")
