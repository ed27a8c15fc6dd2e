"""A registry for recall tests: the two-partner registry of tests/fixtures.py plus units
spread over batches, models, install dates and regions, and helpers to declare."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from devices.importer import import_csv
from recall.campaigns.lifecycle import get_campaign_unit, move_unit
from recall.campaigns.service import get_campaign
from tests.fixtures import Keys, load_registry

# Oulu area (about 65 N, 25.5 E): SA1 and SB1 lie inside, SA2 (Helsinki) and SA3 do not.
OULU = {
    "type": "Polygon",
    "coordinates": [[[25.0, 64.8], [26.0, 64.8], [26.0, 65.3], [25.0, 65.3], [25.0, 64.8]]],
}

EXTRA = {
    "sites": """site_key,partner_key,name,address,lat,lon,timezone,opening_hours
SA3,PA,Alpha East,,62.60,29.76,Europe/Helsinki,Mo-Fr 07:00-15:00
""",
    "units": """serial,batch_key,site_key,installed_on,firmware
UA3,B1,SA2,2025-04-01,1.0
UA4,B1,SA1,2025-06-01,1.0
UA5,B1,SA3,2025-05-01,1.0
""",
}


def h(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def load_recall_registry(session: Session) -> Keys:
    keys = load_registry(session)
    for kind, body in EXTRA.items():
        import_csv(session, kind, body.encode(), filename=f"{kind}.csv")
    session.commit()
    return keys


def campaign_body(**scope: Any) -> dict[str, Any]:
    return {
        "title": "OU-200 cold boot",
        "scope": scope or {"batch_keys": ["B1"]},
        "remedy": "Replace the power board",
        "minutes_per_unit": 20,
        "minutes_per_visit": 15,
        "required_skill": "OU-200",
    }


def declare(client: TestClient, lead: str, **scope: Any) -> dict[str, Any]:
    response = client.post("/api/v1/campaigns", json=campaign_body(**scope), headers=h(lead))
    assert response.status_code == 201, response.text
    return response.json()


def walk(
    session: Session, campaign_id: int, serial: str, *states: str, actor: str = "test"
) -> None:
    """Move one unit of a campaign through ``states`` in turn (a waiver with a reason),
    as the field work and the lead would."""
    campaign = get_campaign(session, campaign_id=campaign_id, partner_id=None)
    for state in states:
        unit, _ = get_campaign_unit(
            session, campaign_id=campaign_id, serial=serial, partner_id=None
        )
        move_unit(
            session,
            campaign=campaign,
            campaign_unit=unit,
            serial=serial,
            to_state=state,
            actor=actor,
            reason="refused for good" if state == "waived" else None,
        )
