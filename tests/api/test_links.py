"""Secret links (core/links.py, api/links.py): they expire, are revoked one by one, can be
sent again (a partner's stable link), answer 404 for another owner, and their addresses
follow the address the server was reached at, port included."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.links import stable_link
from devices import service as devices
from tests.fixtures import Keys, load_registry


def h(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def status_path(link: dict) -> str:
    url = link["urls"]["status"]
    return url[url.index("/p/") :]


def test_links_expire_and_are_revoked_one_by_one(client: TestClient, session: Session) -> None:
    keys: Keys = load_registry(session)
    first = client.post("/api/v1/links", headers=h(keys.partner_a)).json()
    second = client.post("/api/v1/links?days=7", headers=h(keys.partner_a)).json()
    assert client.get(status_path(first)).status_code == 200
    assert client.get(status_path(second)).status_code == 200
    listed = client.get("/api/v1/links", headers=h(keys.partner_a)).json()
    assert {link["id"] for link in listed} == {first["id"], second["id"]}

    revoked = client.delete(f"/api/v1/links/{first['id']}", headers=h(keys.partner_a))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert client.get(status_path(first)).status_code == 404
    assert client.get(status_path(second)).status_code == 200

    session.execute(
        text("UPDATE secret_link SET expires_at = now() - interval '1 second' WHERE id = :id"),
        {"id": second["id"]},
    )
    assert client.get(status_path(second)).status_code == 404
    assert client.get("/api/v1/links", headers=h(keys.partner_a)).json() == []


def test_another_owners_link_is_a_404(client: TestClient, session: Session) -> None:
    keys = load_registry(session)
    theirs = client.post("/api/v1/links", headers=h(keys.partner_b)).json()
    assert (
        client.delete(f"/api/v1/links/{theirs['id']}", headers=h(keys.partner_a)).status_code == 404
    )
    assert (
        client.delete(f"/api/v1/links/{theirs['id']}", headers=h(keys.technician)).status_code
        == 404
    )
    assert client.get(status_path(theirs)).status_code == 200  # still open
    # A token with a forged MAC opens nothing.
    forged = status_path(theirs)[:-5] + "AAAAA"
    assert client.get(forged).status_code == 404


def test_a_lead_resends_a_partners_stable_link_without_cancelling_it(
    client: TestClient, session: Session
) -> None:
    keys = load_registry(session)
    partner_id = devices.partner_id(session, "PA")
    issued = stable_link(session, partner_id=partner_id)
    assert stable_link(session, partner_id=partner_id).token == issued.token
    [listed] = client.get("/api/v1/links?partner=PA", headers=h(keys.lead)).json()
    assert listed["urls"]["status"].endswith(f"/p/{issued.token}")
    again = client.get("/api/v1/links?partner=PA", headers=h(keys.lead)).json()
    assert again == [listed]
    assert client.get(f"/p/{issued.token}").status_code == 200


def test_link_addresses_follow_the_port_the_server_runs_on(
    sessions: sessionmaker[Session], session: Session
) -> None:
    keys = load_registry(session)
    session.commit()
    with TestClient(create_app(sessions), base_url="http://127.0.0.1:8123") as other_port:
        link = other_port.post("/api/v1/links", headers=h(keys.partner_a)).json()
    assert link["urls"]["status"].startswith("http://127.0.0.1:8123/p/lnk_")
    assert link["urls"]["calendar"].startswith("http://127.0.0.1:8123/feeds/lnk_")
