"""Pydantic shapes of the technician's workflow API, shared by the API routes
(``router.py``) and the field app's routes behind the secret link
(``api/pages/technician/sync.py``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.inputs import Text
from routing.sheets.visits import ActionKind, FieldAction

Outcome = Literal["fixed", "unable_to_access", "refused", "not_found"]


class RouteRef(BaseModel):
    route_id: int
    day: date


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    note: Text | None = Field(None, max_length=2000)


class WorkIn(BaseModel):
    """What the field app (or any client that works offline) says about an action."""

    model_config = ConfigDict(extra="forbid")

    day: date | None = Field(None, description="the day the technician's sheet showed the visit on")
    recorded_at: datetime | None = Field(None, description="when the phone recorded it")

    def action(self, kind: ActionKind, visit_id: int) -> FieldAction:
        return FieldAction(kind, visit_id, day=self.day, recorded_at=self.recorded_at)


class VisitOutcomeIn(WorkIn):
    outcome: Outcome
    note: Text | None = Field(None, max_length=2000)

    def outcome_for(self, visit_id: int, serial: str) -> FieldAction:
        return FieldAction(
            "outcome",
            visit_id,
            serial=serial,
            outcome=self.outcome,
            note=self.note,
            day=self.day,
            recorded_at=self.recorded_at,
        )


class StopOut(BaseModel):
    stop_id: int
    visit_id: int
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    units: dict[str, str]  # serial -> state
