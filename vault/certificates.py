"""Certificates: issued only on complete evidence, numbered, stored encrypted.

Issuing also seals the evidence it was judged on (vault.sealing): a signed
manifest in write-once storage, with the documents locked until the record's
retention date ends.
"""

import hashlib
import io
import logging
import secrets
from pathlib import Path
from typing import BinaryIO

from fpdf import FPDF
from sqlalchemy.exc import IntegrityError as DatabaseIntegrityError
from sqlalchemy.orm import Session

from vault import rules
from vault.audit import record_event
from vault.errors import Conflict, EvidenceIncomplete, InvalidRequest
from vault.models import Certificate, Person, Student
from vault.objects import open_decrypted, put_encrypted
from vault.runtime import Runtime
from vault.sealing import seal_package
from vault.students import student_completeness

log = logging.getLogger(__name__)

NUMBER_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
UNICODE_FONTS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
)


def issue_certificate(runtime: Runtime, session: Session, actor: Person,
                      student: Student, level: str,
                      address: str | None = None) -> Certificate:
    """Issue `level` to `student` if the evidence is complete today, else refuse."""
    if level not in rules.LEVELS:
        raise InvalidRequest(f"Unknown level {level!r}; one of "
                             f"{', '.join(rules.LEVELS)}.", code="invalid_level",
                             status=422)
    today = runtime.today()
    verdict = student_completeness(session, student, today)[level]
    if verdict["status"] == "issued":
        raise Conflict(f"The {rules.LEVELS[level]} certificate was already issued.",
                       code="already_issued")
    if verdict["missing"]:
        raise EvidenceIncomplete(
            f"The {rules.LEVELS[level]} certificate cannot be issued yet: "
            f"{len(verdict['missing'])} item(s) missing.", verdict["missing"])

    number = _new_number(today.year)
    pdf = render_certificate(number, student, level, today.isoformat())
    stored = put_encrypted(runtime, session, io.BytesIO(pdf))
    certificate = Certificate(
        number=number, student_id=student.id, district_id=student.district_id,
        level=level, issued_on=today, issued_by=actor.id,
        object_key=stored.object_key, wrapped_key=stored.wrapped_key,
        key_version=stored.key_version, sha256=hashlib.sha256(pdf).hexdigest(),
        size=len(pdf),
    )
    session.add(certificate)
    try:
        session.flush()
    except DatabaseIntegrityError as error:
        raise Conflict("The certificate was issued at the same moment by someone "
                       "else.", code="already_issued") from error

    record_event(session, actor, "certificate_issued", district_id=student.district_id,
                 subject=("certificate", number), address=address, level=level)
    seal_package(runtime, session, actor, student, certificate=certificate,
                 address=address)
    log.info("certificate_issued number=%s district=%s level=%s", number,
             student.district_id, level)
    return certificate


def _new_number(year: int) -> str:
    code = "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(8))
    return f"MEC-{year}-{code}"


def render_certificate(number: str, student: Student, level: str,
                       issued_on: str) -> bytes:
    """The certificate as a one-page PDF."""
    pdf = FPDF(orientation="landscape", format="letter")
    pdf.set_title(f"Micro-Enterprise Credential {number}")
    pdf.add_page()
    family = _font(pdf)

    pdf.set_line_width(1.2)
    pdf.rect(12, 12, pdf.w - 24, pdf.h - 24)
    pdf.set_y(38)
    pdf.set_font(family, size=30)
    pdf.cell(0, 16, "Micro-Enterprise Credential", align="C",
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=20)
    pdf.cell(0, 12, rules.LEVELS[level], align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    pdf.set_font(family, size=14)
    pdf.cell(0, 9, "This certifies that", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=26)
    pdf.cell(0, 16, _printable(student.full_name, family), align="C",
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=14)
    pdf.cell(0, 9, _printable(f"of {student.school}, {student.district.name}", family),
             align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 9, "has completed every module and passed the certification exam.",
             align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(14)
    pdf.set_font(family, size=12)
    pdf.cell(0, 7, f"Issued on {issued_on}", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 7, f"Certificate number {number}", align="C",
             new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 7, "Check this certificate at /verify on the credential's vault.",
             align="C", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _font(pdf: FPDF) -> str:
    for path in UNICODE_FONTS:
        if path.exists():
            pdf.add_font("CertificateSans", fname=str(path))
            return "CertificateSans"
    return "Helvetica"


def _printable(text: str, family: str) -> str:
    if family == "Helvetica":
        return text.encode("latin-1", "replace").decode("latin-1")
    return text


def open_certificate(runtime: Runtime, session: Session, actor: Person,
                     certificate: Certificate, address: str | None = None) -> BinaryIO:
    """The certificate PDF as a stream; the read is an audit event."""
    stream = open_decrypted(runtime, certificate)
    record_event(session, actor, "certificate_read",
                 district_id=certificate.district_id,
                 subject=("certificate", certificate.number), address=address)
    return stream
