"""Evidence documents: upload (check, encrypt, store, record) and read back."""

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest import PdfVerdict, check_pdf
from vault import rules
from vault.audit import record_event
from vault.errors import AgreementMissing, InvalidRequest, StorageError
from vault.models import EvidenceDocument, Person, Student
from vault.objects import StoredObject, encrypt_text, open_decrypted, put_encrypted
from vault.runtime import Runtime
from vault.uploads import UploadSpool

log = logging.getLogger(__name__)

NAME_SCAN_CHARS = 50_000
# Words that follow a "Student:" label in forms but are no part of a name.
FORM_WORDS = frozenset({
    "assessment", "checklist", "completion", "credential", "date", "district",
    "form", "grade", "mentor", "module", "name", "page", "presentation", "report",
    "round", "school", "self", "self-assessment", "signature", "teacher", "the",
})
NAME_LABEL = re.compile(
    r"(?:student(?:'s)?\s+name|name\s+of\s+student|student)\s*[:\-]\s*([^\n]{2,80})",
    re.IGNORECASE,
)


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

    spool = source if isinstance(source, UploadSpool) else UploadSpool.copy_of(
        source, runtime.settings.max_upload_bytes)
    with spool:
        verdict, stored = _check_while_storing(runtime, session, spool)
    warnings = list(verdict.warnings) + _name_warnings(session, student, verdict.text)

    document = EvidenceDocument(
        student_id=student.id,
        district_id=student.district_id,
        kind=kind,
        filename=_safe_filename(filename),
        pages=verdict.pages,
        warnings=warnings,
        text_ciphertext=encrypt_text(stored, verdict.text),
        sha256=spool.sha256,
        size=spool.size,
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


def _check_while_storing(runtime: Runtime, session: Session,
                         spool: UploadSpool) -> tuple[PdfVerdict, StoredObject]:
    """Check the PDF in its worker while the same bytes are encrypted and stored.

    The object is tracked on the session, so a refusal (raised here) rolls the
    transaction back and the object is deleted with it.
    """
    started = spool.claim_store_write()
    with spool.reader() as for_check, ThreadPoolExecutor(max_workers=1) as pool:
        checking = pool.submit(check_pdf, for_check, runtime.settings.check_limits)
        spool.seek(0)
        try:
            if started is not None:  # begun while the body was arriving
                stored = started.stored(session)
            else:
                stored = put_encrypted(runtime, session, spool)
        except StorageError:
            checking.result()  # a refused file says more than a storage failure
            raise
        return checking.result(), stored


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
    padded = f" {text} "
    if not text or f" {own_name} " in padded:
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
        if first in words and last in words and f" {first} {last} " in padded:
            return True
    return False


def _plausible_name(value: str) -> bool:
    """Two to five words that could be a name, none of them a form's wording."""
    parts = value.strip().split()
    return (2 <= len(parts) <= 5 and all(part[:1].isalpha() for part in parts)
            and not any(part.casefold().strip(".,;") in FORM_WORDS for part in parts))


def _normal(value: str) -> str:
    return " ".join(re.sub(r"[^\w'-]+", " ", value.casefold()).split())


def open_document(runtime: Runtime, session: Session, actor: Person,
                  document: EvidenceDocument, address: str | None = None) -> BinaryIO:
    """The exact uploaded bytes, as a stream; the read is an audit event."""
    stream = open_decrypted(runtime, document)
    record_event(session, actor, "document_read", district_id=document.district_id,
                 subject=("document", document.id), address=address)
    return stream
