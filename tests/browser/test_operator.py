"""The operator's pages in headless Chromium, without any script of ours."""

import io
import re
from datetime import timedelta

from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.conftest import small_pdf
from vault import accounts, rules
from vault.db import unit_of_work
from vault.documents import store_document
from vault.exams import record_exam_results
from vault.students import enrol_student, record_module

READY = ("0700000001", "0700000002")
NOT_READY = "0700000003"


def _enrol_district_seven(live_vault) -> None:
    """Two complete students and one without an exam result, in district D7."""
    runtime = live_vault.runtime
    today = runtime.today()
    with unit_of_work(runtime.sessions) as session:
        clerk = accounts.person_by_email(session, "clerk@d7.test")
        provider = accounts.person_by_email(session, "exams@state.test")
        district = accounts.district_by_code(session, "D7")
        for number, lasid in enumerate(READY + (NOT_READY,)):
            student, _ = enrol_student(session, clerk, lasid, district, {
                "first_name": "Student", "last_name": f"Seven{number}",
                "school": "Hillcrest Charter", "cohort": rules.school_year_end(today)})
            for module in rules.SCHOOL_MODULES:
                record_module(session, clerk, student, module,
                              today - timedelta(days=3), today)
            for kind in rules.KINDS:
                store_document(runtime, session, clerk, student, kind,
                               io.BytesIO(small_pdf()), f"{kind}.pdf")
        record_exam_results(session, provider, [
            {"lasid": lasid, "exam": "regional_core", "score": 90, "passed": True,
             "taken_on": (today - timedelta(days=2)).isoformat()} for lasid in READY],
            today)


def test_operator_sets_up_a_district_and_issues_after_confirming(page, browser,
                                                                  live_vault):
    sign_in(page, "operator@state.test")
    page.get_by_role("link", name="Operator", exact=True).click()
    expect(page.get_by_role("heading", name="Operator")).to_be_visible()

    page.get_by_role("link", name=re.compile("^Districts and their")).click()
    page.get_by_label("District code").fill("D7")
    page.get_by_label("District or charter school name").fill("Hillcrest Charter")
    page.get_by_role("button", name="Add district").click()
    expect(page.get_by_text("Added district D7, no tracking agreement yet.")
           ).to_be_visible()
    page.get_by_label("Agreement of D7 signed on").fill("2025-08-20")
    page.get_by_role("button", name="Save date for D7").click()
    expect(page.locator('[data-agreement="D7"]')).to_have_text("2025-08-20")

    page.goto("/operator/people")
    page.get_by_label("Email", exact=True).fill("clerk@d7.test")
    page.get_by_label("Role").select_option("uploader")
    page.get_by_label("D7", exact=True).check()
    page.get_by_role("button", name="Add person").click()
    expect(page.get_by_role("heading", name="Added clerk@d7.test as uploader")
           ).to_be_visible()
    password = page.locator("#new-password").inner_text()

    clerk = browser.new_context(base_url=live_vault.url)
    clerk_page = clerk.new_page()
    sign_in(clerk_page, "clerk@d7.test", password)
    expect(clerk_page.get_by_text("Signed in as clerk@d7.test")).to_be_visible()
    clerk.close()

    _enrol_district_seven(live_vault)
    page.goto("/operator/ready")
    for lasid in READY:
        expect(page.locator(f'[data-ready="{lasid}:regional_core"]')).to_be_visible()
    expect(page.locator(f'[data-ready^="{NOT_READY}:"]')).to_have_count(0)

    page.get_by_role("button", name=f"Issue Regional Core to Student Seven0 "
                     f"({READY[0]})").click()
    expect(page.get_by_text(re.compile(
        rf"Issued: Regional Core certificate MEC-\d{{4}}-\w{{8}} to LASID {READY[0]}"))
           ).to_be_visible()

    page.get_by_role("button", name=re.compile(r"^Issue all ready")).click()
    expect(page.get_by_role("heading", name="Issue all ready certificates?")
           ).to_be_visible()
    expect(page.locator(f'[data-confirm="{READY[1]}:regional_core"]')).to_be_visible()
    expect(page.locator(f'[data-confirm^="{READY[0]}:"]')).to_have_count(0)
    expect(page.locator(f'[data-confirm^="{NOT_READY}:"]')).to_have_count(0)
    page.get_by_role("button", name=re.compile(r"^Issue these")).click()

    outcome = page.locator(f'[data-outcome="{READY[1]}:regional_core"]')
    expect(outcome).to_contain_text("Issued:")
    expect(outcome.get_by_role("link", name=re.compile("^certificate MEC-"))
           ).to_be_visible()
    expect(page.locator("[data-outcome]", has_text="Not issued")).to_have_count(0)
