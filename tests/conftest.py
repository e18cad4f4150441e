"""Shared fixtures: a fresh vault per test, factories for districts and people."""

import io
import os
import secrets
import uuid
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import minio.time
import pikepdf
import pytest
import time_machine

from devstack.seaweed import SeaweedServer
from tests.postgres import PostgresDatabases, postgres_unavailable_reason
from vault import accounts
from vault.config import Settings
from vault.crypto import ensure_keys
from vault.db import unit_of_work
from vault.schema import upgrade
from web.app import create_app

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "pdfs"
TODAY = date(2026, 12, 3)
CHICAGO = ZoneInfo("America/Chicago")
EMBEDDED = "sqlite+folder"
SCALED = "postgres+s3"
BACKENDS = (EMBEDDED, SCALED)


def services_required() -> bool:
    """`make test` sets this: a missing PostgreSQL or SeaweedFS fails the run."""
    return os.environ.get("VAULT_TEST_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    if services_required():
        pytest.fail(reason)
    pytest.skip(reason)


def corpus_or_skip() -> Path:
    """The shared corpus folder; tests that need it skip where it is absent."""
    if not (CORPUS / "MANIFEST.tsv").exists():
        pytest.skip("../shared/corpus is not beside this clone (only CI has it)")
    return CORPUS


def small_pdf(text: str = "Student name: Jordan Rivera", pages: int = 1) -> bytes:
    """A real, valid PDF with `text` on its first page."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
        BaseFont=pikepdf.Name.Helvetica))
    for number in range(pages):
        content = f"BT /F1 12 Tf 72 720 Td ({text} {number + 1}) Tj ET".encode()
        page = pikepdf.Page(pikepdf.Dictionary(
            Type=pikepdf.Name.Page, MediaBox=[0, 0, 612, 792],
            Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
            Contents=pdf.make_stream(content)))
        pdf.pages.append(page)
    buffer = io.BytesIO()
    pdf.save(buffer)
    return buffer.getvalue()


def multipart(fields: dict[str, str],
              file: tuple[str, str, bytes]) -> tuple[bytes, str]:
    """A multipart/form-data body, encoded here: the test client keeps no temp file."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
             f"\r\n\r\n{value}\r\n".encode() for name, value in fields.items()]
    name, filename, data = file
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                 f'filename="{filename}"\r\nContent-Type: application/pdf\r\n\r\n'
                 .encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def real_utc_now() -> datetime:
    """The wall clock, even while a test travels in time."""
    return time_machine.escape_hatch.datetime.datetime.now(timezone.utc)


@pytest.fixture
def frozen_today(monkeypatch):
    """Noon on TODAY in the vault's time zone, the clock still ticking.

    Requests to S3 are signed with the real time all the same: a server rejects
    a signature dated more than fifteen minutes away from its own clock.
    """
    monkeypatch.setattr(minio.time, "utcnow", real_utc_now)
    with time_machine.travel(datetime(2026, 12, 3, 12, 0, tzinfo=CHICAGO), tick=True):
        yield TODAY


@pytest.fixture(scope="session")
def postgres_databases():
    """A migrated template database on the local PostgreSQL for this run."""
    reason = postgres_unavailable_reason()
    if reason:
        skip_or_fail(reason)
    databases = PostgresDatabases()
    yield databases
    databases.close()


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    """One real SeaweedFS S3 server for this run, with one bucket."""
    try:
        server = SeaweedServer(tmp_path_factory.mktemp("seaweed")).start()
    except (FileNotFoundError, RuntimeError) as error:
        skip_or_fail(f"SeaweedFS could not start: {error}")
    server.bucket = "vault-test-" + secrets.token_hex(4)
    yield server
    server.stop()


@pytest.fixture
def s3_store_env(request, seaweed) -> dict[str, str]:
    """VAULT_STORE_URL and VAULT_S3_* for a prefix of this test's own."""
    s3 = seaweed.s3_settings()
    prefix = "t" + secrets.token_hex(6)
    return {"VAULT_STORE_URL": f"s3://{seaweed.bucket}/{prefix}",
            "VAULT_S3_ENDPOINT": s3.endpoint, "VAULT_S3_ACCESS_KEY": s3.access_key,
            "VAULT_S3_SECRET_KEY": s3.secret_key, "VAULT_S3_REGION": s3.region}


@pytest.fixture(params=BACKENDS)
def backend_env(request, tmp_path) -> dict[str, str]:
    """The VAULT_* variables of a fresh vault on each pair of backends in turn:
    SQLite with the local folder, then PostgreSQL with SeaweedFS S3."""
    env = {"VAULT_DATA_DIR": str(tmp_path / "data")}
    if request.param == SCALED:
        databases = request.getfixturevalue("postgres_databases")
        url = databases.create()
        request.addfinalizer(lambda: databases.drop(url))
        env["VAULT_DATABASE_URL"] = url
        env.update(request.getfixturevalue("s3_store_env"))
    return env


@pytest.fixture
def settings(backend_env) -> Settings:
    return Settings.from_env(backend_env)


@pytest.fixture
def rest_folders(request, backend_env) -> list[Path]:
    """Every folder where this test's vault keeps data at rest: its data folder
    and, on S3, the SeaweedFS server's disk."""
    folders = [Path(backend_env["VAULT_DATA_DIR"])]
    if "VAULT_STORE_URL" in backend_env:
        folders.append(request.getfixturevalue("seaweed").folder / "data")
    return folders


@pytest.fixture
def app(settings):
    ensure_keys(settings.key_dir)
    application = create_app(settings, {"TESTING": True})
    runtime = application.extensions["vault"]
    runtime.store.create()
    upgrade(runtime.engine)
    yield application
    runtime.engine.dispose()
    runtime.store.close()


@pytest.fixture
def runtime(app):
    return app.extensions["vault"]


class World:
    """Districts, people and API calls against one test vault."""

    def __init__(self, runtime, client):
        self.runtime = runtime
        self.client = client

    def district(self, code: str, agreement: date | None = date(2026, 8, 14)) -> str:
        with unit_of_work(self.runtime.sessions) as session:
            accounts.add_district(session, code, f"{code} Schools", agreement)
        return code

    def person(self, role: str, *districts: str, email: str | None = None) -> str:
        """Add a person; returns a bearer token for them."""
        email = email or f"{role}-{'-'.join(districts) or 'x'}@test.vault"
        with unit_of_work(self.runtime.sessions) as session:
            person = accounts.add_person(session, email, role, list(districts),
                                         "a long enough password")
            return accounts.create_token(session, person)

    def call(self, method: str, path: str, token: str | None = None, **kwargs):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def enrol(self, token: str, lasid: str, cohort: int = 2027, **extra):
        body = {"first_name": "Jordan", "last_name": "Rivera",
                "school": "Riverbend High", "cohort": cohort, **extra}
        return self.call("PUT", f"/api/v1/students/{lasid}", token, json=body)

    def upload(self, token: str, lasid: str, kind: str, data: bytes,
               filename: str = "report.pdf"):
        body, content_type = multipart({"kind": kind}, ("file", filename, data))
        return self.call("POST", f"/api/v1/students/{lasid}/documents", token,
                         data=body, content_type=content_type)

    def modules(self, token: str, lasid: str, day: str = "2026-10-01") -> None:
        for module in ("self_assessment", "presentation", "credit_applications",
                       "company_registration"):
            answer = self.call("PUT", f"/api/v1/students/{lasid}/modules/{module}",
                               token, json={"completed_on": day})
            assert answer.status_code == 200, answer.json

    def exam(self, token: str, lasid: str, passed: bool = True,
             exam: str = "regional_core"):
        return self.call("POST", "/api/v1/exam-results", token, json=[
            {"lasid": lasid, "exam": exam, "taken_on": "2026-11-18", "score": 84,
             "passed": passed}])


@pytest.fixture
def world(app, runtime, frozen_today) -> World:
    return World(runtime, app.test_client())
