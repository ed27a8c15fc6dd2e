"""The Alembic history and the ORM models describe the same schema."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from migrations import METADATA


def _ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    # Tables no model declares (PostGIS's spatial_ref_sys, Procrastinate's) are not compared.
    return not (type_ == "table" and reflected and compare_to is None)


def test_the_migrated_database_matches_the_models(connection: Connection) -> None:
    context = MigrationContext.configure(
        connection, opts={"include_object": _ours, "compare_type": True}
    )
    assert compare_metadata(context, METADATA) == []


def test_every_location_has_a_gist_index_in_srid_4326(connection: Connection) -> None:
    columns = connection.execute(
        text("SELECT f_table_name, f_geography_column, srid FROM geography_columns")
    ).all()
    assert {(t, c, s) for t, c, s in columns} == {
        ("site", "location", 4326),
        ("weather_station", "location", 4326),
        ("technician", "home_location", 4326),
        ("recall_campaign", "region", 4326),
    }
    gist = connection.execute(
        text(
            "SELECT t.relname, a.attname FROM pg_index x"
            " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam"
            " JOIN pg_class t ON t.oid = x.indrelid"
            " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(x.indkey)"
            " WHERE am.amname = 'gist'"
        )
    ).all()
    assert {(t, c) for t, c, _ in columns} <= {(t, c) for t, c in gist}
