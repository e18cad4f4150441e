"""The retention part of the API: legal holds, sweep runs and receipts.

Auditors and the operator place and lift holds; an auditor only within the
districts granted to them (anything else answers 404). The operator watches
the sweep: its last run, its next run and the receipts per district.
"""

from datetime import date

from flask import Blueprint, request
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from retention.dates import retention_date
from retention.holds import HOLDERS, hold_json, holds_visible_to, lift_hold, place_hold
from retention.models import SweepReceipt, SweepRun
from retention.receipts import receipt_json
from retention.scheduler import next_run
from vault.accounts import district_by_code
from vault.errors import InvalidRequest
from vault.models import Person, Student
from web.api import endpoint
from web.openapi import COMMON, OPENAPI
from web.runtime import client_address, runtime

bp = Blueprint("api_retention", __name__, url_prefix="/api/v1")

RECENT_RUNS = 20


@bp.record_once
def _exempt_from_csrf(state) -> None:
    # Bearer-token calls carry no cookie to forge, like the rest of the API.
    state.app.extensions["csrf"].exempt(bp)


@bp.post("/holds")
@endpoint(*HOLDERS)
def post_hold(session: Session, person: Person):
    """Place legal holds."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object {scope, ref, reason}.",
                             code="invalid_json")
    hold = place_hold(session, person, body.get("scope"), body.get("ref"),
                      body.get("reason"), client_address())
    return hold_json(hold), 201


@bp.delete("/holds/<int:hold_id>")
@endpoint(*HOLDERS)
def delete_hold(session: Session, person: Person, hold_id: int):
    """Lift legal holds."""
    lift_hold(session, person, hold_id, client_address())
    return "", 204


@bp.get("/holds")
@endpoint(*HOLDERS)
def get_holds(session: Session, person: Person):
    """List legal holds."""
    active_only = request.args.get("active", "").lower() in ("1", "true", "yes")
    holds = session.scalars(holds_visible_to(person, active_only))
    return {"holds": [hold_json(hold) for hold in holds]}


@bp.get("/retention/runs")
@endpoint("operator")
def get_runs(session: Session, person: Person):
    """See retention sweep runs."""
    runs = session.scalars(select(SweepRun).order_by(SweepRun.id.desc())
                           .limit(RECENT_RUNS)).all()
    last = next((run for run in runs
                 if not run.dry_run and run.status != "skipped"), None)
    return {
        "last_run": run_json(last) if last else None,
        "next_run": next_run(runtime().settings.timezone).isoformat(),
        "runs": [run_json(run) for run in runs],
    }


@bp.get("/retention/receipts")
@endpoint("operator")
def get_receipts(session: Session, person: Person):
    """See retention receipts."""
    code = request.args.get("district", "")
    if not code:
        raise InvalidRequest("Name the district: ?district=CODE.",
                             code="district_required", status=422)
    district = district_by_code(session, code)
    receipts = session.scalars(select(SweepReceipt)
                               .where(SweepReceipt.district_id == district.id)
                               .order_by(SweepReceipt.id.desc()))
    return {"district": district.code,
            "receipts": [receipt_json(receipt) for receipt in receipts]}


def run_json(run: SweepRun) -> dict:
    return {
        "id": run.id,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "as_of": run.as_of.isoformat(),
        "dry_run": run.dry_run,
        "trigger": run.trigger,
        "status": run.status,
        "counts": run.counts,
        "error": run.error,
    }


@bp.app_template_global("retention_date_of")
def retention_date_of(student: Student) -> date | None:
    """The student's retention date, for pages that show the record."""
    return retention_date(object_session(student), student,
                          runtime().settings.timezone)


def _answer(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"type": "object"}}}}


_RETENTION_PATHS = {
    "/api/v1/holds": {
        "post": {"summary": "Place a legal hold (auditor in a granted district, "
                            "operator)",
                 "requestBody": {"content": {"application/json": {"schema": {
                     "type": "object", "required": ["scope", "ref", "reason"],
                     "properties": {
                         "scope": {"type": "string",
                                   "enum": ["district", "student", "package"]},
                         "ref": {"type": "string",
                                 "description": "district code, LASID or "
                                                "package id"},
                         "reason": {"type": "string"}}}}}},
                 "responses": {"201": _answer("The hold"),
                               "422": _answer("A bad scope, ref or reason"),
                               **COMMON}},
        "get": {"summary": "Legal holds the caller may see",
                "parameters": [{"name": "active", "in": "query",
                                "schema": {"type": "boolean"}}],
                "responses": {"200": _answer("`{holds: [...]}`"), **COMMON}}},
    "/api/v1/holds/{hold_id}": {
        "parameters": [{"name": "hold_id", "in": "path", "required": True,
                        "schema": {"type": "integer"}}],
        "delete": {"summary": "Lift a legal hold",
                   "responses": {"204": {"description": "Lifted"}, **COMMON}}},
    "/api/v1/retention/runs": {"get": {
        "summary": "The last sweep runs with their counts, and the next run "
                   "(operator)",
        "responses": {"200": _answer("`{last_run, next_run, runs: [...]}`"),
                      **COMMON}}},
    "/api/v1/retention/receipts": {"get": {
        "summary": "Signed sweep receipts of a district (operator)",
        "parameters": [{"name": "district", "in": "query",
                        "schema": {"type": "string"}}],
        "responses": {"200": _answer("`{receipts: [...]}`"), **COMMON}}},
}
# The served OpenAPI document describes the whole API, these routes included.
OPENAPI.setdefault("paths", {}).update(_RETENTION_PATHS)
