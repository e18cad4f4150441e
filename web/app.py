"""The application factory: defaults, then environment, then a test mapping."""

import logging
import os
import secrets

from flask import Flask

from vault.config import Settings
from vault.runtime import Runtime
from web.requests import VaultRequest

log = logging.getLogger(__name__)

MULTIPART_SLACK = 1024 * 1024


def create_app(settings: Settings | None = None,
               test_config: dict | None = None) -> Flask:
    """Build the app for `settings` (from the environment when not given)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.request_class = VaultRequest
    app.config.update(
        SECRET_KEY=settings.secret_key or _secret_key_file(settings),
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + MULTIPART_SLACK,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.config.from_prefixed_env("VAULT_FLASK")
    app.config.update(test_config or {})
    app.extensions["vault"] = Runtime.from_settings(settings)

    from web import api, api_retention, auth, errors, health, schools, verify

    from web import audit_pages, semester, templates_io

    from web import api_packages, operator_pages

    errors.init_app(app)
    auth.init_app(app)
    for blueprint in (health.bp, api.bp, api_retention.bp, auth.bp, schools.bp,
                      verify.bp, templates_io.bp, templates_io.api_bp,
                      semester.bp, audit_pages.bp, api_packages.bp,
                      operator_pages.bp):
        app.register_blueprint(blueprint)
    return app


def _secret_key_file(settings: Settings) -> str:
    """The session-signing secret kept in the key folder; made on first use."""
    path = settings.key_dir / "session.key"
    if not path.exists():
        settings.key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            descriptor = None
        if descriptor is not None:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
