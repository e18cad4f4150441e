"""The scheduler: 02:00 daily, one sweep at a time across processes."""

import os
import threading
from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from sqlalchemy import func, select, update

import retention.scheduler as scheduler_module
from retention.lock import SweepBusy, sweep_lock
from retention.models import SweepLease, SweepRun
from retention.scheduler import build_scheduler, next_run, scheduled_sweep
from tests.conftest import CHICAGO
from tests.retention.conftest import DAY_AFTER, sweep
from vault.audit import AuditCheckpoint, verify_chain
from vault.db import make_engine
from vault.runtime import Runtime
from vault.schema import upgrade


def test_two_schedulers_racing_sweep_once(school, runtime, monkeypatch):
    """Two scheduler processes (each with its own engine) fire at 02:00 together."""
    school.record()
    other = Runtime.from_settings(runtime.settings)
    inside, release = threading.Event(), threading.Event()
    real_run = scheduler_module.run_sweep

    def slow_sweep(runtime, **options):
        inside.set()
        assert release.wait(30)
        return real_run(runtime, DAY_AFTER, **options)

    monkeypatch.setattr(scheduler_module, "run_sweep", slow_sweep)
    results = {}
    first = threading.Thread(target=lambda: results.update(
        first=scheduled_sweep(runtime)))
    first.start()
    try:
        assert inside.wait(30)
        results["second"] = scheduled_sweep(other)
    finally:
        release.set()
        first.join(60)
        other.engine.dispose()

    assert results["second"] is None
    assert results["first"].counts["documents"] == 3
    with runtime.sessions() as session:
        runs = session.scalars(select(SweepRun).order_by(SweepRun.id)).all()
    assert [run.status for run in runs] == ["skipped", "finished"] or [
        run.status for run in runs] == ["finished", "skipped"]

    # With the lock let go, the next day's run goes ahead.
    monkeypatch.setattr(scheduler_module, "run_sweep", real_run)
    assert scheduled_sweep(other) is not None


def test_a_hand_run_sweep_waits_for_no_one(school, runtime):
    with sweep_lock(runtime.engine):
        with pytest.raises(SweepBusy) as refused:
            sweep(runtime, DAY_AFTER)
    assert refused.value.code == "sweep_running"
    assert sweep(runtime, DAY_AFTER).counts["records"] == 0


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'vault.sqlite3'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def test_a_lease_left_by_a_dead_sweep_expires(sqlite_engine):
    """SQLite's lease row; PostgreSQL's advisory lock goes with its connection."""
    engine = sqlite_engine
    with engine.begin() as connection:
        connection.execute(update(SweepLease).values(
            holder="dead-host:1", expires_at=datetime.now(timezone.utc)
            + timedelta(minutes=5)))
    with pytest.raises(SweepBusy):
        with sweep_lock(engine):
            pass

    with engine.begin() as connection:
        connection.execute(update(SweepLease).values(
            expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    with sweep_lock(engine) as lock:
        lock.renew()
    with engine.connect() as connection:
        assert connection.scalar(select(SweepLease.holder)) is None


def test_a_lease_of_a_killed_process_here_is_taken_over_at_once(sqlite_engine):
    """A sweep killed with kill -9 on this machine: its process is gone, so the
    next sweep need not wait for the lease to expire."""
    import socket
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    alive = f"{socket.gethostname()[:40]}:{os.getpid()}:abcd1234"
    for holder, taken in ((alive, False), (f"{alive.split(':')[0]}:{gone.pid}:dead",
                                           True)):
        with sqlite_engine.begin() as connection:
            connection.execute(update(SweepLease).values(
                holder=holder, expires_at=datetime.now(timezone.utc)
                + timedelta(minutes=5)))
        if taken:
            with sweep_lock(sqlite_engine) as lock:
                lock.renew()
        else:
            with pytest.raises(SweepBusy):
                with sweep_lock(sqlite_engine):
                    pass


def test_a_run_left_running_by_a_killed_sweep_is_marked_interrupted(school, runtime):
    from vault.db import unit_of_work

    with unit_of_work(runtime.sessions) as session:
        session.add(SweepRun(as_of=DAY_AFTER, status="running"))
    report = sweep(runtime, DAY_AFTER)

    with runtime.sessions() as session:
        statuses = dict(session.execute(select(SweepRun.id, SweepRun.status)).all())
    assert statuses.pop(report.run_id) == "finished"
    assert list(statuses.values()) == ["interrupted"]


def test_the_job_runs_at_two_in_the_morning_coalesced_one_at_a_time(runtime):
    scheduler = build_scheduler(runtime)
    job = scheduler.get_job(scheduler_module.JOB_ID)
    assert job.coalesce is True and job.max_instances == 1
    assert job.misfire_grace_time >= 3600

    usual = next_run(CHICAGO, datetime(2027, 1, 9, 12, 0, tzinfo=CHICAGO))
    assert usual.astimezone(timezone.utc) == datetime(2027, 1, 10, 8, 0,
                                                      tzinfo=timezone.utc)
    # 02:00 does not exist on the morning clocks go forward: the run is at the
    # moment 02:00 CST would have been (03:00 CDT), that day, never skipped.
    spring = next_run(CHICAGO, datetime(2027, 3, 13, 12, 0, tzinfo=CHICAGO))
    assert spring.astimezone(timezone.utc) == datetime(2027, 3, 14, 8, 0,
                                                       tzinfo=timezone.utc)
    # The morning clocks go back repeats 01:00-02:00; 02:00 CST comes once.
    autumn = next_run(CHICAGO, datetime(2027, 11, 6, 12, 0, tzinfo=CHICAGO))
    assert autumn.astimezone(timezone.utc) == datetime(2027, 11, 7, 8, 0,
                                                       tzinfo=timezone.utc)


def test_the_scheduler_anchors_the_audit_chain_daily(runtime, frozen_today):
    scheduler = build_scheduler(runtime)
    job = scheduler.get_job(scheduler_module.CHECKPOINT_JOB_ID)
    assert job.trigger.interval <= timedelta(hours=1)

    def checkpoints() -> int:
        with runtime.sessions() as session:
            return session.scalar(select(func.count()).select_from(AuditCheckpoint))

    scheduler_module.checkpoint_job(runtime)
    first = checkpoints()
    assert first >= 1
    scheduler_module.checkpoint_job(runtime)
    assert checkpoints() == first
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(days=1, hours=1)):
        scheduler_module.checkpoint_job(runtime)
    assert checkpoints() == first + 1
    with runtime.sessions() as session:
        assert verify_chain(runtime, session).intact
