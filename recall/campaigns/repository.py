"""Queries of recall campaigns: scope evaluation in PostGIS, the snapshot inserts, visit
requests and their priority, and the scoped reads the API serves (units, their history)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from core.events import Event
from core.pagination import PageRequest, paginate
from core.settings import get_settings
from devices.models import Batch, Partner, Site, Unit
from recall.campaigns.schemas import CampaignUnitOut, Scope
from recall.models import Campaign, CampaignUnit

# How far back "recent weather" looks for the default priority rule.
RECENT_WEATHER_DAYS = 14
# Seed of the advisory-lock hash of declaration idempotency keys (apart from other locks).
LOCK_SPACE = 0x7265_6361_6C6C


def scoped_units(scope: Scope) -> Select:
    """Units the scope covers: (unit_id, serial, site_id, partner_id), ordered by serial."""
    conditions: list[ColumnElement[bool]] = []
    if scope.batch_keys:
        conditions.append(Batch.batch_key.in_(scope.batch_keys))
    if scope.models:
        conditions.append(Batch.model.in_(scope.models))
    if scope.serial_ranges:
        serial = Unit.serial.collate("C")
        conditions.append(or_(*(serial.between(r.first, r.last) for r in scope.serial_ranges)))
    if scope.installed_from:
        conditions.append(Unit.installed_on >= scope.installed_from)
    if scope.installed_to:
        conditions.append(Unit.installed_on <= scope.installed_to)
    region = scope.region_geometry()
    if region is not None:
        covers = func.ST_Covers(func.ST_GeogFromText(f"SRID=4326;{region.wkt}"), Site.location)
        conditions.append(covers.is_(True))
    return (
        select(Unit.id.label("unit_id"), Unit.serial, Site.id.label("site_id"), Site.partner_id)
        .join(Batch, Batch.id == Unit.batch_id)
        .join(Site, Site.id == Unit.site_id)
        .where(and_(*conditions))
        .order_by(Unit.serial)
    )


def unknown_keys(session: Session, scope: Scope) -> list[str]:
    """Batch keys and models in the scope that the registry does not know."""
    missing = []
    if scope.batch_keys:
        known = set(
            session.scalars(select(Batch.batch_key).where(Batch.batch_key.in_(scope.batch_keys)))
        )
        missing += [f"batch {k!r}" for k in scope.batch_keys if k not in known]
    if scope.models:
        known = set(session.scalars(select(Batch.model).where(Batch.model.in_(scope.models))))
        missing += [f"model {m!r}" for m in scope.models if m not in known]
    return missing


@dataclass(frozen=True)
class ScopedSite:
    """A site the scope covers, where it is, whose it is, and its units in the scope."""

    site_key: str
    site_name: str
    lat: float
    lon: float
    partner_key: str
    partner_name: str
    units: int


def site_counts(session: Session, scope: Scope) -> list[ScopedSite]:
    """The sites the scope covers with their units in it, largest first."""
    units = scoped_units(scope).order_by(None).subquery()
    stmt = (
        select(
            Site.site_key,
            Site.name,
            Site.lat,
            Site.lon,
            Partner.partner_key,
            Partner.name,
            func.count(),
        )
        .select_from(units)
        .join(Site, Site.id == units.c.site_id)
        .join(Partner, Partner.id == Site.partner_id)
        .group_by(Site.id, Partner.id)
        .order_by(func.count().desc(), Site.site_key)
    )
    return [ScopedSite(*row) for row in session.execute(stmt)]


def lock_idempotency_key(session: Session, key: str) -> None:
    """Hold a transaction lock on an idempotency key: a second request with the same key
    (a double click) waits for the first to commit, then finds what it declared."""
    session.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(literal(key), LOCK_SPACE)))
    )


def insert_campaign_units(
    session: Session, *, campaign_id: int, scope: Scope, added_by: str
) -> list[int]:
    """Snapshot the scope's units into the campaign (skipping those already in); returns
    the ids of the campaign_unit rows added. One set-based INSERT ... SELECT."""
    units = scoped_units(scope).order_by(None).subquery()
    source = select(
        literal(campaign_id),
        units.c.unit_id,
        units.c.site_id,
        units.c.partner_id,
        literal(added_by),
    ).select_from(units)
    # A unit already in the campaign keeps its state and history.
    stmt = (
        pg_insert(CampaignUnit)
        .from_select(["campaign_id", "unit_id", "site_id", "partner_id", "added_by"], source)
        .on_conflict_do_nothing(index_elements=["campaign_id", "unit_id"])
        .returning(CampaignUnit.id)
    )
    return list(session.scalars(stmt))


def record_unit_events(
    session: Session, *, campaign_unit_ids: list[int], actor: str, action: str, reason: str
) -> None:
    """One append-only event per campaign unit entering its first state, set-based."""
    if not campaign_unit_ids:
        return
    session.execute(
        text(
            """
            INSERT INTO event (actor, entity, entity_key, action, to_state, reason, data)
            SELECT :actor, 'campaign_unit', cu.campaign_id || ':' || u.serial, :action,
                   cu.state, :reason, jsonb_build_object('campaign_id', cu.campaign_id)
            FROM campaign_unit cu JOIN unit u ON u.id = cu.unit_id
            WHERE cu.id = ANY(:ids)
            """
        ),
        {"actor": actor, "action": action, "reason": reason, "ids": campaign_unit_ids},
    )


def refresh_visit_requests(session: Session, campaign: Campaign, *, today: date) -> list[str]:
    """Create a visit request for every affected site without one, update unit counts and
    estimates of requests not yet done, and re-rank by the campaign's priority rule.
    Returns the site keys of the requests created."""
    created = session.execute(
        text(
            """
            INSERT INTO visit_request (campaign_id, site_id, partner_id, unit_count,
                                       estimated_minutes, priority_rank)
            SELECT cu.campaign_id, cu.site_id, min(cu.partner_id), count(*),
                   :per_visit + :per_unit * count(*), 0
            FROM campaign_unit cu
            WHERE cu.campaign_id = :cid
            GROUP BY cu.campaign_id, cu.site_id
            ON CONFLICT (campaign_id, site_id) DO UPDATE
              SET unit_count = EXCLUDED.unit_count,
                  estimated_minutes = EXCLUDED.estimated_minutes,
                  -- units added at a site already visited need another visit
                  status = CASE WHEN visit_request.status IN ('done', 'cancelled')
                                THEN 'requested' ELSE visit_request.status END,
                  updated_at = now()
              WHERE visit_request.unit_count <> EXCLUDED.unit_count
            RETURNING site_id, (xmax = 0) AS inserted
            """
        ),
        {
            "cid": campaign.id,
            "per_visit": campaign.minutes_per_visit,
            "per_unit": campaign.minutes_per_unit,
        },
    ).all()
    _rank_visits(session, campaign, today=today)
    new_site_ids = [site_id for site_id, inserted in created if inserted]
    if not new_site_ids:
        return []
    return list(
        session.scalars(
            select(Site.site_key).where(Site.id.in_(new_site_ids)).order_by(Site.site_key)
        )
    )


def _rank_visits(session: Session, campaign: Campaign, *, today: date) -> None:
    """Rank 1 goes first. Default rule: the coldest recent minimum at the site's nearest
    station (within the detection distance), then the most affected units."""
    coldest_first = campaign.priority_rule == "coldest_then_most_units"
    session.execute(
        text(
            f"""
            WITH recent AS (
                SELECT v.id, (
                    SELECT min(o.temp_min_c) FROM weather_observation o
                    WHERE o.station_id = (
                        SELECT w.id FROM weather_station w
                        WHERE ST_DWithin(w.location, s.location, :max_m)
                        ORDER BY w.location <-> s.location LIMIT 1)
                      AND o.day BETWEEN :since AND :today) AS min_temp
                FROM visit_request v JOIN site s ON s.id = v.site_id
                WHERE v.campaign_id = :cid
            ), ranked AS (
                SELECT r.id, r.min_temp, row_number() OVER (
                    ORDER BY {"r.min_temp ASC NULLS LAST," if coldest_first else ""}
                             v.unit_count DESC, s.site_key) AS rank
                FROM recent r JOIN visit_request v ON v.id = r.id JOIN site s ON s.id = v.site_id
            )
            UPDATE visit_request v SET priority_rank = ranked.rank,
                                       recent_min_temp_c = ranked.min_temp
            FROM ranked WHERE ranked.id = v.id
            """
        ),
        {
            "cid": campaign.id,
            "max_m": get_settings().station_max_distance_km * 1000.0,
            "since": today - timedelta(days=RECENT_WEATHER_DAYS),
            "today": today,
        },
    )


def unit_rows(campaign_id: int) -> Select:
    """A campaign's units with batch, site, partner and state, one row each."""
    return (
        select(
            Unit.serial,
            Batch.batch_key,
            Site.site_key,
            Partner.partner_key,
            CampaignUnit.state,
            CampaignUnit.state_changed_at,
            CampaignUnit.note,
            CampaignUnit.added_by,
        )
        .select_from(CampaignUnit)
        .join(Unit, Unit.id == CampaignUnit.unit_id)
        .join(Batch, Batch.id == Unit.batch_id)
        .join(Site, Site.id == CampaignUnit.site_id)
        .join(Partner, Partner.id == CampaignUnit.partner_id)
        .where(CampaignUnit.campaign_id == campaign_id)
    )


def list_units(
    session: Session,
    *,
    campaign_id: int,
    partner_id: int | None,
    page: PageRequest,
    state: str | None = None,
    site_key: str | None = None,
) -> tuple[list[CampaignUnitOut], int]:
    stmt = unit_rows(campaign_id)
    if partner_id is not None:
        stmt = stmt.where(CampaignUnit.partner_id == partner_id)
    if state is not None:
        stmt = stmt.where(CampaignUnit.state == state)
    if site_key is not None:
        stmt = stmt.where(Site.site_key == site_key)
    rows, total = paginate(session, stmt.order_by(Unit.serial), page)
    return [CampaignUnitOut(**row._mapping) for row in rows], total


def unit_events(session: Session, *, entity_key: str) -> list[Event]:
    """Every event of one campaign unit's life, oldest first."""
    return list(
        session.scalars(
            select(Event)
            .where(Event.entity == "campaign_unit", Event.entity_key == entity_key)
            .order_by(Event.occurred_at, Event.id)
        )
    )
