"""Legal holds: a district's, a student's or a package's record is never swept.

Auditors and the operator place and lift holds. An auditor works only inside
the districts granted to them: a hold, student, package or district outside
them answers NotFound, exactly as one that does not exist. Several holds may
cover one record; it is kept while any of them is active. Every change is an
audit event.
"""

import logging

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from retention.models import HOLD_SCOPES, LegalHold
from vault.access import LASID
from vault.audit import record_event
from vault.errors import Forbidden, InvalidRequest, NotFound
from vault.models import District, Person, SealedPackage, Student
from vault.models import utcnow

log = logging.getLogger(__name__)

HOLDERS = ("auditor", "operator")
MAX_REASON = 500


def _require_holder(person: Person) -> None:
    if person.role not in HOLDERS:
        raise Forbidden(f"Your role ({person.role}) may not place or lift legal "
                        f"holds.")


def _granted(person: Person, district_id: int) -> bool:
    return person.role == "operator" or district_id in person.district_ids


def place_hold(session: Session, person: Person, scope: str, ref: str, reason: str,
               address: str | None = None) -> LegalHold:
    """Hold the record `ref` names (a district code, a LASID or a package id)."""
    _require_holder(person)
    if scope not in HOLD_SCOPES:
        raise InvalidRequest(f"`scope` is one of {', '.join(HOLD_SCOPES)}.",
                             code="invalid_scope", status=422)
    if not isinstance(ref, str) or not ref.strip() or len(ref) > 64:
        raise InvalidRequest("`ref` names the district, student or package held.",
                             code="invalid_field", status=422)
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise InvalidRequest(f"`reason` is required (at most {MAX_REASON} "
                             f"characters).", code="invalid_field", status=422)

    district_id, student_id, ref = _resolve(session, scope, ref.strip())
    if not _granted(person, district_id):
        raise NotFound(f"No {scope} {ref}.")

    hold = LegalHold(scope=scope, ref=ref, district_id=district_id,
                     student_id=student_id, reason=reason.strip(),
                     placed_by=person.id)
    session.add(hold)
    session.flush()
    record_event(session, person, "legal_hold_placed", district_id=district_id,
                 subject=("legal_hold", str(hold.id)), address=address, scope=scope)
    log.info("legal_hold_placed hold=%d scope=%s district=%d", hold.id, scope,
             district_id)
    return hold


def _resolve(session: Session, scope: str, ref: str) -> tuple[int, int | None, str]:
    """(district id, student id or None, the ref as stored) of what `ref` names."""
    if scope == "district":
        district = session.scalar(select(District).where(District.code == ref.upper()))
        if district is None:
            raise NotFound(f"No district {ref}.")
        return district.id, None, district.code

    if scope == "student":
        student = None
        if LASID.fullmatch(ref):
            student = session.scalar(select(Student).where(Student.lasid == ref))
        if student is None:
            raise NotFound(f"No student {ref}.")
        return student.district_id, student.id, ref

    package = session.get(SealedPackage, ref)
    if package is None:
        raise NotFound(f"No package {ref}.")
    return package.district_id, package.student_id, ref


def lift_hold(session: Session, person: Person, hold_id: int,
              address: str | None = None) -> LegalHold:
    """Lift one hold; lifting a lifted hold changes nothing."""
    _require_holder(person)
    # An id no database integer can hold names no hold.
    hold = session.get(LegalHold, hold_id) if 0 < hold_id < 2**63 else None
    if hold is None or not _granted(person, hold.district_id):
        raise NotFound(f"No legal hold {hold_id}.")
    if hold.lifted_at is not None:
        return hold

    hold.lifted_by = person.id
    hold.lifted_at = utcnow()
    record_event(session, person, "legal_hold_lifted", district_id=hold.district_id,
                 subject=("legal_hold", str(hold.id)), address=address,
                 scope=hold.scope)
    log.info("legal_hold_lifted hold=%d district=%d", hold.id, hold.district_id)
    return hold


def holds_visible_to(person: Person, active_only: bool = False) -> Select:
    """The holds `person` may see: every one for the operator, their districts'
    for an auditor."""
    _require_holder(person)
    query = select(LegalHold).order_by(LegalHold.placed_at, LegalHold.id)
    if person.role != "operator":
        query = query.where(LegalHold.district_id.in_(person.district_ids))
    if active_only:
        query = query.where(LegalHold.lifted_at.is_(None))
    return query


def active_hold_filter(district_id, student_id):
    """A condition true for an active hold that covers this district's student."""
    return (LegalHold.lifted_at.is_(None)) & or_(
        (LegalHold.scope == "district") & (LegalHold.district_id == district_id),
        LegalHold.student_id == student_id,
    )


def is_held(session: Session, district_id: int, student_id: int) -> bool:
    """True while any active hold covers the student's record."""
    return session.scalar(
        select(LegalHold.id).where(active_hold_filter(district_id, student_id))
        .limit(1)) is not None


def hold_json(hold: LegalHold) -> dict:
    return {
        "id": hold.id,
        "scope": hold.scope,
        "ref": hold.ref,
        "reason": hold.reason,
        "placed_by": hold.placed_by,
        "placed_at": hold.placed_at.isoformat(),
        "lifted_by": hold.lifted_by,
        "lifted_at": hold.lifted_at.isoformat() if hold.lifted_at else None,
        "active": hold.active,
    }
