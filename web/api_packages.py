"""The API of sealed packages and of the audit log (CONTRACT.md).

Auditors see the packages of the districts granted to them and nothing else;
a package, district or student outside what a person may see answers 404.
"""

import csv
import io

from flask import Blueprint, Response, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from vault import access
from vault.accounts import DISTRICT_STAFF
from vault.audit import event_json, events_query, student_subject
from vault.errors import InvalidRequest, NotFound
from vault.models import (
    AuditEvent,
    Certificate,
    EvidenceDocument,
    Person,
    SealedPackage,
    Student,
)
from vault.packages import list_packages, package_detail, prepare_download, zip_chunks
from web.api import endpoint
from web.openapi import COMMON, OPENAPI
from web.runtime import client_address, runtime

bp = Blueprint("api_packages", __name__, url_prefix="/api/v1")

PACKAGE_READERS = ("operator", "auditor") + DISTRICT_STAFF
EVENT_READERS = ("operator", "auditor")
DISCLOSURE_READERS = ("operator", "district_admin")
READ_ACTIONS = ("student_read", "document_read", "certificate_read", "package_read",
                "package_downloaded")
EVENTS_LIMIT = 200
MAX_EVENTS_LIMIT = 1000


@bp.get("/packages")
@endpoint(*PACKAGE_READERS)
def get_packages(session: Session, person: Person):
    """List sealed packages."""
    district = request.args.get("district") or None
    lasid = request.args.get("lasid") or None
    return {"packages": list_packages(session, person, district, lasid)}


@bp.get("/packages/<package_id>")
@endpoint(*PACKAGE_READERS)
def get_package(session: Session, person: Person, package_id: str):
    """Read sealed packages."""
    package = access.visible_package(session, person, package_id)
    return package_detail(runtime(), session, person, package, client_address())


@bp.get("/packages/<package_id>/download")
@endpoint(*PACKAGE_READERS)
def download_package(session: Session, person: Person, package_id: str):
    """Download sealed packages."""
    package = access.visible_package(session, person, package_id)
    download = prepare_download(runtime(), session, person, package, client_address())
    response = Response(zip_chunks(runtime(), download), mimetype="application/zip",
                        direct_passthrough=True)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{download.filename}"')
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/audit/events")
@endpoint(*EVENT_READERS)
def get_events(session: Session, person: Person):
    """List audit events."""
    district_code = request.args.get("district")
    lasid = request.args.get("student")
    if bool(district_code) == bool(lasid):
        raise InvalidRequest("Name either `district=CODE` or `student=LASID`.",
                             code="scope_required", status=422)
    limit = _limit(request.args.get("limit"))
    before = request.args.get("before_seq", type=int)

    if district_code:
        district = access.visible_district(session, person, district_code)
        query = events_query(district_id=district.id)
    else:
        student = _audited_student(session, person, lasid)
        query = events_query(district_id=student.district_id,
                             subjects=student_subjects(session, student))
    if before is not None:
        query = query.where(AuditEvent.seq < before)

    events = session.scalars(query.limit(limit)).all()
    emails, lasids = _emails(session, events), _lasids_of(session, events)
    return {"events": [{**event_json(item, emails),
                        "lasid": lasids.get((item.subject_type, item.subject_id))}
                       for item in events],
            "next_before_seq": events[-1].seq if len(events) == limit else None}


@bp.get("/audit/disclosures.csv")
@endpoint(*DISCLOSURE_READERS)
def get_disclosures(session: Session, person: Person):
    """Export the disclosure record."""
    code = request.args.get("district")
    if not code:
        districts = [grant.district for grant in person.grants]
        if len(districts) != 1:
            raise InvalidRequest("Name the district: `district=CODE`.",
                                 code="district_required", status=422)
        code = districts[0].code
    district = access.visible_district(session, person, code)

    events = session.scalars(events_query(district_id=district.id,
                                          actions=READ_ACTIONS)).all()
    body = disclosure_csv(session, events)
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="disclosures-{district.code}.csv"')
    response.headers["Cache-Control"] = "no-store"
    return response


def _limit(value: str | None) -> int:
    try:
        limit = int(value) if value else EVENTS_LIMIT
    except ValueError as error:
        raise InvalidRequest("`limit` is a whole number.", code="invalid_limit",
                             status=422) from error
    return max(1, min(limit, MAX_EVENTS_LIMIT))


def _audited_student(session: Session, person: Person, lasid: str) -> Student:
    student = session.scalar(select(Student).where(Student.lasid == lasid))
    if student is None or (person.role != "operator"
                           and student.district_id not in person.district_ids):
        raise NotFound(f"No student {lasid}.")
    return student


def student_subjects(session: Session, student: Student) -> list[tuple[str, str]]:
    """Every record of a student that events name: the student, their documents,
    certificates and packages."""
    # Events of before student_subject named the student by LASID.
    subjects = [student_subject(student), ("student", student.lasid)]
    subjects += [("document", value) for value in session.scalars(
        select(EvidenceDocument.id).where(EvidenceDocument.student_id == student.id))]
    subjects += [("certificate", value) for value in session.scalars(
        select(Certificate.number).where(Certificate.student_id == student.id))]
    subjects += [("package", value) for value in session.scalars(
        select(SealedPackage.id).where(SealedPackage.student_id == student.id))]
    return subjects


def _emails(session: Session, events: list[AuditEvent]) -> dict[int, str]:
    ids = {item.actor_id for item in events if item.actor_id}
    if not ids:
        return {}
    return dict(session.execute(select(Person.id, Person.email)
                                .where(Person.id.in_(ids))).all())


def disclosure_csv(session: Session, events: list[AuditEvent]) -> str:
    """Who read which student's record, when and from where, one row a read."""
    emails = _emails(session, events)
    roles = dict(session.execute(select(Person.id, Person.role).where(
        Person.id.in_({item.actor_id for item in events if item.actor_id}))).all())
    lasids = _lasids_of(session, events)

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["at", "reader", "reader_role", "action", "lasid", "record_type",
                     "record_id", "address"])
    for item in events:
        writer.writerow([_cell(value) for value in (
            item.at.isoformat(), emails.get(item.actor_id, ""),
            roles.get(item.actor_id, ""), item.action,
            lasids.get((item.subject_type, item.subject_id), ""), item.subject_type,
            item.subject_id, item.address or "")])
    return out.getvalue()


def _lasids_of(session: Session, events: list[AuditEvent]) -> dict:
    """The LASID behind each event's subject (empty once the record is gone)."""
    wanted: dict[str, set[str]] = {}
    for item in events:
        wanted.setdefault(item.subject_type or "", set()).add(item.subject_id or "")
    found = {("student", lasid): lasid for lasid in wanted.get("student", ())}
    student_ids = [int(value) for value in wanted.get("student_record", ())
                   if value.isascii() and value.isdigit()]
    found.update({("student_record", str(student_id)): lasid
                  for student_id, lasid in session.execute(
                      select(Student.id, Student.lasid)
                      .where(Student.id.in_(student_ids)))})
    lookups = (("document", EvidenceDocument.id, EvidenceDocument.student_id),
               ("certificate", Certificate.number, Certificate.student_id),
               ("package", SealedPackage.id, SealedPackage.student_id))
    for kind, column, student_column in lookups:
        if wanted.get(kind):
            rows = session.execute(select(column, Student.lasid)
                                   .join(Student, Student.id == student_column)
                                   .where(column.in_(wanted[kind])))
            found.update({(kind, key): lasid for key, lasid in rows})
    return found


def _cell(value) -> str:
    """A cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _json(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"type": "object"}}}}


PACKAGE_ID = {"name": "package_id", "in": "path", "required": True,
              "schema": {"type": "string"}}
_PACKAGE_PATHS = {
    "/api/v1/packages": {"get": {
        "summary": "Sealed packages the caller may see, newest first (auditors: "
                   "their granted districts)",
        "parameters": [
            {"name": "district", "in": "query", "schema": {"type": "string"}},
            {"name": "lasid", "in": "query", "schema": {"type": "string"}}],
        "responses": {"200": _json("`{packages: [{id, reason, district, lasid, "
                                   "certificate, documents, evidence_removed, "
                                   "sealed_at, retain_until, ...}]}`"),
                      **COMMON}}},
    "/api/v1/packages/{package_id}": {
        "parameters": [PACKAGE_ID],
        "get": {"summary": "The signed manifest, its Ed25519 signature (hex) and "
                           "public key",
                "responses": {"200": _json("`{id, manifest, manifest_sha256, "
                                           "signature, public_key, "
                                           "public_key_fingerprint}`"),
                              **COMMON}}},
    "/api/v1/packages/{package_id}/download": {
        "parameters": [PACKAGE_ID],
        "get": {"summary": "The package as a zip that `vault package verify` checks",
                "responses": {"200": {"description": "The zip", "content": {
                    "application/zip": {"schema": {"type": "string",
                                                   "format": "binary"}}}},
                    **COMMON}}},
    "/api/v1/audit/events": {"get": {
        "summary": "Audit events of a district or a student, newest first "
                   "(operator, auditors of the district)",
        "parameters": [
            {"name": "district", "in": "query", "schema": {"type": "string"}},
            {"name": "student", "in": "query", "schema": {"type": "string"}},
            {"name": "limit", "in": "query", "schema": {"type": "integer"}},
            {"name": "before_seq", "in": "query", "schema": {"type": "integer"}}],
        "responses": {"200": _json("`{events: [...], next_before_seq}`"),
                      **COMMON}}},
    "/api/v1/audit/disclosures.csv": {"get": {
        "summary": "Every read of the district's students' records, as CSV "
                   "(district admin, operator)",
        "parameters": [{"name": "district", "in": "query",
                        "schema": {"type": "string"}}],
        "responses": {"200": {"description": "CSV: at, reader, reader_role, "
                                             "action, lasid, record_type, "
                                             "record_id, address",
                              "content": {"text/csv": {}}}, **COMMON}}},
}
# The served OpenAPI document describes the whole API, these routes included.
OPENAPI.setdefault("paths", {}).update(_PACKAGE_PATHS)
