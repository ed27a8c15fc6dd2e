"""Application settings, read from the environment (prefix ``FIELDRECALL_``).

Built once at start-up through :func:`get_settings`, never at import time, so tests and
the CLI can point the project at another database by setting the environment first.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FIELDRECALL_", extra="ignore")

    # DATABASE_URL is the conventional name; FIELDRECALL_DATABASE_URL works as well.
    database_url: str = Field(
        default="postgresql+psycopg://fieldrecall:fieldrecall@127.0.0.1:5432/fieldrecall",
        validation_alias=AliasChoices("DATABASE_URL", "FIELDRECALL_DATABASE_URL"),
    )
    max_upload_bytes: int = 200 * 1024 * 1024
    max_failure_batch: int = 1000
    page_size_default: int = 100
    page_size_max: int = 1000
    station_max_distance_km: float = 50.0
    public_base_url: str = "http://127.0.0.1:8000"

    # Notifications (recall/notify/): SMTP for the email channel; unset host = email
    # deliveries fail with a clear last_error and retry until an operator sets it.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "fieldrecall@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
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

    # Worker tuning (Procrastinate worker defaults): how often an idle worker polls for
    # jobs whose scheduled time came (retries), and its heartbeat.
    worker_poll_interval_s: float = Field(default=5.0, gt=0)
    worker_heartbeat_interval_s: float = Field(default=10.0, gt=0)
    worker_stalled_after_s: float = Field(default=30.0, gt=0)
    # How often a worker looks for planning jobs (a plan, a territory, a join) left
    # running by a dead worker and puts them back in the queue: a cron with seconds.
    plan_recover_cron: str = "* * * * * */30"

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    return Settings()
