"""`/verify`: anyone checks a certificate by its number, without signing in.

The answer shows only what the printed certificate already tells its holder's
reader: level, date, district and the student's initials. Nothing about the
visitor or the number asked is recorded.
"""

from dataclasses import dataclass
from datetime import date

from flask import Blueprint, render_template, request
from sqlalchemy import select

from vault import rules
from vault.models import Certificate
from web.runtime import transaction

bp = Blueprint("verify", __name__)

MAX_NUMBER_LENGTH = 40


@dataclass(frozen=True)
class PublicCertificate:
    """What a certificate check may tell anyone."""

    number: str
    level_title: str
    issued_on: date
    district_name: str
    initials: str


@bp.get("/verify")
def verify():
    """The check form; with `?number=` the verdict for that certificate number."""
    number = request.args.get("number", "").strip().upper()[:MAX_NUMBER_LENGTH]
    found = None
    if number:
        with transaction() as session:
            certificate = session.scalar(
                select(Certificate).where(Certificate.number == number))
            found = public_certificate(certificate) if certificate else None
    return render_template("verify.html", number=number, found=found)


def public_certificate(certificate: Certificate) -> PublicCertificate:
    """The public facts of a certificate; the student appears only as initials."""
    student = certificate.student
    return PublicCertificate(
        number=certificate.number,
        level_title=rules.LEVELS.get(certificate.level, certificate.level),
        issued_on=certificate.issued_on,
        district_name=student.district.name,
        initials=initials(student.first_name, student.last_name),
    )


def initials(first_name: str, last_name: str) -> str:
    """Initials such as "J. R." for Jane Roe; a missing name part is left out."""
    letters = [name.strip()[:1].upper() for name in (first_name, last_name)]
    return " ".join(f"{letter}." for letter in letters if letter)
