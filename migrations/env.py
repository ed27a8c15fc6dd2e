"""Alembic environment: the database URL comes from the project's settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from core.settings import get_settings
from migrations import METADATA

config = context.config
target_metadata = METADATA


def _include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    # PostGIS's own tables (spatial_ref_sys, tiger, ...) are not ours to manage.
    return not (type_ == "table" and reflected and compare_to is None)


def run_migrations_online() -> None:
    url = config.attributes.get("database_url") or get_settings().database_url
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, include_object=_include_object
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        {"sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as conn:
        context.configure(
            connection=conn, target_metadata=target_metadata, include_object=_include_object
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
