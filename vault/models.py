"""The vault's records: one declarative base, every column typed.

Students are keyed by LASID, the ten-digit state student id, kept as a string so
that leading zeros survive. Documents and certificates keep only ciphertext in
the object store; their rows hold the data key wrapped under a master key
version, never the key itself.
"""

import uuid
from datetime import date, datetime, timezone
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every database, SQLite included."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given for a UTC column")
            value = value.astimezone(timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


int_pk = Annotated[int, mapped_column(primary_key=True)]
opaque_pk = Annotated[str, mapped_column(String(32), primary_key=True, default=new_id)]
created = Annotated[datetime, mapped_column(default=utcnow)]
lasid_str = Annotated[str, mapped_column(String(10))]
sha256_hex = Annotated[str, mapped_column(String(64))]


class Base(DeclarativeBase):
    type_annotation_map = {
        datetime: UTCDateTime(),
        date: Date(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
        bytes: LargeBinary(),
    }


class District(Base):
    """A school district or charter school, a tenant of the vault."""

    __tablename__ = "districts"

    id: Mapped[int_pk]
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    agreement_signed_on: Mapped[date | None]
    created_at: Mapped[created]


class Person(Base):
    """Someone with a personal login (or an API-only account)."""

    __tablename__ = "people"

    id: Mapped[int_pk]
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[created]

    grants: Mapped[list["DistrictGrant"]] = relationship(
        back_populates="person", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def district_ids(self) -> set[int]:
        return {grant.district_id for grant in self.grants}


class DistrictGrant(Base):
    """A district whose records a person may see: staff work there, auditors audit."""

    __tablename__ = "district_grants"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    district_id: Mapped[int] = mapped_column(
        ForeignKey("districts.id"), primary_key=True
    )

    person: Mapped[Person] = relationship(back_populates="grants")
    district: Mapped[District] = relationship(lazy="joined")


class ApiToken(Base):
    """A bearer token; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int_pk]
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    token_hash: Mapped[sha256_hex] = mapped_column(unique=True)
    created_at: Mapped[created]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    person: Mapped[Person] = relationship(lazy="joined")


class Student(Base):
    """A student of one district, known statewide by LASID."""

    __tablename__ = "students"
    # Events and tombstones name a removed student by id: SQLite must never
    # hand it out again (PostgreSQL's sequences never do).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int_pk]
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    lasid: Mapped[lasid_str] = mapped_column(unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    school: Mapped[str] = mapped_column(String(200))
    cohort: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[created]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    district: Mapped[District] = relationship(lazy="joined")
    modules: Mapped[list["ModuleCompletion"]] = relationship(
        back_populates="student", lazy="selectin", cascade="all, delete-orphan"
    )
    documents: Mapped[list["EvidenceDocument"]] = relationship(
        back_populates="student",
        lazy="selectin",
        order_by="EvidenceDocument.uploaded_at",
    )
    certificates: Mapped[list["Certificate"]] = relationship(
        back_populates="student", lazy="selectin"
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class ModuleCompletion(Base):
    """The date a student completed one module, as the school recorded it."""

    __tablename__ = "module_completions"
    __table_args__ = (UniqueConstraint("student_id", "module"),)

    id: Mapped[int_pk]
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    module: Mapped[str] = mapped_column(String(40))
    completed_on: Mapped[date]
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    recorded_at: Mapped[created]

    student: Mapped[Student] = relationship(back_populates="modules")


class EncryptedObject:
    """Columns of a record whose bytes live encrypted in the object store."""

    object_key: Mapped[str] = mapped_column(String(64), unique=True)
    wrapped_key: Mapped[bytes]
    key_version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[sha256_hex]
    size: Mapped[int] = mapped_column(Integer)


class EvidenceDocument(EncryptedObject, Base):
    """One uploaded PDF: what it is, what the check found, where its bytes are."""

    __tablename__ = "evidence_documents"

    id: Mapped[opaque_pk]
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(255))
    pages: Mapped[int] = mapped_column(Integer)
    warnings: Mapped[list[Any]] = mapped_column(default=list)
    text_ciphertext: Mapped[bytes | None]
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    uploaded_at: Mapped[created]

    student: Mapped[Student] = relationship(back_populates="documents")


class ExamResult(Base):
    """A result reported by the exam provider, kept by LASID as reported."""

    __tablename__ = "exam_results"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int_pk]
    lasid: Mapped[lasid_str] = mapped_column(index=True)
    exam: Mapped[str] = mapped_column(String(40))
    taken_on: Mapped[date]
    score: Mapped[float | None]
    passed: Mapped[bool] = mapped_column(Boolean)
    reported_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    reported_at: Mapped[created]


class Certificate(EncryptedObject, Base):
    """A numbered certificate of one level, issued to one student."""

    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("student_id", "level"),)

    id: Mapped[int_pk]
    number: Mapped[str] = mapped_column(String(40), unique=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    level: Mapped[str] = mapped_column(String(40))
    issued_on: Mapped[date]
    issued_at: Mapped[created]
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))

    student: Mapped[Student] = relationship(back_populates="certificates")
    package: Mapped["SealedPackage | None"] = relationship(
        back_populates="certificate", lazy="selectin"
    )


class SealedPackage(Base):
    """The evidence a certificate was issued on (or an operator sealed for an
    audit), frozen at that moment.

    The signed manifest and its signature live encrypted in write-once storage
    (vault.sealing): `object_key` is the manifest's, `signature_key` the
    signature's, both under the one data key wrapped in `wrapped_key`.
    """

    __tablename__ = "sealed_packages"

    id: Mapped[opaque_pk]
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    rules_version: Mapped[str] = mapped_column(String(20))
    document_ids: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[created]
    reason: Mapped[str] = mapped_column(String(20), default="certificate")
    sealed_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    object_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    signature_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    wrapped_key: Mapped[bytes | None]
    key_version: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(Integer)
    signing_key_version: Mapped[int | None] = mapped_column(Integer)
    signing_key_fingerprint: Mapped[str | None] = mapped_column(String(64))
    public_key_pem: Mapped[str | None] = mapped_column(String(200))
    retain_until: Mapped[datetime | None]

    certificate: Mapped[Certificate | None] = relationship(back_populates="package")


class AuditEvent(Base):
    """Who did what to which record, when, from where. Appended, never changed.

    `seq` is the event's place in the hash chain and `hash` covers its fields and
    `prev_hash`, the hash of the event before (vault.audit); both are given when
    the event's transaction commits.
    """

    __tablename__ = "audit_events"

    id: Mapped[int_pk]
    seq: Mapped[int | None] = mapped_column(Integer, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[created]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    action: Mapped[str] = mapped_column(String(40))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"))
    subject_type: Mapped[str | None] = mapped_column(String(40))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


__all__ = [
    "ApiToken",
    "AuditEvent",
    "Base",
    "Certificate",
    "District",
    "DistrictGrant",
    "EncryptedObject",
    "EvidenceDocument",
    "ExamResult",
    "ModuleCompletion",
    "Person",
    "SealedPackage",
    "Student",
]
