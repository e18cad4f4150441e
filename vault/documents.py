"""Evidence documents: upload (check, encrypt, store, record) and read back."""

import hashlib
import logging
import re
import tempfile
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest import check_pdf
from vault import rules
from vault.audit import record_event
from vault.errors import AgreementMissing, InvalidRequest, VaultError
from vault.models import EvidenceDocument, Person, Student
from vault.objects import encrypt_text, open_decrypted, put_encrypted
from vault.runtime import Runtime

log = logging.getLogger(__name__)

COPY_CHUNK = 1 << 20
NAME_SCAN_CHARS = 50_000
NAME_LABEL = re.compile(
    r"(?:student(?:'s)?\s+name|name\s+of\s+student|student)\s*[:\-]\s*([^\n]{2,80})",
    re.IGNORECASE,
)


class UploadTooLarge(VaultError):
    code = "too_large"
    status = 413


@dataclass(frozen=True)
class Spooled:
    file: BinaryIO
    sha256: str
    size: int


def store_document(runtime: Runtime, session: Session, actor: Person,
                   student: Student, kind: str, source: BinaryIO,
                   filename: str, address: str | None = None) -> EvidenceDocument:
    """Check an uploaded PDF, encrypt it into the store and record it.

    Raises DocumentRejected (422) for a file the vault refuses, AgreementMissing
    when the district has no tracking agreement, UploadTooLarge over the limit.
    The row and the object appear together or not at all.
    """
    if kind not in rules.KINDS:
        raise InvalidRequest(f"Unknown kind {kind!r}; one of {', '.join(rules.KINDS)}.",
                             code="invalid_kind", status=422)
    signed = student.district.agreement_signed_on
    if signed is None or signed > runtime.today():
        raise AgreementMissing("Your district has no signed tracking agreement on "
                               "record, so uploads are not accepted yet.")

    with tempfile.TemporaryFile() as spool_file:
        spooled = _spool(source, spool_file, runtime.settings.max_upload_bytes)
        verdict = check_pdf(spool_file, runtime.settings.check_limits)
        warnings = list(verdict.warnings) + _name_warnings(session, student,
                                                           verdict.text)
        spool_file.seek(0)
        stored = put_encrypted(runtime, session, spool_file)

    document = EvidenceDocument(
        student_id=student.id,
        district_id=student.district_id,
        kind=kind,
        filename=_safe_filename(filename),
        pages=verdict.pages,
        warnings=warnings,
        text_ciphertext=encrypt_text(stored, verdict.text),
        sha256=spooled.sha256,
        size=spooled.size,
        object_key=stored.object_key,
        wrapped_key=stored.wrapped_key,
        key_version=stored.key_version,
        uploaded_by=actor.id,
    )
    session.add(document)
    session.flush()
    record_event(session, actor, "document_uploaded", district_id=student.district_id,
                 subject=("document", document.id), address=address, kind=kind,
                 sha256=document.sha256, size=document.size,
                 warnings=[w["code"] for w in warnings])
    log.info("document_stored document=%s district=%s size=%d warnings=%d",
             document.id, student.district_id, document.size, len(warnings))
    return document


def _spool(source: BinaryIO, spool_file: BinaryIO, limit: int) -> Spooled:
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(COPY_CHUNK):
        size += len(chunk)
        if size > limit:
            raise UploadTooLarge(
                f"The file is larger than the {limit // (1024 * 1024)} MB limit.")
        digest.update(chunk)
        spool_file.write(chunk)
    spool_file.flush()
    spool_file.seek(0)
    return Spooled(spool_file, digest.hexdigest(), size)


def _safe_filename(filename: str | None) -> str:
    name = (filename or "document.pdf").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:255] or "document.pdf"


def _name_warnings(session: Session, student: Student, text: str) -> list[dict]:
    """A `name_mismatch` warning when the text names a student other than this one."""
    if _names_other_student(session, student, text[:NAME_SCAN_CHARS]):
        return [{"code": "name_mismatch",
                 "message": "The document names a different student than the one "
                            "it was uploaded for. Check that it is the right file."}]
    return []


def _names_other_student(session: Session, student: Student, raw_text: str) -> bool:
    text = _normal(raw_text)
    own_name = _normal(student.full_name)
    if not text or own_name in text:
        return False

    for label in NAME_LABEL.finditer(raw_text):
        named = re.split(r"\s{2,}|\t|\d", label.group(1))[0]
        if _plausible_name(named) and own_name not in _normal(named):
            return True

    words = set(text.split())
    roster = session.execute(
        select(Student.first_name, Student.last_name).where(
            Student.district_id == student.district_id, Student.id != student.id))
    for first, last in roster:
        first, last = _normal(first), _normal(last)
        if first in words and last in words and f"{first} {last}" in text:
            return True
    return False


def _plausible_name(value: str) -> bool:
    parts = value.strip().split()
    return 2 <= len(parts) <= 5 and all(part[:1].isalpha() for part in parts)


def _normal(value: str) -> str:
    return " ".join(re.sub(r"[^\w'-]+", " ", value.casefold()).split())


def open_document(runtime: Runtime, session: Session, actor: Person,
                  document: EvidenceDocument, address: str | None = None) -> BinaryIO:
    """The exact uploaded bytes, as a stream; the read is an audit event."""
    stream = open_decrypted(runtime, document)
    record_event(session, actor, "document_read", district_id=document.district_id,
                 subject=("document", document.id), address=address)
    return stream
