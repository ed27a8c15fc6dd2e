"""HTTP routes of the registry: listing with filters and pagination, failure reports,
CSV imports. Partner keys are scoped to their own partner's data throughout. A filter
naming a key nobody knows (or another partner's) is a 422 that names it.

New failure reports are handed to the follow-up the composition root put in
``app.state.reports_follow_up`` (recall links a report on a unit under recall at once)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from core.deps import (
    TechnicianSites,
    current_principal,
    get_session,
    require_roles,
    technician_sites,
)
from core.errors import NotFound
from core.idempotency import idempotency_key_header, idempotent
from core.pagination import Page, PageRequest, page_request
from core.security import Principal
from core.settings import get_settings
from devices import filters, repository, service
from devices.csv_formats import FORMATS
from devices.importer import import_csv
from devices.schemas import (
    BatchOut,
    FailureBatchOut,
    FailureIn,
    FailureOut,
    ImportOut,
    ObservationOut,
    PartnerOut,
    SiteOut,
    StationOut,
    TechnicianOut,
    UnitOut,
)
from devices.service import Reporter

router = APIRouter(prefix="/api/v1", tags=["registry"])
GEOJSON = "application/geo+json"


def reports_follow_up(request: Request) -> service.ReportsFollowUp:
    """The follow-up of new failure reports that the app was built with."""
    follow_up: service.ReportsFollowUp = request.app.state.reports_follow_up
    return follow_up


def _one(rows: list[Any], what: str, key: str) -> Any:
    if not rows:
        raise NotFound(f"no {what} {key!r}")
    return rows[0]


@router.get("/partners", response_model=Page[PartnerOut])
def list_partners(
    page: PageRequest = Depends(page_request),
    principal: Principal = Depends(current_principal),
    session: Session = Depends(get_session),
) -> Page[PartnerOut]:
    rows, total = repository.list_partners(session, partner_id=principal.partner_scope, page=page)
    items = [PartnerOut.model_validate(r, from_attributes=True) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/partners/{partner_key}", response_model=PartnerOut)
def get_partner(
    partner_key: str,
    principal: Principal = Depends(current_principal),
    session: Session = Depends(get_session),
) -> PartnerOut:
    row = repository.get_partner(session, partner_key, partner_id=principal.partner_scope)
    if row is None:
        raise NotFound(f"no partner {partner_key!r}")
    return PartnerOut.model_validate(row, from_attributes=True)


def _sites_response(request: Request, page: PageRequest, rows: list[Any], total: int) -> Any:
    items = [SiteOut.model_validate(r._mapping) for r in rows]
    if GEOJSON in request.headers.get("accept", ""):
        features = [
            {
                "type": "Feature",
                "id": s.site_key,
                "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
                "properties": s.model_dump(exclude={"lat", "lon"}),
            }
            for s in items
        ]
        body = {
            "type": "FeatureCollection",
            "features": features,
            "total": total,
            "limit": page.limit,
            "offset": page.offset,
        }
        return JSONResponse(body, media_type=GEOJSON)
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/sites",
    response_model=Page[SiteOut],
    responses={200: {"content": {GEOJSON: {}}, "description": "JSON page, or GeoJSON"}},
)
def list_sites(
    request: Request,
    partner: str | None = Query(None, description="partner_key"),
    bbox: str | None = Query(None, description="min_lon,min_lat,max_lon,max_lat"),
    near: str | None = Query(None, description="lat,lon (with within_km)"),
    within_km: float | None = Query(None, gt=0, le=20000),
    page: PageRequest = Depends(page_request),
    principal: Principal = Depends(current_principal),
    session: Session = Depends(get_session),
) -> Any:
    filters.filter_ids(session, partner_scope=principal.partner_scope, partner=partner)
    box = filters.bbox(bbox) if bbox else None
    around = filters.near(near, within_km)
    rows, total = repository.list_sites(
        session,
        partner_id=principal.partner_scope,
        page=page,
        partner_key=partner,
        bbox=box,
        near=around,
    )
    return _sites_response(request, page, rows, total)


@router.get("/sites/{site_key}", response_model=SiteOut)
def get_site(
    site_key: str,
    principal: Principal = Depends(current_principal),
    session: Session = Depends(get_session),
) -> SiteOut:
    rows, _ = repository.list_sites(
        session, partner_id=principal.partner_scope, page=PageRequest(1, 0), site_key=site_key
    )
    return SiteOut.model_validate(_one(rows, "site", site_key)._mapping)


@router.get("/batches", response_model=Page[BatchOut])
def list_batches(
    page: PageRequest = Depends(page_request),
    principal: Principal = Depends(current_principal),
    session: Session = Depends(get_session),
) -> Page[BatchOut]:
    rows, total = repository.list_batches(session, partner_id=principal.partner_scope, page=page)
    items = [BatchOut.model_validate(r._mapping) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/batches/{batch_key}", response_model=BatchOut)
def get_batch(
    batch_key: str,
    principal: Principal = Depends(current_principal),
    session: Session = Depends(get_session),
) -> BatchOut:
    rows, _ = repository.list_batches(
        session, partner_id=principal.partner_scope, page=PageRequest(1, 0), batch_key=batch_key
    )
    return BatchOut.model_validate(_one(rows, "batch", batch_key)._mapping)


@router.get("/units", response_model=Page[UnitOut])
def list_units(
    batch: str | None = Query(None, description="batch_key"),
    site: str | None = Query(None, description="site_key"),
    serial: str | None = None,
    page: PageRequest = Depends(page_request),
    principal: Principal = Depends(current_principal),
    session: Session = Depends(get_session),
) -> Page[UnitOut]:
    filters.filter_ids(
        session, partner_scope=principal.partner_scope, batch=batch, site=site, serial=serial
    )
    rows, total = repository.list_units(
        session,
        partner_id=principal.partner_scope,
        page=page,
        batch_key=batch,
        site_key=site,
        serial=serial,
    )
    items = [UnitOut.model_validate(r._mapping) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/units/{serial}", response_model=UnitOut)
def get_unit(
    serial: str,
    principal: Principal = Depends(current_principal),
    session: Session = Depends(get_session),
) -> UnitOut:
    rows, _ = repository.list_units(
        session, partner_id=principal.partner_scope, page=PageRequest(1, 0), serial=serial
    )
    return UnitOut.model_validate(_one(rows, "unit", serial)._mapping)


@router.get("/failures", response_model=Page[FailureOut])
def list_failures(
    serial: str | None = None,
    batch: str | None = Query(None, description="batch_key"),
    since: datetime | None = Query(None, description="occurred_at >= since"),
    until: datetime | None = Query(None, description="occurred_at < until"),
    status: Literal["open", "triaged", "linked_to_recall", "resolved"] | None = Query(None),
    page: PageRequest = Depends(page_request),
    principal: Principal = Depends(current_principal),
    session: Session = Depends(get_session),
) -> Page[FailureOut]:
    filters.filter_ids(session, partner_scope=principal.partner_scope, batch=batch, serial=serial)
    rows, total = repository.list_failures(
        session,
        partner_id=principal.partner_scope,
        page=page,
        serial=serial,
        batch_key=batch,
        since=since,
        until=until,
        status=status,
    )
    items = [FailureOut.model_validate(r._mapping) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/failures/{report_key}", response_model=FailureOut)
def get_failure(
    report_key: str,
    reporter: str | None = Query(
        None, max_length=100, description="whose key: a partner_key, or operator"
    ),
    principal: Principal = Depends(current_principal),
    session: Session = Depends(get_session),
) -> FailureOut:
    """The report with this key; keys are unique per reporter (a partner, or the
    operator's feed), and the caller's own reports win when a key names several."""
    report_id = service.report_id_for_key(
        session, report_key, partner_id=principal.partner_scope, reporter=reporter
    )
    rows, _ = repository.list_failures(
        session, partner_id=principal.partner_scope, page=PageRequest(1, 0), report_ids=[report_id]
    )
    return FailureOut.model_validate(_one(rows, "failure report", report_key)._mapping)


def _reporter(session: Session, principal: Principal, sites: TechnicianSites) -> Reporter:
    """What a caller's role implies for the reports it files."""
    if principal.role == "partner":
        return Reporter(principal.actor, partner_id=principal.partner_id, source="partner")
    if principal.role == "technician":
        assert principal.technician_id is not None
        return Reporter(
            principal.actor,
            source="technician",
            site_ids=sites(session, principal.technician_id),
        )
    return Reporter(principal.actor)


@router.post("/failures", response_model=FailureBatchOut)
def post_failures(
    body: FailureIn | list[FailureIn],
    idempotency_key: str | None = Depends(idempotency_key_header),
    principal: Principal = Depends(current_principal),
    sites: TechnicianSites = Depends(technician_sites),
    session: Session = Depends(get_session),
    follow_up: service.ReportsFollowUp = Depends(reports_follow_up),
) -> JSONResponse:
    """One report, or a list of up to 1,000; a key the caller used before returns the
    stored report. The source follows the key's role: a partner's reports are
    ``partner``, a technician's ``technician`` (and only on units at the sites of its
    routes); a support lead's say their own. A report on a unit already under an active
    recall is linked to it at once (its status says so) and the partner is told; a
    partner's reports reach the lead's inbox."""
    reports = body if isinstance(body, list) else [body]
    reporter = _reporter(session, principal, sites)

    def report() -> FailureBatchOut:
        rows, created = service.report_failures(
            session,
            reports=reports,
            reporter=reporter,
            max_batch=get_settings().max_failure_batch,
            follow_up=follow_up,
        )
        items = [FailureOut.model_validate(r._mapping) for r in rows]
        return FailureBatchOut(created=created, existing=len(items) - created, items=items)

    status, answer = idempotent(
        session,
        tenant=principal.tenant,
        key=idempotency_key,
        operation="report failures",
        payload=[r.model_dump(mode="json") for r in reports],
        status_code=200,
        run=report,
    )
    return JSONResponse(answer, status_code=status)


@router.get("/stations", response_model=Page[StationOut])
def list_stations(
    page: PageRequest = Depends(page_request),
    principal: Principal = Depends(current_principal),
    session: Session = Depends(get_session),
) -> Page[StationOut]:
    rows, total = repository.list_stations(session, page=page)
    items = [StationOut.model_validate(r._mapping) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/weather", response_model=Page[ObservationOut])
def list_weather(
    station: str | None = Query(None, description="station_key"),
    since: date | None = None,
    until: date | None = None,
    page: PageRequest = Depends(page_request),
    principal: Principal = Depends(current_principal),
    session: Session = Depends(get_session),
) -> Page[ObservationOut]:
    filters.filter_ids(session, station=station)
    rows, total = repository.list_observations(
        session, page=page, station_key=station, since=since, until=until
    )
    items = [ObservationOut.model_validate(r._mapping) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/technicians", response_model=Page[TechnicianOut])
def list_technicians(
    page: PageRequest = Depends(page_request),
    principal: Principal = Depends(require_roles("support_lead", "technician")),
    session: Session = Depends(get_session),
) -> Page[TechnicianOut]:
    # A technician key sees its own record only.
    rows, total = repository.list_technicians(
        session, technician_id=principal.technician_id, page=page
    )
    items = [TechnicianOut.model_validate(r, from_attributes=True) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post("/imports/{kind}", response_model=ImportOut)
def post_import(
    kind: str,
    file: UploadFile = File(..., description="a CSV file in the format of its kind"),
    principal: Principal = Depends(require_roles("support_lead")),
    session: Session = Depends(get_session),
    follow_up: service.ReportsFollowUp = Depends(reports_follow_up),
) -> ImportOut:
    """Import one CSV file (comma or semicolon separated, RFC 4180); any bad row refuses the
    whole file (422 counting every bad row). The body's size was checked before it was
    read (api/guards.py); the file is read as a stream from where the upload was spooled.
    Imported failure reports on units under an active recall are linked to it at once."""
    if kind not in FORMATS:
        raise NotFound(f"unknown import kind {kind!r}; expected one of {', '.join(FORMATS)}")
    result = import_csv(
        session,
        kind,
        file.file,
        filename=file.filename or f"{kind}.csv",
        actor=principal.actor,
    )
    if kind == "failures":
        follow_up(session, None, actor=principal.actor, from_partner=False)
    return ImportOut(**result.as_dict())
