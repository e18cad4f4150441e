"""The audit log: every read of a record and every change, appended as data."""

from typing import Any

from sqlalchemy.orm import Session

from vault.models import AuditEvent, Person


def record_event(
    session: Session,
    actor: Person | None,
    action: str,
    *,
    district_id: int | None = None,
    subject: tuple[str, str] | None = None,
    address: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Append one event; `details` holds ids and counts, never names or contents."""
    subject_type, subject_id = subject or (None, None)
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        action=action,
        district_id=district_id,
        subject_type=subject_type,
        subject_id=str(subject_id) if subject_id is not None else None,
        address=address,
        details=details,
    )
    session.add(event)
    return event
