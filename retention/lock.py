"""The database lock that keeps two sweeps from ever running at once.

On PostgreSQL a session-level advisory lock (`pg_try_advisory_lock`) on a
connection held for the whole sweep: it is let go when the sweep ends or its
connection dies. On SQLite a lease row with an expiry: the sweep renews it
between batches; a sweep that died without letting go blocks others until the
lease expires, or, on the same machine, only until its process is seen gone.

    with sweep_lock(runtime.engine) as lock:
        ...                 # lock.renew() between batches
    # SweepBusy when another sweep holds it
"""

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from sqlalchemy import Connection, Engine, select, text, update

from retention.models import SweepLease
from vault.errors import Conflict

log = logging.getLogger(__name__)

LEASE_NAME = "retention_sweep"
LEASE_SECONDS = 600
# Any constant works as long as nothing else in the database uses it.
ADVISORY_KEY = 0x4D45435F5357  # "MEC_SW"


class SweepBusy(Conflict):
    """Another sweep (a scheduler or a hand-run one) is running."""

    code = "sweep_running"


class LeaseLost(Conflict):
    """The SQLite lease expired under a running sweep and someone else took it."""

    code = "sweep_lease_lost"


def _now() -> datetime:
    return datetime.now(timezone.utc)


class _AdvisoryLock:
    def __init__(self, connection: Connection):
        self.connection = connection

    def renew(self) -> None:
        """Nothing to renew: the lock lives as long as its connection."""


class _Lease:
    def __init__(self, engine: Engine, holder: str, seconds: float):
        self.engine = engine
        self.holder = holder
        self.seconds = seconds

    def take(self) -> bool:
        now = _now()
        with self.engine.begin() as connection:
            taken = connection.execute(
                update(SweepLease)
                .where(SweepLease.name == LEASE_NAME)
                .where((SweepLease.holder.is_(None))
                       | (SweepLease.expires_at < now))
                .values(holder=self.holder,
                        expires_at=now + timedelta(seconds=self.seconds)))
            if taken.rowcount == 0 and connection.scalar(
                    select(SweepLease.name).where(SweepLease.name == LEASE_NAME)
            ) is None:
                connection.execute(SweepLease.__table__.insert().values(
                    name=LEASE_NAME, holder=self.holder,
                    expires_at=now + timedelta(seconds=self.seconds)))
                return True
        return taken.rowcount == 1 or self._take_from_dead_holder()

    def _take_from_dead_holder(self) -> bool:
        """Take over a lease whose holder was a process of this machine that is
        gone (killed, say), without waiting for the lease to expire."""
        with self.engine.begin() as connection:
            holder = connection.scalar(
                select(SweepLease.holder).where(SweepLease.name == LEASE_NAME))
            if holder is None or not _dead_here(holder):
                return False
            taken = connection.execute(
                update(SweepLease)
                .where(SweepLease.name == LEASE_NAME, SweepLease.holder == holder)
                .values(holder=self.holder,
                        expires_at=_now() + timedelta(seconds=self.seconds)))
        if taken.rowcount == 1:
            log.warning("sweep_lease_taken_over dead_holder=%s", holder)
        return taken.rowcount == 1

    def renew(self) -> None:
        """Push the expiry out again; LeaseLost if the lease is no longer ours."""
        with self.engine.begin() as connection:
            renewed = connection.execute(
                update(SweepLease)
                .where(SweepLease.name == LEASE_NAME,
                       SweepLease.holder == self.holder)
                .values(expires_at=_now() + timedelta(seconds=self.seconds)))
        if renewed.rowcount != 1:
            raise LeaseLost("The sweep's lease expired and another sweep took it; "
                            "this one stops.")

    def release(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(SweepLease)
                .where(SweepLease.name == LEASE_NAME,
                       SweepLease.holder == self.holder)
                .values(holder=None, expires_at=None))


def _holder_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _dead_here(holder: str) -> bool:
    """True when `holder` names a process of this machine that no longer runs."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname()[:40] or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@contextmanager
def sweep_lock(engine: Engine, lease_seconds: float = LEASE_SECONDS) -> Iterator:
    """Hold the sweep lock for the block; SweepBusy at once if someone has it."""
    holder = _holder_name()

    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            got = connection.scalar(text("SELECT pg_try_advisory_lock(:key)"),
                                    {"key": ADVISORY_KEY})
            connection.commit()
            if not got:
                raise SweepBusy("Another retention sweep is running; this one did "
                                "not start.")
            log.info("sweep_lock_taken kind=advisory holder=%s", holder)
            try:
                yield _AdvisoryLock(connection)
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                   {"key": ADVISORY_KEY})
                connection.commit()
        return

    lease = _Lease(engine, holder, lease_seconds)
    if not lease.take():
        raise SweepBusy("Another retention sweep is running; this one did not "
                        "start.")
    log.info("sweep_lock_taken kind=lease holder=%s", holder)
    try:
        yield lease
    finally:
        lease.release()
