"""Apply the Alembic migrations programmatically (CLI `db upgrade`, tests, demo)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parents[1]


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
