"""Consistency between the database and the object store.

An orphan is an object no row points to: left by a crash between the store's
write and the database's commit. Its data key was never committed, so it is
unreadable ciphertext; `repair` removes it once it is older than a grace period
(younger ones may belong to an upload still in flight). A row whose object is
missing is evidence lost: it is reported, never removed.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from vault.errors import ObjectMissing
from vault.models import Certificate, EvidenceDocument
from vault.runtime import Runtime
from vault.sealing import sealed_object_keys

log = logging.getLogger(__name__)

IN_FLIGHT_GRACE = timedelta(hours=1)


@dataclass
class MissingObject:
    record: str
    record_id: str
    object_key: str


@dataclass
class StoreReport:
    """What `check_store` found (and removed, when repairing)."""

    objects: int = 0
    rows: int = 0
    orphans: list[str] = field(default_factory=list)
    young_orphans: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    missing: list[MissingObject] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return not self.missing and len(self.removed) == len(self.orphans)


def check_store(runtime: Runtime, session: Session, repair: bool = False,
                grace: timedelta = IN_FLIGHT_GRACE) -> StoreReport:
    """Compare every row's object key with the store's keys; optionally repair."""
    report = StoreReport()
    referenced = _referenced_keys(session)
    report.rows = len(referenced)
    log.info("fsck_started rows=%d repair=%s", report.rows, repair)

    stored = set()
    cutoff = datetime.now(timezone.utc) - grace
    for key in runtime.store.keys():
        stored.add(key)
        if key in referenced:
            continue
        if _modified(runtime, key) < cutoff:
            report.orphans.append(key)
        else:
            report.young_orphans.append(key)
    report.objects = len(stored)

    for key, (record, record_id) in referenced.items():
        if key not in stored:
            report.missing.append(MissingObject(record, record_id, key))

    if repair:
        for key in report.orphans:
            runtime.store.delete(key)
            report.removed.append(key)
    log.info("fsck_finished objects=%d orphans=%d removed=%d missing=%d",
             report.objects, len(report.orphans), len(report.removed),
             len(report.missing))
    return report


def _referenced_keys(session: Session) -> dict[str, tuple[str, str]]:
    keys = {}
    for key, document_id in session.execute(
            select(EvidenceDocument.object_key, EvidenceDocument.id)):
        keys[key] = ("document", document_id)
    for key, number in session.execute(
            select(Certificate.object_key, Certificate.number)):
        keys[key] = ("certificate", number)
    keys.update(sealed_object_keys(session))
    return keys


def _modified(runtime: Runtime, key: str) -> datetime:
    try:
        modified = runtime.store.stat(key).modified
    except ObjectMissing:
        return datetime.now(timezone.utc)
    return modified or datetime.min.replace(tzinfo=timezone.utc)
