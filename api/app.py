"""The composition root: builds the FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from api.errors import ERROR_RESPONSES, install_error_handlers
from api.guards import RequestGuard, redact_access_log
from api.links import router as links_router
from api.pages.partner.routes import router as partner_pages_router
from api.pages.technician.routes import router as technician_pages_router
from core.db import session_factory
from core.security import PrincipalCache
from core.settings import get_settings
from devices.router import router as registry_router
from recall.campaigns.router import router as campaign_router
from recall.detection.router import router as detection_router
from recall.notify.router import router as notify_router
from routing.plans.router import router as plan_router
from routing.sheets.router import router as technician_router
from routing.sheets.service import technician_site_ids


def create_app(sessions: sessionmaker[Session] | None = None) -> FastAPI:
    """The app; ``sessions`` lets tests bind every request to their own transaction."""
    app = FastAPI(
        title="fieldrecall",
        version="0.1.0",
        description="Field-service and hardware recall coordinator. Every /api/v1 route "
        "needs an API key (X-API-Key header or Authorization: Bearer).",
    )
    app.state.session_factory = sessions or session_factory()
    app.state.technician_sites = technician_site_ids
    app.state.principals = PrincipalCache(get_settings().api_key_cache_s)
    install_error_handlers(app)
    app.add_middleware(RequestGuard)
    redact_access_log()
    for api_router in (
        registry_router,
        detection_router,
        campaign_router,
        links_router,
        technician_router,
        notify_router,
        plan_router,
    ):
        app.include_router(api_router, responses=ERROR_RESPONSES)
    app.include_router(partner_pages_router)
    app.include_router(technician_pages_router, responses=ERROR_RESPONSES)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
