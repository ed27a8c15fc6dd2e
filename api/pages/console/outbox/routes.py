"""The outbox in the console: every notice to a partner by status (newest first,
filtered by partner and kind), the dead letters with their last error, and the button
that gives a dead letter a new round of attempts (the worker delivers it)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api.pages.console.access import console_lead
from api.pages.console.render import back_to, choice, console_page, see_other
from api.pages.errors import PageRoute
from api.pages.sessions import PageSession
from core.deps import get_session
from recall.models import OUTBOX_STATUSES
from recall.notify import outbox
from recall.notify.outbox import MessageFilter

router = APIRouter(prefix="/console/outbox", route_class=PageRoute, include_in_schema=False)
lead = Depends(console_lead)
PAGE_SIZE = 50


@router.get("", response_class=HTMLResponse)
def outbox_page(
    status: str | None = Query(None, max_length=30),
    partner: str | None = Query(None, max_length=100),
    kind: str | None = Query(None, max_length=100),
    offset: int = Query(0, ge=0, le=10**9),
    signed_in: PageSession = lead,
    session: Session = Depends(get_session),
) -> Response:
    status = choice(status, OUTBOX_STATUSES, "status")
    filters = MessageFilter(status=status, partner_key=partner or None, kind=kind or None)
    messages, total = outbox.list_messages(
        session, scope=None, filters=filters, limit=PAGE_SIZE, offset=offset
    )
    return console_page(
        "outbox.html",
        signed_in,
        messages=messages,
        total=total,
        counts=outbox.status_counts(session),
        statuses=OUTBOX_STATUSES,
        status=status,
        partner=partner or "",
        kind=kind or "",
        offset=offset,
        page_size=PAGE_SIZE,
        pager={"status": status, "partner": partner, "kind": kind},
    )


@router.post("/{message_id}/retry")
def retry(
    message_id: int,
    back: str = Form("/console/outbox?status=dead"),
    signed_in: PageSession = lead,
    session: Session = Depends(get_session),
) -> Response:
    """A dead letter gets a new round of attempts (409 page unless it is dead)."""
    outbox.retry_message(session, message_id=message_id, actor=signed_in.principal.actor)
    return see_other(back_to(back, within="/console/outbox"))
