"""The pages of district staff and the operator: students, evidence, certificates.

Each view is a short recipe: parse the form, look the student up within what
the signed-in person may see, call one domain operation, respond. A POST ends
in a redirect back to the student's page with the verdict flashed; a refusal
(any `VaultError` of the operation) rolls the transaction back and is flashed
too, while a record of another district answers 404 as if it did not exist.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

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
from sqlalchemy.orm import Session

from vault import access, rules
from vault.accounts import DISTRICT_STAFF
from vault.audit import record_event, student_subject
from vault.certificates import issue_certificate, open_certificate
from vault.documents import open_document, store_document
from vault.errors import InvalidRequest, NotFound, VaultError
from vault.models import Person, Student
from vault.students import parse_date, record_facts, record_module
from web.api import document_json, pdf_response
from web.auth import signed_in_person
from web.dashboard import Filters, build_dashboard, chart_bars
from web.runtime import client_address, runtime, transaction

bp = Blueprint("schools", __name__)

STUDENT_READERS = DISTRICT_STAFF + ("operator",)
UPLOADERS = DISTRICT_STAFF
ISSUERS = ("operator",)


@bp.app_template_filter("local_time")
def local_time(moment: datetime) -> str:
    """A stored (UTC) moment as the clock reads in the vault's time zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    local = moment.astimezone(runtime().settings.timezone)
    return local.strftime("%Y-%m-%d %H:%M %Z")


class Refusal(Exception):
    """A domain operation said no; carries its message for the person."""

    def __init__(self, error: VaultError):
        super().__init__(error.message)
        self.message = error.message


@contextmanager
def _refusable() -> Iterator[None]:
    """Turn the operation's VaultError into a Refusal that rolls back the work."""
    try:
        yield
    except VaultError as error:
        raise Refusal(error) from error


@contextmanager
def _refusal_flashed() -> Iterator[None]:
    """Flash a Refusal (after its transaction rolled back) instead of failing."""
    try:
        yield
    except Refusal as refusal:
        flash(f"Refused: {refusal.message}", "error")


@bp.after_request
def _not_cached(response: Response) -> Response:
    # Student records must not stay in a shared school computer's browser cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_context_processor
def _titles() -> dict:
    return {"MODULES": rules.MODULES, "KINDS": rules.KINDS, "LEVELS": rules.LEVELS,
            "SCHOOL_MODULES": rules.SCHOOL_MODULES}


@bp.get("/")
@login_required
def home():
    """Each person's home: the student list for those who may see students."""
    if current_user.role in STUDENT_READERS:
        return redirect(url_for("schools.students"))
    if current_user.role == "auditor":
        return redirect(url_for("audit_pages.packages"))
    return render_template("home.html", role=current_user.role)


@bp.get("/students")
@login_required
def students():
    """The dashboard: students by school with their status, search and filters."""
    filters = Filters.from_args(request.args)
    with transaction() as session:
        person = signed_in_person(session)
        access.require_role(person, STUDENT_READERS, "see student records")
        board = build_dashboard(session, person, filters, runtime().today())

        record_event(session, person, "students_listed", address=client_address(),
                     count=len(board.rows))
        return render_template("students.html", dashboard=board, filters=filters,
                               chart_bars=chart_bars,
                               show_district=person.role == "operator",
                               may_use_template=person.role in UPLOADERS)


@bp.get("/students/<lasid>")
@login_required
def student(lasid: str):
    """One student's modules, evidence, what is missing and certificates."""
    with transaction() as session:
        person, student = _visible_student(session, lasid, STUDENT_READERS,
                                           "see student records")
        facts = record_facts(session, student)
        today = runtime().today()

        record_event(session, person, "student_read", district_id=student.district_id,
                     subject=student_subject(student), address=client_address())
        return render_template(
            "student.html", student=student, facts=facts, today=today,
            exams=sorted(facts.exams, key=lambda outcome: outcome.taken_on),
            completeness=rules.completeness(facts, today),
            may_upload=person.role in UPLOADERS, may_issue=person.role in ISSUERS)


@bp.post("/students/<lasid>/modules")
@login_required
def record_module_date(lasid: str):
    """Record the date the student completed one school module."""
    module = request.form.get("module", "")
    with _refusal_flashed():
        with transaction() as session:
            person, student = _visible_student(session, lasid, STUDENT_READERS,
                                               "record module dates")
            with _refusable():
                completed_on = parse_date(request.form.get("completed_on"))
                record_module(session, person, student, module, completed_on,
                              runtime().today())
        flash(f"Recorded: {rules.MODULES[module]} completed on "
              f"{completed_on.isoformat()}.", "success")
    return _back_to(lasid)


@bp.post("/students/<lasid>/documents")
@login_required
def upload_document(lasid: str):
    """Upload one evidence PDF; the check's verdict is flashed, or answered as JSON
    to the page's upload script (which sends the CSRF token as a header)."""
    if _wants_json():
        return _upload_as_json(lasid)
    upload = request.files.get("file")
    kind = request.form.get("kind", "")
    with _refusal_flashed():
        with transaction() as session:
            person, student = _visible_student(session, lasid, UPLOADERS,
                                               "upload evidence")
            with _refusable():
                if upload is None or not upload.filename:
                    raise InvalidRequest("Choose a PDF file to upload.")
                document = store_document(runtime(), session, person, student, kind,
                                          upload.stream, upload.filename,
                                          client_address())
        _flash_upload(rules.KINDS[kind], document.warnings)
    return _back_to(lasid)


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _upload_as_json(lasid: str):
    """The verdict on one file: accepted, accepted with warnings, or refused."""
    upload = request.files.get("file")
    kind = request.form.get("kind", "")
    try:
        with transaction() as session:
            person, student = _visible_student(session, lasid, UPLOADERS,
                                               "upload evidence")
            if upload is None or not upload.filename:
                raise InvalidRequest("Choose a PDF file to upload.",
                                     code="file_missing", status=422)
            document = store_document(runtime(), session, person, student, kind,
                                      upload.stream, upload.filename,
                                      client_address())
            answer = document_json(document)
    except VaultError as refusal:
        return {"verdict": "refused", "code": refusal.code,
                "message": refusal.message}, refusal.status

    title = rules.KINDS[kind]
    if answer["warnings"]:
        return {"verdict": "accepted_with_warnings", "document": answer,
                "message": f"Accepted with warnings: the {title}. " + " ".join(
                    warning["message"] for warning in answer["warnings"])}, 201
    return {"verdict": "accepted", "document": answer,
            "message": f"Accepted: the {title}."}, 201


def _flash_upload(title: str, warnings: list[dict]) -> None:
    if not warnings:
        flash(f"Accepted: the {title}.", "success")
        return
    flash(f"Accepted with warnings: the {title}. "
          + " ".join(warning["message"] for warning in warnings), "warning")


@bp.get("/students/<lasid>/documents/<document_id>")
@login_required
def download_document(lasid: str, document_id: str):
    """The exact uploaded bytes of one of the student's documents."""
    with transaction() as session:
        person, student = _visible_student(session, lasid, STUDENT_READERS,
                                           "read evidence")
        document = access.visible_document(session, person, document_id)
        if document.student_id != student.id:
            raise NotFound(f"No document {document_id}.")

        stream = open_document(runtime(), session, person, document,
                               client_address())
        return pdf_response(stream, document.size,
                            f"{document.kind}-{document.id}.pdf")


@bp.post("/students/<lasid>/certificates")
@login_required
def issue(lasid: str):
    """Issue the certificate of one level, if the evidence is complete today."""
    level = request.form.get("level", "")
    with _refusal_flashed():
        with transaction() as session:
            person, student = _visible_student(session, lasid, ISSUERS,
                                               "issue certificates")
            with _refusable():
                certificate = issue_certificate(runtime(), session, person, student,
                                                level, client_address())
        flash(f"Issued: {rules.LEVELS[level]} certificate {certificate.number}.",
              "success")
    return _back_to(lasid)


@bp.get("/certificates/<number>")
@login_required
def download_certificate(number: str):
    """The certificate PDF, for its district's staff and the operator."""
    with transaction() as session:
        person = signed_in_person(session)
        access.require_role(person, STUDENT_READERS, "download certificates")
        certificate = access.visible_certificate(session, person, number)

        stream = open_certificate(runtime(), session, person, certificate,
                                  client_address())
        return pdf_response(stream, certificate.size, f"{certificate.number}.pdf")


def _visible_student(session: Session, lasid: str, roles: tuple[str, ...],
                     doing: str) -> tuple[Person, Student]:
    """The signed-in person, if their role may do this, and the student they see."""
    person = signed_in_person(session)
    access.require_role(person, roles, doing)
    return person, access.visible_student(session, person, lasid)


def _back_to(lasid: str) -> Response:
    return redirect(url_for("schools.student", lasid=lasid))
