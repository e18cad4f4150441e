"""The pages' test vault and a browser's moves, shared by the page tests.

Fixtures here are imported by the test modules that use them.
"""

import io
import re
from datetime import date

import pikepdf
import pytest
from sqlalchemy import select

from vault import accounts
from vault.crypto import ensure_keys
from vault.db import unit_of_work
from vault.models import AuditEvent, Student
from vault.rules import school_year_end
from vault.schema import upgrade
from web.app import create_app

PASSWORD = "correct horse battery staple"
OWN_LASID = "0400000001"
OTHER_LASID = "0400000002"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_vault_app(settings, **config):
    """A fresh vault: districts D1 (agreement signed) and D2, one student each."""
    ensure_keys(settings.key_dir)
    app = create_app(settings, {"TESTING": True, **config})
    runtime = app.extensions["vault"]
    runtime.store.create()
    upgrade(runtime.engine)

    cohort = school_year_end(runtime.today())
    with unit_of_work(runtime.sessions) as session:
        d1 = accounts.add_district(session, "D1", "Riverbend Schools", date(2024, 1, 2))
        d2 = accounts.add_district(session, "D2", "Lakeside Schools", date(2024, 1, 2))
        for email, role, districts in (
                ("uploader@d1.test", "uploader", ["D1"]),
                ("admin@d2.test", "district_admin", ["D2"]),
                ("operator@state.test", "operator", []),
                ("auditor@state.test", "auditor", ["D1"])):
            accounts.add_person(session, email, role, districts, PASSWORD)
        session.add_all([
            Student(lasid=OWN_LASID, district_id=d1.id, first_name="Jordana",
                    last_name="Riverstone", school="Riverbend High", cohort=cohort),
            Student(lasid=OTHER_LASID, district_id=d2.id, first_name="Kasimir",
                    last_name="Lakewood", school="Lakeside High", cohort=cohort),
        ])
    return app


@pytest.fixture
def vault_app(settings):
    """A fresh vault: districts D1 (agreement signed) and D2, one student each."""
    app = make_vault_app(settings)
    yield app
    app.extensions["vault"].engine.dispose()
    app.extensions["vault"].store.close()


@pytest.fixture
def client(vault_app):
    """A browser of the test vault, cookies kept between requests."""
    return vault_app.test_client()


def token_in(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = TOKEN.search(html)
    assert found, "the page has no form with a csrf_token field"
    return found.group(1)


def sign_in(client, email: str, password: str = PASSWORD, **extra):
    """Fill in and post the sign-in form."""
    token = token_in(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": token, **extra})


def post_form(client, page: str, action: str, data: dict, **kwargs):
    """Post a form the way a browser does: with the token of the page it is on."""
    token = token_in(client.get(page).text)
    return client.post(action, data={**data, "csrf_token": token},
                       follow_redirects=True, **kwargs)


def tiny_pdf() -> bytes:
    """A valid one-page PDF without text."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    buffer = io.BytesIO()
    pdf.save(buffer)
    return buffer.getvalue()


def events(app, action: str) -> list[AuditEvent]:
    """The audit events of one action."""
    with unit_of_work(app.extensions["vault"].sessions) as session:
        return list(session.scalars(
            select(AuditEvent).where(AuditEvent.action == action)))
