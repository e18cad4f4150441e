"""The HTTP API of CONTRACT.md: bearer tokens, JSON in and out.

Each view is a short recipe: parse, look the record up within what the caller
may see, call one domain operation, answer.
"""

from collections.abc import Callable, Iterator
from functools import wraps
from typing import BinaryIO

from flask import Blueprint, Response, g, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from retention.dates import retention_date
from vault import access, rules
from vault.accounts import (
    DISTRICT_STAFF,
    active_token,
    district_by_code,
    note_token_use,
    token_use_is_stale,
)
from vault.audit import record_event, student_subject
from vault.certificates import issue_certificate, open_certificate
from vault.documents import open_document, store_document
from vault.errors import Forbidden, InvalidRequest, VaultError
from vault.exams import record_exam_results
from vault.models import (
    District,
    EvidenceDocument,
    ExamResult,
    Person,
    Student,
    utcnow,
)
from vault.students import (
    enrol_student,
    parse_date,
    record_module,
    student_completeness,
)
from web.openapi import OPENAPI
from web.requests import SIGNED_IN
from web.runtime import client_address, runtime, transaction

bp = Blueprint("api", __name__, url_prefix="/api/v1")

STAFF = DISTRICT_STAFF
STAFF_AND_OPERATOR = DISTRICT_STAFF + ("operator",)
DOCUMENT_READERS = STAFF_AND_OPERATOR + ("auditor",)
STREAM_CHUNK = 256 * 1024


class Unauthorized(VaultError):
    code = "unauthorized"
    status = 401


def endpoint(*roles: str) -> Callable:
    """Open the request's transaction, authenticate the bearer, check the role."""
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def run(**kwargs):
            with transaction() as session:
                person = _bearer(session)
                access.require_role(person, roles, view.__doc__.split(".")[0].lower())
                g.setdefault(SIGNED_IN, True)
                return view(session, person, **kwargs)
        return run
    return decorate


def _bearer(session: Session) -> Person:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    token = None
    if scheme.lower() == "bearer" and secret.strip():
        token = active_token(session, secret.strip())
    if token is None:
        raise Unauthorized("Sign in with `Authorization: Bearer TOKEN`; ask the "
                           "operator for a token.")

    # Its own short transaction: the request's stays free of writes until its
    # work is done, so a long upload holds no lock (SQLite has one for all).
    now = utcnow()
    if token_use_is_stale(token, now):
        with transaction() as own:
            note_token_use(own, token.id, now)
    return token.person


def _json_body():
    request.get_data(cache=True)  # a body over the limit is a 413, not bad JSON
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        body = None  # nested deeper than any request of ours needs
    if body is None:
        raise InvalidRequest("The body must be JSON.", code="invalid_json")
    return body


def _json_object() -> dict:
    body = _json_body()
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.", code="invalid_json")
    return body


@bp.get("/openapi.json")
def openapi():
    return OPENAPI


@bp.put("/students/<lasid>")
@endpoint(*STAFF_AND_OPERATOR)
def put_student(session: Session, person: Person, lasid: str):
    """Enrol or update students."""
    body = _json_object()
    district = _district_for_enrolment(session, person, lasid, body.get("district"))
    student, created = enrol_student(session, person, lasid, district, body)
    return _student_json(session, student), 201 if created else 200


def _district_for_enrolment(session: Session, person: Person, lasid: str,
                            code) -> District:
    if code is not None and not isinstance(code, str):
        raise InvalidRequest("`district` is a district code.", code="invalid_field",
                             status=422)
    if person.role == "operator":
        if code:
            return district_by_code(session, code)
        existing = session.scalar(select(Student).where(Student.lasid == lasid))
        if existing is None:
            raise InvalidRequest("The operator names the student's `district`.",
                                 code="district_required", status=422)
        return existing.district

    districts = [grant.district for grant in person.grants]
    if code:
        chosen = [d for d in districts if d.code == code.upper()]
        if not chosen:
            raise Forbidden(f"You may not enrol students in district {code}.")
        return chosen[0]
    existing = session.scalar(
        access.students_visible_to(person).where(Student.lasid == lasid))
    if existing is not None:
        return existing.district
    if len(districts) != 1:
        raise InvalidRequest("You work for several districts: name the `district`.",
                             code="district_required", status=422)
    return districts[0]


@bp.get("/students/<lasid>")
@endpoint(*STAFF_AND_OPERATOR)
def get_student(session: Session, person: Person, lasid: str):
    """Read student records."""
    student = access.visible_student(session, person, lasid)
    record_event(session, person, "student_read", district_id=student.district_id,
                 subject=student_subject(student), address=client_address())
    return _student_json(session, student)


@bp.put("/students/<lasid>/modules/<module>")
@endpoint(*STAFF_AND_OPERATOR)
def put_module(session: Session, person: Person, lasid: str, module: str):
    """Record module dates."""
    if module == "certification_exam":
        raise Forbidden("The Certification Exam is recorded only from results the "
                        "exam provider reports.", code="exam_from_provider")
    student = access.visible_student(session, person, lasid)
    completed_on = parse_date(_json_object().get("completed_on"))
    record_module(session, person, student, module, completed_on, runtime().today())
    return _student_json(session, student)


@bp.post("/students/<lasid>/documents")
@endpoint(*STAFF)
def post_document(session: Session, person: Person, lasid: str):
    """Upload evidence documents."""
    student = access.visible_student(session, person, lasid)
    upload = request.files.get("file")
    kind = request.form.get("kind", "")
    if upload is None:
        raise InvalidRequest("Send the PDF as the multipart field `file`.",
                             code="file_missing", status=422)
    document = store_document(runtime(), session, person, student, kind,
                              upload.stream, upload.filename, client_address())
    return document_json(document), 201


@bp.get("/documents/<document_id>")
@endpoint(*DOCUMENT_READERS)
def get_document(session: Session, person: Person, document_id: str):
    """Read documents."""
    document = access.visible_document(session, person, document_id)
    record_event(session, person, "document_read", district_id=document.district_id,
                 subject=("document", document.id), address=client_address(),
                 part="metadata")
    return document_json(document)


@bp.get("/documents/<document_id>/content")
@endpoint(*DOCUMENT_READERS)
def get_document_content(session: Session, person: Person, document_id: str):
    """Read documents."""
    document = access.visible_document(session, person, document_id)
    stream = open_document(runtime(), session, person, document, client_address())
    return pdf_response(stream, document.size, f"{document.kind}-{document.id}.pdf")


@bp.post("/exam-results")
@endpoint("exam_provider", "operator")
def post_exam_results(session: Session, person: Person):
    """Report exam results."""
    accepted, rejected = record_exam_results(session, person, _json_body(),
                                             runtime().today())
    return {"accepted": accepted, "rejected": rejected}


@bp.get("/students/<lasid>/completeness")
@endpoint(*STAFF_AND_OPERATOR)
def get_completeness(session: Session, person: Person, lasid: str):
    """Read student records."""
    student = access.visible_student(session, person, lasid)
    record_event(session, person, "student_read", district_id=student.district_id,
                 subject=student_subject(student), address=client_address(),
                 part="completeness")
    return student_completeness(session, student, runtime().today())


@bp.post("/students/<lasid>/certificates")
@endpoint("operator")
def post_certificate(session: Session, person: Person, lasid: str):
    """Issue certificates."""
    student = access.visible_student(session, person, lasid)
    level = _json_object().get("level")
    if not isinstance(level, str) or level not in rules.LEVELS:
        raise InvalidRequest(f"`level` must be one of {', '.join(rules.LEVELS)}.",
                             code="invalid_level", status=422)
    certificate = issue_certificate(runtime(), session, person, student, level,
                                    client_address())
    return {"number": certificate.number, "level": certificate.level,
            "issued_on": certificate.issued_on.isoformat(),
            "package_id": certificate.package.id if certificate.package else None}, 201


@bp.get("/certificates/<number>/content")
@endpoint(*STAFF_AND_OPERATOR)
def get_certificate_content(session: Session, person: Person, number: str):
    """Download certificates."""
    certificate = access.visible_certificate(session, person, number)
    stream = open_certificate(runtime(), session, person, certificate, client_address())
    return pdf_response(stream, certificate.size, f"{certificate.number}.pdf")


def pdf_response(stream: BinaryIO, size: int, filename: str) -> Response:
    """Stream a PDF as a download; never rendered inline in our origin."""
    response = Response(_chunks(stream), mimetype="application/pdf",
                        direct_passthrough=True)
    response.content_length = size
    response.call_on_close(stream.close)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(STREAM_CHUNK):
        yield chunk


def document_json(document: EvidenceDocument) -> dict:
    return {
        "id": document.id,
        "kind": document.kind,
        "filename": document.filename,
        "sha256": document.sha256,
        "size": document.size,
        "pages": document.pages,
        "warnings": document.warnings,
        "uploaded_at": document.uploaded_at.isoformat(),
    }


def _student_json(session: Session, student: Student) -> dict:
    modules = {m.module: m.completed_on.isoformat() for m in student.modules}
    # The Certification Exam module is done with the first passed Regional Core
    # exam; the statewide levels' exams have their own results.
    passed = session.scalar(
        select(ExamResult.taken_on).where(ExamResult.lasid == student.lasid,
                                          ExamResult.exam == "regional_core",
                                          ExamResult.passed.is_(True))
        .order_by(ExamResult.taken_on).limit(1))
    if passed is not None:
        modules["certification_exam"] = passed.isoformat()
    return {
        "lasid": student.lasid,
        "first_name": student.first_name,
        "last_name": student.last_name,
        "school": student.school,
        "cohort": student.cohort,
        "district": student.district.code,
        "modules": {m: modules[m] for m in rules.MODULES if m in modules},
        "documents": [document_json(d) for d in student.documents],
        "certificates": [{"number": c.number, "level": c.level,
                          "issued_on": c.issued_on.isoformat()}
                         for c in student.certificates],
        "completeness": student_completeness(session, student, runtime().today()),
        "retention_date": _iso(retention_date(session, student,
                                              runtime().settings.timezone)),
    }


def _iso(day) -> str | None:
    return day.isoformat() if day else None
