"""Districts, people, their grants, passwords and API tokens."""

import hashlib
import re
import secrets
from datetime import date, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from vault.errors import Conflict, InvalidRequest, NotFound
from vault.models import ApiToken, District, DistrictGrant, Person

ROLES = ("operator", "auditor", "district_admin", "uploader", "exam_provider")
DISTRICT_STAFF = ("district_admin", "uploader")
ROLES_WITH_DISTRICTS = DISTRICT_STAFF + ("auditor",)
MIN_PASSWORD_LENGTH = 12
TOKEN_PREFIX = "mec_"
# A token's last use is written at most this often, so requests seldom write.
TOKEN_USE_GRAIN = timedelta(minutes=5)
# Letters, digits, dashes and underscores: a code goes into addresses as it is.
DISTRICT_CODE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,15}")

_hasher = PasswordHasher()


def add_district(session: Session, code: str, name: str,
                 agreement_signed_on: date | None = None) -> District:
    """Add a district or charter school; its code must be new."""
    code = code.strip().upper()
    if not code or not name.strip():
        raise InvalidRequest("A district needs a code and a name.")
    if not DISTRICT_CODE.fullmatch(code):
        raise InvalidRequest("A district code is 1 to 16 letters, digits, dashes or "
                             "underscores (A-Z, 0-9, - and _), e.g. RIVERBEND-ISD.",
                             code="invalid_district_code")
    if not name.isprintable() or len(name) > 200:
        raise InvalidRequest("A district's name is at most 200 characters, with no "
                             "line breaks or control characters.",
                             code="invalid_district_name")
    if session.scalar(select(District).where(District.code == code)):
        raise Conflict(f"District {code} already exists.", code="district_exists")
    district = District(code=code, name=name.strip(),
                        agreement_signed_on=agreement_signed_on)
    session.add(district)
    session.flush()
    return district


def district_by_code(session: Session, code: str) -> District:
    district = session.scalar(select(District).where(District.code == code.upper()))
    if district is None:
        raise NotFound(f"No district with code {code}.")
    return district


def add_person(session: Session, email: str, role: str, district_codes: list[str],
               password: str | None) -> Person:
    """Add a person with a role; staff and auditors name their districts."""
    email = normalize_email(email)
    if role not in ROLES:
        raise InvalidRequest(f"Unknown role {role!r}; one of {', '.join(ROLES)}.",
                             code="invalid_role")
    if role in DISTRICT_STAFF and not district_codes:
        raise InvalidRequest("District staff must name their district.",
                             code="district_required")
    if role not in ROLES_WITH_DISTRICTS and district_codes:
        raise InvalidRequest(f"A {role} is not tied to districts.",
                             code="district_not_allowed")
    if session.scalar(select(Person).where(Person.email == email)):
        raise Conflict(f"{email} already has an account.", code="person_exists")

    person = Person(email=email, role=role)
    if password is not None:
        person.password_hash = hash_password(password)
    for code in district_codes:
        person.grants.append(DistrictGrant(district=district_by_code(session, code)))
    session.add(person)
    session.flush()
    return person


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise InvalidRequest(f"{email!r} is not an email address.",
                             code="invalid_email")
    return email


def person_by_email(session: Session, email: str) -> Person:
    person = session.scalar(
        select(Person).where(Person.email == normalize_email(email)))
    if person is None:
        raise NotFound(f"No person with email {email}.")
    return person


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(
            f"A password needs at least {MIN_PASSWORD_LENGTH} characters.",
            code="weak_password")
    return _hasher.hash(password)


def generate_password() -> str:
    return secrets.token_urlsafe(15)


def check_password(person: Person, password: str) -> bool:
    """True when `password` is the person's; rehashes on parameter upgrades."""
    if not person.password_hash or not person.active:
        return False
    try:
        _hasher.verify(person.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(person.password_hash):
        person.password_hash = _hasher.hash(password)
    return True


def create_token(session: Session, person: Person) -> str:
    """A new bearer token for `person`; only its hash is stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(person_id=person.id, token_hash=_token_hash(token)))
    session.flush()
    return token


def active_token(session: Session, token: str) -> ApiToken | None:
    """The unrevoked token of an active person that `token` is, or None."""
    found = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _token_hash(token),
                               ApiToken.revoked_at.is_(None)))
    if found is None or not found.person.active:
        return None
    return found


def person_for_token(session: Session, token: str) -> Person | None:
    """The active person a bearer token belongs to, or None."""
    found = active_token(session, token)
    return found.person if found is not None else None


def token_use_is_stale(token: ApiToken, now: datetime) -> bool:
    """True when the token's recorded last use is older than TOKEN_USE_GRAIN."""
    return token.last_used_at is None or token.last_used_at < now - TOKEN_USE_GRAIN


def note_token_use(session: Session, token_id: int, now: datetime) -> None:
    """Record that a token was used at `now` (to within TOKEN_USE_GRAIN)."""
    session.execute(update(ApiToken).where(
        ApiToken.id == token_id,
        or_(ApiToken.last_used_at.is_(None),
            ApiToken.last_used_at < now - TOKEN_USE_GRAIN))
        .values(last_used_at=now))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
