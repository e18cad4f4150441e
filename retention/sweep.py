"""The retention sweep: every record past its date and not held goes, in batches.

A record is a student's: their documents (with the extracted text), module
dates and exam results. It may go once the whole of its retention date has
passed in the vault's time zone (`retention.dates`) and while no legal hold
covers the district, the student or any of the student's packages.

Each batch of records goes in three steps, ordered so that a sweep killed at
any moment leaves a state the next sweep completes:

1. one transaction marks the records "removing" and destroys their wrapped
   data keys (from here on the bytes are unreadable, backups included);
2. the objects are deleted from the store, every version; one the store still
   keeps locked is noted as pending and removed by a later sweep;
3. one transaction deletes the rows, keeps a tombstone per removed record and
   an audit event per student, and marks the records "removed".

A record found "removing" is finished whatever its date (its keys are gone).
What goes is what is dated up to the day the record was last needed; a row
dated later (an upload that came during the sweep) is a newer record's and
stays. A student without a certificate goes entirely; a certificate holder's
row and certificates stay, so the certificate can still be checked at /verify.
Sealed packages keep their rows; their manifest and signature objects go.
"""

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from retention.dates import (
    is_due,
    newest_day,
    start_of_day,
    sweep_moment,
    years_after,
)
from retention.holds import active_hold_filter
from retention.models import (
    PendingObject,
    RecordRemoval,
    SweepRun,
    Tombstone,
)
from vault.audit import record_event
from vault.db import unit_of_work
from vault.errors import ObjectLocked, StorageError
from vault.models import (
    Certificate,
    District,
    EvidenceDocument,
    ExamResult,
    ModuleCompletion,
    SealedPackage,
    Student,
    utcnow,
)
from vault.objects import DESTROYED_KEY
from vault.runtime import Runtime

log = logging.getLogger(__name__)

BATCH_RECORDS = 200
DELETE_WORKERS = 8
REMOVING, REMOVED = "removing", "removed"


@dataclass(frozen=True)
class RecordFacts:
    """What the sweep knows of one student's record, without personal data
    beyond the LASID (printed only to the operator running the sweep)."""

    student_id: int
    district_id: int
    district_code: str
    lasid: str
    last_needed: date | None
    documents: int = 0
    module_dates: int = 0
    exam_results: int = 0
    certificates: int = 0
    held: bool = False
    state: str | None = None

    @property
    def retention_date(self) -> date | None:
        return years_after(self.last_needed) if self.last_needed else None

    @property
    def has_rows(self) -> bool:
        return bool(self.documents or self.module_dates or self.exam_results)


def removable(facts: RecordFacts, as_of: date) -> bool:
    """True when a sweep on `as_of` removes the record.

    Never while held; a removal already under way is finished; otherwise only
    once the whole retention date has passed and something is left to remove.
    """
    if facts.held:
        return False
    if facts.state == REMOVING:
        return True
    return facts.has_rows and is_due(facts.retention_date, as_of)


@dataclass
class SweepReport:
    """What one sweep removed (or, dry, would remove)."""

    as_of: date
    dry_run: bool
    run_id: int | None = None
    records: list[RecordFacts] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    pending: list[str] = field(default_factory=list)


def record_facts(session: Session, zone: ZoneInfo,
                 student_ids: Iterable[int] | None = None) -> Iterator[RecordFacts]:
    """The facts of every student's record (or of `student_ids`), by student id."""
    query = _facts_query()
    if student_ids is not None:
        query = query.where(Student.id.in_(list(student_ids)))
    for row in session.execute(query).yield_per(1000):
        uploaded = row.uploaded
        if uploaded is not None and uploaded.tzinfo is None:
            uploaded = uploaded.replace(tzinfo=timezone.utc)
        yield RecordFacts(
            student_id=row.id, district_id=row.district_id, district_code=row.code,
            lasid=row.lasid,
            last_needed=newest_day(row.issued, uploaded, row.completed, row.taken,
                                   zone),
            documents=row.documents, module_dates=row.module_dates,
            exam_results=row.exam_results, certificates=row.certificates,
            held=bool(row.held), state=row.state)


def _facts_query():
    def newest(column, owner):
        return select(func.max(column)).where(owner).scalar_subquery()

    def how_many(model, owner):
        return select(func.count()).select_from(model).where(owner).scalar_subquery()

    of_document = EvidenceDocument.student_id == Student.id
    of_module = ModuleCompletion.student_id == Student.id
    of_exam = ExamResult.lasid == Student.lasid
    of_certificate = Certificate.student_id == Student.id
    return (
        select(
            Student.id, Student.district_id, Student.lasid, District.code,
            newest(Certificate.issued_on, of_certificate).label("issued"),
            newest(EvidenceDocument.uploaded_at, of_document).label("uploaded"),
            newest(ModuleCompletion.completed_on, of_module).label("completed"),
            newest(ExamResult.taken_on, of_exam).label("taken"),
            how_many(EvidenceDocument, of_document).label("documents"),
            how_many(ModuleCompletion, of_module).label("module_dates"),
            how_many(ExamResult, of_exam).label("exam_results"),
            how_many(Certificate, of_certificate).label("certificates"),
            exists().where(active_hold_filter(Student.district_id, Student.id))
            .label("held"),
            select(RecordRemoval.state).where(RecordRemoval.student_id == Student.id)
            .scalar_subquery().label("state"),
        )
        .join(District, District.id == Student.district_id)
        .order_by(Student.id)
    )


def plan(session: Session, zone: ZoneInfo,
         as_of: date) -> tuple[list[RecordFacts], int]:
    """The records a sweep on `as_of` removes, and how many due ones are held."""
    chosen, held = [], 0
    for facts in record_facts(session, zone):
        if removable(facts, as_of):
            chosen.append(facts)
        elif facts.held and facts.has_rows and is_due(facts.retention_date, as_of):
            held += 1
    return chosen, held


def run_sweep(runtime: Runtime, as_of: date | None = None, *, dry_run: bool = False,
              trigger: str = "command", lock=None,
              progress: Callable[[int, int], None] | None = None,
              batch_records: int = BATCH_RECORDS) -> SweepReport:
    """Sweep once as of `as_of` (today in the vault's time zone when None).

    The caller holds the sweep lock (`retention.lock.sweep_lock`) and passes
    it as `lock`, renewed between batches. `progress` is told how many records
    each finished batch held, and how many there are in all.
    """
    zone = runtime.settings.timezone
    today = runtime.today()
    as_of = as_of or today
    # The local store's write-once folder reads this clock; S3 reads its own.
    now = datetime.now(timezone.utc) if as_of == today else sweep_moment(as_of, zone)
    report = SweepReport(as_of=as_of, dry_run=dry_run)

    with unit_of_work(runtime.sessions) as session:
        if lock is not None:
            # Under the lock no other sweep runs: one still "running" was killed.
            session.execute(update(SweepRun).where(SweepRun.status == "running")
                            .values(status="interrupted", finished_at=utcnow()))
        run = SweepRun(as_of=as_of, dry_run=dry_run, trigger=trigger)
        session.add(run)
        session.flush()
        report.run_id = run.id
    log.info("sweep_started run=%d as_of=%s dry_run=%s trigger=%s", report.run_id,
             as_of, dry_run, trigger)

    try:
        with runtime.sessions() as session:
            report.records, report.counts["held"] = plan(session, zone, as_of)
            report.pending = list(session.scalars(select(PendingObject.object_key)))
        report.counts["records"] = len(report.records)

        if not dry_run:
            _retry_pending(runtime, report, now)
            for start in range(0, len(report.records), batch_records):
                batch = report.records[start:start + batch_records]
                _remove_batch(runtime, report, batch, as_of, now)
                if lock is not None:
                    lock.renew()
                if progress:
                    progress(len(batch), len(report.records))
            from retention.receipts import write_receipts

            report.counts["receipts"] = write_receipts(runtime, report.run_id, as_of)
        else:
            _count_planned(report)
    except BaseException as error:
        # Recorded on the run whatever stopped it (a kill signal included), then
        # passed on: the next sweep finishes what this one started.
        _finish_run(runtime, report, "failed", f"{type(error).__name__}")
        log.error("sweep_failed run=%d error=%s", report.run_id, type(error).__name__)
        raise

    status = "dry_run" if dry_run else (
        "incomplete" if report.counts["records_failed"] else "finished")
    _finish_run(runtime, report, status)
    if not dry_run:
        _empty_the_journal(runtime)
    log.info("sweep_finished run=%d as_of=%s dry_run=%s %s", report.run_id, as_of,
             dry_run, " ".join(f"{k}={v}" for k, v in sorted(report.counts.items())))
    return report


def _empty_the_journal(runtime: Runtime) -> None:
    """SQLite keeps recent pages in its write-ahead log beside the database;
    copy them back and empty it, so the removed rows linger in neither file."""
    if runtime.engine.dialect.name != "sqlite":
        return
    with runtime.engine.connect() as connection:
        busy, _, _ = connection.exec_driver_sql(
            "PRAGMA wal_checkpoint(TRUNCATE)").one()
    if busy:
        log.info("journal_not_emptied reason=busy")


def _count_planned(report: SweepReport) -> None:
    for facts in report.records:
        report.counts["documents"] += facts.documents
        report.counts["module_dates"] += facts.module_dates
        report.counts["exam_results"] += facts.exam_results
        report.counts["students"] += 0 if facts.certificates else 1
    report.counts["pending_objects"] = len(report.pending)


def _finish_run(runtime: Runtime, report: SweepReport, status: str,
                error: str | None = None) -> None:
    with unit_of_work(runtime.sessions) as session:
        run = session.get(SweepRun, report.run_id)
        run.status = status
        run.error = error
        run.finished_at = utcnow()
        run.counts = dict(report.counts)


def _retry_pending(runtime: Runtime, report: SweepReport, now: datetime) -> None:
    """Remove the objects earlier sweeps found still locked, where the lock lapsed."""
    for key in report.pending:
        try:
            runtime.store.delete(key, now=now)
        except ObjectLocked:
            with unit_of_work(runtime.sessions) as session:
                session.execute(update(PendingObject)
                                .where(PendingObject.object_key == key)
                                .values(attempts=PendingObject.attempts + 1))
            report.counts["objects_still_locked"] += 1
            continue
        with unit_of_work(runtime.sessions) as session:
            session.execute(delete(PendingObject)
                            .where(PendingObject.object_key == key))
        report.counts["pending_objects_removed"] += 1
        log.info("pending_object_removed key=%s", key)


def _remove_batch(runtime: Runtime, report: SweepReport, batch: list[RecordFacts],
                  as_of: date, now: datetime) -> None:
    zone = runtime.settings.timezone

    # Step 1: re-check each record inside the transaction that commits to its
    # removal (a hold or an upload may have come since the plan), mark it and
    # destroy its documents' keys.
    with unit_of_work(runtime.sessions) as session:
        current = {facts.student_id: facts for facts in record_facts(
            session, zone, [facts.student_id for facts in batch])}
        going = [facts for facts in current.values() if removable(facts, as_of)]
        removals = [_mark_removing(session, facts, report.run_id) for facts in going]
        session.flush()
        objects = _destroy_keys(session, removals, zone)
    skipped = len(batch) - len(going)
    if skipped:
        report.counts["skipped_since_plan"] += skipped

    # Step 2: the objects, several at a time; a locked one waits in the table.
    locked = _delete_objects(runtime, [key for key, *_ in objects], now)

    # Step 3: the rows, tombstones and audit events, in one transaction; each
    # record in a savepoint, so that one that fails stays "removing" for the
    # next sweep without holding back the rest.
    with unit_of_work(runtime.sessions) as session:
        for key, district_id, record_type, record_id in objects:
            if key in locked:
                session.merge(PendingObject(
                    object_key=key, district_id=district_id, record_type=record_type,
                    record_id=record_id, locked_until=locked[key], attempts=0))
        for facts in going:
            _remove_rows_or_note(session, facts, report)
    report.counts["objects_deleted"] += len(objects) - len(locked)
    report.counts["objects_locked"] += len(locked)


def _mark_removing(session: Session, facts: RecordFacts,
                   run_id: int) -> RecordRemoval:
    removal = session.get(RecordRemoval, facts.student_id)
    if removal is None:
        removal = RecordRemoval(
            student_id=facts.student_id, district_id=facts.district_id,
            state=REMOVING, last_needed=facts.last_needed,
            retention_date=facts.retention_date, run_id=run_id)
        session.add(removal)
    elif removal.state != REMOVING:
        removal.state = REMOVING
        removal.last_needed = facts.last_needed
        removal.retention_date = facts.retention_date
        removal.run_id = run_id
        removal.started_at = utcnow()
        removal.finished_at = None
    return removal


def _destroy_keys(session: Session, removals: list[RecordRemoval],
                  zone: ZoneInfo) -> list[tuple]:
    """Destroy the wrapped keys of the records' documents and sealed packages (and
    the documents' text); returns their objects as (key, district, type, id).

    Only what was written up to the day each record was last needed: a later
    upload belongs to a newer record and keeps its key.
    """
    objects = []
    for removal in removals:
        cutoff = start_of_day(removal.last_needed + timedelta(days=1), zone)
        older = (EvidenceDocument.student_id == removal.student_id) & (
            EvidenceDocument.uploaded_at < cutoff)
        objects += [(key, district_id, "document", document_id)
                    for key, district_id, document_id in session.execute(
                        select(EvidenceDocument.object_key,
                               EvidenceDocument.district_id,
                               EvidenceDocument.id).where(older))]
        session.execute(update(EvidenceDocument).where(older)
                        .values(wrapped_key=DESTROYED_KEY, text_ciphertext=None))

        sealed = (SealedPackage.student_id == removal.student_id) & (
            SealedPackage.created_at < cutoff)
        for package in session.scalars(select(SealedPackage).where(sealed)):
            objects += [(key, package.district_id, "package", package.id)
                        for key in (package.object_key, package.signature_key) if key]
        session.execute(update(SealedPackage).where(sealed)
                        .values(wrapped_key=DESTROYED_KEY))
    return objects


def _delete_objects(runtime: Runtime, keys: list[str],
                    now: datetime) -> dict[str, datetime | None]:
    """Delete every version of each key; the keys still locked, with their dates."""
    def delete_one(key: str) -> tuple[str, bool]:
        try:
            runtime.store.delete(key, now=now)
        except ObjectLocked:
            return key, False
        return key, True

    locked = {}
    with ThreadPoolExecutor(max_workers=DELETE_WORKERS) as pool:
        for key, deleted in pool.map(delete_one, keys):
            if not deleted:
                locked[key] = None
    for key in locked:
        try:
            locked[key] = runtime.store.locked_until(key)
        except StorageError:
            log.warning("lock_date_unknown key=%s", key)
    return locked


def _remove_rows_or_note(session: Session, facts: RecordFacts,
                         report: SweepReport) -> None:
    counts = report.counts.copy()
    try:
        with session.begin_nested():
            _remove_rows(session, facts, report)
    except SQLAlchemyError as error:
        # The record keeps its "removing" mark (its keys are already gone), so
        # the next sweep tries it again; the run is reported as incomplete.
        report.counts = counts
        report.counts["records_failed"] += 1
        log.error("record_removal_failed run=%s student=%d error=%s", report.run_id,
                  facts.student_id, type(error).__name__)


def _remove_rows(session: Session, facts: RecordFacts, report: SweepReport) -> None:
    removal = session.get(RecordRemoval, facts.student_id)
    last_needed = removal.last_needed
    retention_date = removal.retention_date
    tombstone = dict(run_id=report.run_id, district_id=facts.district_id,
                     student_id=facts.student_id, retention_date=retention_date)

    documents = session.execute(
        select(EvidenceDocument.id, EvidenceDocument.sha256,
               EvidenceDocument.object_key)
        .where(EvidenceDocument.student_id == facts.student_id,
               EvidenceDocument.wrapped_key == DESTROYED_KEY)).all()
    for document_id, sha256, object_key in documents:
        session.add(Tombstone(record_type="document", record_id=document_id,
                              sha256=sha256, object_key=object_key, **tombstone))
    modules = session.execute(
        select(ModuleCompletion.id, ModuleCompletion.module)
        .where(ModuleCompletion.student_id == facts.student_id,
               ModuleCompletion.completed_on <= last_needed)).all()
    for module_id, module in modules:
        session.add(Tombstone(record_type="module_date", record_id=module,
                              **tombstone))
    exams = session.scalars(
        select(ExamResult.id).where(ExamResult.lasid == facts.lasid,
                                    ExamResult.taken_on <= last_needed)).all()
    for exam_id in exams:
        session.add(Tombstone(record_type="exam_result", record_id=str(exam_id),
                              **tombstone))
    # A sealed package's row stays beside its certificate; its manifest and
    # signature objects are gone and its key destroyed.
    packages = session.execute(
        select(SealedPackage.id, SealedPackage.sha256, SealedPackage.object_key)
        .where(SealedPackage.student_id == facts.student_id,
               SealedPackage.wrapped_key == DESTROYED_KEY)).all()
    already = set(session.scalars(
        select(Tombstone.record_id).where(Tombstone.record_type == "package",
                                          Tombstone.student_id == facts.student_id)))
    for package_id, sha256, object_key in packages:
        if package_id not in already:
            session.add(Tombstone(record_type="package", record_id=package_id,
                                  sha256=sha256, object_key=object_key, **tombstone))

    session.execute(delete(EvidenceDocument)
                    .where(EvidenceDocument.id.in_([d[0] for d in documents])))
    session.execute(delete(ModuleCompletion)
                    .where(ModuleCompletion.id.in_([m[0] for m in modules])))
    session.execute(delete(ExamResult).where(ExamResult.id.in_(exams)))

    student_gone = not facts.certificates and not _rows_left(session, facts)
    if student_gone:
        # Packages sealed for an audit, without a certificate, go with the
        # student; their tombstones above keep their ids and hashes.
        session.execute(delete(SealedPackage).where(
            SealedPackage.id.in_([package[0] for package in packages])))
        session.execute(delete(Student).where(Student.id == facts.student_id))
        session.add(Tombstone(record_type="student", record_id=str(facts.student_id),
                              **tombstone))
    removal.state = REMOVED
    removal.finished_at = utcnow()
    removal.certificates_kept = bool(facts.certificates)

    record_event(session, None, "record_removed", district_id=facts.district_id,
                 subject=("student_record", str(facts.student_id)),
                 run=report.run_id, retention_date=retention_date.isoformat(),
                 documents=len(documents), module_dates=len(modules),
                 exam_results=len(exams), packages=len(packages),
                 student_removed=student_gone)
    report.counts["records_removed"] += 1
    report.counts["documents"] += len(documents)
    report.counts["module_dates"] += len(modules)
    report.counts["exam_results"] += len(exams)
    report.counts["students"] += int(student_gone)
    report.counts["certificates_kept"] += facts.certificates


def _rows_left(session: Session, facts: RecordFacts) -> bool:
    """True when rows newer than the removal remain (a late upload, say)."""
    return any(session.scalar(select(exists().where(condition))) for condition in (
        EvidenceDocument.student_id == facts.student_id,
        ModuleCompletion.student_id == facts.student_id,
        ExamResult.lasid == facts.lasid,
        (SealedPackage.student_id == facts.student_id)
        & (SealedPackage.wrapped_key != DESTROYED_KEY),
    ))


def retention_state(session: Session, student: Student) -> RecordRemoval | None:
    """The record's removal, if the sweep has touched it."""
    return session.get(RecordRemoval, student.id)
