"""Signing in: cookies, a fresh session id, limits on guessing, password change,
the TOTP second factor and the headers every page carries."""

import time

import pyotp
import pytest

from tests.web.pages import (  # noqa: F401 (fixtures)
    PASSWORD,
    client,
    events,
    make_vault_app,
    post_form,
    sign_in,
    token_in,
    vault_app,
)
from web.sign_in_limits import ACCOUNT_FAILURES, ADDRESS_FAILURES

NEW_PASSWORD = "a brand new and long password"


def session_cookie(client) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def test_session_cookie_is_httponly_and_lax(client):
    answer = sign_in(client, "uploader@d1.test")

    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_secure_cookies_behind_tls(settings, monkeypatch):
    monkeypatch.setenv("VAULT_SECURE_COOKIES", "1")
    app = make_vault_app(settings)
    try:
        answer = sign_in(app.test_client(), "uploader@d1.test")
        assert "; Secure" in answer.headers["Set-Cookie"]
    finally:
        app.extensions["vault"].engine.dispose()


def test_session_id_changes_at_sign_in_and_dies_at_sign_out(vault_app, client):
    client.get("/login")
    before = session_cookie(client)
    sign_in(client, "uploader@d1.test")
    signed_in = session_cookie(client)

    assert signed_in and signed_in != before
    assert client.get("/students").status_code == 200

    client.get("/logout")
    # A copy of the signed-in cookie (say, stolen) is worthless after sign-out.
    thief = vault_app.test_client()
    thief.set_cookie("session", signed_in)
    assert thief.get("/students").status_code == 302


def test_every_page_forbids_framing_and_sniffing(client):
    for path in ("/login", "/verify"):
        answer = client.get(path)

        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]


def test_an_account_is_held_after_repeated_failures(vault_app, client):
    for _ in range(ACCOUNT_FAILURES):
        assert "Email or password is wrong." in sign_in(
            client, "uploader@d1.test", "guess guess guess").text

    held = sign_in(client, "uploader@d1.test")

    assert held.status_code == 429
    assert "Too many failed sign-ins for this account" in held.text
    assert client.get("/students").status_code == 302
    # Another account from the same address still signs in.
    assert sign_in(client, "operator@state.test").status_code == 302


def test_an_address_is_held_after_many_failures_on_any_accounts(client):
    for number in range(ADDRESS_FAILURES):
        sign_in(client, f"someone{number}@nowhere.test", "guess guess guess")

    held = sign_in(client, "uploader@d1.test")

    assert held.status_code == 429
    assert "from your network address" in held.text


def test_a_success_clears_the_account_count(client):
    for _ in range(ACCOUNT_FAILURES - 1):
        sign_in(client, "uploader@d1.test", "guess guess guess")
    assert sign_in(client, "uploader@d1.test").status_code == 302
    client.get("/logout")

    sign_in(client, "uploader@d1.test", "guess guess guess")

    assert sign_in(client, "uploader@d1.test").status_code == 302


def test_change_password_signs_out_other_browsers(vault_app, client):
    other = vault_app.test_client()
    sign_in(other, "uploader@d1.test")
    sign_in(client, "uploader@d1.test")

    wrong = post_form(client, "/account", "/account/password", {
        "current_password": "not it at all", "new_password": NEW_PASSWORD,
        "repeat_password": NEW_PASSWORD})
    short = post_form(client, "/account", "/account/password", {
        "current_password": PASSWORD, "new_password": "short",
        "repeat_password": "short"})
    changed = post_form(client, "/account", "/account/password", {
        "current_password": PASSWORD, "new_password": NEW_PASSWORD,
        "repeat_password": NEW_PASSWORD})

    assert "current password is wrong" in wrong.text
    assert "at least 12 characters" in short.text
    assert "Your password is changed." in changed.text
    assert client.get("/students").status_code == 200
    assert other.get("/students").status_code == 302
    client.get("/logout")
    assert "Email or password is wrong." in sign_in(client, "uploader@d1.test").text
    assert sign_in(client, "uploader@d1.test", NEW_PASSWORD).status_code == 302
    assert len(events(vault_app, "password_changed")) == 1


@pytest.fixture
def totp_app(settings):
    """A vault whose operators and auditors must use a second factor."""
    app = make_vault_app(settings, VAULT_REQUIRE_TOTP_ROLES="operator,auditor")
    yield app
    app.extensions["vault"].engine.dispose()
    app.extensions["vault"].store.close()


def set_up_second_factor(client) -> pyotp.TOTP:
    answer = sign_in(client, "operator@state.test")
    assert answer.headers["Location"] == "/login/second-factor"
    page = client.get("/login/second-factor").text
    secret = page.split('id="totp-secret">')[1].split("<")[0]
    totp = pyotp.TOTP(secret)
    done = client.post("/login/second-factor", data={
        "csrf_token": token_in(page), "code": totp.now()})
    assert done.status_code == 302
    return totp


def test_a_required_second_factor_is_set_up_at_first_sign_in(totp_app):
    client = totp_app.test_client()
    sign_in(client, "operator@state.test")
    assert client.get("/students").status_code == 302

    set_up_second_factor(client)

    assert client.get("/students").status_code == 200
    assert len(events(totp_app, "second_factor_set_up")) == 1


def test_a_second_factor_asks_for_a_fresh_code(totp_app):
    client = totp_app.test_client()
    totp = set_up_second_factor(client)
    client.get("/logout")

    answer = sign_in(client, "operator@state.test")
    assert answer.headers["Location"] == "/login/code"
    page = client.get("/login/code").text
    wrong = client.post("/login/code", data={"csrf_token": token_in(page),
                                             "code": "000000"})
    replayed = client.post("/login/code", data={"csrf_token": token_in(page),
                                                "code": totp.now()})

    assert "That code is wrong or already used." in wrong.text
    assert "That code is wrong or already used." in replayed.text
    assert client.get("/students").status_code == 302

    fresh = totp.at(time.time() + totp.interval)
    right = client.post("/login/code", data={"csrf_token": token_in(page),
                                             "code": fresh})
    assert right.status_code == 302
    assert client.get("/students").status_code == 200


def test_roles_without_the_requirement_sign_in_with_a_password(totp_app):
    client = totp_app.test_client()

    assert sign_in(client, "uploader@d1.test").headers["Location"] == "/"


def test_anyone_may_choose_a_second_factor(client):
    sign_in(client, "uploader@d1.test")
    page = client.get("/account/second-factor").text
    secret = page.split('id="totp-secret">')[1].split("<")[0]

    done = post_form(client, "/account/second-factor", "/account/second-factor",
                     {"code": pyotp.TOTP(secret).now()})
    client.get("/logout")

    assert "Your second factor is set up" in done.text
    assert sign_in(client, "uploader@d1.test").headers["Location"] == "/login/code"
