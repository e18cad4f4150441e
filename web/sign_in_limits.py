"""Limits on guessing passwords and codes, kept in the database.

Every web worker shares the database, so a limit holds however many gunicorn
workers answer. An account is held after ACCOUNT_FAILURES failed tries since
its last success within WINDOW; an address after ADDRESS_FAILURES failed tries
within WINDOW, whatever accounts they named.
"""

import hashlib
import logging
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from vault.errors import VaultError
from vault.models import utcnow
from web.models import SignInAttempt

log = logging.getLogger(__name__)

WINDOW = timedelta(minutes=15)
ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 20
KEEP = timedelta(days=1)


class TooManyAttempts(VaultError):
    """Sign-in is paused for this account or address."""

    code = "too_many_attempts"
    status = 429


def account_key(email: str) -> str:
    """The SHA-256 of the normalized email: attempts are counted without emails."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def check_allowed(session: Session, account: str, address: str | None) -> None:
    """Raise TooManyAttempts while the account or the address is held."""
    since = utcnow() - WINDOW
    last_success = session.scalar(
        select(func.max(SignInAttempt.at)).where(
            SignInAttempt.account == account, SignInAttempt.succeeded.is_(True),
            SignInAttempt.at >= since))
    account_failures = session.scalar(
        select(func.count()).select_from(SignInAttempt).where(
            SignInAttempt.account == account, SignInAttempt.succeeded.is_(False),
            SignInAttempt.at >= max(since, last_success or since)))
    if account_failures >= ACCOUNT_FAILURES:
        log.info("sign_in_held scope=account failures=%d", account_failures)
        raise TooManyAttempts(
            "Too many failed sign-ins for this account. Wait 15 minutes and try "
            "again, or ask your administrator to reset your password.")

    if address:
        address_failures = session.scalar(
            select(func.count()).select_from(SignInAttempt).where(
                SignInAttempt.address == address,
                SignInAttempt.succeeded.is_(False), SignInAttempt.at >= since))
        if address_failures >= ADDRESS_FAILURES:
            log.info("sign_in_held scope=address failures=%d", address_failures)
            raise TooManyAttempts(
                "Too many failed sign-ins from your network address. Wait 15 "
                "minutes and try again.")


def record_attempt(session: Session, account: str, address: str | None,
                   succeeded: bool) -> None:
    """Count one try, and forget tries older than a day."""
    session.execute(delete(SignInAttempt).where(SignInAttempt.at < utcnow() - KEEP))
    session.add(SignInAttempt(account=account, address=(address or "")[:64] or None,
                              succeeded=succeeded))
    session.flush()
