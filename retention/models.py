"""Retention's records: legal holds, removals in flight, tombstones, sweep runs.

Nothing here holds personal data: records are named by internal ids (a
student's row id, a document's opaque id), never by LASID or name. A hold's
`ref` is what the person who placed it named (a district code, a LASID, a
package id) so that it can be shown back to them; it goes when the hold's
record goes.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from vault.models import Base, created, int_pk, sha256_hex

HOLD_SCOPES = ("district", "student", "package")


class LegalHold(Base):
    """A hold that keeps a district's, a student's or a package's record.

    `district_id` and `student_id` are resolved when the hold is placed, so
    that the sweep finds what is held without parsing `ref`. A hold is lifted,
    never deleted: who lifted it and when stay on the row.
    """

    __tablename__ = "legal_holds"
    __table_args__ = (Index("ix_legal_holds_active", "lifted_at", "district_id"),)

    id: Mapped[int_pk]
    scope: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str] = mapped_column(String(64))
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    student_id: Mapped[int | None] = mapped_column(Integer, index=True)
    reason: Mapped[str] = mapped_column(String(500))
    placed_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    placed_at: Mapped[created]
    lifted_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    lifted_at: Mapped[datetime | None]

    @property
    def active(self) -> bool:
        return self.lifted_at is None


class RecordRemoval(Base):
    """A student's record on its way out ("removing") or gone ("removed").

    The row is committed with the destruction of the keys, so a sweep that dies
    half-way leaves a "removing" row that the next sweep finishes. What goes is
    what the record held up to `last_needed`: anything dated later belongs to
    a newer record and stays.
    """

    __tablename__ = "retention_removals"

    student_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    last_needed: Mapped[date]
    retention_date: Mapped[date]
    run_id: Mapped[int | None] = mapped_column(ForeignKey("sweep_runs.id"))
    started_at: Mapped[created]
    finished_at: Mapped[datetime | None]
    certificates_kept: Mapped[bool] = mapped_column(Boolean, default=False)


class Tombstone(Base):
    """What remains of one removed record: ids, a hash, dates and the reason."""

    __tablename__ = "tombstones"

    id: Mapped[int_pk]
    run_id: Mapped[int | None] = mapped_column(ForeignKey("sweep_runs.id"),
                                               index=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    student_id: Mapped[int] = mapped_column(Integer, index=True)
    record_type: Mapped[str] = mapped_column(String(24))
    record_id: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str | None] = mapped_column(String(64))
    object_key: Mapped[str | None] = mapped_column(String(64))
    retention_date: Mapped[date]
    removed_at: Mapped[created]
    reason: Mapped[str] = mapped_column(String(40), default="retention_expired")
    receipt_id: Mapped[int | None] = mapped_column(
        ForeignKey("retention_receipts.id"), index=True)


class PendingObject(Base):
    """An object whose key is destroyed but which the store still keeps locked.

    On S3 the server's clock governs Object Lock: an object swept early by
    `--as-of` stays (unreadable) until its lock lapses, and the first sweep
    after that removes it and this row.
    """

    __tablename__ = "retention_pending_objects"

    object_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    record_type: Mapped[str] = mapped_column(String(24))
    record_id: Mapped[str] = mapped_column(String(64))
    locked_until: Mapped[datetime | None]
    recorded_at: Mapped[created]
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class SweepRun(Base):
    """One sweep: when, as of which day, how it ended and what it removed."""

    __tablename__ = "sweep_runs"

    id: Mapped[int_pk]
    started_at: Mapped[created]
    finished_at: Mapped[datetime | None]
    as_of: Mapped[date]
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    trigger: Mapped[str] = mapped_column(String(16), default="command")
    status: Mapped[str] = mapped_column(String(16), default="running")
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(String(200))


class SweepReceipt(Base):
    """A signed receipt of one sweep for one district, kept in write-once storage."""

    __tablename__ = "retention_receipts"

    id: Mapped[int_pk]
    run_id: Mapped[int] = mapped_column(ForeignKey("sweep_runs.id"), index=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    object_key: Mapped[str] = mapped_column(String(64), unique=True)
    sha256: Mapped[sha256_hex]
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    retain_until: Mapped[datetime | None]
    created_at: Mapped[created]


class SweepLease(Base):
    """The SQLite stand-in for an advisory lock: one row, held until it expires."""

    __tablename__ = "retention_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime | None]


__all__ = [
    "HOLD_SCOPES",
    "LegalHold",
    "PendingObject",
    "RecordRemoval",
    "SweepLease",
    "SweepReceipt",
    "SweepRun",
    "Tombstone",
]
