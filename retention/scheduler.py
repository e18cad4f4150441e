"""`vault scheduler`: the sweep every day at 02:00 in the vault's time zone.

APScheduler 3 runs one job in the foreground: coalesced (a scheduler that was
down for several days sweeps once, not once per day missed), with a misfire
grace period, and never two instances at once. Across processes and machines
the database lock (`retention.lock`) decides: a second scheduler, or a sweep
run by hand, finds it taken, records a skipped run and waits for the next day.

Beside the sweep, every hour (and at start) the scheduler writes a signed
checkpoint of the audit chain's head when the newest is a day old, so the
chain is anchored in write-once storage at least daily.
"""

import logging
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from retention.lock import SweepBusy, sweep_lock
from retention.models import SweepRun
from retention.sweep import SweepReport, run_sweep
from vault.audit import checkpoint_if_due
from vault.db import unit_of_work
from vault.models import utcnow
from vault.runtime import Runtime

log = logging.getLogger(__name__)

SWEEP_HOUR = 2
MISFIRE_GRACE_SECONDS = 6 * 3600
JOB_ID = "retention_sweep"
CHECKPOINT_JOB_ID = "audit_checkpoint"
CHECKPOINT_CHECK_HOURS = 1


def daily_trigger(zone: ZoneInfo) -> CronTrigger:
    return CronTrigger(hour=SWEEP_HOUR, minute=0, timezone=zone)


def next_run(zone: ZoneInfo, now: datetime | None = None) -> datetime:
    """When the scheduler sweeps next, seen from `now`."""
    now = (now or datetime.now(timezone.utc)).astimezone(zone)
    return daily_trigger(zone).get_next_fire_time(None, now)


def scheduled_sweep(runtime: Runtime, trigger: str = "scheduler") -> SweepReport | None:
    """One sweep under the database lock; None (a skipped run recorded) when
    another sweep holds it."""
    try:
        with sweep_lock(runtime.engine) as lock:
            return run_sweep(runtime, trigger=trigger, lock=lock)
    except SweepBusy:
        with unit_of_work(runtime.sessions) as session:
            session.add(SweepRun(as_of=runtime.today(), trigger=trigger,
                                 status="skipped", finished_at=utcnow(),
                                 error="another sweep held the lock"))
        log.warning("sweep_skipped trigger=%s reason=lock_held", trigger)
        return None


def _job(runtime: Runtime) -> None:
    try:
        scheduled_sweep(runtime)
    except Exception:
        # The job runner's boundary: the failed run is recorded on its row by
        # run_sweep; log it here and keep the scheduler alive for tomorrow.
        log.exception("sweep_job_failed")


def checkpoint_job(runtime: Runtime) -> None:
    """Anchor the audit chain when the newest checkpoint is a day old."""
    try:
        with unit_of_work(runtime.sessions) as session:
            written = checkpoint_if_due(runtime, session)
        if written is not None:
            log.info("audit_checkpoint_written checkpoint=%s", written.id)
    except Exception:
        # As for the sweep: log, and try again at the next hour.
        log.exception("audit_checkpoint_failed")


def build_scheduler(runtime: Runtime) -> BlockingScheduler:
    zone = runtime.settings.timezone
    scheduler = BlockingScheduler(timezone=zone)
    scheduler.add_job(_job, daily_trigger(zone), args=[runtime], id=JOB_ID,
                      coalesce=True, misfire_grace_time=MISFIRE_GRACE_SECONDS,
                      max_instances=1, replace_existing=True)
    scheduler.add_job(checkpoint_job, IntervalTrigger(hours=CHECKPOINT_CHECK_HOURS),
                      args=[runtime], id=CHECKPOINT_JOB_ID, coalesce=True,
                      max_instances=1, replace_existing=True,
                      next_run_time=datetime.now(zone))
    return scheduler


def serve(runtime: Runtime) -> None:
    """Run the scheduler in the foreground until interrupted."""
    scheduler = build_scheduler(runtime)
    log.info("scheduler_started next_run=%s",
             next_run(runtime.settings.timezone).isoformat())
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("scheduler_stopped")
