"""Application settings, read from the environment (prefix ``FIELDRECALL_``).

Built once at start-up through :func:`get_settings`, never at import time, so tests and
the CLI can point the project at another database by setting the environment first.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FIELDRECALL_", extra="ignore")

    # DATABASE_URL is the conventional name; FIELDRECALL_DATABASE_URL works as well.
    database_url: str = Field(
        default="postgresql+psycopg://fieldrecall:fieldrecall@127.0.0.1:5432/fieldrecall",
        validation_alias=AliasChoices("DATABASE_URL", "FIELDRECALL_DATABASE_URL"),
    )
    max_upload_bytes: int = 200 * 1024 * 1024
    max_failure_batch: int = 1000
    page_size_default: int = 100
    page_size_max: int = 1000
    station_max_distance_km: float = 50.0
    public_base_url: str = "http://127.0.0.1:8000"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    return Settings()
