"""Auditor pages: the sealed packages of the districts they audit.

An auditor sees only packages of districts granted to them (the operator sees
all); any other package answers 404 as if it did not exist. Every list, package
page, document and zip they open is an audit event. A PDF opens in the browser
only under `Content-Security-Policy: sandbox` (no script of the document runs
in our origin); a PDF with active content (JavaScript, launch actions,
attachments, XFA) is always downloaded instead.

Built on the SealedPackage rows, vault.sealing's signed manifest and
vault.packages' streamed zip.
"""

import json
from datetime import date

from flask import Blueprint, Response, render_template, request
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from vault import access, rules
from vault.audit import record_event
from vault.documents import open_document
from vault.errors import NotFound
from vault.models import (
    Certificate,
    District,
    EvidenceDocument,
    Person,
    SealedPackage,
    Student,
)
from vault.packages import prepare_download, zip_chunks
from vault.sealing import sealed_manifest
from web.api import pdf_response
from web.auth import signed_in_person
from web.runtime import client_address, runtime, transaction

bp = Blueprint("audit_pages", __name__)

AUDITORS = ("auditor", "operator")
ACTIVE_CONTENT = {"javascript", "launch_action", "embedded_files", "xfa_form"}


@bp.after_request
def _not_cached(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _packages_query(person: Person):
    query = (select(SealedPackage, Student, District, Certificate)
             .join(Student, Student.id == SealedPackage.student_id)
             .join(District, District.id == SealedPackage.district_id)
             .outerjoin(Certificate, Certificate.id == SealedPackage.certificate_id)
             .where(SealedPackage.object_key.is_not(None)))
    if person.role != "operator":
        query = query.where(SealedPackage.district_id.in_(person.district_ids))
    return query


def _auditor(session: Session) -> Person:
    person = signed_in_person(session)
    access.require_role(person, AUDITORS, "read sealed packages")
    return person


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@bp.get("/audit/packages")
@login_required
def packages():
    """Sealed packages by district, school and date, with filters."""
    district_code = request.args.get("district", "").strip().upper()[:16]
    school = request.args.get("school", "").strip()[:200]
    since, until = _day(request.args.get("from")), _day(request.args.get("to"))
    with transaction() as session:
        person = _auditor(session)
        rows = list(session.execute(_packages_query(person).order_by(
            District.code, Student.school, SealedPackage.created_at.desc())))
        districts = sorted({row.District.code: row.District for row in rows}.values(),
                           key=lambda district: district.code)
        granted = _granted_districts(session, person)
        schools = sorted({row.Student.school for row in rows})

        shown = [row for row in rows
                 if (not district_code or row.District.code == district_code)
                 and (not school or row.Student.school == school)
                 and (since is None or row.SealedPackage.created_at.date() >= since)
                 and (until is None or row.SealedPackage.created_at.date() <= until)]
        record_event(session, person, "packages_listed", address=client_address(),
                     count=len(shown))
        return render_template(
            "audit_packages.html", rows=shown, districts=districts, granted=granted,
            schools=schools, district_code=district_code, school=school,
            since=request.args.get("from", ""), until=request.args.get("to", ""))


def _granted_districts(session: Session, person: Person) -> list[District]:
    if person.role == "operator":
        return list(session.scalars(select(District).order_by(District.code)))
    return sorted((grant.district for grant in person.grants),
                  key=lambda district: district.code)


def _visible_package(session: Session, person: Person, package_id: str):
    row = None
    if package_id.isalnum():
        row = session.execute(_packages_query(person).where(
            SealedPackage.id == package_id)).first()
    if row is None:
        raise NotFound(f"No package {package_id}.")
    return row


@bp.get("/audit/packages/<package_id>")
@login_required
def package(package_id: str):
    """One package: its signed manifest, documents with warnings, the zip."""
    with transaction() as session:
        person = _auditor(session)
        row = _visible_package(session, person, package_id)
        sealed = row.SealedPackage
        manifest, signature = sealed_manifest(runtime(), sealed)
        documents = list(session.scalars(select(EvidenceDocument).where(
            EvidenceDocument.id.in_(sealed.document_ids))
            .order_by(EvidenceDocument.uploaded_at)))

        record_event(session, person, "package_read", district_id=sealed.district_id,
                     subject=("package", sealed.id), address=client_address())
        return render_template(
            "audit_package.html", package=sealed, student=row.Student,
            district=row.District, certificate=row.Certificate,
            manifest=json.loads(manifest),
            manifest_text=json.dumps(json.loads(manifest), indent=2,
                                     ensure_ascii=False),
            signature=signature.hex(), documents=documents,
            active=lambda document: _active_content(document), LEVELS=rules.LEVELS)


def _active_content(document: EvidenceDocument) -> bool:
    return any(warning.get("code") in ACTIVE_CONTENT
               for warning in document.warnings or [])


@bp.get("/audit/packages/<package_id>/documents/<document_id>")
@login_required
def package_document(package_id: str, document_id: str):
    """A document of the package: viewed in a sandbox, or downloaded if active."""
    with transaction() as session:
        person = _auditor(session)
        sealed = _visible_package(session, person, package_id).SealedPackage
        if document_id not in sealed.document_ids:
            raise NotFound(f"No document {document_id}.")
        document = access.visible_document(session, person, document_id)

        stream = open_document(runtime(), session, person, document,
                               client_address())
        response = pdf_response(stream, document.size,
                                f"{document.kind}-{document.id}.pdf")
        if request.args.get("download") != "1" and not _active_content(document):
            response.headers["Content-Disposition"] = (
                f'inline; filename="{document.kind}-{document.id}.pdf"')
        # pdf_response set `Content-Security-Policy: sandbox`: the document gets
        # a unique origin, with no script, form or plugin of ours.
        return response


@bp.get("/audit/packages/<package_id>/package.zip")
@login_required
def package_zip(package_id: str):
    """The package as a zip that `vault package verify` checks offline."""
    with transaction() as session:
        person = _auditor(session)
        sealed = _visible_package(session, person, package_id).SealedPackage
        download = prepare_download(runtime(), session, person, sealed,
                                    client_address())
    response = Response(zip_chunks(runtime(), download), mimetype="application/zip",
                        direct_passthrough=True)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{download.filename}"')
    return response
