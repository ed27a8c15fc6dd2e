"""CSV as Excel, Windows and Python's csv module write it (RFC 4180): CRLF or CR line ends,
a byte order mark, quoted fields over several lines, and a semicolon as the delimiter
under European locales; all give the same rows. Control characters are refused in every
one-line column, with the line and column; refusals count every bad row and name no
internal table."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.errors import ImportRejected
from core.settings import get_settings
from devices.importer import import_csv
from tests.fixtures import CSV, load_registry

SITES = [
    ["site_key", "partner_key", "name", "address", "lat", "lon", "timezone", "opening_hours"],
    ["SA1", "PA", "Alpha North", "Main st 1, Oulu", "65.01", "25.47", "Europe/Helsinki", ""],
    ["SA2", "PA", "Alpha South", "Dock 4\nGate B", "60.17", "24.94", "", "Mo-Fr 08:00-17:00"],
    ["SB1", "PB", 'Beta "One"', "", "65.02", "25.50", "Europe/Stockholm", ""],
]


def written(delimiter: str = ",", lineterminator: str = "\r\n", bom: bool = False) -> bytes:
    out = io.StringIO()
    # Python quotes a field for the line terminator's characters only: with CR line ends
    # the LF inside "Dock 4 / Gate B" needs every field quoted, as Excel does.
    quoting = csv.QUOTE_ALL if lineterminator == "\r" else csv.QUOTE_MINIMAL
    writer = csv.writer(out, delimiter=delimiter, lineterminator=lineterminator, quoting=quoting)
    writer.writerows(SITES)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode()


def sites(session: Session) -> list[tuple]:
    return [
        tuple(r)
        for r in session.execute(
            text("SELECT site_key, name, address, lat, lon, timezone FROM site ORDER BY 1")
        )
    ]


def load_partners(session: Session) -> None:
    import_csv(session, "partners", CSV["partners"].encode(), filename="partners.csv")


VARIANTS = {
    "python csv, CRLF": written(),
    "LF": written(lineterminator="\n"),
    "old Mac, CR": written(lineterminator="\r"),
    "Excel UTF-8, BOM and CRLF": written(bom=True),
    "Excel, European locale": written(delimiter=";"),
    "semicolon, BOM, CR": written(delimiter=";", lineterminator="\r", bom=True),
}


@pytest.mark.parametrize("name", VARIANTS)
def test_every_variant_gives_the_same_rows(session: Session, name: str) -> None:
    load_partners(session)
    result = import_csv(session, "sites", VARIANTS[name], filename="sites.csv")
    assert (result.rows, result.inserted) == (3, 3)
    assert sites(session) == [
        ("SA1", "Alpha North", "Main st 1, Oulu", 65.01, 25.47, "Europe/Helsinki"),
        ("SA2", "Alpha South", "Dock 4\nGate B", 60.17, 24.94, "UTC"),
        ("SB1", 'Beta "One"', None, 65.02, 25.5, "Europe/Stockholm"),
    ]


def test_a_crlf_file_through_the_api(client: TestClient, session: Session) -> None:
    keys = load_registry(session)
    body = b"partner_key;name;contact_email\r\nPZ;Zeta Oy;ops@zeta.example\r\n\r\n"
    response = client.post(
        "/api/v1/imports/partners",
        files={"file": ("partners.csv", body, "text/csv")},
        headers={"X-API-Key": keys.lead},
    )
    assert response.status_code == 200, response.text
    assert response.json()["inserted"] == 1


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ('"Alpha\nNorth"', "control character"),
        ('"Alpha\tNorth"', "control character"),
        ('"Alpha\x1b[31mNorth"', "control character"),
    ],
)
def test_control_characters_in_a_one_line_column_are_refused(
    session: Session, name: str, reason: str
) -> None:
    load_partners(session)
    body = (
        f"site_key,partner_key,name,lat,lon\r\nS1,PA,{name},65.0,25.0\r\nS2,PA,Fine,65.0,25.0\r\n"
    )
    with pytest.raises(ImportRejected) as refused:
        import_csv(session, "sites", body.encode(), filename="sites.csv")
    [error] = refused.value.detail["errors"]
    assert (error["line"], error["column"], error["column_number"]) == (2, "name", 3)
    assert reason in error["reason"]
    assert session.scalar(text("SELECT count(*) FROM site")) == 0


def test_every_bad_row_is_counted_beyond_what_is_listed(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "import_max_listed_errors", 3)
    rows = "".join(f"P{i},\r\n" for i in range(10))  # every name missing
    with pytest.raises(ImportRejected) as refused:
        import_csv(session, "partners", f"partner_key,name\r\n{rows}".encode())
    detail = refused.value.detail
    assert (detail["bad_rows"], detail["problems"], len(detail["errors"])) == (10, 10, 3)
    assert "the first 3 of 10 problems" in detail["message"]


def test_refusals_name_no_internal_table(session: Session) -> None:
    body = b'partner_key,name\r\nP1,"open quote\r\nP2,Two\r\n'
    with pytest.raises(ImportRejected) as refused:
        import_csv(session, "partners", body)
    said = str(refused.value.detail)
    assert "staging" not in said and "import_" not in said and "COPY" not in said
