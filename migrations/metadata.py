"""Imports every model module so that Base.metadata knows all tables."""

from __future__ import annotations


def load_all_models() -> None:
    import core.events
    import core.links
    import core.security  # noqa: F401
    import devices.models  # noqa: F401
    import recall.campaign_models
    import recall.models
    import recall.outbox_models  # noqa: F401
    import routing.availability_models
    import routing.plan_models  # noqa: F401
