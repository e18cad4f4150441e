"""The TOTP second factor: a secret per person, wrapped by the master key.

A code is accepted for the current 30-second step or one step either side,
and each step is accepted once, so a code seen over a shoulder cannot be
replayed.
"""

import hmac
import time

import pyotp
import segno
from sqlalchemy.orm import Session

from vault.crypto import WrappedKey
from vault.models import Person, utcnow
from vault.runtime import Runtime
from web.models import TotpSecret

ISSUER = "MEC evidence vault"
CODE_DIGITS = 6


def _context(person_id: int) -> bytes:
    return f"mec-vault/totp/{person_id}".encode()


def has_second_factor(session: Session, person: Person) -> bool:
    """True when the person confirmed a TOTP secret."""
    secret = session.get(TotpSecret, person.id)
    return secret is not None and secret.confirmed_at is not None


def pending_secret(runtime: Runtime, session: Session, person: Person) -> str:
    """The person's unconfirmed secret (made now if there is none), in base32."""
    record = session.get(TotpSecret, person.id)
    if record is not None and record.confirmed_at is None:
        return _unwrap(runtime, record)
    secret = pyotp.random_base32()
    wrapped = runtime.keyring.wrap(secret.encode(), _context(person.id))
    if record is None:
        record = TotpSecret(person_id=person.id)
        session.add(record)
    record.wrapped_secret = wrapped.blob
    record.key_version = wrapped.version
    record.confirmed_at = None
    record.last_step = None
    session.flush()
    return secret


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The provisioning URI as an inline SVG QR code (made here, no input markup)."""
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#000",
                                                 light="#fff", border=4)


def check_code(runtime: Runtime, session: Session, person: Person, code: str,
               confirming: bool = False) -> bool:
    """True for a right, fresh code; `confirming` accepts the pending secret."""
    record = session.get(TotpSecret, person.id)
    if record is None or (record.confirmed_at is None) != confirming:
        return False
    code = "".join(code.split())
    if len(code) != CODE_DIGITS or not code.isdigit():
        return False

    totp = pyotp.TOTP(_unwrap(runtime, record))
    now_step = totp.timecode(time.time())
    for step in (now_step - 1, now_step, now_step + 1):
        fresh = record.last_step is None or step > record.last_step
        if fresh and hmac.compare_digest(totp.generate_otp(step), code):
            record.last_step = step
            if confirming:
                record.confirmed_at = utcnow()
            return True
    return False


def remove_second_factor(session: Session, person: Person) -> None:
    record = session.get(TotpSecret, person.id)
    if record is not None:
        session.delete(record)
        session.flush()


def _unwrap(runtime: Runtime, record: TotpSecret) -> str:
    wrapped = WrappedKey(record.key_version, record.wrapped_secret)
    return runtime.keyring.unwrap(wrapped, _context(record.person_id)).decode()
