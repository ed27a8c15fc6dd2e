"""Notifications without a worker: what notify_partner writes and queues, the outbox and
webhook routes, partner isolation on each of them, and dead-letter retries.
Everything here runs in the harness's rolled-back transaction."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput, NotFound
from devices.models import Partner
from recall.models import OutboxMessage
from recall.notify.outbox import DELIVER_TASK, NO_CHANNEL, partner_notices
from tests.fixtures import Keys, load_registry
from tests.recall.notify.harness import send_notice as notice

pytestmark = pytest.mark.usefixtures("public_dns")


def h(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


@pytest.fixture
def keys(session: Session) -> Keys:
    keys = load_registry(session)
    session.add(Partner(partner_key="PC", name="Gamma GmbH"))  # no email, no webhook
    session.commit()
    return keys


def jobs_for(session: Session, message_id: int) -> int:
    return session.scalar(
        text(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = :task"
            " AND status = 'todo' AND (args ->> 'message_id')::bigint = :id"
        ),
        {"task": DELIVER_TASK, "id": message_id},
    )


def add_webhook(client: TestClient, key: str, url: str, **body: str) -> dict:
    response = client.post("/api/v1/webhooks", json={"url": url, **body}, headers=h(key))
    assert response.status_code == 201, response.text
    return response.json()


def test_a_notice_goes_to_the_email_and_every_active_webhook_with_a_job_each(
    client: TestClient, keys: Keys, session: Session
) -> None:
    hook = add_webhook(client, keys.partner_a, "https://alpha.example/hooks/recall")
    removed = add_webhook(client, keys.partner_a, "https://alpha.example/old")
    client.delete(f"/api/v1/webhooks/{removed['id']}", headers=h(keys.partner_a))

    rows = notice(session, "PA", "campaign:12:declared:PA")

    assert [(m.channel, m.destination, m.status) for m in rows] == [
        ("email", "ops@alpha.example", "pending"),
        ("webhook", "https://alpha.example/hooks/recall", "pending"),
    ]
    assert rows[1].webhook_id == hook["id"]
    assert {m.idempotency_key for m in rows} == {"campaign:12:declared:PA"}
    assert all(m.topic == "campaign:12" and m.attempts == 0 for m in rows)
    assert [jobs_for(session, m.id) for m in rows] == [1, 1]


def test_the_same_idempotency_key_again_writes_and_queues_nothing(
    client: TestClient, keys: Keys, session: Session
) -> None:
    first = notice(session, "PA", "k-1")
    add_webhook(client, keys.partner_a, "https://alpha.example/hook")  # a new channel since
    again = notice(session, "PA", "k-1")

    assert [m.id for m in again] == [m.id for m in first]
    assert session.scalar(select(text("count(*)")).select_from(OutboxMessage)) == 1
    assert jobs_for(session, first[0].id) == 1
    with pytest.raises(Conflict, match="another partner"):
        notice(session, "PB", "k-1")


def test_a_partner_without_any_channel_gets_a_visible_dead_record(
    keys: Keys, session: Session
) -> None:
    [row] = notice(session, "PC", "k-pc")
    assert (row.channel, row.destination, row.status, row.last_error) == (
        "none",
        "",
        "dead",
        NO_CHANNEL,
    )
    assert jobs_for(session, row.id) == 0
    notice(session, "PA", "k-pa")
    summary = {n.partner_key: n for n in partner_notices(session, topic="campaign:12")}
    assert summary["PC"].reachable is False and summary["PC"].first_written_at is None
    assert summary["PC"].dead == 1
    assert summary["PA"].reachable is True and summary["PA"].first_written_at is not None
    assert summary["PA"].first_delivered_at is None and summary["PA"].pending == 1


def test_bad_notices_are_refused(keys: Keys, session: Session) -> None:
    with pytest.raises(NotFound):
        notice(session, "PX", "k-x")
    with pytest.raises(InvalidInput, match="one non-empty line"):
        notice(session, "PA", "k-bad", subject="two\nlines")
    assert session.scalar(select(text("count(*)")).select_from(OutboxMessage)) == 0


def test_partners_see_only_their_own_messages(
    client: TestClient, keys: Keys, session: Session
) -> None:
    notice(session, "PA", "k-a")
    notice(session, "PB", "k-b")
    session.commit()

    mine = client.get("/api/v1/outbox", headers=h(keys.partner_a)).json()
    assert [m["partner_key"] for m in mine["items"]] == ["PA"]
    # Another partner's key reads as unknown (422), as a key that does not exist would.
    widened = client.get("/api/v1/outbox?partner=PB", headers=h(keys.partner_a))
    assert widened.status_code == 422 and "no partner 'PB'" in widened.json()["detail"]
    everything = client.get("/api/v1/outbox?topic=campaign:12", headers=h(keys.lead)).json()
    assert everything["total"] == 2
    only_b = client.get("/api/v1/outbox?partner=PB&status=pending", headers=h(keys.lead))
    assert [m["idempotency_key"] for m in only_b.json()["items"]] == ["k-b"]
    assert client.get("/api/v1/outbox", headers=h(keys.technician)).status_code == 403
    assert client.get("/api/v1/outbox?status=lost", headers=h(keys.lead)).status_code == 422


def test_every_notification_route_with_an_id_hides_other_partners_ids(
    client: TestClient, keys: Keys, session: Session
) -> None:
    [message_b] = notice(session, "PB", "k-b")
    session.commit()
    hook_b = add_webhook(client, keys.partner_b, "https://beta.example/hook")
    ids = {"message_id": message_b.id, "webhook_id": hook_b["id"]}
    routes = [
        (method.upper(), path)
        for path, ops in client.get("/openapi.json").json()["paths"].items()
        if path.startswith(("/api/v1/outbox/", "/api/v1/webhooks/"))
        for method in ops
    ]
    assert len(routes) == 4  # GET and retry of a message; GET and DELETE of a webhook
    for method, path in routes:
        url = re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)
        if path.endswith("/retry"):
            continue  # lead only: test_registry_api's LEAD_ONLY table
        response = client.request(method, url, headers=h(keys.partner_a))
        assert response.status_code == 404, (method, path)
        assert response.json()["error"] == "NotFound"
        assert client.request(method, url, headers=h(keys.technician)).status_code == 403
        assert client.get(url, headers=h(keys.partner_b)).status_code == 200, path
        assert client.get(url, headers=h(keys.lead)).status_code == 200, path
    # Partner A's DELETE attempt changed nothing.
    assert client.get(f"/api/v1/webhooks/{hook_b['id']}", headers=h(keys.lead)).json()["active"]


def test_webhook_secret_is_shown_once_and_a_chosen_one_is_kept(
    client: TestClient, keys: Keys
) -> None:
    generated = add_webhook(client, keys.partner_a, "https://alpha.example/a")
    assert len(generated["secret"]) >= 32
    chosen = add_webhook(client, keys.partner_a, "https://alpha.example/b", secret="s" * 20)
    assert chosen["secret"] == "s" * 20
    listed = client.get("/api/v1/webhooks", headers=h(keys.partner_a)).json()
    assert [w["id"] for w in listed] == [generated["id"], chosen["id"]]
    assert all("secret" not in w for w in listed)
    one = client.get(f"/api/v1/webhooks/{chosen['id']}", headers=h(keys.partner_a)).json()
    assert "secret" not in one
    assert client.get("/api/v1/webhooks", headers=h(keys.partner_b)).json() == []
    assert client.get("/api/v1/webhooks?partner=PA", headers=h(keys.partner_b)).status_code == 422


def test_webhook_input_is_checked(client: TestClient, keys: Keys, session: Session) -> None:
    post = client.post
    for body in (
        {"url": "ftp://alpha.example/x"},
        {"url": "not a url"},
        {"url": "https://user:pw@alpha.example/x"},
        {"url": "https://alpha.example/x", "secret": "short"},
    ):
        response = post("/api/v1/webhooks", json=body, headers=h(keys.partner_a))
        assert response.status_code == 422, body
        assert set(response.json()) == {"error", "detail"}
    add_webhook(client, keys.partner_a, "https://alpha.example/x")
    again = post(
        "/api/v1/webhooks", json={"url": "https://alpha.example/x"}, headers=h(keys.partner_a)
    )
    assert again.status_code == 409
    foreign = {"url": "https://alpha.example/y", "partner_key": "PB"}
    assert post("/api/v1/webhooks", json=foreign, headers=h(keys.partner_a)).status_code == 404
    # A support lead registers for a named partner, and must name one.
    assert (
        post(
            "/api/v1/webhooks", json={"url": "https://c.example/"}, headers=h(keys.lead)
        ).status_code
        == 422
    )
    assert (
        add_webhook(client, keys.lead, "https://c.example/", partner_key="PC")["partner_key"]
        == "PC"
    )
    assert (
        post(
            "/api/v1/webhooks", json={"url": "https://t.example/"}, headers=h(keys.technician)
        ).status_code
        == 403
    )
    count = session.scalar(text("SELECT count(*) FROM partner_webhook WHERE partner_key = 'PB'"))
    assert count == 0


def test_a_dead_letter_is_retried_with_a_new_round_of_attempts(
    client: TestClient, keys: Keys, session: Session
) -> None:
    [message] = notice(session, "PB", "k-b")
    message.status, message.attempts, message.last_error = "dead", 8, "HTTP 500: boom"
    session.commit()
    dead = client.get("/api/v1/outbox?status=dead", headers=h(keys.lead)).json()
    assert [m["id"] for m in dead["items"]] == [message.id]

    response = client.post(f"/api/v1/outbox/{message.id}/retry", headers=h(keys.lead))
    assert response.status_code == 200, response.text
    [retried] = response.json()
    assert (retried["id"], retried["status"], retried["attempts"]) == (message.id, "pending", 0)
    assert jobs_for(session, message.id) == 2  # the original job and the retry's
    again = client.post(f"/api/v1/outbox/{message.id}/retry", headers=h(keys.lead))
    assert again.status_code == 409 and "only dead messages" in again.json()["detail"]
    assert client.post("/api/v1/outbox/999999/retry", headers=h(keys.lead)).status_code == 404
    event = session.execute(
        text(
            "SELECT actor, action FROM event WHERE entity = 'outbox_message' AND entity_key = :id"
        ),
        {"id": str(message.id)},
    ).one()
    assert event.action == "retry" and event.actor.startswith("support_lead:")


def test_retrying_a_no_channel_record_uses_the_channels_the_partner_has_now(
    client: TestClient, keys: Keys, session: Session
) -> None:
    [none_row] = notice(session, "PC", "k-pc")
    session.commit()
    url = f"/api/v1/outbox/{none_row.id}/retry"
    still = client.post(url, headers=h(keys.lead))
    assert still.status_code == 409 and "no contact email" in still.json()["detail"]

    add_webhook(client, keys.lead, "https://gamma.example/hook", partner_key="PC")
    [sent] = client.post(url, headers=h(keys.lead)).json()
    assert (sent["channel"], sent["destination"], sent["status"]) == (
        "webhook",
        "https://gamma.example/hook",
        "pending",
    )
    assert sent["idempotency_key"] == "k-pc" and jobs_for(session, sent["id"]) == 1
    session.refresh(none_row)
    assert none_row.status == "dead"  # the record of the miss stays
    assert client.post(url, headers=h(keys.lead)).status_code == 409


def test_a_dead_letter_to_a_removed_webhook_is_not_retried(
    client: TestClient, keys: Keys, session: Session
) -> None:
    hook = add_webhook(client, keys.partner_b, "https://beta.example/hook")
    rows = notice(session, "PB", "k-b")
    webhook_row = next(m for m in rows if m.channel == "webhook")
    webhook_row.status = "dead"
    session.commit()
    client.delete(f"/api/v1/webhooks/{hook['id']}", headers=h(keys.partner_b))
    response = client.post(f"/api/v1/outbox/{webhook_row.id}/retry", headers=h(keys.lead))
    assert response.status_code == 409 and "was removed" in response.json()["detail"]
