"""The engine's connection pool follows the settings: a busy server process keeps as many
connections as it serves requests at once instead of opening one per request."""

from __future__ import annotations

import pytest
from sqlalchemy.pool import QueuePool

from core.db import get_engine
from core.settings import get_settings


def test_the_pool_size_and_overflow_come_from_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FIELDRECALL_DB_POOL_SIZE", "17")
    monkeypatch.setenv("FIELDRECALL_DB_MAX_OVERFLOW", "3")
    get_settings.cache_clear()
    get_engine.cache_clear()
    try:
        pool = get_engine("postgresql+psycopg://nobody@127.0.0.1:1/none").pool
        assert isinstance(pool, QueuePool)
        assert (pool.size(), pool._max_overflow) == (17, 3)
    finally:
        get_settings.cache_clear()
        get_engine.cache_clear()


def test_a_pool_size_of_zero_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDRECALL_DB_POOL_SIZE", "0")
    get_settings.cache_clear()
    try:
        with pytest.raises(ValueError, match="db_pool_size"):
            get_settings()
    finally:
        get_settings.cache_clear()
