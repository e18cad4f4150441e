"""Consistency between the database and the object store.

An orphan is an object no row points to: left by a crash between the store's
write and the database's commit. Its data key was never committed, so it is
unreadable ciphertext; `repair` removes it once it is older than a grace period
(younger ones may belong to an upload still in flight). A row whose object is
missing is evidence lost: it is reported, never removed.

Retention makes two kinds of object that are neither: a record being removed
has its data keys destroyed (the key column emptied) before its objects go, and
an object whose write-once lock has not lapsed waits in the pending table. Both
are listed as awaiting removal; the sweep, not fsck, finishes them.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from retention.models import PendingObject, SweepReceipt
from vault.errors import ObjectLocked, ObjectMissing
from vault.models import Certificate, EvidenceDocument, SealedPackage
from vault.objects import DESTROYED_KEY
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
    locked: list[str] = field(default_factory=list)
    awaiting_removal: list[str] = field(default_factory=list)
    missing: list[MissingObject] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return not self.missing and len(self.removed) == len(self.orphans)


def check_store(runtime: Runtime, session: Session, repair: bool = False,
                grace: timedelta = IN_FLIGHT_GRACE) -> StoreReport:
    """Compare every row's object key with the store's keys; optionally repair."""
    report = StoreReport()
    referenced = _referenced_keys(session)
    leaving = _keys_awaiting_removal(session)
    report.rows = len(referenced)
    log.info("fsck_started rows=%d repair=%s", report.rows, repair)

    stored = set()
    cutoff = datetime.now(timezone.utc) - grace
    for key in runtime.store.keys():
        stored.add(key)
        if key in referenced:
            continue
        if key in leaving:
            report.awaiting_removal.append(key)
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
            try:
                runtime.store.delete(key)
            except ObjectLocked:
                report.locked.append(key)
                continue
            report.removed.append(key)
    log.info("fsck_finished objects=%d orphans=%d removed=%d missing=%d",
             report.objects, len(report.orphans), len(report.removed),
             len(report.missing))
    return report


def _referenced_keys(session: Session) -> dict[str, tuple[str, str]]:
    """Every object a row needs, with the record it belongs to."""
    keys = {}
    for key, document_id in session.execute(
            select(EvidenceDocument.object_key, EvidenceDocument.id)
            .where(EvidenceDocument.wrapped_key != DESTROYED_KEY)):
        keys[key] = ("document", document_id)
    for key, number in session.execute(
            select(Certificate.object_key, Certificate.number)
            .where(Certificate.wrapped_key != DESTROYED_KEY)):
        keys[key] = ("certificate", number)
    for key, receipt_id in session.execute(
            select(SweepReceipt.object_key, SweepReceipt.id)):
        keys[key] = ("retention receipt", str(receipt_id))
    leaving = _keys_awaiting_removal(session)
    keys.update((key, record) for key, record in sealed_object_keys(session).items()
                if key not in leaving)
    return keys


def _keys_awaiting_removal(session: Session) -> set[str]:
    """Objects retention is removing: keys destroyed, or a lock still holding."""
    keys = set(session.scalars(select(PendingObject.object_key)))
    keys.update(session.scalars(select(EvidenceDocument.object_key)
                                .where(EvidenceDocument.wrapped_key == DESTROYED_KEY)))
    for manifest, signature in session.execute(
            select(SealedPackage.object_key, SealedPackage.signature_key)
            .where(SealedPackage.wrapped_key == DESTROYED_KEY)):
        keys.update(key for key in (manifest, signature) if key)
    return keys


def _modified(runtime: Runtime, key: str) -> datetime:
    try:
        modified = runtime.store.stat(key).modified
    except ObjectMissing:
        return datetime.now(timezone.utc)
    return modified or datetime.min.replace(tzinfo=timezone.utc)
