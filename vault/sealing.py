"""Sealing: a signed manifest of a student's evidence, kept in write-once storage.

When a certificate is issued (and when the operator seals a record for an
audit) the vault writes a manifest: every document's SHA-256, size, kind and
upload time, the module dates, the exam results, the certificates, the rules
version, and the audit chain's head at that moment. The manifest is canonical
JSON (sorted keys, no whitespace, UTF-8) signed with the vault's Ed25519 key.

Manifest and signature are encrypted under one fresh data key and put with a
lock until the record's retention date ends; the documents and certificates
they name, and the objects of the student's earlier packages, are locked (or
their locks extended) to the same moment. Until then no one can replace or
delete them; a later upload is a new document with a new object.

The manifest names the student only by LASID and cohort: an auditor matches it
to a person through the certificate PDF inside the package, which carries the
name because a certificate must.
"""

import hashlib
import io
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from retention.dates import retention_date
from vault import rules
from vault.audit import (
    AuditCheckpoint,
    canonical_json,
    chain_head,
    record_event,
    write_checkpoint,
)
from vault.crypto import DataKey, object_context
from vault.errors import Conflict, IntegrityError, InvalidRequest
from vault.models import (
    Certificate,
    EvidenceDocument,
    ExamResult,
    ModuleCompletion,
    Person,
    SealedPackage,
    Student,
    new_id,
)
from vault.objects import data_key_of
from vault.runtime import Runtime

log = logging.getLogger(__name__)

MANIFEST_FORMAT = "mec-vault-package/1"
REASONS = ("certificate", "audit")


@dataclass(frozen=True)
class SealedObjects:
    """New write-once objects, all under one data key wrapped for the first."""

    object_keys: list[str]
    wrapped_key: bytes
    key_version: int


def put_sealed(runtime: Runtime, session: Session, bodies: list[bytes],
               retain_until: datetime) -> SealedObjects:
    """Encrypt each body into a new object locked until `retain_until`.

    One data key serves them all, each object bound to its own key as
    associated data; the wrapped data key is bound to the first object.
    """
    data_key = DataKey.generate()
    keys = [new_id() for _ in bodies]
    wrapped = runtime.keyring.wrap(data_key.to_bytes(), object_context(keys[0]))

    for key, body in zip(keys, bodies, strict=True):
        runtime.track_new_object(session, key)
        ciphertext = data_key.encrypting_reader(io.BytesIO(body), object_context(key))
        runtime.store.put(key, ciphertext, retain_until=retain_until)
    return SealedObjects(keys, wrapped.blob, wrapped.version)


def read_sealed(runtime: Runtime, record, object_key: str) -> bytes:
    """The plaintext of one of `record`'s sealed objects (small: read whole)."""
    data_key = data_key_of(runtime, record)
    with runtime.store.open(object_key) as ciphertext:
        reader = data_key.decrypting_reader(ciphertext, object_context(object_key))
        try:
            return reader.read()
        finally:
            reader.close()


def retain_until_day(runtime: Runtime, last_day: date) -> datetime:
    """The end of `last_day` in the vault's time zone (next midnight), in UTC."""
    midnight = datetime.combine(last_day + timedelta(days=1), time(),
                                tzinfo=runtime.settings.timezone)
    return midnight.astimezone(timezone.utc)


def record_retain_until(runtime: Runtime, session: Session,
                        student: Student) -> datetime:
    """When the student's record may go: the end of its retention date."""
    last_day = retention_date(session, student, runtime.settings.timezone)
    if last_day is None:
        raise Conflict(f"Student {student.lasid} has nothing on record to seal.",
                       code="nothing_to_seal")
    return retain_until_day(runtime, last_day)


def seal_package(runtime: Runtime, session: Session, actor: Person | None,
                 student: Student, *, certificate: Certificate | None = None,
                 reason: str = "certificate",
                 address: str | None = None) -> SealedPackage:
    """Sign the student's evidence as it stands and keep it write-once.

    Runs inside the caller's transaction (certificate issue or operator's
    seal); a checkpoint of the audit chain is written with it.
    """
    if reason not in REASONS:
        raise InvalidRequest(f"Unknown seal reason {reason!r}.", code="invalid_reason")
    session.flush()
    retain_until = record_retain_until(runtime, session, student)
    documents = session.scalars(
        select(EvidenceDocument).where(EvidenceDocument.student_id == student.id)
        .order_by(EvidenceDocument.uploaded_at, EvidenceDocument.id)).all()
    certificates = session.scalars(
        select(Certificate).where(Certificate.student_id == student.id)
        .order_by(Certificate.issued_at, Certificate.id)).all()

    package = SealedPackage(
        id=new_id(), student_id=student.id,
        district_id=student.district_id, rules_version=rules.RULES_VERSION,
        document_ids=[document.id for document in documents], reason=reason,
        sealed_by=actor.id if actor else None, retain_until=retain_until)
    manifest = build_manifest(runtime, session, package, student, documents,
                              certificates, certificate)
    signing_key = runtime.signing_key
    body = canonical_json(manifest)
    stored = put_sealed(runtime, session, [body, signing_key.sign(body)],
                        retain_until)

    package.object_key, package.signature_key = stored.object_keys
    package.wrapped_key, package.key_version = stored.wrapped_key, stored.key_version
    package.sha256, package.size = hashlib.sha256(body).hexdigest(), len(body)
    package.signing_key_version = signing_key.version
    package.signing_key_fingerprint = signing_key.fingerprint
    package.public_key_pem = signing_key.public_pem()
    package.certificate = certificate
    session.add(package)
    session.flush()

    lock_student_objects(runtime, session, student, retain_until)
    record_event(session, actor, "package_sealed", district_id=student.district_id,
                 subject=("package", package.id), address=address, reason=reason,
                 documents=len(documents),
                 audit_seq=manifest["audit_chain_head"]["seq"])
    write_checkpoint(runtime, session, "seal")
    log.info("package_sealed package=%s district=%s documents=%d reason=%s",
             package.id, student.district_id, len(documents), reason)
    return package


def build_manifest(runtime: Runtime, session: Session, package: SealedPackage,
                   student: Student, documents: list[EvidenceDocument],
                   certificates: list[Certificate],
                   certificate: Certificate | None) -> dict:
    """What the package seals, as plain JSON data (ids, hashes, dates)."""
    modules = session.scalars(select(ModuleCompletion)
                              .where(ModuleCompletion.student_id == student.id))
    exams = session.scalars(select(ExamResult).where(ExamResult.lasid == student.lasid)
                            .order_by(ExamResult.taken_on, ExamResult.id))
    seq, head = chain_head(session)
    signing_key = runtime.signing_key
    return {
        "format": MANIFEST_FORMAT,
        "package_id": package.id,
        "reason": package.reason,
        "sealed_at": _instant(datetime.now(timezone.utc)),
        "district": student.district.code,
        "student": {"lasid": student.lasid, "cohort": student.cohort},
        "rules_version": package.rules_version,
        "certificate_number": certificate.number if certificate else None,
        "certificates": [{
            "number": item.number, "level": item.level,
            "issued_on": item.issued_on.isoformat(), "sha256": item.sha256,
            "size": item.size, "file": certificate_file(item.number),
        } for item in certificates],
        "modules": {item.module: item.completed_on.isoformat() for item in modules},
        "exam_results": [{
            "exam": item.exam, "taken_on": item.taken_on.isoformat(),
            "score": item.score, "passed": item.passed,
        } for item in exams],
        "documents": [{
            "id": item.id, "kind": item.kind, "sha256": item.sha256,
            "size": item.size, "pages": item.pages,
            "uploaded_at": _instant(item.uploaded_at), "file": document_file(item.id),
        } for item in documents],
        "audit_chain_head": {"seq": seq, "hash": head},
        "signing_key": {"version": signing_key.version,
                        "fingerprint": signing_key.fingerprint},
        "retain_until": _instant(package.retain_until),
    }


def document_file(document_id: str) -> str:
    return f"documents/{document_id}.pdf"


def certificate_file(number: str) -> str:
    return f"certificates/{number}.pdf"


def _instant(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def lock_student_objects(runtime: Runtime, session: Session, student: Student,
                         retain_until: datetime) -> int:
    """Lock (or extend the locks of) every object of the student's record."""
    keys = list(session.scalars(select(EvidenceDocument.object_key)
                                .where(EvidenceDocument.student_id == student.id)))
    keys += session.scalars(select(Certificate.object_key)
                            .where(Certificate.student_id == student.id))
    for manifest, signature in session.execute(
            select(SealedPackage.object_key, SealedPackage.signature_key)
            .where(SealedPackage.student_id == student.id,
                   SealedPackage.object_key.is_not(None))):
        keys += [manifest, signature]

    for key in keys:
        runtime.store.lock_until(key, retain_until)
    log.info("record_locked district=%s objects=%d until=%s", student.district_id,
             len(keys), retain_until.isoformat())
    return len(keys)


def sealed_object_keys(session: Session) -> dict[str, tuple[str, str]]:
    """The object keys sealing wrote, each with the record it belongs to."""
    keys = {}
    for manifest, signature, package_id in session.execute(
            select(SealedPackage.object_key, SealedPackage.signature_key,
                   SealedPackage.id).where(SealedPackage.object_key.is_not(None))):
        keys[manifest] = ("package manifest", package_id)
        keys[signature] = ("package signature", package_id)
    for key, checkpoint_id in session.execute(
            select(AuditCheckpoint.object_key, AuditCheckpoint.id)):
        keys[key] = ("audit checkpoint", str(checkpoint_id))
    return keys


def sealed_manifest(runtime: Runtime, package: SealedPackage) -> tuple[bytes, bytes]:
    """The package's manifest and signature as sealed; IntegrityError if the
    manifest is not the one the row recorded."""
    manifest = read_sealed(runtime, package, package.object_key)
    signature = read_sealed(runtime, package, package.signature_key)
    if hashlib.sha256(manifest).hexdigest() != package.sha256:
        raise IntegrityError(f"The manifest of package {package.id} is not the one "
                             f"that was sealed.")
    return manifest, signature
