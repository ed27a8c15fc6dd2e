"""Failure reports in the console: a table of counts by status and age (each count a link
to the reports behind it), the filtered list, oldest first, and on each report the lead's
moves: triage, link to a recall that covers its unit, resolve with a note the reporting
partner sees (and is sent, through the outbox)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api.pages.console.access import console_lead
from api.pages.console.render import back_to, choice, console_page, see_other
from api.pages.errors import PageRoute
from api.pages.sessions import PageSession
from core.deps import get_session
from core.errors import InvalidInput
from core.pagination import PageRequest
from devices.models import FAILURE_SOURCES, FAILURE_STATUSES
from recall.campaigns import failure_queue, lifecycle
from recall.campaigns import service as campaigns
from recall.campaigns.failure_queue import AGE_BUCKETS, AGES, FailureFilter

router = APIRouter(prefix="/console/failures", route_class=PageRoute, include_in_schema=False)
lead = Depends(console_lead)
PAGE_SIZE = 50


@router.get("", response_class=HTMLResponse)
def failures_page(
    status: str | None = Query(None, max_length=30),
    age: str | None = Query(None, max_length=30),
    batch: str | None = Query(None, max_length=100),
    partner: str | None = Query(None, max_length=100),
    source: str | None = Query(None, max_length=30),
    q: str | None = Query(None, max_length=100, description="serial or report key"),
    offset: int = Query(0, ge=0, le=10**9),
    signed_in: PageSession = lead,
    session: Session = Depends(get_session),
) -> Response:
    now = datetime.now(UTC)
    status = choice(status, FAILURE_STATUSES, "status")
    age = choice(age, AGES, "age")
    source = choice(source, FAILURE_SOURCES, "source")
    filters = FailureFilter(
        status=status,
        age=age,
        batch_key=batch or None,
        partner_key=partner or None,
        source=source,
        search=q or None,
    )
    reports, total = failure_queue.page(
        session, filters=filters, now=now, page=PageRequest(limit=PAGE_SIZE, offset=offset)
    )
    active = {
        c.id: c.title
        for c in campaigns.list_campaigns(session, partner_id=None)
        if c.status == "active"
    }
    shown = {
        "status": status,
        "age": age,
        "batch": batch,
        "partner": partner,
        "source": source,
        "q": q,
    }
    return console_page(
        "failures.html",
        signed_in,
        counts=failure_queue.counts(session, now=now),
        statuses=FAILURE_STATUSES,
        sources=FAILURE_SOURCES,
        ages=AGE_BUCKETS,
        reports=reports,
        total=total,
        filters=shown,
        pager=shown,
        offset=offset,
        page_size=PAGE_SIZE,
        campaign_titles=active,
        now=now,
    )


@router.post("/{report_key}/status")
def change_status(
    report_key: str,
    status: Literal["triaged", "linked_to_recall", "resolved"] = Form(...),
    note: str = Form("", max_length=5000),
    campaign_id: str = Form(""),
    back: str = Form("/console/failures"),
    signed_in: PageSession = lead,
    session: Session = Depends(get_session),
) -> Response:
    """Triage, link to a recall (``campaign_id``) or resolve (``note``, which the reporting
    partner sees and is sent); an illegal move is a 409 page that names the allowed ones."""
    if campaign_id.strip() and not campaign_id.strip().isdigit():
        raise InvalidInput(f"campaign_id must be a recall's number, not {campaign_id!r}")
    lifecycle.change_failure_status(
        session,
        report_key=report_key,
        to_state=status,
        actor=signed_in.principal.actor,
        note=note.strip() or None,
        campaign_id=int(campaign_id) if campaign_id.strip() else None,
    )
    return see_other(back_to(back, within="/console/failures"))
