"""Errors become JSON with a stable code under /api and /healthz, pages elsewhere.

Never an HTML 500 page for an API client: anything unexpected is logged once
with the request id and answered as `internal_error`.
"""

import logging
import uuid

from flask import Flask, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from vault.errors import VaultError

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def init_app(app: Flask) -> None:
    app.before_request(_bind_request_id)
    app.register_error_handler(VaultError, _vault_error)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _bind_request_id() -> None:
    g.request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/healthz"))


def error_response(status: int, code: str, message: str, **extra):
    if wants_json():
        body = {"error": {"code": code, "message": message, **extra}}
        return jsonify(body), status
    return render_template("error.html", status=status, code=code,
                           message=message), status


def _vault_error(error: VaultError):
    if error.status >= 500:
        log.error("request_failed code=%s request_id=%s", error.code,
                  g.get("request_id"))
    return error_response(error.status, error.code, error.message, **error.details)


def _too_large(error: RequestEntityTooLarge):
    return error_response(413, "too_large", "The upload is larger than the vault "
                          "accepts (VAULT_MAX_UPLOAD_MB).")


def _http_error(error: HTTPException):
    status = error.code or 500
    return error_response(status, HTTP_CODES.get(status, "http_error"),
                          error.description or error.name)


def _unexpected(error: Exception):
    # The dispatch boundary: log the unexpected once, answer without details.
    log.exception("request_crashed request_id=%s path=%s", g.get("request_id"),
                  request.path)
    return error_response(500, "internal_error", "Something went wrong on our side; "
                          f"quote request id {g.get('request_id')} to the operator.")
