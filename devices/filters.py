"""What a list request's filters mean: the keys it names resolved to ids (a key nobody
knows, or another partner's, is a 422 naming it), and the geographic filters (``bbox``,
``near`` with ``within_km``) parsed and checked."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from devices.models import Batch, Partner, Site, Technician, Unit, WeatherStation
from devices.repository import BBox, Near


def _floats(text: str, count: int, name: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != count:
        raise InvalidInput(f"{name} needs {count} comma-separated numbers, got {text!r}")
    return values


def bbox(text: str) -> BBox:
    """``min_lon,min_lat,max_lon,max_lat`` as a box, checked (a 422 naming the problem)."""
    box = BBox(*_floats(text, 4, "bbox"))
    if not (-180 <= box.min_lon <= box.max_lon <= 180 and -90 <= box.min_lat <= box.max_lat <= 90):
        raise InvalidInput(
            f"bbox must be min_lon,min_lat,max_lon,max_lat within -180..180 and -90..90, "
            f"minimum first; got {text!r}"
        )
    return box


def near(text: str | None, within_km: float | None) -> Near | None:
    """``near=lat,lon`` with ``within_km``: both or neither (a 422 naming the problem)."""
    if text is None and within_km is None:
        return None
    if not (text and within_km is not None):
        raise InvalidInput("near and within_km go together, e.g. near=62.6,25.7&within_km=20")
    lat, lon = _floats(text, 2, "near")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInput(f"near is not a valid lat,lon: {text!r}")
    return Near(lat, lon, within_km)


def filter_ids(
    session: Session,
    *,
    partner_scope: int | None = None,
    partner: str | None = None,
    site: str | None = None,
    batch: str | None = None,
    serial: str | None = None,
    station: str | None = None,
    technician: str | None = None,
) -> dict[str, int]:
    """The ids behind the keys a list was filtered by, by filter name. A key nobody knows
    (or that the caller's partner scope hides) is a 422 naming the filter and the value,
    so a typo never reads as "nothing there"."""

    def scoped(stmt: Any, partner_column: Any) -> Any:
        return stmt if partner_scope is None else stmt.where(partner_column == partner_scope)

    checks = (
        (
            "partner",
            partner,
            scoped(select(Partner.id).where(Partner.partner_key == partner), Partner.id),
        ),
        ("site", site, scoped(select(Site.id).where(Site.site_key == site), Site.partner_id)),
        ("batch", batch, select(Batch.id).where(Batch.batch_key == batch)),
        (
            "serial",
            serial,
            scoped(
                select(Unit.id).join(Site, Site.id == Unit.site_id).where(Unit.serial == serial),
                Site.partner_id,
            ),
        ),
        (
            "station",
            station,
            select(WeatherStation.id).where(WeatherStation.station_key == station),
        ),
        (
            "technician",
            technician,
            select(Technician.id).where(Technician.technician_key == technician),
        ),
    )
    found: dict[str, int] = {}
    unknown: list[str] = []
    for name, value, stmt in checks:
        if value is None:
            continue
        key_id = session.scalar(stmt)
        if key_id is None:
            unknown.append(f"{name}: no {name} {value!r}")
        else:
            found[name] = key_id
    if unknown:
        raise InvalidInput("unknown filter value (" + "; ".join(unknown) + ")")
    return found
