"""The field app's tests share one world: the recall registry, a recall of batch B1, and
Tea Tech's (T1) published route on 2026-12-03 (tests/routing/plans/fixtures.py), with the
field clock at 07:30 that morning in Helsinki."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.conftest import FieldClock
from tests.fixtures import Keys
from tests.recall.campaigns.fixtures import declare, load_recall_registry
from tests.routing.plans.fixtures import PlanWorld, at, publish_by_hand


@pytest.fixture
def keys(session: Session) -> Keys:
    return load_recall_registry(session)


@pytest.fixture
def world(client: TestClient, keys: Keys, session: Session, field_clock: FieldClock) -> PlanWorld:
    campaign = declare(client, keys.lead, batch_keys=["B1"])
    field_clock.set(at(7, 30))
    return publish_by_hand(session, campaign["id"])
