"""The inbox in the console: what partners did (confirmed a visit, asked to reschedule,
reported a failure, refused the fix), newest first, unread ones marked; filtered by kind
and by read state; marking items read or unread again. Each recall's page shows its own
slice of the inbox with the same controls."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api.pages.console.access import console_lead
from api.pages.console.render import back_to, choice, console_page, see_other
from api.pages.errors import PageRoute
from api.pages.sessions import PageSession
from core.deps import get_session
from core.pagination import PageRequest
from recall.inbox import service as inbox

router = APIRouter(prefix="/console", route_class=PageRoute, include_in_schema=False)
lead = Depends(console_lead)
PAGE_SIZE = 50
KINDS = ("visit_confirmed", "reschedule_requested", "failure_reported", "unit_refused")


@router.get("/inbox", response_class=HTMLResponse)
def inbox_page(
    unread: bool = Query(False, description="unread items only"),
    kind: str | None = Query(None, max_length=30),
    offset: int = Query(0, ge=0, le=10**9),
    signed_in: PageSession = lead,
    session: Session = Depends(get_session),
) -> Response:
    kind = choice(kind, KINDS, "kind")
    items, total = inbox.list_items(
        session,
        filters=inbox.InboxFilter(unread=True if unread else None, kind=kind),
        page=PageRequest(limit=PAGE_SIZE, offset=offset),
    )
    return console_page(
        "inbox.html",
        signed_in,
        items=items,
        total=total,
        summary=inbox.summary(session),
        kinds=KINDS,
        kind=kind,
        unread_only=unread,
        offset=offset,
        page_size=PAGE_SIZE,
        pager={"unread": "true" if unread else None, "kind": kind},
    )


@router.post("/inbox/mark")
def mark(
    ids: list[int] = Form(..., min_length=1, max_length=1000),
    read: bool = Form(True),
    back: str = Form("/console/inbox"),
    signed_in: PageSession = lead,
    session: Session = Depends(get_session),
) -> Response:
    """Mark the items read (or unread again); back to the page the form was on."""
    inbox.mark(session, ids=ids, read=read, actor=signed_in.principal.actor)
    return see_other(back_to(back, within=("/console/inbox", "/console/campaigns/")))
