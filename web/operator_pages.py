"""The operator's pages: districts and their agreements, people and roles, and
the students ready for a certificate.

Only the operator may use them; any other role is answered 403 like every other
page its role may not see (`access.require_role`). Every change is an audit
event. Certificates are issued through `vault.certificates.issue_certificate`,
the function behind the API and the student page, which seals the evidence;
"Issue all" issues exactly the list its confirmation page showed, each in its
own transaction, so one refusal leaves the others issued.
"""

import logging
import re
from dataclasses import dataclass

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vault import access, rules
from vault.accounts import (
    DISTRICT_STAFF,
    ROLES,
    ROLES_WITH_DISTRICTS,
    add_district,
    add_person,
    district_by_code,
    generate_password,
)
from vault.audit import record_event
from vault.certificates import issue_certificate
from vault.errors import InvalidRequest, NotFound, VaultError
from vault.models import District, Person, Student
from vault.students import parse_date, record_facts
from web.auth import signed_in_person
from web.runtime import client_address, runtime, transaction

log = logging.getLogger(__name__)

bp = Blueprint("operator_pages", __name__, url_prefix="/operator")

OPERATORS = ("operator",)
ITEM = re.compile(r"^(\d{10}):([a-z_]+)$")
MAX_ITEMS = 5000


@dataclass(frozen=True)
class ReadyLevel:
    """One level of one student that is complete and not yet issued."""

    student: Student
    level: str

    @property
    def item(self) -> str:
        return f"{self.student.lasid}:{self.level}"


@dataclass(frozen=True)
class IssueOutcome:
    """What happened to one item of "Issue all": a certificate number or why not."""

    lasid: str
    level: str
    name: str = ""
    number: str = ""
    refusal: str = ""


@bp.after_request
def _not_cached(response: Response) -> Response:
    # Generated passwords and student names must not stay in a browser's cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def _operator(session: Session) -> Person:
    person = signed_in_person(session)
    access.require_role(person, OPERATORS, "use the operator's pages")
    return person


class Refusal(Exception):
    """A domain operation said no: the transaction rolls back, the page says why."""

    def __init__(self, error: VaultError):
        super().__init__(error.message)
        self.message = error.message


@bp.get("")
@login_required
def overview():
    """The operator's start: what needs doing, and the three pages."""
    with transaction() as session:
        _operator(session)
        districts = session.scalar(select(func.count()).select_from(District))
        without = session.scalar(select(func.count()).select_from(District).where(
            District.agreement_signed_on.is_(None)))
        people = session.scalar(select(func.count()).select_from(Person).where(
            Person.active.is_(True)))
        return render_template("operator_overview.html", districts=districts,
                               without_agreement=without, people=people)


@bp.get("/districts")
@login_required
def districts():
    """Every district with its tracking agreement, and the forms to change them."""
    with transaction() as session:
        _operator(session)
        return _districts_page(session)


def _districts_page(session: Session, form: dict | None = None, status: int = 200):
    rows = session.scalars(select(District).order_by(District.code)).all()
    return render_template("operator_districts.html", districts=rows,
                           form=form or {}, today=runtime().today()), status


@bp.post("/districts")
@login_required
def add_district_form():
    """Add a district, with its agreement date when it is already signed."""
    form = {key: request.form.get(key, "").strip()
            for key in ("code", "name", "agreement_signed_on")}
    try:
        with transaction() as session:
            person = _operator(session)
            try:
                signed = _agreement_date(form["agreement_signed_on"], optional=True)
                district = add_district(session, form["code"], form["name"], signed)
            except VaultError as error:
                raise Refusal(error) from error
            record_event(session, person, "district_added", district_id=district.id,
                         subject=("district", district.code),
                         address=client_address(),
                         agreement_signed_on=_iso(signed))
            code = district.code
    except Refusal as refusal:
        flash(f"Not added: {refusal.message}", "error")
        with transaction() as session:
            return _districts_page(session, form, 422)

    log.info("district_added district=%s", code)
    flash(f"Added district {code}"
          + (f", agreement signed on {signed.isoformat()}." if signed
             else ", no tracking agreement yet."), "success")
    return redirect(url_for("operator_pages.districts"))


@bp.post("/districts/<code>/agreement")
@login_required
def record_agreement(code: str):
    """Record or change the date the district signed its tracking agreement."""
    try:
        with transaction() as session:
            person = _operator(session)
            district = district_by_code(session, code)
            try:
                signed = _agreement_date(request.form.get("agreement_signed_on", ""))
            except VaultError as error:
                raise Refusal(error) from error
            previous = district.agreement_signed_on
            district.agreement_signed_on = signed
            record_event(session, person, "agreement_recorded",
                         district_id=district.id, subject=("district", district.code),
                         address=client_address(), previous=_iso(previous),
                         agreement_signed_on=_iso(signed))
            code = district.code
    except Refusal as refusal:
        flash(f"Not changed: {refusal.message}", "error")
        return redirect(url_for("operator_pages.districts"))

    log.info("agreement_recorded district=%s", code)
    flash(f"Recorded: district {code} signed its tracking agreement on "
          f"{signed.isoformat()}.", "success")
    return redirect(url_for("operator_pages.districts"))


def _agreement_date(value: str, optional: bool = False):
    """The agreement date from a form: ISO, not in the future; blank if optional."""
    if not value.strip():
        if optional:
            return None
        raise InvalidRequest("Give the date the agreement was signed.",
                             code="invalid_date", status=422)
    signed = parse_date(value.strip(), "agreement_signed_on")
    if signed > runtime().today():
        raise InvalidRequest("An agreement date cannot be in the future.",
                             code="invalid_date", status=422)
    return signed


def _iso(day) -> str | None:
    return day.isoformat() if day else None


@bp.get("/people")
@login_required
def people():
    """Everyone with an account: role, districts, active or not."""
    with transaction() as session:
        _operator(session)
        return _people_page(session)


def _people_page(session: Session, form: dict | None = None,
                 new_account: dict | None = None, status: int = 200):
    everyone = session.scalars(select(Person).order_by(
        Person.active.desc(), Person.role, Person.email)).all()
    codes = session.scalars(select(District.code).order_by(District.code)).all()
    return render_template(
        "operator_people.html", people=everyone, district_codes=codes, roles=ROLES,
        roles_with_districts=ROLES_WITH_DISTRICTS, district_staff=DISTRICT_STAFF,
        form=form or {"districts": []}, new_account=new_account,
        me=current_user.person_id), status


@bp.post("/people")
@login_required
def add_person_form():
    """Add a person; a blank password is generated and shown on this answer only."""
    form = {"email": request.form.get("email", "").strip(),
            "role": request.form.get("role", ""),
            "districts": request.form.getlist("districts")}
    typed = request.form.get("password", "")
    password = typed or generate_password()
    try:
        with transaction() as session:
            operator = _operator(session)
            try:
                if typed and typed != request.form.get("repeat_password", ""):
                    raise InvalidRequest("The two passwords differ.",
                                         code="password_mismatch")
                person = add_person(session, form["email"], form["role"],
                                    form["districts"], password)
            except VaultError as error:
                raise Refusal(error) from error
            record_event(session, operator, "person_added",
                         subject=("person", str(person.id)), address=client_address(),
                         role=person.role, districts=sorted(form["districts"]),
                         password_generated=not typed)
            log.info("person_added person=%s role=%s", person.id, person.role)
            new_account = {"email": person.email, "role": person.role,
                           "password": None if typed else password}
            return _people_page(session, new_account=new_account)
    except Refusal as refusal:
        flash(f"Not added: {refusal.message}", "error")
        with transaction() as session:
            return _people_page(session, form, status=422)


@bp.post("/people/<int:person_id>/deactivate")
@login_required
def deactivate(person_id: int):
    """Deactivate an account: no more sign-ins, sessions or API calls."""
    with transaction() as session:
        operator = _operator(session)
        person = session.get(Person, person_id)
        if person is None:
            raise NotFound(f"No person {person_id}.")
        if person.id == operator.id:
            flash("You cannot deactivate your own account.", "error")
            return redirect(url_for("operator_pages.people"))
        if not person.active:
            flash(f"{person.email} was already inactive.", "info")
            return redirect(url_for("operator_pages.people"))
        person.active = False
        record_event(session, operator, "person_deactivated",
                     subject=("person", str(person.id)), address=client_address())
        email = person.email

    log.info("person_deactivated person=%s", person_id)
    flash(f"Deactivated: {email} can no longer sign in or use the API.", "success")
    return redirect(url_for("operator_pages.people"))


def ready_levels(session: Session, person: Person) -> list[ReadyLevel]:
    """Every level of every student that is complete today and not yet issued."""
    today = runtime().today()
    students = session.scalars(
        access.students_visible_to(person).order_by(Student.lasid)).all()
    ready = []
    for student in students:
        report = rules.completeness(record_facts(session, student), today)
        ready += [ReadyLevel(student, level) for level in rules.LEVELS
                  if report[level]["status"] == "complete"]
    return ready


@bp.get("/ready")
@login_required
def ready():
    """Students ready for a certificate, one row per level, each with its button."""
    with transaction() as session:
        person = _operator(session)
        rows = ready_levels(session, person)
        record_event(session, person, "ready_students_listed",
                     address=client_address(), count=len(rows))
        return render_template("operator_ready.html", rows=rows)


@bp.post("/ready/issue")
@login_required
def issue_one():
    """Issue one student's certificate of one level."""
    lasid = request.form.get("lasid", "")
    level = request.form.get("level", "")
    outcome = _issue(lasid, level)
    if outcome.number:
        flash(f"Issued: {rules.LEVELS[level]} certificate {outcome.number} to "
              f"LASID {lasid}.", "success")
    else:
        flash(f"Not issued to LASID {lasid}: {outcome.refusal}", "error")
    return redirect(url_for("operator_pages.ready"))


@bp.get("/ready/confirm")
@login_required
def confirm_all():
    """The confirmation: exactly the certificates "Issue all" will issue."""
    with transaction() as session:
        person = _operator(session)
        rows = ready_levels(session, person)
        record_event(session, person, "ready_students_listed",
                     address=client_address(), count=len(rows))
        return render_template("operator_confirm.html", rows=rows)


@bp.post("/ready/issue-all")
@login_required
def issue_all():
    """Issue every item the confirmation page listed, one transaction each."""
    with transaction() as session:
        _operator(session)
    items = request.form.getlist("item")[:MAX_ITEMS]
    outcomes = []
    for item in dict.fromkeys(items):
        found = ITEM.match(item)
        if found is None:
            outcomes.append(IssueOutcome(item[:20], "", refusal="Not a student and "
                                         "level from the confirmation page."))
            continue
        outcomes.append(_issue(found.group(1), found.group(2)))

    issued = sum(1 for outcome in outcomes if outcome.number)
    log.info("issue_all asked=%s issued=%s", len(outcomes), issued)
    return render_template("operator_issued.html", outcomes=outcomes, issued=issued)


def _issue(lasid: str, level: str) -> IssueOutcome:
    """Issue in a transaction of its own; a refusal rolls back only this one."""
    name = ""
    try:
        with transaction() as session:
            person = _operator(session)
            try:
                student = access.visible_student(session, person, lasid)
                name = student.full_name
                certificate = issue_certificate(runtime(), session, person, student,
                                                level, client_address())
            except VaultError as error:
                raise Refusal(error) from error
            return IssueOutcome(lasid, level, name, number=certificate.number)
    except Refusal as refusal:
        return IssueOutcome(lasid, level, name, refusal=refusal.message)
