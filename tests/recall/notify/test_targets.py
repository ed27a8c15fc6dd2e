"""A partner cannot make the worker reach inside: every address form of a private target
is refused when the webhook is registered and again when a notice is delivered (a real
worker, a real receiver on loopback that must never hear from it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from recall.models import OutboxMessage, PartnerWebhook
from recall.notify.targets import TargetRefused, check_target, parse_networks
from tests.fixtures import Keys, load_registry
from tests.recall.notify.harness import (
    WebhookReceiver,
    add_partner,
    delete_jobs,
    delete_test_rows,
    send_notice,
    serve_webhooks,
    start_worker,
    wait_for,
)

# The forms the probe used, and a few more spellings of the same places.
INSIDE = [
    ("http://127.0.0.1:5433/", "loopback"),
    ("http://[::1]/hook", "loopback"),
    ("http://0.0.0.0:22/", "unspecified"),
    ("http://2130706433/", "loopback"),  # decimal 127.0.0.1
    ("http://0x7f.1/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://10.20.30.40/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://224.0.0.1/", "multicast"),
]


@pytest.mark.parametrize(("url", "kind"), INSIDE)
def test_every_form_of_an_inside_address_is_refused(url: str, kind: str) -> None:
    with pytest.raises(TargetRefused, match=kind):
        check_target(url)


def test_a_public_address_passes_and_is_the_one_connected_to() -> None:
    target = check_target("https://93.184.215.14:8443/hook?x=1")
    assert (target.host, target.port, target.address) == ("93.184.215.14", 8443, "93.184.215.14")
    assert target.connect_url("https://93.184.215.14:8443/hook?x=1") == (
        "https://93.184.215.14:8443/hook?x=1"
    )


def test_a_name_with_any_inside_address_is_refused() -> None:
    def resolve(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.0.0.7"]

    with pytest.raises(TargetRefused, match=r"private address \(10\.0\.0\.7\)"):
        check_target("https://rebinding.example/hook", resolve=resolve)


def test_the_operator_allow_list_lets_named_networks_through() -> None:
    allow = parse_networks(" 127.0.0.0/8, 10.20.0.0/16 ")
    assert check_target("http://2130706433:8080/", allow=allow).address == "127.0.0.1"
    assert check_target("http://10.20.30.40/", allow=allow).address == "10.20.30.40"
    with pytest.raises(TargetRefused, match="private"):
        check_target("http://10.21.0.1/", allow=allow)


def test_a_host_that_does_not_resolve_is_refused() -> None:
    def resolve(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    with pytest.raises(TargetRefused, match="does not resolve"):
        check_target("https://nowhere.example/", resolve=resolve)


@pytest.mark.parametrize(("url", "kind"), INSIDE)
def test_registering_an_inside_target_is_a_422_and_stores_nothing(
    client: TestClient, session: Session, url: str, kind: str
) -> None:
    keys: Keys = load_registry(session)
    response = client.post(
        "/api/v1/webhooks", json={"url": url}, headers={"X-API-Key": keys.partner_a}
    )
    assert response.status_code == 422, response.text
    assert kind in response.json()["detail"]
    assert session.query(PartnerWebhook).count() == 0


@pytest.fixture
def committed_rows(engine: Engine) -> Iterator[None]:
    yield
    delete_test_rows(engine)
    delete_jobs(engine)


def test_delivery_checks_the_target_again_and_never_connects_inside(
    engine: Engine, committed_rows: None, tmp_path: Path
) -> None:
    """Webhooks that point inside (registered before the name moved, or written to the
    table by hand) are refused at delivery: the loopback receiver hears nothing."""
    receiver = WebhookReceiver()
    with serve_webhooks(receiver) as url:
        port = url.split(":")[2].split("/")[0]
        targets = [
            f"http://127.0.0.1:{port}/hook",
            f"http://[::1]:{port}/hook",
            f"http://0.0.0.0:{port}/hook",
            f"http://2130706433:{port}/hook",
            f"http://[::ffff:127.0.0.1]:{port}/hook",
            "http://169.254.169.254/latest/meta-data/",
        ]
        add_partner(engine, "PX")
        with Session(engine) as session, session.begin():
            for target in targets:
                session.add(
                    PartnerWebhook(partner_key="PX", url=target, secret="s" * 20, created_by="t")
                )
        with Session(engine) as session, session.begin():
            send_notice(session, "PX", "campaign:12:declared:PX")
        # No allow-list: loopback is as forbidden to this worker as any inside address.
        worker = start_worker(
            engine,
            tmp_path / "worker.log",
            {"webhook_allow_networks": "", "notify_max_attempts": "1"},
        )
        try:

            def settled() -> list[OutboxMessage] | None:
                with Session(engine) as session:
                    rows = session.query(OutboxMessage).filter_by(partner_key="PX").all()
                    return rows if all(r.status == "dead" for r in rows) else None

            rows = wait_for("every row to be refused", settled, log=worker.log)
        finally:
            worker.stop()
    assert sorted(r.destination for r in rows) == sorted(targets)
    for row in rows:
        assert row.last_error is not None and row.last_error.startswith("refused target: ")
    assert receiver.deliveries == []
