"""The district dashboard (search, filters, chart) and the upload script's JSON."""

import io
import re

from tests.conftest import small_pdf
from tests.web.pages import (  # noqa: F401 (fixtures)
    OTHER_LASID,
    OWN_LASID,
    client,
    sign_in,
    token_in,
    vault_app,
)
from vault.db import unit_of_work
from vault.models import Student


def add_student(app, lasid: str, first: str, last: str, school: str) -> None:
    with unit_of_work(app.extensions["vault"].sessions) as session:
        own = session.query(Student).filter_by(lasid=OWN_LASID).one()
        session.add(Student(lasid=lasid, district_id=own.district_id,
                            first_name=first, last_name=last, school=school,
                            cohort=own.cohort))


def test_dashboard_groups_by_school_with_a_chart(vault_app, client):
    add_student(vault_app, "0400000003", "Amara", "Okafor", "Hillcrest Middle")
    sign_in(client, "uploader@d1.test")

    page = client.get("/students").text

    assert "<svg" in page and 'role="img"' in page
    assert re.search(r"<th scope=\"row\">Hillcrest Middle</th>\s*<td>0</td>"
                     r"<td>0</td>\s*<td>1</td><td>1</td>", page)
    assert "Riverbend High" in page and "Lakeside High" not in page


def test_dashboard_search_and_filters(vault_app, client):
    add_student(vault_app, "0400000003", "Amara", "Okafor", "Hillcrest Middle")
    sign_in(client, "uploader@d1.test")

    by_name = client.get("/students?q=okaf").text
    by_lasid = client.get("/students?q=0400000001").text
    by_school = client.get("/students?school=Riverbend+High").text
    complete = client.get("/students?status=complete").text
    other_district = client.get(f"/students?q={OTHER_LASID}").text

    assert "Okafor" in by_name and "Riverstone" not in by_name
    assert "Riverstone" in by_lasid and "Okafor" not in by_lasid
    assert "Riverstone" in by_school and "Okafor, Amara" not in by_school
    assert "No student matches." in complete
    assert "Lakewood" not in other_district


def test_upload_script_gets_a_verdict_per_file(client):
    sign_in(client, "uploader@d1.test")
    page = f"/students/{OWN_LASID}"
    token = token_in(client.get(page).text)
    headers = {"Accept": "application/json", "X-CSRFToken": token}

    accepted = client.post(f"{page}/documents", headers=headers, data={
        "kind": "sa_round1",
        "file": (io.BytesIO(small_pdf("Jordana Riverstone")), "r1.pdf")})
    warned = client.post(f"{page}/documents", headers=headers, data={
        "kind": "sa_round2",
        "file": (io.BytesIO(small_pdf("Student name: Someone Else")),
                 "r2.pdf")})
    refused = client.post(f"{page}/documents", headers=headers, data={
        "kind": "mentor_checklist",
        "file": (io.BytesIO(b"not a pdf"), "c.pdf")})
    foreign = client.post(f"/students/{OTHER_LASID}/documents", headers=headers,
                          data={"kind": "sa_round1", "file": (
                              io.BytesIO(small_pdf()), "x.pdf")})

    assert accepted.status_code == 201 and accepted.json["verdict"] == "accepted"
    assert warned.json["verdict"] == "accepted_with_warnings"
    assert "name_mismatch" in [w["code"] for w in warned.json["document"]["warnings"]]
    assert refused.status_code == 422
    assert refused.json == {"verdict": "refused", "code": "not_pdf",
                            "message": refused.json["message"]}
    assert foreign.status_code == 404


def test_upload_script_needs_the_csrf_header(client):
    sign_in(client, "uploader@d1.test")

    bare = client.post(f"/students/{OWN_LASID}/documents",
                       headers={"Accept": "application/json"},
                       data={"kind": "sa_round1", "file": (
                           io.BytesIO(small_pdf()), "r1.pdf")})

    assert bare.status_code == 400


def test_student_page_offers_drag_and_drop_and_the_plain_form(client):
    sign_in(client, "uploader@d1.test")

    page = client.get(f"/students/{OWN_LASID}").text

    assert 'id="dropzone-section" hidden' in page
    assert 'name="kind"' in page and 'name="file"' in page
    assert "/static/upload.js" in page
