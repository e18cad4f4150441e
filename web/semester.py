"""The semester report: which students qualify for each credential, confirmed by
the district.

Semesters run July to December ("2026-fall") and January to June
("2027-spring"). A student qualifies for a level when its status is complete
or issued. A confirmation keeps the lists as they stood; when the lists change
later, the page shows who was added and who dropped since the confirmation.
"""

from dataclasses import dataclass
from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from vault import access, rules
from vault.accounts import DISTRICT_STAFF
from vault.audit import record_event
from vault.errors import NotFound
from vault.models import District, Person, Student
from vault.students import record_facts
from web.auth import signed_in_person
from web.models import SemesterConfirmation
from web.runtime import client_address, runtime, transaction

bp = Blueprint("semester", __name__)

CONFIRMERS = ("district_admin",)
QUALIFYING = ("complete", "issued")


def semester_of(day: date) -> str:
    return f"{day.year}-fall" if day.month >= 7 else f"{day.year}-spring"


def semester_title(semester: str) -> str:
    year, season = semester.split("-")
    return f"{season.capitalize()} {year}"


@dataclass
class Change:
    level: str
    added: list[str]
    removed: list[str]


def qualifying_students(session: Session, district: District,
                        today: date) -> dict[str, list[Student]]:
    """Per level, the district's students whose status is complete or issued."""
    lists: dict[str, list[Student]] = {level: [] for level in rules.LEVELS}
    students = session.scalars(select(Student).where(
        Student.district_id == district.id).order_by(
        Student.school, Student.last_name, Student.first_name))
    for student in students:
        report = rules.completeness(record_facts(session, student), today)
        for level, verdict in report.items():
            if verdict["status"] in QUALIFYING:
                lists[level].append(student)
    return lists


def changes_since(confirmation: SemesterConfirmation,
                  lists: dict[str, list[Student]]) -> list[Change]:
    changes = []
    for level in rules.LEVELS:
        then = set(confirmation.qualifying.get(level, []))
        now = {student.lasid for student in lists[level]}
        if then != now:
            changes.append(Change(level, sorted(now - then), sorted(then - now)))
    return changes


def _district(session: Session, person: Person) -> District:
    """The district the report is about: the one asked for, among the person's."""
    districts = sorted((grant.district for grant in person.grants),
                       key=lambda district: district.code)
    code = request.values.get("district", "").upper()
    for district in districts:
        if not code or district.code == code:
            return district
    raise NotFound(f"No district {code}.")


@bp.get("/semester")
@login_required
def report():
    """The current semester's qualifying students, confirmations and changes."""
    today = runtime().today()
    semester = semester_of(today)
    with transaction() as session:
        person = signed_in_person(session)
        access.require_role(person, DISTRICT_STAFF, "see the semester report")
        district = _district(session, person)
        lists = qualifying_students(session, district, today)
        confirmations = list(session.scalars(
            select(SemesterConfirmation).where(
                SemesterConfirmation.district_id == district.id)
            .order_by(SemesterConfirmation.confirmed_at.desc())))
        latest = next((c for c in confirmations if c.semester == semester), None)
        confirmers = {c.confirmed_by: session.get(Person, c.confirmed_by).email
                      for c in confirmations}

        record_event(session, person, "semester_report_read",
                     district_id=district.id, semester=semester)
        return render_template(
            "semester.html", district=district, semester=semester,
            title=semester_title(semester), lists=lists, latest=latest,
            changes=changes_since(latest, lists) if latest else [],
            confirmations=confirmations, confirmers=confirmers,
            semester_title=semester_title,
            districts=[grant.district for grant in person.grants],
            may_confirm=person.role in CONFIRMERS)


@bp.post("/semester/confirm")
@login_required
def confirm():
    """The district confirms the report as it stands now."""
    today = runtime().today()
    semester = semester_of(today)
    with transaction() as session:
        person = signed_in_person(session)
        access.require_role(person, CONFIRMERS, "confirm the semester report")
        district = _district(session, person)
        lists = qualifying_students(session, district, today)
        snapshot = {level: [student.lasid for student in students]
                    for level, students in lists.items()}
        session.add(SemesterConfirmation(district_id=district.id, semester=semester,
                                         confirmed_by=person.id,
                                         qualifying=snapshot))
        record_event(session, person, "semester_confirmed", district_id=district.id,
                     address=client_address(), semester=semester,
                     **{level: len(lasids) for level, lasids in snapshot.items()})
    flash(f"Confirmed: the {semester_title(semester)} report of {district.name}.",
          "success")
    return redirect(url_for("semester.report", district=district.code))
