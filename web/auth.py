"""Signing in to the pages: password, optional TOTP code, a server-side session.

The browser's cookie holds only a random session id (a `BrowserSession` row),
made new at every sign-in; signing out or changing the password ends it on the
server. Each request reloads the session and its person (an inactive account
is signed out at once), and views reload the `Person` inside their own
transaction with `signed_in_person`.

Sign-in tries are limited per account and per address (`web.sign_in_limits`).
Roles named in VAULT_REQUIRE_TOTP_ROLES (for example "operator,auditor") must
set up and use a TOTP second factor; anyone may choose to.

Configuration read here: VAULT_SECURE_COOKIES=1 marks the cookies Secure (set
it whenever the vault is served behind TLS); VAULT_REQUIRE_TOTP_ROLES.
"""

import logging
import os
import secrets
import time
from datetime import timedelta
from functools import cache
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as browser_session
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import update
from sqlalchemy.orm import Session
from werkzeug.exceptions import Unauthorized

from vault.accounts import check_password, hash_password, person_by_email
from vault.audit import record_event
from vault.errors import VaultError
from vault.models import Person, utcnow
from web import second_factor
from web.models import BrowserSession
from web.runtime import client_address, runtime, transaction
from web.sign_in_limits import (
    TooManyAttempts,
    account_key,
    check_allowed,
    record_attempt,
)

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

WRONG_CREDENTIALS = "Email or password is wrong."
WRONG_CODE = "That code is wrong or already used. Type the current code."
SESSION_LIFETIME = timedelta(hours=12)
PENDING_SECONDS = 300
NAVIGATION = (
    ("schools.students", "Students", ("district_admin", "uploader", "operator")),
    ("templates_io.completion_template", "Completion template",
     ("district_admin", "uploader")),
    ("semester.report", "Semester report", ("district_admin", "uploader")),
    ("operator_pages.overview", "Operator", ("operator",)),
    ("audit_pages.packages", "Sealed packages", ("auditor", "operator")),
    ("auth.account", "Your account", None),
)
PAGE_POLICY = ("default-src 'self'; img-src 'self' data:; object-src 'none'; "
               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class SignedInUser(UserMixin):
    """The signed-in person as Flask-Login sees them, and their browser session."""

    def __init__(self, person: Person, session_id: str):
        self.person_id = person.id
        self.email = person.email
        self.role = person.role
        self.session_id = session_id

    def get_id(self) -> str:
        """The session id kept in the browser's cookie."""
        return self.session_id


def init_app(app: Flask) -> None:
    """Flask-Login, CSRF (the bearer-token API is exempt), cookies and headers."""
    from web import api, templates_io

    app.config.setdefault("VAULT_REQUIRE_TOTP_ROLES",
                          os.environ.get("VAULT_REQUIRE_TOTP_ROLES", ""))
    if os.environ.get("VAULT_SECURE_COOKIES") == "1":
        app.config["SESSION_COOKIE_SECURE"] = True
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"

    login_manager = LoginManager(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to see this page."
    login_manager.login_message_category = "info"
    login_manager.user_loader(_load_user)

    csrf = CSRFProtect(app)
    csrf.exempt(api.bp)
    csrf.exempt(templates_io.api_bp)
    app.after_request(_security_headers)
    app.context_processor(lambda: {"nav_links": _nav_links})


def _nav_links() -> list[tuple[str, str]]:
    """The main menu entries for the signed-in person's role."""
    if not current_user.is_authenticated:
        return []
    return [(endpoint, title) for endpoint, title, roles in NAVIGATION
            if endpoint in current_app.view_functions
            and (roles is None or current_user.role in roles)]


def _security_headers(response: Response) -> Response:
    """No page of ours in anyone's frame, no type sniffing, a strict policy."""
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    policy = response.headers.get("Content-Security-Policy")
    if policy is None:
        response.headers["Content-Security-Policy"] = PAGE_POLICY
    elif "frame-ancestors" not in policy:
        response.headers["Content-Security-Policy"] = (
            policy + "; frame-ancestors 'none'")
    return response


def required_roles() -> set[str]:
    value = current_app.config.get("VAULT_REQUIRE_TOTP_ROLES") or ""
    return {role.strip() for role in value.split(",") if role.strip()}


def _load_user(session_id: str) -> SignedInUser | None:
    if not session_id or len(session_id) > 64:
        return None
    with transaction() as session:
        found = session.get(BrowserSession, session_id)
        if found is None or found.ended_at is not None:
            return None
        if found.created_at < utcnow() - SESSION_LIFETIME:
            return None
        person = session.get(Person, found.person_id)
        if person is None or not person.active:
            return None
        return SignedInUser(person, session_id)


def signed_in_person(session: Session) -> Person:
    """The signed-in person's `Person`, loaded in the caller's `session`."""
    person = None
    if current_user.is_authenticated:
        person = session.get(Person, current_user.person_id)
    if person is None or not person.active:
        raise Unauthorized("Sign in again to continue.")
    return person


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form; a right email and password start a fresh session."""
    target = _safe_target(request.values.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(target)
        return render_template("login.html", next=target, email="")

    email = request.form.get("email", "")
    account = account_key(email)
    try:
        with transaction() as session:
            check_allowed(session, account, client_address())
            person = _check_password(session, email, request.form.get("password", ""))
            record_attempt(session, account, client_address(), person is not None)
            if person is not None:
                step = _next_step(session, person)
                if step is None:
                    return _start_session(session, person, target)
    except TooManyAttempts as refusal:
        flash(refusal.message, "error")
        return render_template("login.html", next=target, email=email), 429

    if person is None:
        flash(WRONG_CREDENTIALS, "error")
        return render_template("login.html", next=target, email=email)
    browser_session.clear()
    browser_session["pending"] = {"person": person.id, "at": time.time(),
                                  "account": account, "next": target}
    return redirect(url_for(step))


def _check_password(session: Session, email: str, password: str) -> Person | None:
    """The person for a right email and password, else None (an audit event)."""
    try:
        person = person_by_email(session, email)
    except VaultError:
        person = None

    if person is None:
        # Spend the same time as a real check, so timing does not reveal accounts.
        check_password(Person(password_hash=_decoy_hash(), active=True), password)
        record_event(session, None, "sign_in_failed", address=client_address())
        return None
    if not check_password(person, password):
        record_event(session, None, "sign_in_failed", address=client_address(),
                     subject=("person", str(person.id)))
        return None
    return person


def _next_step(session: Session, person: Person) -> str | None:
    """The second-factor page the person must pass next, or None."""
    if second_factor.has_second_factor(session, person):
        return "auth.enter_code"
    if person.role in required_roles():
        return "auth.set_up_code"
    return None


def _start_session(session: Session, person: Person, target: str) -> Response:
    """Sign in with a new session id; whatever the browser held before is dropped."""
    session_id = secrets.token_urlsafe(32)
    session.add(BrowserSession(id=session_id, person_id=person.id))
    record_event(session, person, "signed_in", address=client_address(),
                 subject=("person", str(person.id)))
    browser_session.clear()
    login_user(SignedInUser(person, session_id))
    log.info("signed_in person=%s", person.id)
    return redirect(target)


@cache
def _decoy_hash() -> str:
    return PasswordHasher().hash("not anyone's password")


def _safe_target(target: str | None) -> str:
    """A local path to go to after sign-in; anything else goes home."""
    home = url_for("schools.home")
    if not target or not target.isprintable() or any(c.isspace() for c in target):
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/"):
        return home
    if target.startswith("//") or "\\" in target:
        return home
    return target


def _pending(session: Session) -> tuple[Person, dict] | None:
    """The person who gave a right password moments ago and owes a code."""
    pending = browser_session.get("pending")
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > \
            PENDING_SECONDS:
        return None
    person = session.get(Person, pending.get("person"))
    if person is None or not person.active:
        return None
    return person, pending


@bp.route("/login/code", methods=["GET", "POST"])
def enter_code():
    """The second step for people with a TOTP second factor."""
    return _code_step(confirming=False)


@bp.route("/login/second-factor", methods=["GET", "POST"])
def set_up_code():
    """Set up the second factor that the person's role requires, then sign in."""
    return _code_step(confirming=True)


def _code_step(confirming: bool):
    template = "totp_setup.html" if confirming else "totp_code.html"
    try:
        with transaction() as session:
            found = _pending(session)
            if found is None:
                flash("Sign in again: the first step has expired.", "info")
                return redirect(url_for("auth.login"))
            person, pending = found
            check_allowed(session, pending["account"], client_address())
            if request.method == "POST":
                right = second_factor.check_code(runtime(), session, person,
                                                 request.form.get("code", ""),
                                                 confirming)
                record_attempt(session, pending["account"], client_address(), right)
                if right:
                    if confirming:
                        record_event(session, person, "second_factor_set_up",
                                     subject=("person", str(person.id)))
                    return _start_session(session, person, pending["next"])
                flash(WRONG_CODE, "error")
            return render_template(template, **_setup_view(session, person,
                                                           confirming))
    except TooManyAttempts as refusal:
        browser_session.pop("pending", None)
        flash(refusal.message, "error")
        return render_template("login.html", next=url_for("schools.home"),
                               email=""), 429


def _setup_view(session: Session, person: Person, confirming: bool) -> dict:
    if not confirming:
        return {}
    secret = second_factor.pending_secret(runtime(), session, person)
    uri = second_factor.provisioning_uri(secret, person.email)
    return {"secret": secret, "qr": second_factor.qr_svg(uri)}


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """Sign out (a bookmarked GET signs out too) and go back to the sign-in form."""
    if current_user.is_authenticated:
        with transaction() as session:
            person = session.get(Person, current_user.person_id)
            _end_sessions(session, BrowserSession.id == current_user.session_id)
            record_event(session, person, "signed_out", address=client_address(),
                         subject=("person", str(current_user.person_id)))
    logout_user()
    browser_session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


def _end_sessions(session: Session, *where) -> None:
    session.execute(update(BrowserSession).where(
        BrowserSession.ended_at.is_(None), *where).values(ended_at=utcnow()))


@bp.get("/account")
@login_required
def account():
    """The person's own account: password and second factor."""
    with transaction() as session:
        person = signed_in_person(session)
        return render_template(
            "account.html", person=person,
            has_code=second_factor.has_second_factor(session, person),
            code_required=person.role in required_roles())


@bp.post("/account/password")
@login_required
def change_password():
    """Change the password; every other signed-in browser of the person ends."""
    current = request.form.get("current_password", "")
    new = request.form.get("new_password", "")
    repeated = request.form.get("repeat_password", "")
    with transaction() as session:
        person = signed_in_person(session)
        if not check_password(person, current):
            flash("Your current password is wrong; nothing changed.", "error")
            return redirect(url_for("auth.account"))
        if new != repeated:
            flash("The two new passwords differ; nothing changed.", "error")
            return redirect(url_for("auth.account"))
        try:
            person.password_hash = hash_password(new)
        except VaultError as refusal:
            flash(f"{refusal.message} Nothing changed.", "error")
            return redirect(url_for("auth.account"))

        _end_sessions(session, BrowserSession.person_id == person.id,
                      BrowserSession.id != current_user.session_id)
        record_event(session, person, "password_changed", address=client_address(),
                     subject=("person", str(person.id)))
    flash("Your password is changed. Other browsers signed in as you are signed "
          "out.", "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/second-factor", methods=["GET", "POST"])
@login_required
def account_second_factor():
    """Set up a TOTP second factor from the account page."""
    with transaction() as session:
        person = signed_in_person(session)
        if request.method == "POST":
            if second_factor.check_code(runtime(), session, person,
                                        request.form.get("code", ""), True):
                record_event(session, person, "second_factor_set_up",
                             subject=("person", str(person.id)))
                flash("Your second factor is set up: sign-ins now ask for a code.",
                      "success")
                return redirect(url_for("auth.account"))
            flash(WRONG_CODE, "error")
        elif second_factor.has_second_factor(session, person):
            return redirect(url_for("auth.account"))
        return render_template("totp_setup.html", from_account=True,
                               **_setup_view(session, person, True))


@bp.post("/account/second-factor/remove")
@login_required
def remove_second_factor():
    """Remove the second factor, unless the person's role requires one."""
    with transaction() as session:
        person = signed_in_person(session)
        if person.role in required_roles():
            flash("Your role requires a second factor; it cannot be removed.",
                  "error")
            return redirect(url_for("auth.account"))
        if not check_password(person, request.form.get("current_password", "")):
            flash("Your current password is wrong; nothing changed.", "error")
            return redirect(url_for("auth.account"))
        second_factor.remove_second_factor(session, person)
        record_event(session, person, "second_factor_removed",
                     subject=("person", str(person.id)))
    flash("Your second factor is removed.", "success")
    return redirect(url_for("auth.account"))

