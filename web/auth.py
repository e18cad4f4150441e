"""Signing in to the pages: a password form, a cookie session, CSRF on every form.

The browser's session holds only the person's id. Each request reloads the
person (an inactive account is signed out at once), and views reload the
`Person` inside their own transaction with `signed_in_person`.
"""

from functools import cache
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask import session as browser_session
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_user,
    logout_user,
)
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session
from werkzeug.exceptions import Unauthorized

from vault.accounts import check_password, person_by_email
from vault.audit import record_event
from vault.errors import VaultError
from vault.models import Person
from web.runtime import client_address, transaction

bp = Blueprint("auth", __name__)

WRONG_CREDENTIALS = "Email or password is wrong."


class SignedInUser(UserMixin):
    """The signed-in person as Flask-Login sees them: id, email and role."""

    def __init__(self, person: Person):
        self.person_id = person.id
        self.email = person.email
        self.role = person.role

    def get_id(self) -> str:
        """The id kept in the browser's session."""
        return str(self.person_id)


def init_app(app: Flask) -> None:
    """Set up Flask-Login and CSRF protection (the bearer-token API is exempt)."""
    from web import api

    login_manager = LoginManager(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to see this page."
    login_manager.login_message_category = "info"
    login_manager.user_loader(_load_user)

    csrf = CSRFProtect(app)
    csrf.exempt(api.bp)


def _load_user(person_id: str) -> SignedInUser | None:
    if not person_id.isdigit():
        return None
    with transaction() as session:
        person = session.get(Person, int(person_id))
        if person is None or not person.active:
            return None
        return SignedInUser(person)


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
    with transaction() as session:
        user = _sign_in(session, email, request.form.get("password", ""))

    if user is None:
        flash(WRONG_CREDENTIALS, "error")
        return render_template("login.html", next=target, email=email)
    browser_session.clear()
    login_user(user)
    return redirect(target)


def _sign_in(session: Session, email: str, password: str) -> SignedInUser | None:
    """The user for a right email and password, else None; both are audit events."""
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

    record_event(session, person, "signed_in", address=client_address(),
                 subject=("person", str(person.id)))
    return SignedInUser(person)


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


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """Sign out (a bookmarked GET signs out too) and go back to the sign-in form."""
    if current_user.is_authenticated:
        with transaction() as session:
            person = session.get(Person, current_user.person_id)
            record_event(session, person, "signed_out", address=client_address(),
                         subject=("person", current_user.get_id()))
    logout_user()
    browser_session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
