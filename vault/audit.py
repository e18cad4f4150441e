"""The audit log: every read of a record and every change, appended as data.

The log is a hash chain. Each event's `hash` covers its own fields, its place
`seq` and `prev_hash`, the hash of the event before it; so an edited, deleted
or reordered row breaks the chain at that row, and `verify_chain` names it.

Events take their place in the chain when their transaction commits: a
`before_commit` hook locks the one-row chain head, numbers the session's new
events after it and moves the head. The lock is held only while the commit
runs, so concurrent requests append one after another. A row that reached the
table some other way has no place in the chain, and `verify_chain` says so.

Checkpoints sign the head (seq and hash) with the vault's Ed25519 key and keep
it in write-once storage: a rewrite of the table from some row on, hashes and
all, cannot match a checkpoint taken after that row. One is written when a
package is sealed, by `vault audit checkpoint`, and by `checkpoint_if_due` (the
daily job). A checkpoint holds no personal data, so it is stored as signed
plaintext under a key that starts with CHECKPOINT_PREFIX: `verify_chain` finds
every one by listing the store, so deleting the checkpoint rows hides none.
(Checkpoints written before that are encrypted and found through their rows.)

The log holds ids, codes and counts: no document contents, no names.
"""

import base64
import hashlib
import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography.exceptions import InvalidSignature
from sqlalchemy import Integer, String, event, false, func, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from retention.dates import years_after
from vault.errors import VaultError
from vault.models import AuditEvent, Base, EncryptedObject, Person, new_id, utcnow

log = logging.getLogger(__name__)

GENESIS = "0" * 64
HEAD_ID = 1
PENDING = "vault_audit_pending"
CHECKPOINT_FORMAT = "mec-vault-audit-checkpoint/1"
CHECKPOINT_EVERY = timedelta(days=1)
CHECKPOINT_YEARS = 2
CHECKPOINT_PREFIX = "auditcheckpoint"
VERIFY_BATCH = 1000
# A checkpoint is a few hundred bytes; anything far larger is not one.
MAX_CHECKPOINT_BYTES = 64 * 1024


class AuditChainHead(Base):
    """The newest event's place and hash: the one row every commit appends after."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(EncryptedObject, Base):
    """A signed copy of the chain head, kept in write-once storage (plaintext,
    with no wrapped key; encrypted for checkpoints of before that)."""

    __tablename__ = "audit_checkpoints"

    wrapped_key: Mapped[bytes | None]
    key_version: Mapped[int | None] = mapped_column(Integer)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, index=True)
    head_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(String(20))
    signing_key_version: Mapped[int] = mapped_column(Integer)
    signing_key_fingerprint: Mapped[str] = mapped_column(String(64))
    retain_until: Mapped[datetime]


def record_event(
    session: Session,
    actor: Person | None,
    action: str,
    *,
    district_id: int | None = None,
    subject: tuple[str, str] | None = None,
    address: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Append one event; `details` holds ids and counts, never names or contents."""
    subject_type, subject_id = subject or (None, None)
    event = AuditEvent(
        at=utcnow(),
        actor_id=actor.id if actor else None,
        action=action,
        district_id=district_id,
        subject_type=subject_type,
        subject_id=str(subject_id) if subject_id is not None else None,
        address=address,
        # As the database will give it back, so that the hash is recomputable.
        details=json.loads(json.dumps(details)),
    )
    session.add(event)
    session.info.setdefault(PENDING, []).append(event)
    return event


def student_subject(student) -> tuple[str, str]:
    """How an event names a student: by the vault's own id, never the LASID, so
    that once the record is removed the log no longer says whose it was."""
    return ("student_record", str(student.id))


def event_hash(event: AuditEvent, prev_hash: str) -> str:
    """SHA-256 over the event's canonical fields and the hash before it."""
    fields = {
        "seq": event.seq,
        "prev": prev_hash,
        "at": _instant(event.at),
        "actor_id": event.actor_id,
        "action": event.action,
        "district_id": event.district_id,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "address": event.address,
        "details": event.details,
    }
    return hashlib.sha256(canonical_json(fields)).hexdigest()


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the one byte form that is signed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False).encode("utf-8")


def _instant(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


@event.listens_for(Session, "before_commit")
def _chain_new_events(session: Session) -> None:
    """Give this transaction's events their places after the chain head."""
    pending = [item for item in session.info.pop(PENDING, [])
               if item in session and item.seq is None]
    if not pending:
        return

    with session.no_autoflush:
        # Writing the head first takes its lock (a row lock on PostgreSQL, the
        # write lock on SQLite) before the head is read.
        session.execute(update(AuditChainHead).where(AuditChainHead.id == HEAD_ID)
                        .values(seq=AuditChainHead.seq))
        seq, head = session.execute(
            select(AuditChainHead.seq, AuditChainHead.hash)
            .where(AuditChainHead.id == HEAD_ID)).one()

    for item in pending:
        seq += 1
        item.seq, item.prev_hash = seq, head
        head = item.hash = event_hash(item, head)
    session.execute(update(AuditChainHead).where(AuditChainHead.id == HEAD_ID)
                    .values(seq=seq, hash=head))


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    session.info.pop(PENDING, None)


def chain_head(session: Session) -> tuple[int, str]:
    """The committed head: the newest chained event's seq and hash."""
    seq, head = session.execute(
        select(AuditChainHead.seq, AuditChainHead.hash)
        .where(AuditChainHead.id == HEAD_ID)).one()
    return seq, head


def events_query(district_id: int | None = None,
                 subjects: list[tuple[str, str]] | None = None,
                 actions: tuple[str, ...] | None = None):
    """Events of a district and/or about some subjects, newest first."""
    query = select(AuditEvent).order_by(AuditEvent.seq.desc().nulls_first(),
                                        AuditEvent.id.desc())
    if district_id is not None:
        query = query.where(AuditEvent.district_id == district_id)
    if subjects is not None:
        by_type: dict[str, list[str]] = {}
        for subject_type, subject_id in subjects:
            by_type.setdefault(subject_type, []).append(str(subject_id))
        clauses = [(AuditEvent.subject_type == kind) & AuditEvent.subject_id.in_(ids)
                   for kind, ids in by_type.items()]
        query = query.where(or_(*clauses) if clauses else false())
    if actions is not None:
        query = query.where(AuditEvent.action.in_(actions))
    return query


def event_json(item: AuditEvent, emails: dict[int, str]) -> dict:
    return {
        "seq": item.seq,
        "at": _instant(item.at),
        "actor": emails.get(item.actor_id) if item.actor_id else None,
        "action": item.action,
        "subject_type": item.subject_type,
        "subject_id": item.subject_id,
        "address": item.address,
        "details": item.details,
        "hash": item.hash,
    }


# Checkpoints ---------------------------------------------------------------


def write_checkpoint(runtime, session: Session, reason: str) -> AuditCheckpoint:
    """Sign the committed chain head and keep it in write-once storage."""
    from vault.sealing import retain_until_day

    seq, head = chain_head(session)
    signing_key = runtime.signing_key
    now = utcnow()
    body = {"format": CHECKPOINT_FORMAT, "seq": seq, "hash": head,
            "at": _instant(now),
            "signing_key": {"version": signing_key.version,
                            "fingerprint": signing_key.fingerprint}}
    signed = canonical_json(body)
    document = canonical_json({
        "checkpoint": body,
        "signature": base64.b64encode(signing_key.sign(signed)).decode(),
        "public_key": signing_key.public_pem()})

    retain_until = retain_until_day(runtime, years_after(runtime.today(),
                                                         CHECKPOINT_YEARS))
    object_key = f"{CHECKPOINT_PREFIX}{seq:012d}{new_id()}"
    runtime.track_new_object(session, object_key)
    runtime.store.put(object_key, io.BytesIO(document), retain_until=retain_until)
    checkpoint = AuditCheckpoint(
        seq=seq, head_hash=head, created_at=now, reason=reason,
        signing_key_version=signing_key.version,
        signing_key_fingerprint=signing_key.fingerprint, retain_until=retain_until,
        object_key=object_key, wrapped_key=None, key_version=None,
        sha256=hashlib.sha256(document).hexdigest(), size=len(document))
    session.add(checkpoint)
    session.flush()
    log.info("audit_checkpoint_written seq=%d reason=%s", seq, reason)
    return checkpoint


def checkpoint_if_due(runtime, session: Session,
                      every: timedelta = CHECKPOINT_EVERY) -> AuditCheckpoint | None:
    """A checkpoint when the newest one is older than `every` (the daily job)."""
    newest = session.scalar(select(AuditCheckpoint.created_at)
                            .order_by(AuditCheckpoint.created_at.desc()).limit(1))
    if newest is not None and utcnow() - newest < every:
        return None
    return write_checkpoint(runtime, session, "daily")


# Verification --------------------------------------------------------------


@dataclass
class ChainReport:
    """What `verify_chain` found: counts, and the problems in chain order."""

    events: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def verify_chain(runtime, session: Session,
                 progress: Callable[[int], None] | None = None) -> ChainReport:
    """Recompute every event's hash in chain order and check the checkpoints.

    The first event that does not match is named; later problems that follow
    from it are not repeated, but every checkpoint is still checked.
    """
    report = ChainReport()
    checkpoints = _checkpoints_by_seq(runtime, session, report)
    expected_seq, prev = 0, GENESIS
    chain_broken = False
    seen_hashes = {0: GENESIS}

    for item in _chained_events(session):
        report.events += 1
        expected_seq += 1
        if progress is not None:
            progress(1)
        if chain_broken:
            seen_hashes[item.seq] = item.hash
            continue
        problem = _event_problem(item, expected_seq, prev)
        if problem:
            report.problems.append(problem)
            chain_broken = True
        prev = item.hash
        seen_hashes[item.seq] = item.hash

    seq, head = chain_head(session)
    if not chain_broken and (seq, head) != (expected_seq, prev):
        report.problems.append(
            f"the chain head says event #{seq} with hash {head[:12]}…, but the "
            f"table ends at event #{expected_seq}: events at the end were deleted "
            f"or the head was changed")

    for checkpoint_seq, found in sorted(checkpoints.items()):
        for name, signed_hash in found:
            report.checkpoints += 1
            if seen_hashes.get(checkpoint_seq) != signed_hash:
                report.problems.append(
                    f"{name} signed event #{checkpoint_seq} with "
                    f"hash {signed_hash[:12]}…, which the table no longer has: the "
                    f"log was rewritten at or before event #{checkpoint_seq}")

    # Every row the vault writes has a place in 1..head by the time it commits.
    outside = session.scalar(select(func.count()).select_from(AuditEvent).where(
        or_(AuditEvent.seq.is_(None), AuditEvent.seq < 1)))
    if outside:
        report.problems.append(
            f"{outside} event row(s) have no place in the chain (no seq, or one "
            f"below 1): they were written around the vault, not by it")
    return report


def _chained_events(session: Session) -> Iterator[AuditEvent]:
    """Every chained event in seq order, read in batches."""
    last = 0
    while True:
        batch = session.scalars(select(AuditEvent).where(AuditEvent.seq > last)
                                .order_by(AuditEvent.seq).limit(VERIFY_BATCH)).all()
        if not batch:
            return
        yield from batch
        last = batch[-1].seq


def _event_problem(item: AuditEvent, expected_seq: int, prev: str) -> str | None:
    name = f"event id {item.id} (#{item.seq}, {item.action}, {_instant(item.at)})"
    if item.seq != expected_seq:
        return (f"event #{expected_seq} is missing: {name} follows event "
                f"#{expected_seq - 1}; a row was deleted or renumbered there")
    if item.prev_hash != prev:
        return (f"{name} does not link to the event before it: a row before it "
                f"was deleted, moved or edited")
    if event_hash(item, prev) != item.hash:
        return f"{name} does not match its hash: the row was edited or moved"
    return None


def _checkpoints_by_seq(runtime, session: Session,
                        report: ChainReport) -> dict[int, list[tuple[str, str]]]:
    """Each checkpoint's signed (name, hash) by seq, read from write-once storage;
    a checkpoint whose stored copy fails is a problem of its own.

    Every checkpoint object the store lists counts, with a row or without one
    (rows deleted, or a transaction that rolled back after the store took it).
    """
    from vault.crypto import fingerprint, signing_public_keys

    known = {fingerprint(key) for key in signing_public_keys(
        runtime.settings.key_dir, runtime.settings.signing_key).values()}
    rows = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id)).all()
    sources = [(f"checkpoint {row.id}", row) for row in rows]
    with_rows = {row.object_key for row in rows}
    sources += [(f"checkpoint object {key}", key)
                for key in sorted(runtime.store.keys(CHECKPOINT_PREFIX))
                if key not in with_rows]

    found: dict[int, list[tuple[str, str]]] = {}
    for name, source in sources:
        try:
            body, signer = _signed_checkpoint(runtime, source)
        except (VaultError, InvalidSignature, ValueError, LookupError, TypeError,
                AttributeError, RecursionError) as error:
            report.problems.append(f"{name} cannot be authenticated: "
                                   f"{type(error).__name__} {error}".rstrip())
            continue
        if signer not in known:
            report.problems.append(f"{name} is signed by a key the vault never had")
            continue
        found.setdefault(body["seq"], []).append((name, body["hash"]))
    return found


def _signed_checkpoint(runtime, source: "AuditCheckpoint | str") -> tuple[dict, str]:
    """A checkpoint's signed body and its signer's fingerprint, from the store.

    Raises VaultError, InvalidSignature, ValueError, LookupError, TypeError,
    AttributeError or RecursionError when the stored copy is missing,
    unreadable, of another shape or not signed as it says.
    """
    from vault.crypto import fingerprint, load_public_pem
    from vault.sealing import read_sealed

    if isinstance(source, str) or source.wrapped_key is None:
        key = source if isinstance(source, str) else source.object_key
        with runtime.store.open(key) as stream:
            data = stream.read(MAX_CHECKPOINT_BYTES + 1)
    else:
        data = read_sealed(runtime, source, source.object_key)
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise ValueError("it is larger than a checkpoint can be")

    document = json.loads(data)
    body = document["checkpoint"]
    key = load_public_pem(document["public_key"].encode())
    key.verify(base64.b64decode(document["signature"]), canonical_json(body))
    if not isinstance(body["seq"], int) or not isinstance(body["hash"], str):
        raise ValueError("the checkpoint names no event")
    return body, fingerprint(key)
