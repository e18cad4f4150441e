"""The server-rendered pages: sign-in, CSRF, tenancy, forms and /verify.

CSRF protection stays on: every form post reads its token from the page that
carries the form, so these tests also prove that the forms carry one.
"""

import io
import re
from datetime import date

from sqlalchemy import select

from tests.web.pages import (  # noqa: F401 (fixtures)
    PASSWORD,
    OTHER_LASID,
    OWN_LASID,
    client,
    events,
    post_form,
    sign_in,
    tiny_pdf,
    token_in,
    vault_app,
)
from vault import accounts
from vault.db import unit_of_work
from vault.models import Certificate, ExamResult, Student


def test_sign_in_goes_home_and_wrong_password_is_refused(vault_app, client):
    wrong = sign_in(client, "uploader@d1.test", "not the password at all")

    assert wrong.status_code == 200
    assert "Email or password is wrong." in wrong.text
    assert client.get("/students").status_code == 302

    right = sign_in(client, "uploader@d1.test")

    assert right.status_code == 302
    assert right.headers["Location"] == "/"
    assert client.get("/").headers["Location"] == "/students"
    assert "Signed in as uploader@d1.test" in client.get("/students").text


def test_unknown_email_answers_like_a_wrong_password(vault_app, client):
    answer = sign_in(client, "nobody@d1.test")

    assert "Email or password is wrong." in answer.text
    failed = events(vault_app, "sign_in_failed")
    assert len(failed) == 1
    assert failed[0].details == {} and failed[0].subject_id is None


def test_failed_sign_in_is_audited_without_the_email(vault_app, client):
    sign_in(client, "uploader@d1.test", "not the password at all")
    sign_in(client, "uploader@d1.test")

    failed = events(vault_app, "sign_in_failed")
    assert [(e.subject_type, e.details) for e in failed] == [("person", {})]
    assert len(events(vault_app, "signed_in")) == 1


def test_sign_in_follows_only_local_next(client):
    local = sign_in(client, "uploader@d1.test", next="/students/" + OWN_LASID)
    client.get("/logout")
    foreign = sign_in(client, "uploader@d1.test", next="//evil.example/students")

    assert local.headers["Location"] == "/students/" + OWN_LASID
    assert foreign.headers["Location"] == "/"


def test_forms_without_their_csrf_token_are_refused(client):
    bare_login = client.post("/login", data={"email": "uploader@d1.test",
                                             "password": PASSWORD})
    assert bare_login.status_code == 400

    sign_in(client, "uploader@d1.test")
    bare_module = client.post(f"/students/{OWN_LASID}/modules", data={
        "module": "presentation", "completed_on": "2025-10-01"})
    assert bare_module.status_code == 400
    assert "Reload the page and try again" in bare_module.text

    script_upload = client.post(f"/students/{OWN_LASID}/documents",
                                headers={"Accept": "application/json"},
                                data={"kind": "sa_round1"})
    assert script_upload.status_code == 400
    assert script_upload.json["error"]["code"] == "form_expired"


def test_pages_need_sign_in(client):
    for path in ("/", "/students", f"/students/{OWN_LASID}",
                 "/certificates/MEC-2026-ABCDEFGH"):
        answer = client.get(path)

        assert answer.status_code == 302, path
        assert answer.headers["Location"].startswith("/login?next="), path


def test_a_deactivated_person_is_signed_out_at_once(vault_app, client):
    sign_in(client, "uploader@d1.test")
    with unit_of_work(vault_app.extensions["vault"].sessions) as session:
        accounts.person_by_email(session, "uploader@d1.test").active = False

    assert client.get("/students").status_code == 302
    assert "Email or password is wrong." in sign_in(client, "uploader@d1.test").text


def test_sign_out_by_bookmark_and_by_form(client):
    sign_in(client, "uploader@d1.test")
    assert client.get("/logout").status_code == 302
    assert client.get("/students").status_code == 302

    sign_in(client, "uploader@d1.test")
    signed_out = post_form(client, "/students", "/logout", {})
    assert "You are signed out." in signed_out.text
    assert client.get("/students").status_code == 302


def test_student_list_shows_only_the_persons_district(client):
    sign_in(client, "uploader@d1.test")

    page = client.get("/students")

    assert page.status_code == 200
    assert OWN_LASID in page.text and "Riverstone" in page.text
    assert OTHER_LASID not in page.text and "Lakewood" not in page.text
    assert page.headers["Cache-Control"] == "no-store"


def test_operator_sees_every_district(client):
    sign_in(client, "operator@state.test")

    page = client.get("/students")

    assert OWN_LASID in page.text and OTHER_LASID in page.text


def test_another_districts_student_is_not_found(client):
    sign_in(client, "uploader@d1.test")

    assert client.get(f"/students/{OTHER_LASID}").status_code == 404
    assert client.get("/students/0499999999").status_code == 404

    token = token_in(client.get(f"/students/{OWN_LASID}").text)
    upload = client.post(f"/students/{OTHER_LASID}/documents", data={
        "csrf_token": token, "kind": "sa_round1",
        "file": (io.BytesIO(tiny_pdf()), "report.pdf")})
    module = client.post(f"/students/{OTHER_LASID}/modules", data={
        "csrf_token": token, "module": "presentation", "completed_on": "2025-10-01"})
    assert upload.status_code == 404
    assert module.status_code == 404
    assert "Lakewood" not in upload.text + module.text


def test_roles_without_student_pages(client):
    sign_in(client, "auditor@state.test")

    home = client.get("/")

    assert home.headers["Location"] == "/audit/packages"
    assert client.get("/students").status_code == 403
    assert client.get(f"/students/{OWN_LASID}").status_code == 403


def test_student_page_shows_what_is_missing_and_the_forms(vault_app, client):
    sign_in(client, "uploader@d1.test")

    page = client.get(f"/students/{OWN_LASID}")

    assert page.status_code == 200
    assert "No completion date for Credit Applications." in page.text
    assert 'enctype="multipart/form-data"' in page.text
    assert 'name="kind"' in page.text and 'name="file"' in page.text
    assert "Issue certificate" not in page.text
    read = events(vault_app, "student_read")
    assert [e.subject_type for e in read] == ["student_record"]
    assert OWN_LASID not in repr([(e.subject_id, e.details) for e in read])


def test_module_date_is_recorded_or_refused(client):
    sign_in(client, "uploader@d1.test")
    page = f"/students/{OWN_LASID}"
    action = f"{page}/modules"

    recorded = post_form(client, page, action, {"module": "credit_applications",
                                                "completed_on": "2025-10-01"})
    future = post_form(client, page, action, {"module": "presentation",
                                              "completed_on": "2999-01-01"})
    exam = post_form(client, page, action, {"module": "certification_exam",
                                            "completed_on": "2025-10-01"})

    assert "Recorded: Credit Applications completed on 2025-10-01." in recorded.text
    assert "No completion date for Credit Applications." not in recorded.text
    assert "Refused: A completion date cannot be in the future." in future.text
    assert future.status_code == 200
    assert "Refused: The Certification Exam is recorded only" in exam.text


def test_upload_through_the_form_then_download(client):
    sign_in(client, "uploader@d1.test")
    page = f"/students/{OWN_LASID}"
    data = tiny_pdf()

    accepted = post_form(client, page, f"{page}/documents",
                         {"kind": "sa_round1", "file": (io.BytesIO(data), "r1.pdf")})
    refused = post_form(client, page, f"{page}/documents",
                        {"kind": "sa_round2",
                         "file": (io.BytesIO(b"hello, not a pdf"), "r2.pdf")})

    assert "Accepted: the Round 1 Self-Assessment report." in accepted.text
    assert "r1.pdf" in accepted.text
    # Upload times read as the clocks in the vault's time zone (Chicago here).
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d C[SD]T", accepted.text)
    assert "Refused: The file is not a PDF." in refused.text
    assert "r2.pdf" not in refused.text

    link = re.search(r'href="(/students/\d+/documents/\w+)"', refused.text).group(1)
    download = client.get(link)
    assert download.status_code == 200
    assert download.mimetype == "application/pdf"
    assert download.data == data


def test_operator_cannot_upload_and_staff_cannot_issue(client):
    page = f"/students/{OWN_LASID}"
    sign_in(client, "operator@state.test")
    upload = post_form(client, page, f"{page}/documents",
                       {"kind": "sa_round1", "file": (io.BytesIO(tiny_pdf()), "r.pdf")})
    client.get("/logout")
    sign_in(client, "uploader@d1.test")
    issue = post_form(client, page, f"{page}/certificates", {"level": "regional_core"})

    assert upload.status_code == 403
    assert issue.status_code == 403


def test_operator_issue_is_refused_while_evidence_is_missing(client):
    sign_in(client, "operator@state.test")
    page = f"/students/{OWN_LASID}"

    refused = post_form(client, page, f"{page}/certificates",
                        {"level": "regional_core"})

    assert refused.status_code == 200
    assert "Refused: The Regional Core certificate cannot be issued yet" in refused.text


def test_operator_issues_a_complete_level(vault_app, client):
    runtime = vault_app.extensions["vault"]
    page = f"/students/{OWN_LASID}"
    today = runtime.today().isoformat()
    with unit_of_work(runtime.sessions) as session:
        session.add(ExamResult(lasid=OWN_LASID, exam="regional_core",
                               taken_on=runtime.today(), passed=True))
    sign_in(client, "uploader@d1.test")
    for kind in ("sa_round1", "sa_round2", "mentor_checklist"):
        post_form(client, page, f"{page}/documents",
                  {"kind": kind, "file": (io.BytesIO(tiny_pdf()), f"{kind}.pdf")})
    for module in ("self_assessment", "presentation", "credit_applications",
                   "company_registration"):
        post_form(client, page, f"{page}/modules",
                  {"module": module, "completed_on": today})
    client.get("/logout")

    sign_in(client, "operator@state.test")
    assert "Issue certificate: Regional Core" in client.get(page).text
    issued = post_form(client, page, f"{page}/certificates",
                       {"level": "regional_core"})

    assert "Issued: Regional Core certificate MEC-" in issued.text
    number = re.search(r"certificate (MEC-\d{4}-\w{8})", issued.text).group(1)
    assert client.get(f"/certificates/{number}").data.startswith(b"%PDF-")


def test_verify_shows_level_and_initials_only(vault_app, client):
    runtime = vault_app.extensions["vault"]
    with unit_of_work(runtime.sessions) as session:
        student = session.scalar(select(Student).where(Student.lasid == OWN_LASID))
        session.add(Certificate(
            number="MEC-2026-ABCDEFGH", student_id=student.id,
            district_id=student.district_id, level="regional_core",
            issued_on=date(2026, 6, 1), object_key="k" * 32, wrapped_key=b"",
            key_version=1, sha256="0" * 64, size=0))

    found = client.get("/verify?number=mec-2026-abcdefgh")
    unknown = client.get("/verify?number=MEC-2026-ZZZZZZZZ")

    assert found.status_code == 200
    assert "Valid." in found.text and "Regional Core" in found.text
    assert "J. R." in found.text and "Riverbend Schools" in found.text
    assert "2026-06-01" in found.text
    assert "Jordana" not in found.text and "Riverstone" not in found.text
    assert OWN_LASID not in found.text
    assert "Not found." in unknown.text
    assert "Valid." not in unknown.text
    assert client.get("/verify").status_code == 200
