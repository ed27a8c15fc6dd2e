"""A small registry of two partners, built through the real importer."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from api.keys import create_key
from devices.importer import import_csv

CSV = {
    "partners": """partner_key,name,contact_email,contact_phone
PA,Alpha Oy,ops@alpha.example,+358 1
PB,Beta AB,ops@beta.example,
""",
    "sites": """site_key,partner_key,name,address,lat,lon,timezone,opening_hours
SA1,PA,Alpha North,"Main st 1, Oulu",65.01,25.47,Europe/Helsinki,Mo-Fr 08:00-17:00
SA2,PA,Alpha South,,60.17,24.94,Europe/Helsinki,
SB1,PB,Beta One,,65.02,25.50,Europe/Stockholm,Mo-Sa 09:00-18:00
""",
    "batches": """batch_key,model,hardware_rev,manufactured_on
B1,OU-200,A,2025-01-10
B2,GW-10,B,2025-02-10
""",
    "units": """serial,batch_key,site_key,installed_on,firmware
UA1,B1,SA1,2025-03-01,1.0
UA2,B2,SA2,2025-03-02,1.0
UB1,B1,SB1,2025-03-03,1.1
""",
    "failures": """report_key,serial,occurred_at,symptom,ambient_temp_c,source
RA1,UA1,2025-11-03T07:15:00+02:00,no boot,-12.5,partner
RB1,UB1,2025-11-04T08:00:00+02:00,display dead,-9,telemetry
""",
    "stations": """station_key,name,lat,lon
W1,Oulu,65.0,25.5
""",
    "weather": """station_key,day,temp_min_c,temp_max_c
W1,2025-11-03,-14.0,-6.5
W1,2025-11-04,-10.0,-2.0
""",
    "technicians": """technician_key,name,home_lat,home_lon,skills,shift_start,shift_end,workdays
T1,Tea Tech,65.0,25.4,OU-200;GW-10,08:00,16:30,Mo-Fr
""",
}


REGISTRY_TABLES = (
    "partner",
    "site",
    "batch",
    "unit",
    "failure_report",
    "weather_station",
    "weather_observation",
    "technician",
)


def row_counts(session: Session, tables: tuple[str, ...] = REGISTRY_TABLES) -> dict[str, int]:
    """Rows per table, to show that a refused request or a repeated import changed nothing."""
    return {t: session.scalar(text(f"SELECT count(*) FROM {t}")) or 0 for t in tables}


@dataclass(frozen=True)
class Keys:
    lead: str
    partner_a: str
    partner_b: str
    technician: str


def load_registry(session: Session) -> Keys:
    for kind, body in CSV.items():
        import_csv(session, kind, body.encode(), filename=f"{kind}.csv")
    return Keys(
        lead=create_key(session, role="support_lead"),
        partner_a=create_key(session, role="partner", partner_key="PA"),
        partner_b=create_key(session, role="partner", partner_key="PB"),
        technician=create_key(session, role="technician", technician_key="T1"),
    )
