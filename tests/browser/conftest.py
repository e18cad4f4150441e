"""A real vault server on 127.0.0.1 and headless Chromium driven by Playwright.

The server runs once per session on the embedded backend (SQLite and the local
encrypted folder) in a fresh data folder; each test opens its own browser
context and leaves a screenshot in test-artifacts/.
"""

import io
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from tests.conftest import skip_or_fail, small_pdf
from vault import accounts, rules
from vault.certificates import issue_certificate
from vault.config import Settings
from vault.crypto import ensure_keys
from vault.db import unit_of_work
from vault.documents import store_document
from vault.exams import record_exam_results
from vault.models import Student
from vault.schema import upgrade
from vault.students import enrol_student, record_module
from web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "browser test password"
COMPLETING = "0500000001"
REFUSING = "0500000002"
SEALED = "0500000003"
OTHER_DISTRICT = "0600000001"
SCHOOL = "Riverbend High"


class LiveVault:
    """The running server: its address and the runtime behind it."""

    def __init__(self, url: str, app):
        self.url = url
        self.app = app
        self.runtime = app.extensions["vault"]
        self.package_id = ""
        self.foreign_document = ""


@pytest.fixture(scope="session")
def live_vault(tmp_path_factory):
    """The vault served by a real HTTP server in a thread, with a seeded world."""
    settings = Settings.from_env({"VAULT_DATA_DIR": str(
        tmp_path_factory.mktemp("browser-vault"))})
    ensure_keys(settings.key_dir)
    app = create_app(settings)
    runtime = app.extensions["vault"]
    runtime.store.create()
    upgrade(runtime.engine)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    vault = LiveVault(f"http://127.0.0.1:{server.server_port}", app)
    _seed(vault)
    yield vault
    server.shutdown()
    thread.join(timeout=10)
    runtime.engine.dispose()
    runtime.store.close()


def _seed(vault: LiveVault) -> None:
    """Two districts, their people, and students in the states the tests need."""
    runtime = vault.runtime
    today = runtime.today()
    cohort = rules.school_year_end(today)
    with unit_of_work(runtime.sessions) as session:
        accounts.add_district(session, "D1", "Riverbend Schools", date(2024, 1, 2))
        accounts.add_district(session, "D2", "Lakeside Schools", date(2024, 1, 2))
        for email, role, districts in (
                ("uploader@d1.test", "uploader", ["D1"]),
                ("uploader@d2.test", "uploader", ["D2"]),
                ("operator@state.test", "operator", []),
                ("auditor@state.test", "auditor", ["D1"]),
                ("exams@state.test", "exam_provider", [])):
            accounts.add_person(session, email, role, districts, PASSWORD)

    with unit_of_work(runtime.sessions) as session:
        d1 = accounts.district_by_code(session, "D1")
        d2 = accounts.district_by_code(session, "D2")
        uploader = accounts.person_by_email(session, "uploader@d1.test")
        other = accounts.person_by_email(session, "uploader@d2.test")
        provider = accounts.person_by_email(session, "exams@state.test")
        recent = today - timedelta(days=10)
        for lasid, first, last, district, actor in (
                (COMPLETING, "Jordan", "Rivera", d1, uploader),
                (REFUSING, "Casey", "Nguyen", d1, uploader),
                (SEALED, "Avery", "Johnson", d1, uploader),
                (OTHER_DISTRICT, "Kasimir", "Lakewood", d2, other)):
            student, _ = enrol_student(session, actor, lasid, district, {
                "first_name": first, "last_name": last, "school": SCHOOL,
                "cohort": cohort})
            for module in rules.SCHOOL_MODULES:
                record_module(session, actor, student, module, recent, today)
        record_exam_results(session, provider, [
            {"lasid": lasid, "exam": "regional_core", "taken_on": recent.isoformat(),
             "score": 88, "passed": True} for lasid in (COMPLETING, SEALED)], today)

    with unit_of_work(runtime.sessions) as session:
        uploader = accounts.person_by_email(session, "uploader@d1.test")
        other = accounts.person_by_email(session, "uploader@d2.test")
        operator = accounts.person_by_email(session, "operator@state.test")
        sealed = session.scalar(select(Student).where(Student.lasid == SEALED))
        foreign = session.scalar(select(Student).where(Student.lasid == OTHER_DISTRICT))
        for kind in rules.KINDS:
            store_document(runtime, session, uploader, sealed, kind,
                           io.BytesIO(small_pdf("Student name: Avery Johnson")),
                           f"{kind}.pdf")
        document = store_document(runtime, session, other, foreign, "sa_round1",
                                  io.BytesIO(small_pdf("Kasimir Lakewood")),
                                  "lakeside.pdf")
        vault.foreign_document = document.id
        session.flush()
        session.refresh(sealed)
        certificate = issue_certificate(runtime, session, operator, sealed,
                                        "regional_core")
        session.flush()
        vault.package_id = certificate.package.id


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium, started once."""
    if not CHROMIUM.exists():
        skip_or_fail("/usr/bin/chromium is missing (make test installs it)")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=["--headless", "--no-sandbox", "--disable-gpu",
              "--disable-background-networking"])
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def page(request, browser, live_vault):
    """A fresh browser context and page; a screenshot is kept after the test."""
    context = browser.new_context(base_url=live_vault.url, accept_downloads=True)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
