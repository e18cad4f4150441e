"""Who may see which record. Another tenant's record is NotFound, never Forbidden.

Roles are checked first (a role that may never do a thing gets Forbidden); then
the record is looked up inside what the person may see, so that a record of
another district answers exactly as one that does not exist.
"""

import re

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from vault.accounts import DISTRICT_STAFF
from vault.errors import Forbidden, InvalidRequest, NotFound
from vault.models import (
    Certificate,
    District,
    EvidenceDocument,
    Person,
    SealedPackage,
    Student,
)

LASID = re.compile(r"[0-9]{10}")
STUDENT_READERS = DISTRICT_STAFF + ("operator",)


def require_role(person: Person, roles: tuple[str, ...], doing: str) -> None:
    if person.role not in roles:
        raise Forbidden(f"Your role ({person.role}) may not {doing}.")


def valid_lasid(value: str) -> str:
    """A LASID is exactly ten digits, leading zeros kept."""
    if not isinstance(value, str) or not LASID.fullmatch(value):
        raise InvalidRequest("A LASID is exactly ten digits, e.g. 0400012345.",
                             code="invalid_lasid", status=422)
    return value


def students_visible_to(person: Person) -> Select:
    """A query for the students `person` may see."""
    query = select(Student)
    if person.role == "operator":
        return query
    if person.role in DISTRICT_STAFF:
        return query.where(Student.district_id.in_(person.district_ids))
    return query.where(False)


def visible_student(session: Session, person: Person, lasid: str) -> Student:
    student = None
    if LASID.fullmatch(lasid or ""):
        student = session.scalar(
            students_visible_to(person).where(Student.lasid == lasid))
    if student is None:
        raise NotFound(f"No student {lasid}.")
    return student


def visible_document(session: Session, person: Person,
                     document_id: str) -> EvidenceDocument:
    """Owning district and operator; an auditor only inside a package they audit."""
    document = session.get(EvidenceDocument, document_id)
    if document is None or not _may_see_document(session, person, document):
        raise NotFound(f"No document {document_id}.")
    return document


def _may_see_document(session: Session, person: Person,
                      document: EvidenceDocument) -> bool:
    if person.role == "operator":
        return True
    if person.role in DISTRICT_STAFF:
        return document.district_id in person.district_ids
    if person.role == "auditor" and document.district_id in person.district_ids:
        packages = session.scalars(select(SealedPackage).where(
            SealedPackage.student_id == document.student_id))
        return any(document.id in package.document_ids for package in packages)
    return False


def visible_certificate(session: Session, person: Person, number: str) -> Certificate:
    certificate = session.scalar(
        select(Certificate).where(Certificate.number == number))
    allowed = certificate is not None and (
        person.role == "operator"
        or (person.role in DISTRICT_STAFF
            and certificate.district_id in person.district_ids))
    if not allowed:
        raise NotFound(f"No certificate {number}.")
    return certificate


def packages_visible_to(person: Person) -> Select:
    """Sealed packages: every one for the operator; those of their districts for
    auditors (the districts granted to them) and district staff; none else."""
    query = select(SealedPackage)
    if person.role == "operator":
        return query
    if person.role in DISTRICT_STAFF + ("auditor",):
        return query.where(SealedPackage.district_id.in_(person.district_ids))
    return query.where(False)


def visible_package(session: Session, person: Person, package_id: str) -> SealedPackage:
    package = None
    if isinstance(package_id, str) and package_id.isalnum():
        package = session.scalar(packages_visible_to(person).where(
            SealedPackage.id == package_id, SealedPackage.object_key.is_not(None)))
    if package is None:
        raise NotFound(f"No package {package_id}.")
    return package


def visible_district(session: Session, person: Person, code: str) -> District:
    """A district the person works in or audits (any, for the operator)."""
    district = session.scalar(select(District).where(District.code == code.upper()))
    if district is None or (person.role != "operator"
                            and district.id not in person.district_ids):
        raise NotFound(f"No district {code}.")
    return district
