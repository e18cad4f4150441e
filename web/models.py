"""The web front end's own records: browser sessions, sign-in attempts, second
factors and semester confirmations.

They share the vault's declarative base, so one migration head upgrades them
with the rest (revision 0004_web).
"""

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vault.models import Base, created, int_pk


class BrowserSession(Base):
    """A signed-in browser. The cookie holds only `id`; ending the row signs out."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[created]
    last_seen_at: Mapped[created]
    ended_at: Mapped[datetime | None]


class SignInAttempt(Base):
    """One try at signing in, kept to limit guessing across every web worker.

    `account` is the SHA-256 of the normalized email, so the table holds no
    email addresses, including those of accounts that do not exist.
    """

    __tablename__ = "web_sign_in_attempts"

    id: Mapped[int_pk]
    at: Mapped[created] = mapped_column(index=True)
    account: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str | None] = mapped_column(String(64), index=True)
    succeeded: Mapped[bool] = mapped_column(Boolean)


class TotpSecret(Base):
    """A person's TOTP second factor; the secret is kept wrapped by the master key."""

    __tablename__ = "web_totp_secrets"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    wrapped_secret: Mapped[bytes]
    key_version: Mapped[int] = mapped_column(Integer)
    confirmed_at: Mapped[datetime | None]
    last_step: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[created]


class SemesterConfirmation(Base):
    """A district's confirmation of the semester report, as it stood then."""

    __tablename__ = "web_semester_confirmations"
    __table_args__ = (UniqueConstraint("district_id", "semester", "confirmed_at"),)

    id: Mapped[int_pk]
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    semester: Mapped[str] = mapped_column(String(12))
    confirmed_by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    confirmed_at: Mapped[created]
    qualifying: Mapped[dict[str, Any]] = mapped_column(default=dict)
