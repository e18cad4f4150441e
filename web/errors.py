"""Errors become JSON with a stable code under /api and /healthz, pages elsewhere.

Never an HTML 500 page for an API client: anything unexpected is logged once
with the request id and answered as `internal_error`.
"""

import logging
import uuid

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from vault.errors import InvalidRequest, VaultError

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
    app.before_request(_refuse_nul_characters)
    app.register_error_handler(VaultError, _vault_error)
    app.register_error_handler(DataError, _unstorable_value)
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(CSRFError, _form_expired)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _bind_request_id() -> None:
    g.request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex


def _refuse_nul_characters() -> None:
    """A NUL character in the address names no record and PostgreSQL cannot
    even look one up with it: refuse it before any query runs."""
    arguments = request.args.items(multi=True)
    if "\x00" in request.path or any("\x00" in key + value for key, value in arguments):
        raise InvalidRequest("The address holds a NUL character; check the link.",
                             code="invalid_characters")


def wants_json() -> bool:
    """The API, and a page's script that asks for JSON, get errors as JSON."""
    if request.path.startswith(("/api/", "/healthz")):
        return True
    return request.accept_mimetypes.best == "application/json"


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
    limit = current_app.extensions["vault"].settings.max_upload_bytes >> 20
    return error_response(413, "too_large", f"The file is larger than the "
                          f"{limit} MB limit.")


def _form_expired(error: CSRFError):
    return error_response(400, "form_expired", "This page is out of date: its "
                          "security token (CSRF) is missing or from an earlier "
                          "sign-in. Reload the page and try again.")


def _unstorable_value(error: DataError):
    # A value the database refuses outright (a NUL character in a form field
    # or a JSON string, a number out of its range): the request's fault.
    log.warning("request_value_refused request_id=%s error=%s", g.get("request_id"),
                type(error.orig).__name__)
    return error_response(400, "invalid_characters", "The request holds a value the "
                          "vault cannot store, such as a NUL character. Correct it "
                          "and send it again.")


def _database_unavailable(error: OperationalError):
    # The database did not answer in time (down, or SQLite busy past its
    # timeout): a condition to retry, not a fault of the request.
    log.warning("database_unavailable request_id=%s error=%s", g.get("request_id"),
                type(error.orig).__name__)
    return error_response(503, "database_unavailable", "The database is busy or "
                          "not answering; try again in a moment.")


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
