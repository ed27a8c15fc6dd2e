"""HTTP routes of the support lead's inbox: list (newest first, filtered), one item, the
unread counts, and marking items read or unread. Support leads only."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from core.deps import get_session, require_roles
from core.pagination import Page, PageRequest, page_request
from core.security import Principal
from devices.filters import filter_ids
from recall.inbox import service
from recall.inbox.schemas import InboxItemOut, InboxSummaryOut, MarkIn, MarkOut

router = APIRouter(prefix="/api/v1", tags=["inbox"])
lead = require_roles("support_lead")
Kind = Literal[
    "visit_confirmed", "reschedule_requested", "failure_reported", "unit_refused", "field_conflict"
]


@router.get("/inbox", response_model=Page[InboxItemOut])
def list_inbox(
    unread: bool | None = Query(None, description="true: unread only; false: read only"),
    kind: Kind | None = Query(None),
    partner: str | None = Query(None, description="partner_key"),
    campaign: int | None = Query(None, description="campaign id"),
    page: PageRequest = Depends(page_request),
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> Page[InboxItemOut]:
    """Partner actions, newest first: confirmations, reschedule requests, failure reports
    and refusals; and technicians' recorded work that could not be applied."""
    ids = filter_ids(session, partner=partner)
    service.check_campaign_filter(session, campaign)
    filters = service.InboxFilter(
        unread=unread, kind=kind, partner_id=ids.get("partner"), campaign_id=campaign
    )
    items, total = service.list_items(session, filters=filters, page=page)
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/inbox/summary", response_model=InboxSummaryOut)
def inbox_summary(
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> InboxSummaryOut:
    """Unread items, in all and per kind (a badge)."""
    return service.summary(session)


@router.get("/inbox/{item_id}", response_model=InboxItemOut)
def get_inbox_item(
    item_id: int,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> InboxItemOut:
    return service.get_item(session, item_id=item_id)


@router.post("/inbox/{item_id}/read", response_model=InboxItemOut)
def mark_read(
    item_id: int,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> InboxItemOut:
    """Mark one item read; again changes nothing (it keeps who read it first)."""
    service.mark(session, ids=[item_id], read=True, actor=principal.actor)
    return service.get_item(session, item_id=item_id)


@router.post("/inbox/{item_id}/unread", response_model=InboxItemOut)
def mark_unread(
    item_id: int,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> InboxItemOut:
    service.mark(session, ids=[item_id], read=False, actor=principal.actor)
    return service.get_item(session, item_id=item_id)


@router.post("/inbox/mark", response_model=MarkOut)
def mark_many(
    body: MarkIn,
    principal: Principal = Depends(lead),
    session: Session = Depends(get_session),
) -> MarkOut:
    """Mark up to 1,000 items read (or unread with ``"read": false``) in one go; any
    unknown id is a 404 and nothing changes."""
    changed = service.mark(session, ids=body.ids, read=body.read, actor=principal.actor)
    return MarkOut(changed=changed, unread=service.summary(session).unread)
