"""Who may change what at a visit (issue 11's acceptance table): every state-changing route
of the technician's workflow (by stop, by visit, and behind the secret link) answers 404
to another technician (its key, or its link) and 403 to a partner (its key, or its link),
and changes nothing. The table lists every such route: a new one without an entry fails
the first test."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.api.pages.tables import state_changing_routes
from tests.api.pages.technician.fixtures import link_base
from tests.fixtures import Keys
from tests.recall.campaigns.fixtures import h
from tests.routing.plans.fixtures import DAY, PlanWorld

# Where the workflow's routes are defined.
MODULES = ("routing.sheets.router", "api.pages.technician.routes", "api.pages.technician.sync")
WORK = {"day": DAY.isoformat()}
OUTCOME = {"outcome": "fixed", "note": "x", **WORK}


@dataclass(frozen=True)
class Case:
    url: str  # {stop}, {visit} and {link} are filled in per caller
    body: dict[str, str] | None
    by_link: bool = False  # the caller is named by its link, not by a key


TABLE = {
    ("POST", "/api/v1/stops/{stop_id}/start"): Case("/api/v1/stops/{stop}/start", None),
    ("POST", "/api/v1/stops/{stop_id}/units/{serial}/outcome"): Case(
        "/api/v1/stops/{stop}/units/UA1/outcome", {"outcome": "fixed"}
    ),
    ("POST", "/api/v1/stops/{stop_id}/finish"): Case("/api/v1/stops/{stop}/finish", None),
    ("POST", "/api/v1/visits/{visit_id}/start"): Case("/api/v1/visits/{visit}/start", WORK),
    ("POST", "/api/v1/visits/{visit_id}/units/{serial}/outcome"): Case(
        "/api/v1/visits/{visit}/units/UA1/outcome", OUTCOME
    ),
    ("POST", "/api/v1/visits/{visit_id}/finish"): Case("/api/v1/visits/{visit}/finish", WORK),
    ("POST", "/t/{token}/visits/{visit_id}/start"): Case(
        "{link}visits/{visit}/start", WORK, by_link=True
    ),
    ("POST", "/t/{token}/visits/{visit_id}/units/{serial}/outcome"): Case(
        "{link}visits/{visit}/units/UA1/outcome", OUTCOME, by_link=True
    ),
    ("POST", "/t/{token}/visits/{visit_id}/finish"): Case(
        "{link}visits/{visit}/finish", WORK, by_link=True
    ),
}

# The API's routes with an id in this table, and the sheet (read-only: 404 for another
# technician and 403 for a partner in tests/routing/sheets/test_sheets.py), for the
# registry's check that every route with an id is in some isolation table.
TECHNICIAN_ROUTES = {("GET", "/api/v1/routes/{route_id}/sheet")} | {
    route for route in TABLE if route[1].startswith("/api/")
}


def test_the_table_lists_every_state_changing_route(client: TestClient) -> None:
    assert state_changing_routes(client.app, MODULES) == set(TABLE)  # type: ignore[arg-type]


def partner_link_as_technician_link(client: TestClient, key: str) -> str:
    status = client.post("/api/v1/links", headers=h(key)).json()["urls"]["status"]
    return status[status.index("/p/") :].replace("/p/", "/t/") + "/"


def trail(session: Session) -> tuple[int, int, list[str]]:
    """Events, inbox items and the states of SA1's units: what a refusal must not change."""
    return (
        int(session.scalar(text("SELECT count(*) FROM event")) or 0),
        int(session.scalar(text("SELECT count(*) FROM inbox_item")) or 0),
        list(
            session.scalars(
                text(
                    "SELECT cu.state FROM campaign_unit cu JOIN site s ON s.id = cu.site_id"
                    " WHERE s.site_key = 'SA1' ORDER BY cu.id"
                )
            )
        ),
    )


def test_another_technician_gets_404_and_a_partner_403_on_every_route(
    client: TestClient, keys: Keys, world: PlanWorld, session: Session
) -> None:
    links = {
        "other": link_base(client, world.other_technician),
        "partner": partner_link_as_technician_link(client, keys.partner_a),
    }
    before = trail(session)
    assert before[2] == ["scheduled", "scheduled"]
    for (method, path), case in sorted(TABLE.items()):
        for who, expected in (("other", 404), ("partner", 403)):
            url = case.url.format(
                stop=world.stops["SA1"], visit=world.visits["SA1"], link=links[who]
            )
            headers = (
                {}
                if case.by_link
                else h(world.other_technician if who == "other" else keys.partner_a)
            )
            answer = client.request(method, url, json=case.body, headers=headers)
            assert answer.status_code == expected, (method, path, who, answer.text)
            assert answer.json()["error"] in ("NotFound", "Forbidden"), answer.text
    assert trail(session) == before
    # The owner's link and key do reach the same visit (the table's URLs are right).
    mine = link_base(client, keys.technician)
    assert client.post(f"{mine}visits/{world.visits['SA1']}/start", json=WORK).status_code == 200
