"""The operator's pages: districts and agreements, people and roles, issuing.

Runs on both backends (the `settings` fixture under `vault_app`). CSRF stays on:
every post carries the token of the page its form is on.
"""

import io
import re
from datetime import date

from sqlalchemy import select

from tests.conftest import small_pdf
from tests.web.pages import (  # noqa: F401 (fixtures)
    OTHER_LASID,
    OWN_LASID,
    client,
    events,
    post_form,
    sign_in,
    token_in,
    vault_app,
)
from vault import accounts, rules
from vault.db import unit_of_work
from vault.documents import store_document
from vault.models import (
    Certificate,
    District,
    ExamResult,
    Person,
    SealedPackage,
    Student,
)
from vault.students import record_module

SECOND_LASID = "0400000003"
OPERATOR = "operator@state.test"
PAGES = ("/operator", "/operator/districts", "/operator/people", "/operator/ready",
         "/operator/ready/confirm")
FORMS = ("/operator/districts", "/operator/districts/D1/agreement",
         "/operator/people", "/operator/people/1/deactivate", "/operator/ready/issue",
         "/operator/ready/issue-all")


def _complete(app, lasid: str, district: str = "D1") -> None:
    """Enrol `lasid` if needed and give it everything Regional Core asks for."""
    runtime = app.extensions["vault"]
    today = runtime.today()
    with unit_of_work(runtime.sessions) as session:
        student = session.scalar(select(Student).where(Student.lasid == lasid))
        if student is None:
            owner = accounts.district_by_code(session, district)
            student = Student(lasid=lasid, district_id=owner.id, first_name="Marisol",
                              last_name="Okafor", school="Riverbend High",
                              cohort=rules.school_year_end(today))
            session.add(student)
            session.flush()
        uploader = accounts.person_by_email(session, "uploader@d1.test")
        for module in rules.SCHOOL_MODULES:
            record_module(session, uploader, student, module, today, today)
        for kind in rules.KINDS:
            store_document(runtime, session, uploader, student, kind,
                           io.BytesIO(small_pdf()), f"{kind}.pdf")
        session.add(ExamResult(lasid=lasid, exam="regional_core", taken_on=today,
                               passed=True))


def _certificates(app) -> list[tuple[str, str]]:
    with unit_of_work(app.extensions["vault"].sessions) as session:
        rows = session.execute(select(Student.lasid, Certificate.level).join(
            Certificate, Certificate.student_id == Student.id))
        return sorted(tuple(row) for row in rows)


def test_operator_adds_a_district_then_records_its_agreement(vault_app, client):
    sign_in(client, OPERATOR)
    page = "/operator/districts"

    added = post_form(client, page, page, {"code": "d3", "name": "Hillcrest Charter",
                                           "agreement_signed_on": ""})
    again = post_form(client, page, page, {"code": "D3", "name": "Someone else",
                                           "agreement_signed_on": ""})
    future = post_form(client, page, "/operator/districts/D3/agreement",
                       {"agreement_signed_on": "2999-01-01"})
    recorded = post_form(client, page, "/operator/districts/D3/agreement",
                         {"agreement_signed_on": "2025-09-01"})

    assert "Added district D3, no tracking agreement yet." in added.text
    assert re.search(r'data-agreement="D3">not signed<', added.text)
    assert again.status_code == 422
    assert "Not added: District D3 already exists." in again.text
    assert "Not changed: An agreement date cannot be in the future." in future.text
    assert "signed its tracking agreement on 2025-09-01" in recorded.text
    assert re.search(r'data-agreement="D3">2025-09-01<', recorded.text)
    with unit_of_work(vault_app.extensions["vault"].sessions) as session:
        district = accounts.district_by_code(session, "D3")
        assert (district.name, district.agreement_signed_on) == (
            "Hillcrest Charter", date(2025, 9, 1))
        assert session.scalar(select(District).where(
            District.name == "Someone else")) is None
    [added_event] = events(vault_app, "district_added")
    [agreement] = events(vault_app, "agreement_recorded")
    assert added_event.subject_id == "D3" and added_event.actor_id is not None
    assert agreement.details == {"previous": None, "agreement_signed_on": "2025-09-01"}


def test_a_person_added_with_a_made_password_can_sign_in(vault_app, client):
    sign_in(client, OPERATOR)
    page = "/operator/people"

    added = post_form(client, page, page, {"email": "New.Clerk@d1.test",
                                           "role": "uploader", "districts": ["D1"],
                                           "password": "", "repeat_password": ""})
    refused = post_form(client, page, page, {"email": "nobody@d1.test",
                                             "role": "uploader", "password": ""})

    assert "Added new.clerk@d1.test as uploader" in added.text
    password = re.search(r'<code id="new-password">([^<]+)</code>', added.text)[1]
    assert len(password) >= accounts.MIN_PASSWORD_LENGTH
    assert added.headers["Cache-Control"] == "no-store"
    assert "shown this once only" not in client.get(page).text
    assert refused.status_code == 422
    assert "Not added: District staff must name their district." in refused.text
    [event] = events(vault_app, "person_added")
    assert event.details == {"role": "uploader", "districts": ["D1"],
                             "password_generated": True}
    assert password not in str(event.details)

    client.get("/logout")
    assert sign_in(client, "new.clerk@d1.test", password).headers["Location"] == "/"
    assert OWN_LASID in client.get("/students").text


def test_a_person_added_with_a_typed_password_can_sign_in(vault_app, client):
    sign_in(client, OPERATOR)
    page = "/operator/people"
    typed = "a typed password of theirs"

    differing = post_form(client, page, page, {
        "email": "auditor2@state.test", "role": "auditor", "districts": ["D1", "D2"],
        "password": typed, "repeat_password": typed + "!"})
    added = post_form(client, page, page, {
        "email": "auditor2@state.test", "role": "auditor", "districts": ["D1", "D2"],
        "password": typed, "repeat_password": typed})

    assert "Not added: The two passwords differ." in differing.text
    assert "They sign in with the password you typed." in added.text
    assert 'id="new-password"' not in added.text
    assert re.search(r'data-person="auditor2@state.test">\s*<th scope="row">'
                     r'auditor2@state.test</th>\s*<td>auditor</td>\s*<td>D1, D2</td>',
                     added.text)
    client.get("/logout")
    assert sign_in(client, "auditor2@state.test", typed).headers["Location"] == "/"


def test_a_deactivated_person_is_signed_out_and_cannot_sign_in(vault_app, client):
    clerk = vault_app.test_client()
    sign_in(clerk, "uploader@d1.test")
    assert clerk.get("/students").status_code == 200
    sign_in(client, OPERATOR)
    with unit_of_work(vault_app.extensions["vault"].sessions) as session:
        clerk_id = accounts.person_by_email(session, "uploader@d1.test").id
        own_id = accounts.person_by_email(session, OPERATOR).id

    done = post_form(client, "/operator/people",
                     f"/operator/people/{clerk_id}/deactivate", {})
    self_refused = post_form(client, "/operator/people",
                             f"/operator/people/{own_id}/deactivate", {})

    assert "Deactivated: uploader@d1.test can no longer sign in" in done.text
    assert "You cannot deactivate your own account." in self_refused.text
    assert clerk.get("/students").status_code == 302
    assert "Email or password is wrong." in sign_in(clerk, "uploader@d1.test").text
    with unit_of_work(vault_app.extensions["vault"].sessions) as session:
        assert session.get(Person, own_id).active
    [event] = events(vault_app, "person_deactivated")
    assert event.subject_id == str(clerk_id)


def test_other_roles_are_refused_every_operator_page(vault_app, client):
    for email in ("uploader@d1.test", "admin@d2.test", "auditor@state.test"):
        sign_in(client, email)
        token = token_in(client.get("/account").text)
        for path in PAGES:
            answer = client.get(path)
            assert answer.status_code == 403, (email, path)
            assert "may not use the operator" in answer.text
        for path in FORMS:
            answer = client.post(path, data={
                "csrf_token": token, "code": "D9", "name": "Taken over",
                "agreement_signed_on": "2025-01-01", "email": "x@d1.test",
                "role": "operator", "lasid": OWN_LASID, "level": "regional_core",
                "item": f"{OWN_LASID}:regional_core"})
            assert answer.status_code == 403, (email, path)
        assert "Operator" not in client.get("/account").text
        client.get("/logout")

    for path in PAGES:
        assert client.get(path).headers["Location"].startswith("/login")
    with unit_of_work(vault_app.extensions["vault"].sessions) as session:
        assert session.scalar(select(District).where(District.code == "D9")) is None
        assert all(person.active for person in session.scalars(select(Person)))
    assert _certificates(vault_app) == []


def test_operator_issues_one_ready_student(vault_app, client):
    _complete(vault_app, OWN_LASID)
    sign_in(client, OPERATOR)
    assert 'href="/operator"' in client.get("/students").text

    ready = client.get("/operator/ready")
    issued = post_form(client, "/operator/ready", "/operator/ready/issue",
                       {"lasid": OWN_LASID, "level": "regional_core"})
    again = post_form(client, "/operator/ready", "/operator/ready/issue",
                      {"lasid": OWN_LASID, "level": "regional_core"})

    assert f'data-ready="{OWN_LASID}:regional_core"' in ready.text
    assert "Jordana Riverstone" in ready.text
    assert OTHER_LASID not in ready.text
    assert ("Issued: Regional Core certificate MEC-" in issued.text
            and f"to LASID {OWN_LASID}." in issued.text)
    assert f'data-ready="{OWN_LASID}:' not in issued.text
    assert "No student is ready for a certificate today." in issued.text
    assert "Not issued to LASID 0400000001: The Regional Core certificate was " \
           "already issued." in again.text
    assert _certificates(vault_app) == [(OWN_LASID, "regional_core")]
    with unit_of_work(vault_app.extensions["vault"].sessions) as session:
        assert session.scalar(select(SealedPackage.certificate_id)) is not None


def test_issue_all_issues_exactly_what_the_confirmation_listed(vault_app, client):
    _complete(vault_app, OWN_LASID)
    _complete(vault_app, SECOND_LASID)
    sign_in(client, OPERATOR)

    confirm = client.get("/operator/ready/confirm")
    listed = re.findall(r'data-confirm="([^"]+)"', confirm.text)
    items = re.findall(r'name="item"\s+value="([^"]+)"', confirm.text)

    assert listed == items == [f"{OWN_LASID}:regional_core",
                               f"{SECOND_LASID}:regional_core"]
    assert "Issue these 2 certificates" in confirm.text
    assert _certificates(vault_app) == []

    # The incomplete student is slipped into the posted list: it is refused.
    done = client.post("/operator/ready/issue-all", data={
        "csrf_token": token_in(confirm.text),
        "item": items + [f"{OTHER_LASID}:regional_core"]})

    assert done.status_code == 200
    assert "Issued 2 of 3 certificates" in done.text
    for lasid in (OWN_LASID, SECOND_LASID):
        row = re.search(rf'data-outcome="{lasid}:regional_core">(.*?)</tr>',
                        done.text, re.DOTALL)[1]
        assert "Issued:" in row and "certificate MEC-" in row
    refused = re.search(rf'data-outcome="{OTHER_LASID}:regional_core">(.*?)</tr>',
                        done.text, re.DOTALL)[1]
    assert "Not issued:" in refused and "cannot be issued yet" in refused
    assert _certificates(vault_app) == [(OWN_LASID, "regional_core"),
                                        (SECOND_LASID, "regional_core")]
    assert len(events(vault_app, "certificate_issued")) == 2
    with unit_of_work(vault_app.extensions["vault"].sessions) as session:
        assert len(session.scalars(select(SealedPackage)).all()) == 2


def test_a_post_without_its_csrf_token_is_refused(vault_app, client):
    _complete(vault_app, OWN_LASID)
    sign_in(client, OPERATOR)

    answers = [
        client.post("/operator/districts", data={"code": "D9", "name": "No token"}),
        client.post("/operator/people", data={"email": "x@d1.test",
                                              "role": "operator"}),
        client.post("/operator/ready/issue", data={"lasid": OWN_LASID,
                                                   "level": "regional_core"}),
        client.post("/operator/ready/issue-all",
                    data={"item": f"{OWN_LASID}:regional_core"}),
    ]

    assert [answer.status_code for answer in answers] == [400] * 4
    assert all("CSRF" in answer.text for answer in answers)
    assert _certificates(vault_app) == []
    with unit_of_work(vault_app.extensions["vault"].sessions) as session:
        assert session.scalar(select(District).where(District.code == "D9")) is None
