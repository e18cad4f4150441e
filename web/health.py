"""`/healthz`: 200 when the database and the store answer, 503 otherwise."""

from flask import Blueprint, jsonify

from web.runtime import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    checks = runtime().health()
    healthy = all(state == "ok" for state in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    return jsonify(body), 200 if healthy else 503
