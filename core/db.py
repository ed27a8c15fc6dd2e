"""The database: the SQLAlchemy base (with stable constraint names and the geography point
type), the engine and session factory, and the Alembic migrations applied from code (CLI
``db upgrade``, tests, the demo)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from geoalchemy2 import Geography
from sqlalchemy import MetaData, create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from core.settings import get_settings

ROOT = Path(__file__).resolve().parents[1]
SRID = 4326
# Geography so that distances in PostGIS come out in metres.
# The GiST index is declared explicitly on each table, so Alembic sees it.
GeoPoint = Geography(geometry_type="POINT", srid=SRID, spatial_index=False)

# Stable constraint names, so Alembic migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def one_of(column: str, values: tuple[str, ...]) -> str:
    """SQL for a CHECK that ``column`` holds one of ``values`` (the states of a lifecycle)."""
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


@lru_cache(maxsize=4)
def get_engine(url: str | None = None) -> Engine:
    """One engine per database URL for the process."""
    settings = get_settings()
    return create_engine(
        url or settings.database_url,
        pool_pre_ping=True,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=engine or get_engine(), expire_on_commit=False)


@contextmanager
def transaction(engine: Engine | None = None) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on error (CLI and jobs)."""
    with session_factory(engine)() as session, session.begin():
        yield session


def alembic_config(database_url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    # alembic.ini prepends "." to sys.path for the alembic command run from the checkout;
    # here the project is importable already, and a `migrations` package in whatever
    # directory we run from (another checkout) must not shadow ours.
    cfg.set_main_option("prepend_sys_path", "")
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at ``database_url`` to ``revision`` (PostGIS extension included)."""
    command.upgrade(alembic_config(database_url), revision)
