"""Where the field app's queue sends the technician's work: start a visit, one unit's
outcome, finish a visit, behind the technician's secret link (the token in the address is
the credential; no cookie, so no CSRF token). Each request names the visit and the serial
(never a stop row, which a re-plan replaces), the day the sheet showed the visit on and
when the phone recorded it, and carries the ``Idempotency-Key`` the phone gave it when it
was recorded: sent again, it changes nothing.

The answers are JSON for the app's script: 200 with the stop's state, or 409 with a plain
reason when the work cannot be applied (kept for the support lead's inbox,
routing/sheets/visits.py); another technician's visit is a 404, a partner's link a 403,
and a link that no longer opens (revoked, expired) a 404 ``LinkGone``: the phone keeps
that work waiting and sends it when opened under the technician's new link. The same
workflow answers technician API keys at ``/api/v1/visits/{visit_id}/...``
(routing/sheets/router.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from api.pages.technician.views import link_holder
from core.deps import get_session
from core.errors import NotFound
from core.idempotency import idempotency_key_header
from core.inputs import IdPath
from routing.sheets.schemas import VisitOutcomeIn, WorkIn
from routing.sheets.visits import FieldAction, act_once

router = APIRouter(include_in_schema=False)


def _act(session: Session, token: str, action: FieldAction, key: str | None) -> JSONResponse:
    try:
        holder = link_holder(session, token, acting=True)
    except NotFound as gone:
        # The link was revoked or expired: the phone keeps the work waiting until it is
        # opened under the technician's new link, which sends it (fieldapp.js).
        return JSONResponse(
            {"error": "LinkGone", "detail": str(gone.detail), "link_gone": True}, status_code=404
        )
    status, body = act_once(
        session, action=action, technician_id=holder.technician_id, actor=holder.actor, key=key
    )
    return JSONResponse(body, status_code=status)


@router.post("/t/{token}/visits/{visit_id}/start")
def start(
    token: str,
    visit_id: IdPath,
    body: WorkIn,
    key: str | None = Depends(idempotency_key_header),
    session: Session = Depends(get_session),
) -> JSONResponse:
    return _act(session, token, body.action("start", visit_id), key)


@router.post("/t/{token}/visits/{visit_id}/units/{serial}/outcome")
def outcome(
    token: str,
    visit_id: IdPath,
    serial: str,
    body: VisitOutcomeIn,
    key: str | None = Depends(idempotency_key_header),
    session: Session = Depends(get_session),
) -> JSONResponse:
    return _act(session, token, body.outcome_for(visit_id, serial), key)


@router.post("/t/{token}/visits/{visit_id}/finish")
def finish(
    token: str,
    visit_id: IdPath,
    body: WorkIn,
    key: str | None = Depends(idempotency_key_header),
    session: Session = Depends(get_session),
) -> JSONResponse:
    return _act(session, token, body.action("finish", visit_id), key)
