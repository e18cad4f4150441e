"""The retention date of a student's record, the one rule the sweep obeys.

A record is kept for two years after it stops being needed: after the
student's last certificate was issued or, with none, after the newest
evidence upload, module date or exam result; an event newer than the last
certificate (a later upload, a corrected date) moves the date on again, so
the date is two years after the newest of them all. It is kept through the
whole of that day in the vault's time zone and may go from the next midnight
on. Two years after February 29 is March 1 (the day February 29 would have
been).
"""

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vault.models import Certificate, EvidenceDocument, ExamResult, ModuleCompletion
from vault.models import Student

RETENTION_YEARS = 2


def years_after(day: date, years: int = RETENTION_YEARS) -> date:
    """The same calendar day `years` later; February 29 becomes March 1."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    """The calendar day `moment` falls on in the vault's time zone."""
    return moment.astimezone(zone).date()


def newest_day(issued: date | None, uploaded: datetime | None,
               completed: date | None, taken: date | None,
               zone: ZoneInfo) -> date | None:
    """The newest of a record's days: certificate, upload (its local day), module
    date, exam result; None when there is none."""
    days = [issued, local_day(uploaded, zone) if uploaded else None, completed, taken]
    known = [day for day in days if day is not None]
    return max(known) if known else None


def last_needed_on(session: Session, student: Student, zone: ZoneInfo) -> date | None:
    """The day the record was last needed, or None for a record with nothing in it.

    The last certificate's issue date, or a newer upload (its day in `zone`),
    module date or exam result.
    """
    issued = session.scalar(select(func.max(Certificate.issued_on))
                            .where(Certificate.student_id == student.id))
    uploaded = session.scalar(select(func.max(EvidenceDocument.uploaded_at))
                              .where(EvidenceDocument.student_id == student.id))
    completed = session.scalar(select(func.max(ModuleCompletion.completed_on))
                               .where(ModuleCompletion.student_id == student.id))
    taken = session.scalar(select(func.max(ExamResult.taken_on))
                           .where(ExamResult.lasid == student.lasid))
    if uploaded is not None and uploaded.tzinfo is None:
        uploaded = uploaded.replace(tzinfo=timezone.utc)
    return newest_day(issued, uploaded, completed, taken, zone)


def retention_date(session: Session, student: Student, zone: ZoneInfo) -> date | None:
    """The last day the record is kept; None while nothing has been recorded."""
    last = last_needed_on(session, student, zone)
    return years_after(last) if last is not None else None


def is_due(retained_until: date | None, today: date) -> bool:
    """True once the whole of the retention date has passed."""
    return retained_until is not None and today > retained_until


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The first moment of `day` in `zone`, in UTC."""
    return datetime.combine(day, time(0), zone).astimezone(timezone.utc)


def retain_until(retained_until: date, zone: ZoneInfo) -> datetime:
    """The moment write-once storage may let go: midnight starting the next day."""
    return start_of_day(retained_until + timedelta(days=1), zone)


def sweep_moment(as_of: date, zone: ZoneInfo) -> datetime:
    """The clock a sweep "as of" a day reads: the first moment of that day.

    A record due on `as_of` has a retention date before it, so its objects'
    retain-until (midnight starting the day after that date) is at or before
    this moment.
    """
    return start_of_day(as_of, zone)
