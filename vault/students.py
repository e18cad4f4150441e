"""The student roster, module dates, and what the rules make of a record."""

import re
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from vault import rules
from vault.access import valid_lasid
from vault.audit import record_event, student_subject
from vault.errors import Forbidden, InvalidRequest, NotFound
from vault.models import District, ExamResult, ModuleCompletion, Person, Student

MIN_COHORT, MAX_COHORT = 2000, 2100
COHORT_TEXT = re.compile(r"[0-9]{4}")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def enrol_student(session: Session, actor: Person, lasid: str, district: District,
                  fields: dict) -> tuple[Student, bool]:
    """Create or update a student of `district`; returns (student, created)."""
    valid_lasid(lasid)
    values = _student_fields(fields)
    student = session.scalar(select(Student).where(Student.lasid == lasid))
    if student is not None and student.district_id != district.id:
        # Another tenant's student answers as if it did not exist (LASIDs are
        # statewide, so it cannot be created here either).
        raise NotFound("No student with this LASID in your district. If the "
                       "student moved from another district, ask the operator to "
                       "transfer the record.")

    created = student is None
    if created:
        student = Student(lasid=lasid, district_id=district.id, **values)
        session.add(student)
    else:
        for name, value in values.items():
            setattr(student, name, value)
    session.flush()
    record_event(session, actor, "student_enrolled" if created else "student_updated",
                 district_id=district.id, subject=student_subject(student))
    return student, created


def _student_fields(fields: dict) -> dict:
    values = {}
    for name in ("first_name", "last_name", "school"):
        value = fields.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > 100:
            raise InvalidRequest(f"`{name}` is required (at most 100 characters).",
                                 code="invalid_field", status=422)
        if not value.isprintable():
            raise InvalidRequest(f"`{name}` holds a control character (a tab, a "
                                 f"line break or an invisible code).",
                                 code="invalid_field", status=422)
        values[name] = value.strip()
    cohort = fields.get("cohort")
    if isinstance(cohort, str) and COHORT_TEXT.fullmatch(cohort):
        cohort = int(cohort)
    if not isinstance(cohort, int) or isinstance(cohort, bool) or not (
            MIN_COHORT <= cohort <= MAX_COHORT):
        raise InvalidRequest("`cohort` is the expected graduation year, e.g. 2027.",
                             code="invalid_field", status=422)
    values["cohort"] = cohort
    return values


def record_module(session: Session, actor: Person, student: Student, module: str,
                  completed_on: date, today: date) -> ModuleCompletion:
    """Record (or correct) the date a student completed a module."""
    if module == "certification_exam":
        raise Forbidden("The Certification Exam is recorded only from results the "
                        "exam provider reports.", code="exam_from_provider")
    if module not in rules.SCHOOL_MODULES:
        raise InvalidRequest(f"Unknown module {module!r}.", code="invalid_module",
                             status=422)
    if completed_on > today:
        raise InvalidRequest("A completion date cannot be in the future.",
                             code="date_in_future", status=422)
    if completed_on < rules.EARLIEST_DATE:
        raise InvalidRequest("A completion date cannot be before "
                             f"{rules.EARLIEST_DATE.isoformat()}.",
                             code="invalid_date", status=422)

    completion = next((m for m in student.modules if m.module == module), None)
    if completion is None:
        completion = ModuleCompletion(module=module, completed_on=completed_on)
        student.modules.append(completion)
    completion.completed_on = completed_on
    completion.recorded_by = actor.id
    session.flush()
    record_event(session, actor, "module_recorded", district_id=student.district_id,
                 subject=student_subject(student), module=module)
    return completion


def record_facts(session: Session, student: Student) -> rules.RecordFacts:
    """The plain facts of a record that the rules judge."""
    exams = session.scalars(select(ExamResult).where(ExamResult.lasid == student.lasid))
    return rules.RecordFacts(
        cohort=student.cohort,
        agreement_signed_on=student.district.agreement_signed_on,
        module_dates={m.module: m.completed_on for m in student.modules},
        document_kinds=frozenset(d.kind for d in student.documents),
        exams=tuple(rules.ExamOutcome(e.exam, e.taken_on, e.passed) for e in exams),
        issued_levels=frozenset(c.level for c in student.certificates),
    )


def student_completeness(session: Session, student: Student, today: date) -> dict:
    return rules.completeness(record_facts(session, student), today)


def iso_date(value: object) -> date:
    """A date written exactly YYYY-MM-DD; ValueError for anything else (Python
    would also read 20250101 or 2025-W01-1)."""
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        raise ValueError("not a date as YYYY-MM-DD")
    return date.fromisoformat(value)


def parse_date(value, field: str = "completed_on") -> date:
    """An ISO date (YYYY-MM-DD) or an InvalidRequest naming the field."""
    try:
        day = iso_date(value)
    except ValueError as error:
        raise InvalidRequest(f"`{field}` must be a date as YYYY-MM-DD.",
                             code="invalid_date", status=422) from error
    if day < rules.EARLIEST_DATE:
        raise InvalidRequest(f"`{field}` cannot be before "
                             f"{rules.EARLIEST_DATE.isoformat()}.",
                             code="invalid_date", status=422)
    return day
