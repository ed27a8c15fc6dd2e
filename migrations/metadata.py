"""Imports every model module so that Base.metadata knows all tables."""

from __future__ import annotations


def load_all_models() -> None:
    import api.keys  # noqa: F401
    import core.events  # noqa: F401
    import devices.models  # noqa: F401
