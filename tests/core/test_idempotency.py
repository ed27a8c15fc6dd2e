"""Idempotency keys (core/idempotency.py): the same key replays the first answer, another
body with it is a 422, and concurrent requests with one key all get the same answer,
never a 500, with one change made."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from tests.browser import live_server
from tests.fixtures import Keys, load_registry
from tests.recall.campaigns.fixtures import campaign_body, h, load_recall_registry

REPORT = {"report_key": "K1", "serial": "UA1", "occurred_at": "2025-11-10T10:00:00+02:00"}


def with_key(key: str, api_key: str) -> dict[str, str]:
    return {**h(api_key), "Idempotency-Key": key}


def test_twenty_concurrent_declarations_with_one_key_make_one_campaign(
    committed: Engine,
) -> None:
    with Session(committed) as session:
        keys = load_recall_registry(session)
    body = campaign_body(batch_keys=["B1"])
    with live_server(create_app(sessionmaker(bind=committed))) as base:

        def declare(_: int) -> httpx.Response:
            return httpx.post(
                f"{base}/api/v1/campaigns",
                json=body,
                headers=with_key("declare-b1", keys.lead),
                timeout=60,
            )

        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(declare, range(20)))
    assert [a.status_code for a in answers] == [201] * 20, [a.text for a in answers]
    assert len({a.text for a in answers}) == 1
    with committed.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM recall_campaign")) == 1


def test_a_key_replays_the_first_answer_and_refuses_another_body(
    client: TestClient, session: Session
) -> None:
    keys = load_recall_registry(session)
    first = client.post("/api/v1/campaigns", json=campaign_body(), headers=with_key("k", keys.lead))
    again = client.post("/api/v1/campaigns", json=campaign_body(), headers=with_key("k", keys.lead))
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    other = client.post(
        "/api/v1/campaigns",
        json={**campaign_body(), "title": "Another recall"},
        headers=with_key("k", keys.lead),
    )
    assert other.status_code == 422 and "different request" in other.json()["detail"]
    assert session.scalar(text("SELECT count(*) FROM recall_campaign")) == 1
    bad = client.post(
        "/api/v1/campaigns", json=campaign_body(), headers=with_key("k\x7fx", keys.lead)
    )
    assert bad.status_code == 422


def test_failure_reports_take_a_key_per_tenant(client: TestClient, session: Session) -> None:
    keys: Keys = load_registry(session)
    first = client.post("/api/v1/failures", json=REPORT, headers=with_key("r", keys.partner_a))
    again = client.post("/api/v1/failures", json=REPORT, headers=with_key("r", keys.partner_a))
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and first.json()["created"] == 1
    changed = {**REPORT, "symptom": "smoke"}
    refused = client.post("/api/v1/failures", json=changed, headers=with_key("r", keys.partner_a))
    assert refused.status_code == 422
    # Another partner's namespace: the same key is its own, and answers with its own report.
    theirs = {**REPORT, "serial": "UB1"}
    other = client.post("/api/v1/failures", json=theirs, headers=with_key("r", keys.partner_b))
    assert other.status_code == 200 and other.json()["items"][0]["serial"] == "UB1"
