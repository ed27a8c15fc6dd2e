"""Declaring a recall in the console: the scope form (by hand, or prefilled from a
signal), the dry run shown before anything is declared (counts per partner, a map of
the sites, the serials), and the button that declares exactly what the dry run showed,
once, however often it is clicked (an idempotency key made with the dry run)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.pages.console.access import console_lead
from api.pages.console.declare.form import ScopeForm, dry_run_map, from_signal, reference_map
from api.pages.console.render import console_page, once_key, see_other
from api.pages.errors import PageRoute
from api.pages.sessions import PageSession
from core.deps import get_session
from core.errors import InvalidInput
from recall.campaigns import service as campaigns
from recall.campaigns.schemas import CampaignIn, DryRunOut
from recall.models import PRIORITY_RULES

router = APIRouter(prefix="/console/campaigns", route_class=PageRoute, include_in_schema=False)
lead = Depends(console_lead)
SERIALS_SHOWN = 200


def _form_page(
    session: Session,
    signed_in: PageSession,
    form: ScopeForm,
    *,
    result: DryRunOut | None = None,
    spec: CampaignIn | None = None,
    status_code: int = 200,
) -> Response:
    return console_page(
        "declare.html",
        signed_in,
        status_code=status_code,
        form=form,
        rules=PRIORITY_RULES,
        region_map=reference_map(session) if result is None else dry_run_map(result),
        result=result,
        spec_json=spec.model_dump_json() if spec is not None else "",
        idempotency_key=once_key(),
        serials_shown=SERIALS_SHOWN,
    )


async def _scope_form(request: Request) -> ScopeForm:
    return ScopeForm.from_fields(await request.form())


@router.get("/new", response_class=HTMLResponse)
def new_recall(
    signal: int | None = Query(None, ge=1, le=2**31 - 1),
    signed_in: PageSession = lead,
    session: Session = Depends(get_session),
) -> Response:
    """The scope form; from a signal, prefilled with its batch and model."""
    form = from_signal(session, signal) if signal is not None else ScopeForm()
    return _form_page(session, signed_in, form)


@router.post("/dry-run", response_class=HTMLResponse)
def dry_run(
    form: ScopeForm = Depends(_scope_form),
    signed_in: PageSession = lead,
    session: Session = Depends(get_session),
) -> Response:
    """What the form would declare (nothing is written), with the button that declares
    it; a form that declares nothing comes back with its problems (422)."""
    spec = form.spec()
    if spec is None:
        return _form_page(session, signed_in, form, status_code=422)
    try:
        result = campaigns.dry_run(session, spec=spec)
    except InvalidInput as refused:
        form.problems = [str(refused.detail)]
        return _form_page(session, signed_in, form, status_code=422)
    if result.units == 0:
        form.problems = ["the scope matches no unit; nothing to recall"]
    return _form_page(session, signed_in, form, result=result, spec=spec)


@router.post("")
def declare(
    spec: str = Form(..., max_length=2_000_000),
    idempotency_key: str = Form(..., min_length=8, max_length=200),
    signed_in: PageSession = lead,
    session: Session = Depends(get_session),
) -> Response:
    """Declare what the dry run showed; the same key again (a double click, a reload)
    returns the campaign declared the first time."""
    try:
        body = CampaignIn.model_validate_json(spec)
    except ValidationError as exc:
        raise InvalidInput(
            f"the declaration was not understood: {exc.errors()[0]['msg']}"
        ) from None
    campaign = campaigns.declare(
        session,
        spec=body,
        actor=signed_in.principal.actor,
        idempotency_key=f"console:{idempotency_key}",
    )
    return see_other(f"/console/campaigns/{campaign.id}")
