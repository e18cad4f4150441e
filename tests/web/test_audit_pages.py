"""Auditor pages: packages of granted districts only, sandboxed PDFs, the zip,
and every view an audit event."""

import io
import re
import zipfile

import pytest
from sqlalchemy import select

from tests.web.pages import (  # noqa: F401 (fixtures)
    OWN_LASID,
    PASSWORD,
    client,
    events,
    post_form,
    sign_in,
    tiny_pdf,
    vault_app,
)
from vault import accounts
from vault.db import unit_of_work
from vault.models import EvidenceDocument, ExamResult
from vault.packages import verify_zip

PAGE = f"/students/{OWN_LASID}"


@pytest.fixture
def package_id(vault_app, client) -> str:
    """A certificate issued to the D1 student, its evidence sealed."""
    runtime = vault_app.extensions["vault"]
    today = runtime.today().isoformat()
    with unit_of_work(runtime.sessions) as session:
        session.add(ExamResult(lasid=OWN_LASID, exam="regional_core",
                               taken_on=runtime.today(), passed=True))
        accounts.add_person(session, "auditor@d2.test", "auditor", ["D2"], PASSWORD)
    sign_in(client, "uploader@d1.test")
    for kind in ("sa_round1", "sa_round2", "mentor_checklist"):
        post_form(client, PAGE, f"{PAGE}/documents",
                  {"kind": kind, "file": (io.BytesIO(tiny_pdf()), f"{kind}.pdf")})
    for module in ("self_assessment", "presentation", "credit_applications",
                   "company_registration"):
        post_form(client, PAGE, f"{PAGE}/modules",
                  {"module": module, "completed_on": today})
    client.get("/logout")
    sign_in(client, "operator@state.test")
    issued = post_form(client, PAGE, f"{PAGE}/certificates",
                       {"level": "regional_core"})
    assert "Issued:" in issued.text
    client.get("/logout")

    sign_in(client, "auditor@state.test")
    listing = client.get("/audit/packages").text
    return re.search(r'href="/audit/packages/(\w+)"', listing).group(1)


def test_auditor_lists_opens_views_and_downloads(vault_app, client, package_id):
    listing = client.get("/audit/packages").text
    page = client.get(f"/audit/packages/{package_id}")
    link = re.search(r'href="(/audit/packages/\w+/documents/\w+)" target', page.text)
    view = client.get(link.group(1))
    download = client.get(f"/audit/packages/{package_id}/package.zip")

    assert "D1: Riverbend Schools" in listing and "Riverbend High" in listing
    assert page.status_code == 200
    assert "&#34;rules_version&#34;" in page.text and "Regional Core" in page.text
    assert view.status_code == 200 and view.data.startswith(b"%PDF-")
    assert view.headers["Content-Disposition"].startswith("inline")
    assert view.headers["Content-Security-Policy"].startswith("sandbox")
    assert zipfile.is_zipfile(io.BytesIO(download.data))
    assert verify_zip(io.BytesIO(download.data)).verified
    for action in ("packages_listed", "package_read", "document_read",
                   "package_downloaded"):
        assert events(vault_app, action), action


def test_active_content_is_downloaded_not_opened(vault_app, client, package_id):
    with unit_of_work(vault_app.extensions["vault"].sessions) as session:
        document = session.scalars(select(EvidenceDocument)).first()
        document.warnings = [{"code": "javascript", "message": "Has JavaScript."}]
        document_id = document.id

    page = client.get(f"/audit/packages/{package_id}").text
    served = client.get(f"/audit/packages/{package_id}/documents/{document_id}")

    assert "active content: not opened in the browser" in page
    assert served.headers["Content-Disposition"].startswith("attachment")
    assert served.headers["Content-Security-Policy"].startswith("sandbox")


def test_another_districts_auditor_finds_nothing(client, package_id):
    client.get("/logout")
    sign_in(client, "auditor@d2.test")

    listing = client.get("/audit/packages").text

    assert package_id not in listing
    assert client.get(f"/audit/packages/{package_id}").status_code == 404
    assert client.get(f"/audit/packages/{package_id}/package.zip").status_code == 404


def test_district_staff_may_not_use_audit_pages(client):
    sign_in(client, "uploader@d1.test")

    assert client.get("/audit/packages").status_code == 403
