"""The sweep removes a record the day after its retention date, never before."""

import itertools
import threading
from datetime import date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from retention.models import (
    PendingObject,
    RecordRemoval,
    SweepReceipt,
    SweepRun,
    Tombstone,
)
from retention.receipts import read_receipt, signature_holds
from tests.conftest import CHICAGO, small_pdf
from tests.retention.conftest import (
    DAY_AFTER,
    LASID,
    OTHER_LASID,
    RETAINED_THROUGH,
    object_keys,
    stored_versions,
    sweep,
)
from vault.audit import verify_chain
from vault.errors import ObjectLocked
from vault.fsck import check_store
from vault.models import (
    AuditEvent,
    EvidenceDocument,
    ExamResult,
    ModuleCompletion,
    Student,
)


def count(runtime, query) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(query.subquery()))


def test_kept_through_the_last_day_then_removed(school, runtime):
    document_ids = school.record()
    keys = object_keys(runtime)
    student = school.world.call("GET", f"/api/v1/students/{LASID}", school.uploader)
    assert student.json["retention_date"] == RETAINED_THROUGH.isoformat()

    last_day = sweep(runtime, RETAINED_THROUGH)
    assert last_day.counts["records"] == 0
    assert all(stored_versions(runtime, key) == 1 for key in keys)

    dry = sweep(runtime, DAY_AFTER, dry_run=True)
    assert [facts.lasid for facts in dry.records] == [LASID]
    assert dry.counts["documents"] == 3 and dry.counts["module_dates"] == 4
    assert all(stored_versions(runtime, key) == 1 for key in keys)
    for document_id in document_ids:
        content = school.world.call("GET", f"/api/v1/documents/{document_id}/content",
                                    school.uploader)
        assert content.status_code == 200

    real = sweep(runtime, DAY_AFTER)
    assert real.counts["documents"] == 3
    assert real.counts["module_dates"] == 4 and real.counts["exam_results"] == 1
    assert real.counts["students"] == 1 and real.counts["objects_deleted"] == 3
    assert all(stored_versions(runtime, key) == 0 for key in keys)
    assert set(runtime.store.keys()).isdisjoint(keys)
    for document_id in document_ids:
        gone = school.world.call("GET", f"/api/v1/documents/{document_id}/content",
                                 school.uploader)
        assert gone.status_code == 404
    assert school.world.call("GET", f"/api/v1/students/{LASID}",
                             school.uploader).status_code == 404
    assert count(runtime, select(ExamResult).where(ExamResult.lasid == LASID)) == 0
    assert count(runtime, select(ModuleCompletion)) == 0

    with runtime.sessions() as session:
        tombstones = session.scalars(select(Tombstone)).all()
        assert sorted(t.record_id for t in tombstones
                      if t.record_type == "document") == sorted(document_ids)
        assert {t.record_type for t in tombstones} == {
            "document", "module_date", "exam_result", "student"}
        assert all(t.retention_date == RETAINED_THROUGH for t in tombstones)
        event = session.scalar(select(AuditEvent)
                               .where(AuditEvent.action == "record_removed"))
        assert event.details["documents"] == 3 and LASID not in str(event.details)
        run = session.get(SweepRun, real.run_id)
        assert run.status == "finished" and run.counts["documents"] == 3
        receipt = session.scalar(select(SweepReceipt))
    document = read_receipt(runtime, receipt)
    assert signature_holds(document)
    assert {r["id"] for r in document["receipt"]["records"]} >= set(document_ids)
    assert "Jordan" not in str(document) and LASID not in str(document)
    with pytest.raises(ObjectLocked):
        runtime.store.delete(receipt.object_key)

    again = sweep(runtime, DAY_AFTER)
    assert again.counts["records"] == 0 and again.counts["receipts"] == 0

    # Afterwards the store and the rows agree, and the audit chain holds.
    with runtime.sessions() as session:
        store_report = check_store(runtime, session, grace=timedelta(0))
        chain = verify_chain(runtime, session)
    assert store_report.consistent and not store_report.orphans, store_report
    assert chain.intact, chain.problems
    assert chain.events > 0


def test_a_newer_event_moves_the_date(school, runtime, world):
    school.record()
    school.record(OTHER_LASID)
    with time_machine.travel(datetime(2027, 1, 5, 23, 30, tzinfo=CHICAGO), tick=True):
        late = world.upload(school.uploader, OTHER_LASID, "sa_round2", small_pdf())
        assert late.status_code == 201
    later = world.call("GET", f"/api/v1/students/{OTHER_LASID}", school.uploader)
    assert later.json["retention_date"] == "2029-01-05"

    assert [facts.lasid for facts in sweep(runtime, DAY_AFTER).records] == [LASID]
    assert sweep(runtime, date(2029, 1, 5)).counts["records"] == 0
    report = sweep(runtime, date(2029, 1, 6))
    assert report.counts["records"] == 1 and report.counts["documents"] == 4


def test_a_hold_keeps_a_due_record_until_it_is_lifted(school, runtime, world):
    held_keys = None
    school.record()
    school.record(OTHER_LASID)
    held_keys = object_keys(runtime, LASID)

    placed = school.hold("student", LASID)
    assert placed.status_code == 201, placed.json
    second = school.hold("district", "D1", token=school.operator)
    assert second.status_code == 201

    report = sweep(runtime, DAY_AFTER)
    assert report.counts["records"] == 0 and report.counts["held"] == 2
    assert all(stored_versions(runtime, key) == 1 for key in held_keys)

    lifted = world.call("DELETE", f"/api/v1/holds/{second.json['id']}",
                        school.operator)
    assert lifted.status_code == 204
    report = sweep(runtime, DAY_AFTER)
    assert [facts.lasid for facts in report.records] == [OTHER_LASID]
    assert all(stored_versions(runtime, key) == 1 for key in held_keys)
    content = world.call("GET", f"/api/v1/students/{LASID}", school.uploader)
    assert len(content.json["documents"]) == 3

    assert world.call("DELETE", f"/api/v1/holds/{placed.json['id']}",
                      school.auditor).status_code == 204
    report = sweep(runtime, DAY_AFTER)
    assert [facts.lasid for facts in report.records] == [LASID]
    assert all(stored_versions(runtime, key) == 0 for key in held_keys)


class Killed(Exception):
    """Stands for the process dying half-way through a batch."""


def test_a_sweep_killed_half_way_is_finished_by_the_next(school, runtime,
                                                         monkeypatch):
    school.record(documents=3)
    school.record(OTHER_LASID, documents=3)
    keys = object_keys(runtime, LASID) + object_keys(runtime, OTHER_LASID)
    calls = itertools.count(1)
    counting = threading.Lock()
    real_delete = runtime.store.delete

    def dies_after_four(key, *, now=None):
        with counting:
            call = next(calls)
        if call > 4:
            raise Killed(key)
        real_delete(key, now=now)

    monkeypatch.setattr(runtime.store, "delete", dies_after_four)
    with pytest.raises(Killed):
        sweep(runtime, DAY_AFTER)
    monkeypatch.setattr(runtime.store, "delete", real_delete)

    with runtime.sessions() as session:
        assert set(session.scalars(select(RecordRemoval.state))) == {"removing"}
        keys_left = session.scalars(select(EvidenceDocument.wrapped_key)).all()
        assert len(keys_left) == 6 and set(keys_left) == {b""}
        assert session.scalar(select(SweepRun.status)) == "failed"
    assert sum(stored_versions(runtime, key) for key in keys) == 2

    report = sweep(runtime, DAY_AFTER)
    assert report.counts["records"] == 2 and report.counts["documents"] == 6
    assert all(stored_versions(runtime, key) == 0 for key in keys)
    with runtime.sessions() as session:
        assert set(session.scalars(select(RecordRemoval.state))) == {"removed"}
        assert session.scalar(select(func.count()).select_from(Tombstone).where(
            Tombstone.record_type == "document")) == 6
        assert session.scalar(select(func.count()).select_from(Student)) == 0


def test_an_object_still_locked_waits_unreadable_for_a_later_sweep(
        school, runtime, monkeypatch):
    """On S3 the server's clock governs the lock: the key goes now, the object
    when the lock lapses (the same on the folder when its clock says so)."""
    school.record(documents=1)
    [key] = object_keys(runtime)
    real_delete = runtime.store.delete
    refuse = {"on": True}

    def locked_for_now(object_key, *, now=None):
        if refuse["on"]:
            raise ObjectLocked(f"Object {object_key} is locked.")
        real_delete(object_key, now=now)

    monkeypatch.setattr(runtime.store, "delete", locked_for_now)
    first = sweep(runtime, DAY_AFTER)
    assert first.counts["documents"] == 1 and first.counts["objects_locked"] == 1
    with runtime.sessions() as session:
        assert session.scalar(select(PendingObject.object_key)) == key
        assert session.scalar(select(func.count()).select_from(EvidenceDocument)) == 0
    assert stored_versions(runtime, key) == 1

    still = sweep(runtime, DAY_AFTER)
    assert still.counts["objects_still_locked"] == 1
    with runtime.sessions() as session:
        waiting = check_store(runtime, session, grace=timedelta(0))
    assert waiting.awaiting_removal == [key] and waiting.consistent

    refuse["on"] = False
    later = sweep(runtime, DAY_AFTER)
    assert later.counts["pending_objects_removed"] == 1
    assert stored_versions(runtime, key) == 0
    with runtime.sessions() as session:
        assert session.scalar(select(PendingObject.object_key)) is None


def test_a_swept_certificate_package_answers_gone(school, runtime):
    school.record()
    issued = school.world.call("POST", f"/api/v1/students/{LASID}/certificates",
                               school.operator, json={"level": "regional_core"})
    assert issued.status_code == 201, issued.json
    package = f"/api/v1/packages/{issued.json['package_id']}"

    sweep(runtime, DAY_AFTER)

    for path in (package, f"{package}/download"):
        answer = school.world.call("GET", path, school.operator)
        assert answer.status_code == 410, (path, answer.data[:200])
        assert answer.json["error"]["code"] == "evidence_removed"
    with runtime.sessions() as session:
        report = check_store(runtime, session, grace=timedelta(0))
    assert not report.missing and not report.orphans, report


def seal_for_audit(runtime, lasid: str) -> str:
    from vault.sealing import seal_package
    from vault.db import unit_of_work

    with unit_of_work(runtime.sessions) as session:
        student = session.scalar(select(Student).where(Student.lasid == lasid))
        return seal_package(runtime, session, None, student, reason="audit").id


def test_a_record_sealed_for_an_audit_without_a_certificate_goes_whole(school,
                                                                       runtime):
    from vault.models import SealedPackage

    school.record()
    package_id = seal_for_audit(runtime, LASID)

    report = sweep(runtime, DAY_AFTER)

    assert report.counts["records_failed"] == 0
    assert report.counts["students"] == 1 and report.counts["documents"] == 3
    assert count(runtime, select(SealedPackage)) == 0
    assert count(runtime, select(Student)) == 0
    assert count(runtime, select(Tombstone).where(
        Tombstone.record_type == "package", Tombstone.record_id == package_id)) == 1
    assert school.world.call("GET", f"/api/v1/packages/{package_id}",
                             school.operator).status_code in (404, 410)
    with runtime.sessions() as session:
        assert verify_chain(runtime, session).intact


def test_a_record_that_fails_to_go_holds_back_no_other(school, runtime, monkeypatch):
    import retention.sweep as sweeping

    school.record()
    school.record(OTHER_LASID)
    remove_rows = sweeping._remove_rows

    def failing_for_one(session, facts, report):
        if facts.lasid == LASID:
            session.execute(select(func.count()).select_from(Student))
            raise sweeping.SQLAlchemyError("the database refused")
        remove_rows(session, facts, report)

    monkeypatch.setattr(sweeping, "_remove_rows", failing_for_one)
    first = sweep(runtime, DAY_AFTER)
    monkeypatch.setattr(sweeping, "_remove_rows", remove_rows)

    assert first.counts["records_failed"] == 1 and first.counts["students"] == 1
    with runtime.sessions() as session:
        assert session.get(SweepRun, first.run_id).status == "incomplete"
        states = dict(session.execute(
            select(Student.lasid, RecordRemoval.state)
            .join(RecordRemoval, RecordRemoval.student_id == Student.id)).all())
    assert states == {LASID: "removing"}

    second = sweep(runtime, DAY_AFTER)

    assert second.counts["records_failed"] == 0 and second.counts["students"] == 1
    assert count(runtime, select(Student)) == 0
    assert count(runtime, select(EvidenceDocument)) == 0


def test_once_removed_the_log_no_longer_says_whose_record_it_was(school, runtime):
    from vault.audit import verify_chain as chain_report

    school.record()
    school.world.call("GET", f"/api/v1/students/{LASID}", school.uploader)
    sweep(runtime, DAY_AFTER)

    with runtime.sessions() as session:
        rows = session.scalars(select(AuditEvent)).all()
        assert chain_report(runtime, session).intact
    dumped = repr([(row.subject_type, row.subject_id, row.details) for row in rows])
    assert LASID not in dumped
    assert "2026-10-01" not in dumped  # the module dates
    assert "passed" not in dumped
    events = school.world.call("GET", "/api/v1/audit/events?district=D1",
                               school.operator).json["events"]
    assert {event["lasid"] for event in events} == {None}


def test_a_removed_record_lingers_in_no_file_of_the_database(school, runtime):
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's files are its own to vacuum")
    school.record()
    school.world.enrol(school.uploader, OTHER_LASID)  # stays: not due
    sweep(runtime, DAY_AFTER)

    folder = runtime.settings.data_dir
    files = [path for path in folder.iterdir() if path.name.startswith("vault.sqlite")]
    assert files
    for path in files:
        assert LASID.encode() not in path.read_bytes(), path.name
