"""The completion template in the browser and in the API: download, upload, report.

`bp` holds the pages (cookie session, CSRF on the upload form); `api_bp` the
two contract routes with bearer tokens, exempt from CSRF like the rest of the
API.
"""

from flask import Blueprint, Response, render_template, request
from flask_login import login_required
from sqlalchemy.orm import Session

from vault import access
from vault.accounts import DISTRICT_STAFF
from vault.audit import record_event
from vault.completion_template import (
    ImportReport,
    import_template,
    media_type,
    open_upload,
    template_bytes,
)
from vault.errors import InvalidRequest
from vault.models import Person
from web.api import endpoint
from web.auth import signed_in_person
from web.openapi import OPENAPI
from web.runtime import client_address, runtime, transaction

bp = Blueprint("templates_io", __name__)
api_bp = Blueprint("templates_api", __name__, url_prefix="/api/v1")

TEMPLATE_USERS = DISTRICT_STAFF


@bp.get("/templates/completion")
@login_required
def completion_template():
    """Download the template; upload it back; see the report."""
    with transaction() as session:
        person = signed_in_person(session)
        access.require_role(person, TEMPLATE_USERS, "use the completion template")
    return render_template("completion_template.html", report=None)


@bp.get("/templates/completion.<fmt>")
@login_required
def download_template(fmt: str):
    """The template filled with the person's students, as XLSX or CSV."""
    with transaction() as session:
        person = signed_in_person(session)
        access.require_role(person, TEMPLATE_USERS, "use the completion template")
        return _template_response(session, person, fmt)


@bp.post("/templates/completion")
@login_required
def upload_template():
    """Apply an uploaded template and show the row-by-row report."""
    refusal = None
    report = None
    try:
        with transaction() as session:
            person = signed_in_person(session)
            access.require_role(person, TEMPLATE_USERS, "use the completion template")
            report = _apply_upload(session, person)
    except InvalidRequest as error:
        refusal = error.message
    status = 422 if refusal else 200
    return render_template("completion_template.html", report=report,
                           refusal=refusal), status


@api_bp.get("/templates/completion.xlsx")
@endpoint(*TEMPLATE_USERS)
def api_download_template(session: Session, person: Person):
    """Download the completion template."""
    return _template_response(session, person, "xlsx")


@api_bp.post("/imports/completion-template")
@endpoint(*TEMPLATE_USERS)
def api_upload_template(session: Session, person: Person):
    """Upload the completion template."""
    return _apply_upload(session, person).as_dict()


def _template_response(session: Session, person: Person, fmt: str) -> Response:
    if fmt not in ("xlsx", "csv"):
        raise InvalidRequest("The template comes as .xlsx or .csv.",
                             code="invalid_format", status=404)
    data = template_bytes(session, person, fmt)
    record_event(session, person, "template_downloaded", address=client_address(),
                 format=fmt)
    response = Response(data, mimetype=media_type(fmt))
    response.headers["Content-Disposition"] = (
        f'attachment; filename="completion-template.{fmt}"')
    response.headers["Cache-Control"] = "no-store"
    return response


def _apply_upload(session: Session, person: Person) -> ImportReport:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidRequest("Send the spreadsheet as the multipart field `file`.",
                             code="file_missing", status=422)
    data = open_upload(upload.stream, runtime().settings.max_upload_bytes)
    report = import_template(session, person, data, runtime().today())
    record_event(session, person, "template_imported", address=client_address(),
                 rows=report.rows, applied=report.applied,
                 errors=len(report.errors))
    return report


_TEMPLATE_PATHS = {
    "/api/v1/templates/completion.xlsx": {"get": {
        "summary": "The completion template with the caller's students filled in",
        "security": [{"bearer": []}],
        "responses": {"200": {"description": "An XLSX workbook", "content": {
            media_type("xlsx"): {"schema": {"type": "string", "format": "binary"}}}}},
    }},
    "/api/v1/imports/completion-template": {"post": {
        "summary": "Apply a completion template (XLSX or CSV), row by row",
        "security": [{"bearer": []}],
        "requestBody": {"content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary"}}}}}},
        "responses": {
            "200": {"description": "`{rows, applied, errors: [{row, column, "
                                   "message}]}`",
                    "content": {"application/json": {"schema": {"type": "object"}}}},
            "422": {"description": "Not a spreadsheet (`template_unreadable`) or no "
                                   "file (`file_missing`)"}},
    }},
}
# The served OpenAPI document describes the whole API, these routes included.
OPENAPI.setdefault("paths", {}).update(_TEMPLATE_PATHS)
