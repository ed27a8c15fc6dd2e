"""A double click on "declare" declares once: two requests with one idempotency key that
arrive together (the second while the first has not committed yet) give one campaign,
and the second answers with it instead of failing on the unique key."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.db import transaction
from recall.campaigns import service as campaigns
from recall.campaigns.schemas import CampaignIn, Scope
from recall.models import Campaign, OutboxMessage
from tests.fixtures import load_registry

SPEC = CampaignIn(
    title="OU-200 cold boot", scope=Scope(batch_keys=["B1"]), remedy="Replace the board"
)


def test_two_declarations_with_one_key_at_once_make_one_campaign(committed: Engine) -> None:
    with transaction(committed) as session:
        load_registry(session)
    first_declared = threading.Event()
    release_first = threading.Event()
    ids: dict[str, int] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with Session(committed) as session, session.begin():
                ids["first"] = campaigns.declare(
                    session, spec=SPEC, actor="test", idempotency_key="double-click"
                ).id
                first_declared.set()
                release_first.wait(timeout=30)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            first_declared.set()

    def second() -> None:
        try:
            with Session(committed) as session, session.begin():
                ids["second"] = campaigns.declare(
                    session, spec=SPEC, actor="test", idempotency_key="double-click"
                ).id
        except BaseException as exc:
            errors.append(exc)

    one = threading.Thread(target=first)
    one.start()
    assert first_declared.wait(timeout=30)
    two = threading.Thread(target=second)
    two.start()
    # The second request waits on the key's lock while the first is uncommitted.
    with committed.connect() as conn:
        for _ in range(200):
            waiting = conn.scalar(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            )
            if waiting:
                break
            time.sleep(0.05)
    assert waiting == 1 and two.is_alive()
    release_first.set()
    one.join(timeout=30)
    two.join(timeout=30)
    assert errors == []
    assert ids["first"] == ids["second"]
    with Session(committed) as session:
        assert session.scalar(select(func.count()).select_from(Campaign)) == 1
        # One notice of the recall per partner, not two.
        declared = select(OutboxMessage).where(OutboxMessage.kind == "recall_declared")
        assert session.scalar(select(func.count()).select_from(declared.subquery())) == 2
