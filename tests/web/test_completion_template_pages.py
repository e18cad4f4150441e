"""The completion template through the API and the pages: export, quirks, report."""

import io
from datetime import date

from openpyxl import Workbook, load_workbook

from tests.web.pages import (  # noqa: F401 (fixtures)
    OTHER_LASID,
    OWN_LASID,
    client,
    post_form,
    sign_in,
    vault_app,
)
from vault.completion_template import COLUMNS


def quirky_workbook() -> bytes:
    """A template as a real district sends it back."""
    book = Workbook()
    sheet = book.active
    sheet.append(list(COLUMNS))
    sheet.append([])
    # LASID became a number; a date cell; an Excel serial; a text date.
    sheet.append([400000001, "Jordana", "Riverstone", "Riverbend High", None, None,
                  date(2026, 10, 1), 46296, "10/2/2026", "Oct 3, 2026"])
    sheet.append([None] * 10)
    # A new student, dates as text in two more shapes.
    sheet.append(["0400000009", "Zoë", "Ökdal", "Riverbend High", 2027, "D1",
                  "2026-09-30", None, None, None])
    # Another district's student: refused as unknown.
    sheet.append([OTHER_LASID, None, None, None, None, None, "2026-10-01", None,
                  None, None])
    # A bad date and a date in the future: the whole row is left out.
    sheet.append(["0400000010", "Ann", "Lee", "Riverbend High", 2027, None,
                  "sometime", "2999-01-01", None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(client, data: bytes, name: str = "template.xlsx"):
    return post_form(client, "/templates/completion", "/templates/completion",
                     {"file": (io.BytesIO(data), name)})


def test_download_is_filled_with_the_districts_students(client):
    sign_in(client, "uploader@d1.test")

    xlsx = client.get("/templates/completion.xlsx")
    csv = client.get("/templates/completion.csv")

    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert [cell.value for cell in sheet[1]] == list(COLUMNS)
    assert sheet["A2"].value == OWN_LASID and sheet["C2"].value == "Riverstone"
    assert sheet.max_row == 2
    assert csv.data.startswith(b"\xef\xbb\xbf")
    assert OWN_LASID in csv.text and OTHER_LASID not in csv.text
    assert xlsx.headers["Content-Disposition"].startswith("attachment")


def test_upload_applies_row_by_row_and_reports_why_not(client):
    sign_in(client, "uploader@d1.test")

    page = upload(client, quirky_workbook())

    assert page.status_code == 200
    assert "2 of 4 rows applied; 2 not applied." in page.text
    assert "not a date" in page.text
    assert "cannot be in the future" in page.text
    record = client.get(f"/students/{OWN_LASID}").text
    assert "2026-10-01" in record and "2026-10-03" in record
    assert "Ökdal" in client.get("/students/0400000009").text
    assert client.get("/students/0400000010").status_code == 404


def test_api_round_trip_with_bearer_token(world):
    world.district("D9")
    token = world.person("uploader", "D9")
    world.enrol(token, "0400000077", school="Hillcrest")

    exported = world.call("GET", "/api/v1/templates/completion.xlsx", token)
    book = load_workbook(io.BytesIO(exported.data))
    sheet = book.active
    sheet["G2"] = date(2026, 10, 1)
    sheet["I2"] = "10/15/2026"
    buffer = io.BytesIO()
    book.save(buffer)
    answer = world.call("POST", "/api/v1/imports/completion-template", token,
                        data={"file": (io.BytesIO(buffer.getvalue()), "t.xlsx")})

    assert exported.status_code == 200
    assert answer.status_code == 200
    assert answer.json == {"rows": 1, "applied": 1, "errors": []}
    modules = world.call("GET", "/api/v1/students/0400000077", token).json["modules"]
    assert modules == {"self_assessment": "2026-10-01",
                       "credit_applications": "2026-10-15"}


def test_api_report_names_row_and_column(world):
    world.district("D9")
    token = world.person("uploader", "D9")
    csv = ("\ufeffLASID;Self-Assessment\r\n\r\n0400000077;2026-13-01\r\n"
           "123456789012;2026-10-01\r\n").encode("utf-8")

    answer = world.call("POST", "/api/v1/imports/completion-template", token,
                        data={"file": (io.BytesIO(csv), "t.csv")})

    assert answer.json["rows"] == 2 and answer.json["applied"] == 0
    assert [(e["row"], e["column"]) for e in answer.json["errors"]] == [
        (3, "Self-Assessment"), (4, "LASID")]


def test_api_refuses_what_is_no_spreadsheet_and_other_roles(world):
    world.district("D9")
    token = world.person("uploader", "D9")
    auditor = world.person("auditor", "D9")

    garbage = world.call("POST", "/api/v1/imports/completion-template", token,
                         data={"file": (io.BytesIO(b"PK\x03\x04broken"), "t.xlsx")})
    missing = world.call("POST", "/api/v1/imports/completion-template", token)
    forbidden = world.call("GET", "/api/v1/templates/completion.xlsx", auditor)

    assert garbage.status_code == 422
    assert garbage.json["error"]["code"] == "template_unreadable"
    assert missing.status_code == 422
    assert forbidden.status_code == 403


def test_another_districts_student_reads_as_an_unknown_one(world):
    world.district("D8")
    world.district("D9")
    elsewhere = world.person("uploader", "D8")
    token = world.person("uploader", "D9")
    world.enrol(elsewhere, "0400000066")
    csv = ("LASID,Self-Assessment\r\n0400000066,2026-10-01\r\n"
           "0400000067,2026-10-01\r\n").encode()

    answer = world.call("POST", "/api/v1/imports/completion-template", token,
                        data={"file": (io.BytesIO(csv), "t.csv")})

    first, second = answer.json["errors"]
    assert first["column"] == second["column"]
    assert first["message"].replace("66", "67") == second["message"]
    assert world.call("GET", "/api/v1/students/0400000066", elsewhere).json[
        "modules"] == {}


def test_a_date_before_the_credential_existed_is_refused_by_the_template(world):
    world.district("D9")
    token = world.person("uploader", "D9")
    world.enrol(token, "0400000077")
    csv = b"LASID,Self-Assessment,Presentation\r\n0400000077,1960-01-01,20000\r\n"

    answer = world.call("POST", "/api/v1/imports/completion-template", token,
                        data={"file": (io.BytesIO(csv), "t.csv")})

    assert answer.json["applied"] == 0
    errors = answer.json["errors"]
    assert [error["column"] for error in errors] == ["Self-Assessment",
                                                     "Self-Assessment Presentation"]
    assert all("cannot be before 2000-01-01" in error["message"] for error in errors)
    assert world.call("GET", "/api/v1/students/0400000077", token).json[
        "modules"] == {}
