"""Signals in the console: the list (by status), and each signal's page with the batch,
its threshold and the evidence in numbers and pictures, the iceberg, and the lead's
answer: acknowledge or dismiss with a reason, or declare a recall from it."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api.pages.console.access import console_lead
from api.pages.console.render import choice, console_page, see_other
from api.pages.console.signals.view import signal_page
from api.pages.errors import PageRoute
from api.pages.sessions import PageSession
from core.deps import get_session
from recall.detection import service as signals
from recall.models import SIGNAL_STATUSES

router = APIRouter(prefix="/console/signals", route_class=PageRoute, include_in_schema=False)
lead = Depends(console_lead)


@router.get("", response_class=HTMLResponse)
def signals_page(
    status: str | None = Query(None, max_length=30),
    signed_in: PageSession = lead,
    session: Session = Depends(get_session),
) -> Response:
    status = choice(status, SIGNAL_STATUSES, "status")
    rows = signals.list_signals(session)
    counts = {s: sum(1 for signal in rows if signal.status == s) for s in SIGNAL_STATUSES}
    shown = [signal for signal in rows if status is None or signal.status == status]
    return console_page(
        "signals.html",
        signed_in,
        signals=list(reversed(shown)),
        counts=counts,
        statuses=SIGNAL_STATUSES,
        status=status,
    )


@router.get("/{signal_id}", response_class=HTMLResponse)
def signal(
    signal_id: int, signed_in: PageSession = lead, session: Session = Depends(get_session)
) -> Response:
    return console_page(
        "signal.html",
        signed_in,
        v=signal_page(session, signal_id=signal_id),
        moves=signals.SIGNAL_TRANSITIONS,
    )


@router.post("/{signal_id}/status")
def change_status(
    signal_id: int,
    status: Literal["new", "acknowledged", "dismissed"] = Form(...),
    reason: str = Form(..., min_length=1, max_length=2000),
    signed_in: PageSession = lead,
    session: Session = Depends(get_session),
) -> Response:
    """Acknowledge or dismiss a signal (or re-open a dismissed one), with a reason; an
    illegal move is a 409 page naming the allowed ones. A recall is declared from the
    declaration form, which closes the signal itself."""
    signals.change_signal_status(
        session,
        signal_id=signal_id,
        status=status,
        actor=signed_in.principal.actor,
        reason=reason.strip(),
    )
    return see_other(f"/console/signals/{signal_id}")
