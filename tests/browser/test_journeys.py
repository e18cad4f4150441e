"""What people do in the browser, end to end, in headless Chromium."""

import io
import re
from datetime import date

from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.browser.conftest import (
    COMPLETING,
    OTHER_DISTRICT,
    REFUSING,
    SEALED,
    sign_in,
)
from tests.conftest import small_pdf
from vault.packages import verify_zip


def test_sign_in_and_out(page):
    sign_in(page, "uploader@d1.test", "not the password at all")
    expect(page.get_by_text("Email or password is wrong.")).to_be_visible()

    sign_in(page, "uploader@d1.test")

    expect(page.get_by_role("heading", name="Students", exact=True)).to_be_visible()
    expect(page.get_by_text("Signed in as uploader@d1.test")).to_be_visible()
    expect(page.locator("svg.chart")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()


def test_three_pdfs_with_progress_make_the_student_complete(page, tmp_path):
    files = []
    for name in ("rivera-round1.pdf", "rivera-round2.pdf", "mentor-checklist.pdf"):
        path = tmp_path / name
        path.write_bytes(small_pdf("Student name: Jordan Rivera", pages=40))
        files.append(str(path))
    sign_in(page, "uploader@d1.test")
    page.goto(f"/students/{COMPLETING}")
    regional = page.locator('[data-level="regional_core"]')
    expect(regional).to_have_text("incomplete")

    page.locator("#many-files").set_input_files(files)
    expect(page.locator("#upload-list progress")).to_have_count(3)
    expect(page.get_by_label("Kind of rivera-round2.pdf")).to_have_value("sa_round2")
    expect(page.get_by_label("Kind of mentor-checklist.pdf")).to_have_value(
        "mentor_checklist")
    page.get_by_role("button", name="Upload all").click()

    expect(page.locator('[data-verdict="accepted"]')).to_have_count(3)
    for bar in page.locator("#upload-list progress").all():
        assert bar.evaluate("element => element.value") == 100
    expect(page.locator("#dropzone-section")).to_have_attribute("data-done", "1")
    expect(regional).to_have_text("complete")
    expect(page.locator("#documents")).to_contain_text("rivera-round1.pdf")


def test_a_refused_file_shows_its_reason(page, tmp_path):
    good = tmp_path / "nguyen-round1.pdf"
    good.write_bytes(small_pdf("Student name: Casey Nguyen"))
    bad = tmp_path / "nguyen-round2.pdf"
    bad.write_bytes(b"This is a Word document, honestly.")
    sign_in(page, "uploader@d1.test")
    page.goto(f"/students/{REFUSING}")

    page.locator("#many-files").set_input_files([str(good), str(bad)])
    page.get_by_role("button", name="Upload all").click()

    refused = page.locator('[data-verdict="refused"]')
    expect(refused).to_have_count(1)
    expect(refused).to_contain_text("Refused: The file is not a PDF")
    expect(page.locator('[data-verdict="accepted"]')).to_have_count(1)

    # The same refusal through the plain form, as without JavaScript.
    page.get_by_label("Kind of document").select_option("sa_round2")
    page.locator("#file").set_input_files(str(bad))
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_text("Refused: The file is not a PDF")).to_be_visible()


def test_completion_template_round_trip_with_quirks(page, tmp_path):
    sign_in(page, "uploader@d1.test")
    page.goto("/templates/completion")
    with page.expect_download() as waiting:
        page.get_by_role("link", name="Completion template (Excel, .xlsx)").click()
    with open(waiting.value.path(), "rb") as download:
        book = load_workbook(io.BytesIO(download.read()))
    sheet = book.active
    header = [cell.value for cell in sheet[1]]
    assert header[0] == "LASID" and sheet.max_row == 4

    # What a school's spreadsheet does to the file on its way back.
    sheet.insert_rows(2)
    rows = {sheet.cell(row, 1).value: row for row in range(3, sheet.max_row + 1)}
    refusing = rows[REFUSING]
    sheet.cell(refusing, 1).value = int(REFUSING)
    sheet.cell(refusing, 7).value = 46296
    sheet.cell(refusing, 8).value = "10/2/2026"
    sheet.cell(refusing, 9).value = "Oct 3, 2026"
    sheet.cell(refusing, 10).value = date(2026, 10, 4)
    sheet.append([int("0500000009"), "Zoë", "Ökdal", "Riverbend High", 2027, "D1",
                  "2026-09-30", None, None, None])
    sheet.append([OTHER_DISTRICT, None, None, None, None, None, "2026-10-01"])
    sheet.append(["0500000010", "Ann", "Lee", "Riverbend High", 2027, None,
                  "sometime", None, None, None])
    edited = tmp_path / "completion-template.xlsx"
    book.save(edited)

    page.get_by_label("Filled-in template (.xlsx or .csv)").set_input_files(
        str(edited))
    page.get_by_role("button", name="Upload the template").click()

    expect(page.locator("#report-summary")).to_have_text(
        "4 of 6 rows applied; 2 not applied.")
    row = page.locator(f'tr[data-row="{refusing}"]')
    expect(row).to_contain_text("Self-Assessment 2026-10-01")
    expect(row).to_contain_text("Self-Assessment Presentation 2026-10-02")
    expect(row).to_contain_text("Credit Applications 2026-10-03")
    expect(row).to_contain_text("Company Registration 2026-10-04")
    expect(page.locator("#report")).to_contain_text("student added")
    expect(page.locator("#report")).to_contain_text(
        f"No student {OTHER_DISTRICT} in your district.")
    expect(page.locator("#report")).to_contain_text("'sometime' is not a date")
    page.goto("/students?q=0500000009")
    expect(page.locator("#students")).to_contain_text("Ökdal, Zoë")


def test_an_auditor_opens_a_package_and_views_a_pdf(page, live_vault):
    sign_in(page, "auditor@state.test")
    expect(page.get_by_role("heading", name="Sealed packages")).to_be_visible()
    expect(page.locator("#packages")).to_contain_text(SEALED)

    page.get_by_role("link", name=re.compile(f"Open.*{live_vault.package_id}")).click()

    expect(page.get_by_role("heading", name="Sealed package")).to_be_visible()
    expect(page.locator("#manifest")).to_contain_text('"rules_version"')
    expect(page.locator("#documents tbody tr")).to_have_count(3)
    view = page.get_by_role("link", name=re.compile("^View")).first
    pdf = page.context.request.get(view.get_attribute("href"))
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF-")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline")
    assert pdf.headers["content-security-policy"].startswith("sandbox")

    with page.expect_download() as waiting:
        page.locator("#zip-link").click()
    with open(waiting.value.path(), "rb") as archive:
        assert verify_zip(io.BytesIO(archive.read())).verified


def test_a_form_without_its_csrf_token_is_refused(page):
    sign_in(page, "uploader@d1.test")
    page.goto(f"/students/{REFUSING}")
    form = page.locator("form", has=page.get_by_label(
        "Credit Applications completed on"))

    form.locator('input[name="csrf_token"]').evaluate("input => input.remove()")
    with page.expect_response(lambda answer: answer.request.method == "POST") as sent:
        form.get_by_role("button", name="Save").click()

    assert sent.value.status == 400
    expect(page.get_by_text("CSRF")).to_be_visible()


def test_district_a_cannot_reach_district_b_by_editing_the_url(page, live_vault):
    sign_in(page, "uploader@d1.test")
    paths = (f"/students/{OTHER_DISTRICT}",
             f"/students/{OTHER_DISTRICT}/documents/{live_vault.foreign_document}",
             f"/students/{COMPLETING}/documents/{live_vault.foreign_document}",
             "/semester?district=D2")

    for path in paths:
        answer = page.goto(path)
        assert answer.status == 404, path
        expect(page.get_by_text("Lakewood")).to_have_count(0)

    page.goto(f"/students?q={OTHER_DISTRICT}")
    expect(page.get_by_text("No student matches.")).to_be_visible()
