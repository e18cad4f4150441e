"""The semester report: qualifying students per credential, confirmation, changes."""

import io
from datetime import date

import pytest
from sqlalchemy import select

from tests.web.pages import (  # noqa: F401 (fixtures)
    PASSWORD,
    OWN_LASID,
    client,
    events,
    post_form,
    sign_in,
    tiny_pdf,
    vault_app,
)
from vault import accounts
from vault.db import unit_of_work
from vault.models import ExamResult, ModuleCompletion, Student
from web.semester import semester_of


@pytest.fixture
def admin(vault_app):
    with unit_of_work(vault_app.extensions["vault"].sessions) as session:
        accounts.add_person(session, "admin@d1.test", "district_admin", ["D1"],
                            PASSWORD)


def make_complete(app, lasid: str) -> None:
    """Give the student every module date, document kind and a passed exam."""
    runtime = app.extensions["vault"]
    today = runtime.today()
    with unit_of_work(runtime.sessions) as session:
        student = session.scalar(select(Student).where(Student.lasid == lasid))
        for module in ("self_assessment", "presentation", "credit_applications",
                       "company_registration"):
            student.modules.append(ModuleCompletion(module=module, completed_on=today))
        session.add(ExamResult(lasid=lasid, exam="regional_core", taken_on=today,
                               passed=True))


def upload_all(client) -> None:
    page = f"/students/{OWN_LASID}"
    for kind in ("sa_round1", "sa_round2", "mentor_checklist"):
        post_form(client, page, f"{page}/documents",
                  {"kind": kind, "file": (io.BytesIO(tiny_pdf()), f"{kind}.pdf")})


def test_semesters_split_at_july():
    assert semester_of(date(2026, 12, 3)) == "2026-fall"
    assert semester_of(date(2027, 1, 10)) == "2027-spring"
    assert semester_of(date(2026, 7, 1)) == "2026-fall"


def test_report_confirm_then_a_change_shows(vault_app, client, admin):
    sign_in(client, "admin@d1.test")
    before = client.get("/semester").text
    assert "Regional Core: 0 qualifying" in before
    assert "Not confirmed yet" in before

    confirmed = post_form(client, "/semester", "/semester/confirm", {})
    assert "Confirmed by admin@d1.test on" in confirmed.text
    assert "No change since the confirmation." in confirmed.text
    assert len(events(vault_app, "semester_confirmed")) == 1

    make_complete(vault_app, OWN_LASID)
    client.get("/logout")
    sign_in(client, "uploader@d1.test")
    upload_all(client)
    later = client.get("/semester").text

    assert "Regional Core: 1 qualifying" in later
    assert "Changed since the confirmation" in later
    assert f"now qualifying {OWN_LASID}" in later
    assert "Your district administrator confirms the report." in later


def test_only_admins_confirm_and_only_their_district(client, admin):
    sign_in(client, "uploader@d1.test")
    refused = post_form(client, "/semester", "/semester/confirm", {})
    client.get("/logout")
    sign_in(client, "admin@d1.test")
    foreign = post_form(client, "/semester", "/semester/confirm", {"district": "D2"})
    other = client.get("/semester?district=D2")

    assert refused.status_code == 403
    assert foreign.status_code == 404
    assert other.status_code == 404
