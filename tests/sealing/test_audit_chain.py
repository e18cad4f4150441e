"""The audit log's hash chain: `vault audit verify` names the first bad event."""

import io
import json

import pytest

from sqlalchemy import select, text

from tests.sealing.conftest import LASID
from vault.audit import CHECKPOINT_PREFIX, AuditChainHead, event_hash, verify_chain
from vault.models import AuditEvent


def verify(vault_command):
    result = vault_command("audit", "verify")
    return result.exit_code, result.output


def run_sql(runtime, statement: str, **values) -> None:
    with runtime.engine.begin() as connection:
        connection.execute(text(statement), values)


def test_an_intact_log_verifies_and_says_how_much_it_checked(world, sealed, runtime,
                                                             vault_command):
    code, output = verify(vault_command)
    assert code == 0, output
    with runtime.sessions() as session:
        count = len(session.scalars(select(AuditEvent)).all())
    assert f"{count} event(s) checked" in output
    assert "INTACT" in output


def test_reads_and_changes_are_chained_events(world, sealed, runtime):
    world.call("GET", f"/api/v1/documents/{sealed.document_ids[0]}/content",
               sealed.auditor)
    world.call("GET", f"/api/v1/students/{LASID}", sealed.staff)
    with runtime.sessions() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    actions = [event.action for event in events]
    for action in ("student_enrolled", "document_uploaded", "module_recorded",
                   "exam_result_recorded", "certificate_issued", "package_sealed",
                   "document_read", "student_read"):
        assert action in actions
    assert [event.seq for event in events] == list(range(1, len(events) + 1))
    assert all(later.prev_hash == earlier.hash
               for earlier, later in zip(events, events[1:]))


def test_an_edited_row_is_named(world, sealed, runtime, vault_command):
    run_sql(runtime, "UPDATE audit_events SET address = '203.0.113.9' WHERE seq = 3")
    code, output = verify(vault_command)
    assert code == 1
    assert "(#3," in output and "edited" in output


def test_an_edited_detail_is_named(world, sealed, runtime, vault_command):
    run_sql(runtime, "UPDATE audit_events SET action = 'student_updated' "
                     "WHERE seq = 5")
    code, output = verify(vault_command)
    assert code == 1 and "(#5," in output


def test_a_deleted_row_is_named(world, sealed, runtime, vault_command):
    run_sql(runtime, "DELETE FROM audit_events WHERE seq = 4")
    code, output = verify(vault_command)
    assert code == 1
    assert "event #4 is missing" in output


def test_reordered_rows_are_named(world, sealed, runtime, vault_command):
    run_sql(runtime, "UPDATE audit_events SET seq = -1 WHERE seq = 3")
    run_sql(runtime, "UPDATE audit_events SET seq = 3 WHERE seq = 6")
    run_sql(runtime, "UPDATE audit_events SET seq = 6 WHERE seq = -1")
    code, output = verify(vault_command)
    assert code == 1
    assert "(#3," in output


def test_a_deleted_tail_is_found(world, sealed, runtime, vault_command):
    with runtime.sessions() as session:
        last = session.scalar(select(AuditChainHead.seq))
    run_sql(runtime, "DELETE FROM audit_events WHERE seq = :seq", seq=last)
    code, output = verify(vault_command)
    assert code == 1 and "events at the end were deleted" in output


def test_a_rewritten_chain_is_caught_by_the_signed_checkpoint(world, sealed, runtime,
                                                              vault_command):
    """Someone edits a row and recomputes every hash after it: only the
    checkpoint in write-once storage can tell."""
    with runtime.sessions() as session, session.begin():
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        events[1].address = "198.51.100.7"
        prev = events[0].hash
        for event in events[1:]:
            event.prev_hash = prev
            prev = event.hash = event_hash(event, prev)
        session.execute(text("UPDATE audit_chain_head SET hash = :h"), {"h": prev})

    code, output = verify(vault_command)
    assert code == 1
    assert "checkpoint" in output and "rewritten" in output


def test_deleting_the_checkpoint_rows_hides_no_checkpoint(world, sealed, runtime,
                                                          vault_command):
    """The rows that point to the checkpoints are deleted and the chain rewritten:
    the checkpoints themselves are still listed in write-once storage."""
    with runtime.sessions() as session, session.begin():
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        events[1].details = {"exam": "regional_core", "passed": False}
        prev = events[0].hash
        for event in events[1:]:
            event.prev_hash = prev
            prev = event.hash = event_hash(event, prev)
        session.execute(text("UPDATE audit_chain_head SET hash = :h"), {"h": prev})
        session.execute(text("DELETE FROM audit_checkpoints"))

    code, output = verify(vault_command)

    assert code == 1
    assert "checkpoint object auditcheckpoint" in output and "rewritten" in output


def test_a_checkpoint_is_stored_as_signed_plaintext_without_names(world, sealed,
                                                                  runtime):
    keys = list(runtime.store.keys(CHECKPOINT_PREFIX))
    assert len(keys) == 1
    with runtime.store.open(keys[0]) as stream:
        document = json.loads(stream.read())

    assert set(document) == {"checkpoint", "signature", "public_key"}
    assert document["checkpoint"]["seq"] > 0
    assert "Jordan" not in json.dumps(document)


@pytest.mark.parametrize("seq", [None, 0, -1])
def test_a_row_written_around_the_vault_is_named_and_never_chained(
        world, sealed, runtime, vault_command, seq):
    run_sql(runtime, "INSERT INTO audit_events (at, action, address, details, seq) "
                     "VALUES (:at, 'document_read', '192.0.2.9', '{}', :seq)",
            at="2026-12-01 10:00:00.000000", seq=seq)
    world.call("GET", f"/api/v1/students/{LASID}", sealed.staff)  # a commit

    code, output = verify(vault_command)

    assert code == 1
    assert "1 event row(s) have no place in the chain" in output


@pytest.mark.parametrize("body", [b'{"checkpoint": {}, "public_key": 5}',
                                  b"[" * 60_000, b" " * 70_000, b"\xff\xfe"])
def test_a_forged_checkpoint_object_of_any_shape_is_named(world, sealed, runtime,
                                                          vault_command, body):
    runtime.store.put(f"{CHECKPOINT_PREFIX}000000000001forged", io.BytesIO(body))

    code, output = verify(vault_command)

    assert code == 1
    assert "checkpoint object auditcheckpoint000000000001forged cannot be " \
        "authenticated" in output


def test_a_checkpoint_is_written_on_demand(world, sealed, runtime, vault_command):
    made = vault_command("audit", "checkpoint")
    assert made.exit_code == 0, made.output
    with runtime.sessions() as session:
        report = verify_chain(runtime, session)
    assert report.intact, report.problems
    assert report.checkpoints == 2  # the seal's and this one


def test_the_log_holds_ids_not_names(world, sealed, runtime):
    with runtime.sessions() as session:
        rows = session.scalars(select(AuditEvent)).all()
    dumped = repr([(row.details, row.subject_type, row.subject_id) for row in rows])
    assert "Jordan" not in dumped and "Rivera" not in dumped


def test_concurrent_commits_append_one_after_another(runtime):
    """Eight writers at once: one unbroken chain, no seq given twice."""
    from concurrent.futures import ThreadPoolExecutor

    from vault.audit import record_event
    from vault.db import unit_of_work

    def write(number: int) -> None:
        for _ in range(5):
            with unit_of_work(runtime.sessions) as session:
                record_event(session, None, "concurrency_probe", writer=number)
                record_event(session, None, "concurrency_probe", writer=number)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(8)))

    with runtime.sessions() as session:
        report = verify_chain(runtime, session)
        seqs = session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
    assert report.intact, report.problems
    assert seqs == list(range(1, 81))
