"""The composition root: builds the FastAPI application."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from sqlalchemy.orm import Session, sessionmaker

from api.errors import ERROR_RESPONSES, install_error_handlers
from api.guards import RequestGuard, redact_access_log
from api.headers import SecurityHeaders
from api.links import router as links_router
from api.pages.assets import STATIC_PREFIX, StaticAssets
from api.pages.console.routes import router as console_router
from api.pages.docs.routes import router as docs_router
from api.pages.partner.routes import router as partner_pages_router
from api.pages.sessions import PageKeys
from api.pages.technician.routes import api_router as sheet_router
from api.pages.technician.routes import router as technician_pages_router
from api.pages.technician.sync import router as field_app_router
from core.db import session_factory
from core.deps import reject_unknown_query_parameters
from core.security import PrincipalCache
from core.settings import get_settings
from devices.router import router as registry_router
from recall.campaigns.reports import follow_up_reports
from recall.campaigns.router import router as campaign_router
from recall.detection.router import router as detection_router
from recall.inbox.router import router as inbox_router
from recall.notify.router import router as notify_router
from routing.plans.router import router as plan_router
from routing.sheets.router import router as technician_router
from routing.sheets.service import technician_site_ids


def create_app(sessions: sessionmaker[Session] | None = None) -> FastAPI:
    """The app; ``sessions`` lets tests bind every request to their own transaction."""
    settings = get_settings()
    app = FastAPI(
        title="fieldrecall",
        version="0.1.0",
        description="Field-service and hardware recall coordinator. Every /api/v1 route "
        "needs an API key (X-API-Key header or Authorization: Bearer).",
        # /docs and /redoc come from the vendored assets (api/pages/docs/).
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(reject_unknown_query_parameters)],
    )
    app.state.session_factory = sessions or session_factory()
    app.state.page_keys = PageKeys.from_settings(settings)
    # The registry hands new failure reports to recall, and asks which sites a technician
    # works at: neither of which it may import.
    app.state.reports_follow_up = follow_up_reports
    app.state.technician_sites = technician_site_ids
    app.state.principals = PrincipalCache(settings.api_key_cache_s)
    install_error_handlers(app)
    app.add_middleware(SecurityHeaders, tile_url=settings.map_tile_url)
    app.add_middleware(RequestGuard)
    redact_access_log()
    app.mount(STATIC_PREFIX, StaticAssets(), name="static")
    app.include_router(docs_router)
    app.include_router(console_router)
    for api_router in (
        registry_router,
        detection_router,
        campaign_router,
        links_router,
        sheet_router,
        technician_router,
        notify_router,
        inbox_router,
        plan_router,
    ):
        app.include_router(api_router, responses=ERROR_RESPONSES)
    app.include_router(partner_pages_router)
    app.include_router(technician_pages_router)
    app.include_router(field_app_router)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
