"""Shared geo helpers: coordinate checks and WKT points in SRID 4326."""

from __future__ import annotations

from geoalchemy2 import Geography
from shapely.geometry import Point

SRID = 4326
# Geography so that distances in PostGIS come out in metres.
# The GiST index is declared explicitly on each table, so Alembic sees it.
GeoPoint = Geography(geometry_type="POINT", srid=SRID, spatial_index=False)


def valid_lat(lat: float) -> bool:
    return -90.0 <= lat <= 90.0


def valid_lon(lon: float) -> bool:
    return -180.0 <= lon <= 180.0


def point_ewkt(lat: float, lon: float) -> str:
    """EWKT for a WGS84 point; note the axis order: x is longitude."""
    return f"SRID={SRID};{Point(lon, lat).wkt}"
