"""Application settings, read from the environment (prefix ``FIELDRECALL_``).

Built once at start-up through :func:`get_settings`, never at import time, so tests and
the CLI can point the project at another database by setting the environment first.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FIELDRECALL_", extra="ignore")

    # DATABASE_URL is the conventional name; FIELDRECALL_DATABASE_URL works as well.
    database_url: str = Field(
        default="postgresql+psycopg://fieldrecall:fieldrecall@127.0.0.1:5432/fieldrecall",
        validation_alias=AliasChoices("DATABASE_URL", "FIELDRECALL_DATABASE_URL"),
    )
    # Database connections a process keeps open, and how many more it may open for a
    # moment. Each request's thread takes one: a pool smaller than the concurrent requests
    # of a busy server opens and closes a connection per request (a third of GET /sites'
    # time at 8 connections under the default 5).
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=5, ge=0, le=200)
    # Request bodies: CSV uploads, and every other body (JSON); checked before a body is
    # read (api/guards.py).
    max_upload_bytes: int = 200 * 1024 * 1024
    max_json_bytes: int = 10 * 1024 * 1024
    # A refused import counts every bad row; it lists the problems of the first rows up
    # to this many (a 200 MB file of bad rows would otherwise list millions).
    import_max_listed_errors: int = Field(default=100_000, ge=1)
    max_failure_batch: int = 1000
    page_size_default: int = 100
    # How long a server process reuses a key it has looked up (0: look it up on every
    # request); a revoked key stops working within this many seconds.
    api_key_cache_s: float = Field(default=5.0, ge=0, le=300)
    page_size_max: int = 1000
    station_max_distance_km: float = 50.0
    # The address secret links are given under; unset, the address a request reached
    # (set it when the app runs behind a proxy).
    public_base_url: str | None = None
    # The key secret links are derived with (core/links.py); unset, a secret stored in the
    # database by the migration. Set it in production: then a copy of the database alone
    # opens no link. Changing it closes every link.
    secret_key: str = ""
    link_lifetime_days: int = Field(default=365, ge=1, le=3650)

    # Notifications (recall/notify/): SMTP for the email channel; unset host = email
    # deliveries fail with a clear last_error and retry until an operator sets it.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "fieldrecall@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_s: float = Field(default=5.0, gt=0)
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    # Webhook targets must resolve to public addresses; this comma-separated list of
    # addresses or CIDR networks lets named private ones through (e.g. "10.20.0.0/16"
    # for a receiver on the operator's own network).
    webhook_allow_networks: str = ""
    # Deliveries run side by side on their own queue: at most notify_concurrency per
    # worker process, and at most notify_per_partner at a time for one partner across
    # every worker, so that one partner's slow receiver holds only its own notices back.
    notify_concurrency: int = Field(default=8, ge=1, le=256)
    notify_per_partner: int = Field(default=2, ge=1, le=64)
    notify_partner_busy_delay_s: float = Field(default=1.0, gt=0)
    # Retry n waits backoff_base_s * 2**(n-1), at most backoff_max_s; after max_attempts
    # failed attempts the message is dead (a dead letter, listed and retried in the API).
    notify_backoff_base_s: float = Field(default=30.0, ge=0)
    notify_backoff_max_s: float = Field(default=6 * 3600.0, ge=0)
    notify_max_attempts: int = Field(default=8, ge=1)
    # How often a worker sweeps for pending messages whose job was lost (a killed worker):
    # a Procrastinate cron with a seconds column.
    notify_sweep_cron: str = "* * * * * */30"
    # How often a worker re-evaluates every active recall's scope (late imports, new
    # installs): a Procrastinate cron, hourly by default.
    reevaluate_cron: str = "17 * * * *"
    # Visits at which a unit may be not reached or not found before the revisits stop and
    # the unit waits for the support lead's decision (re-open, or waive with a reason).
    recall_max_visits_per_unit: int = Field(default=3, ge=1)

    # Worker tuning (Procrastinate worker defaults): how often an idle worker polls for
    # jobs whose scheduled time came (retries), and its heartbeat.
    worker_poll_interval_s: float = Field(default=5.0, gt=0)
    worker_heartbeat_interval_s: float = Field(default=10.0, gt=0)
    worker_stalled_after_s: float = Field(default=30.0, gt=0)
    # Jobs of the long queue (plans, detection runs) one worker process runs at once.
    worker_concurrency: int = Field(default=1, ge=1, le=64)
    # How often a worker hands the jobs of dead workers (no heartbeat for
    # worker_stalled_after_s) back to the queue: a cron with a seconds column.
    worker_recovery_cron: str = "* * * * * */10"
    # A worker whose database went away tries again every worker_reconnect_delay_s and
    # exits with a non-zero code after worker_reconnect_max_s without it.
    worker_reconnect_delay_s: float = Field(default=1.0, gt=0)
    worker_reconnect_max_s: float = Field(default=300.0, gt=0)

    # Field plans (routing/plans/planner.py). One planning time zone per plan: this one when
    # set, else the most common time zone of the campaign's sites; technicians' shifts
    # are read in it. The lunch break of `plan_lunch_minutes` lies within
    # plan_lunch_from..plan_lunch_to. Partners are promised a window of
    # `plan_arrival_window_minutes` that starts at the planned start rounded down to
    # `plan_arrival_window_step_minutes`.
    plan_timezone: str | None = None
    plan_lunch_minutes: int = Field(default=30, ge=0, le=240)
    plan_lunch_from: str = "11:00"
    plan_lunch_to: str = "13:00"
    plan_arrival_window_minutes: int = Field(default=120, ge=1, le=24 * 60)
    plan_arrival_window_step_minutes: int = Field(default=60, ge=1, le=24 * 60)
    plan_default_seconds: float = Field(default=30.0, gt=0)
    plan_max_seconds: float = Field(default=600.0, gt=0)
    plan_max_days: int = Field(default=92, ge=1)
    plan_speed_kmh: float = Field(default=60.0, gt=0)
    plan_circuity: float = Field(default=1.3, gt=0)
    plan_osrm_url: str | None = None
    # A first plan with more visits than this is split into territories of about this
    # size, solved as one job each (routing.plans.fanout).
    plan_territory_visits: int = Field(default=400, ge=1)
    # Re-planning: what moving a visit to another technician-day costs, in drive minutes.
    plan_replan_move_cost: int = Field(default=120, ge=0)

    # Pages (api/pages/). Map tiles: a Leaflet URL template ({z}, {x}, {y}, optional {s}
    # subdomains); its host is allowed in the Content-Security-Policy's img-src, and an
    # empty value draws maps without tiles (markers and lines show either way).
    map_tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    map_tile_attribution: str = "© OpenStreetMap contributors"
    # Signs the console's session cookies. Unset: a random secret per process, so sessions
    # end when the server restarts and several server processes would not share them.
    session_secret: SecretStr | None = None
    console_session_hours: float = Field(default=12.0, gt=0, le=24 * 30)

    @field_validator("map_tile_url")
    @classmethod
    def _tile_url(cls, value: str) -> str:
        value = value.strip()
        if value and not (
            value.startswith(("https://", "http://", "/"))
            and all(part in value for part in ("{z}", "{x}", "{y}"))
        ):
            raise ValueError(
                "map_tile_url is an http(s) URL (or a path on this server) with {z}, {x} and"
                " {y}, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png; empty: no tiles"
            )
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    return Settings()
