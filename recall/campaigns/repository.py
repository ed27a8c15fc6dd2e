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
from recall.models import REVISIT_OUTCOMES, Campaign, CampaignUnit

# How far back "recent weather" looks for the default priority rule.
RECENT_WEATHER_DAYS = 14


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


def site_counts(session: Session, scope: Scope) -> list[tuple[str, str, int]]:
    """(site_key, partner_key, units) for the scope, largest first."""
    units = scoped_units(scope).order_by(None).subquery()
    stmt = (
        select(Site.site_key, Partner.partner_key, func.count())
        .select_from(units)
        .join(Site, Site.id == units.c.site_id)
        .join(Partner, Partner.id == Site.partner_id)
        .group_by(Site.site_key, Partner.partner_key)
        .order_by(func.count().desc(), Site.site_key)
    )
    return [(s, p, int(n)) for s, p, n in session.execute(stmt)]


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


# Units that still need a technician at their site (in_progress: one is there now).
NEEDING_VISIT = ("affected", "notified", "scheduled", "in_progress")


@dataclass(frozen=True)
class VisitChanges:
    created: dict[str, int]  # site key -> attempt of each request opened
    cancelled: list[int]  # ids of requested visits with nothing left to do


def refresh_visit_requests(
    session: Session, campaign: Campaign, *, today: date, site_ids: list[int] | None = None
) -> VisitChanges:
    """Make the campaign's visit requests match its units (at ``site_ids`` only, when
    given):

    - each open request (requested or scheduled) counts the units at its site that still
      need a visit, and its estimate follows;
    - a site with such units and no open request gets a new one: attempt 1 for a site new
      to the campaign, the next attempt for a revisit (units not reached or not found,
      a refused unit re-opened, units added after the last visit); a revisit keeps the
      site's place in the priority order;
    - a requested visit with nothing left to do is cancelled (a scheduled one is left to
      ``visits.sync_visits``, which tells the partner).

    Without ``site_ids`` every visit is re-ranked by the campaign's priority rule. With
    them, no other visit's row is touched: a technician finishing a stop never waits for,
    or deadlocks with, another finishing elsewhere. Returns what was opened and cancelled."""
    params = {
        "cid": campaign.id,
        "per_visit": campaign.minutes_per_visit,
        "per_unit": campaign.minutes_per_unit,
        "needing": list(NEEDING_VISIT),
        "every_site": site_ids is None,
        "sites": site_ids or [],
    }
    need = """
        SELECT cu.site_id, min(cu.partner_id) AS partner_id,
               count(*) FILTER (WHERE cu.state = ANY(:needing)) AS n
        FROM campaign_unit cu
        WHERE cu.campaign_id = :cid AND (:every_site OR cu.site_id = ANY(:sites))
        GROUP BY cu.site_id
    """
    session.execute(
        text(
            f"""
            WITH need AS ({need})
            UPDATE visit_request v
               SET unit_count = need.n, estimated_minutes = :per_visit + :per_unit * need.n,
                   updated_at = now()
            FROM need
            WHERE v.campaign_id = :cid AND v.site_id = need.site_id AND need.n > 0
              AND v.status IN ('requested', 'scheduled') AND v.unit_count <> need.n
            """
        ),
        params,
    )
    cancelled = session.scalars(
        text(
            f"""
            WITH need AS ({need})
            UPDATE visit_request v SET status = 'cancelled', updated_at = now()
            FROM need
            WHERE v.campaign_id = :cid AND v.site_id = need.site_id AND need.n = 0
              AND v.status = 'requested'
            RETURNING v.id
            """
        ),
        params,
    ).all()
    created = session.execute(
        text(
            f"""
            WITH need AS ({need}), previous AS (
                SELECT DISTINCT ON (v.site_id) v.site_id, v.attempt, v.priority_rank,
                       v.recent_min_temp_c
                FROM visit_request v WHERE v.campaign_id = :cid
                ORDER BY v.site_id, v.attempt DESC
            )
            INSERT INTO visit_request (campaign_id, site_id, partner_id, attempt, unit_count,
                                       estimated_minutes, priority_rank, recent_min_temp_c)
            SELECT :cid, need.site_id, need.partner_id, coalesce(p.attempt, 0) + 1,
                   need.n, :per_visit + :per_unit * need.n, coalesce(p.priority_rank, 0),
                   p.recent_min_temp_c
            FROM need LEFT JOIN previous p ON p.site_id = need.site_id
            WHERE need.n > 0 AND NOT EXISTS (
                SELECT 1 FROM visit_request v
                WHERE v.campaign_id = :cid AND v.site_id = need.site_id
                  AND v.status IN ('requested', 'scheduled'))
            ORDER BY need.site_id
            -- a concurrent refresh of the same site already opened its request
            ON CONFLICT (campaign_id, site_id) WHERE status IN ('requested', 'scheduled')
            DO NOTHING
            RETURNING site_id, attempt
            """
        ),
        params,
    ).all()
    if site_ids is None:
        _rank_visits(session, campaign, today=today)
    keys = dict(
        session.execute(
            select(Site.id, Site.site_key).where(Site.id.in_([site_id for site_id, _ in created]))
        ).all()
    )
    return VisitChanges(
        created={keys[site_id]: int(attempt) for site_id, attempt in sorted(created)},
        cancelled=sorted(cancelled),
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


def awaiting_decision(max_visits: int) -> ColumnElement[bool]:
    """A unit waiting for the support lead: refused, or not reached / not found at every
    visit a unit may get."""
    return (CampaignUnit.state == "refused") | (
        CampaignUnit.state.in_(REVISIT_OUTCOMES) & (CampaignUnit.visit_attempts >= max_visits)
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
            CampaignUnit.visit_attempts,
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
    decision_pending: bool | None = None,
    max_visits: int = 3,
) -> tuple[list[CampaignUnitOut], int]:
    stmt = unit_rows(campaign_id)
    if partner_id is not None:
        stmt = stmt.where(CampaignUnit.partner_id == partner_id)
    if state is not None:
        stmt = stmt.where(CampaignUnit.state == state)
    if decision_pending is not None:
        waiting = awaiting_decision(max_visits)
        stmt = stmt.where(waiting if decision_pending else ~waiting)
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
