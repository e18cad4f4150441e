"""Holds, runs and receipts through the API; the retention date on the record."""

import os
import re

import pytest
from click.testing import CliRunner

from tests.retention.conftest import DAY_AFTER, LASID, OTHER_LASID, sweep
from vault.cli import main


def test_holds_are_placed_and_lifted_within_granted_districts(school, world):
    school.record()
    school.record(OTHER_LASID, token=school.uploader2)

    placed = school.hold("student", LASID)
    assert placed.status_code == 201
    assert placed.json["scope"] == "student" and placed.json["active"] is True
    # Another district's student answers as if it did not exist.
    assert school.hold("student", OTHER_LASID).status_code == 404
    assert school.hold("district", "D2").status_code == 404
    assert school.hold("package", "0" * 32).status_code == 404
    assert school.hold("student", LASID, token=school.uploader).status_code == 403
    assert school.hold("galaxy", LASID).status_code == 422
    blank = world.call("POST", "/api/v1/holds", school.auditor,
                       json={"scope": "student", "ref": LASID, "reason": " "})
    assert blank.status_code == 422 and blank.json["error"]["code"] == "invalid_field"
    assert world.call("POST", "/api/v1/holds", None, json={}).status_code == 401

    other = school.hold("district", "D2", token=school.auditor2)
    assert other.status_code == 201
    listed = world.call("GET", "/api/v1/holds", school.auditor)
    assert [hold["id"] for hold in listed.json["holds"]] == [placed.json["id"]]
    everything = world.call("GET", "/api/v1/holds", school.operator)
    assert len(everything.json["holds"]) == 2

    assert world.call("DELETE", f"/api/v1/holds/{other.json['id']}",
                      school.auditor).status_code == 404
    assert world.call("DELETE", f"/api/v1/holds/{placed.json['id']}",
                      school.auditor).status_code == 204
    assert world.call("DELETE", f"/api/v1/holds/{placed.json['id']}",
                      school.auditor).status_code == 204
    active = world.call("GET", "/api/v1/holds?active=1", school.operator)
    assert [hold["id"] for hold in active.json["holds"]] == [other.json["id"]]


def test_the_operator_sees_runs_and_receipts(school, runtime, world):
    school.record()
    sweep(runtime, DAY_AFTER, dry_run=True)
    sweep(runtime, DAY_AFTER)

    runs = world.call("GET", "/api/v1/retention/runs", school.operator)
    assert runs.status_code == 200
    assert runs.json["last_run"]["status"] == "finished"
    assert runs.json["last_run"]["counts"]["documents"] == 3
    assert runs.json["next_run"].endswith("T02:00:00-06:00")
    assert [run["dry_run"] for run in runs.json["runs"]] == [False, True]
    assert world.call("GET", "/api/v1/retention/runs",
                      school.auditor).status_code == 403

    receipts = world.call("GET", "/api/v1/retention/receipts?district=D1",
                          school.operator)
    [receipt] = receipts.json["receipts"]
    assert receipt["counts"]["document"] == 3
    assert world.call("GET", "/api/v1/retention/receipts?district=D2",
                      school.operator).json["receipts"] == []
    assert world.call("GET", "/api/v1/retention/receipts",
                      school.operator).status_code == 422


def test_the_student_page_shows_the_retention_date(school, app, world):
    school.record()
    answer = world.call("GET", f"/api/v1/students/{LASID}", school.operator)
    assert answer.json["retention_date"] == "2028-12-03"

    browser = app.test_client()
    form = browser.get("/login").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    signed_in = browser.post("/login", data={
        "email": "uploader-D1@test.vault", "password": "a long enough password",
        "csrf_token": token})
    assert signed_in.status_code == 302
    page = browser.get(f"/students/{LASID}")
    assert "Record kept through 2028-12-03" in page.text


@pytest.fixture
def vault_cli(monkeypatch, backend_env):
    for name, value in backend_env.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return run


def test_the_command_lists_then_removes(school, runtime, vault_cli):
    school.record()
    school.hold("student", LASID)
    school.record(OTHER_LASID)

    dry = vault_cli("retention", "sweep", "--dry-run", "--as-of", "2028-12-04")
    assert dry.exit_code == 0, dry.output
    assert f"would remove student {OTHER_LASID} (D1): 3 documents" in dry.output
    assert LASID not in dry.output.replace(OTHER_LASID, "")
    assert "1 due records held" in dry.output

    last_day = vault_cli("retention", "sweep", "--as-of", "2028-12-03")
    assert "removed 0 records" in last_day.output

    real = vault_cli("retention", "sweep", "--as-of", "2028-12-04")
    assert real.exit_code == 0, real.output
    assert "removed 1 records (3 documents" in real.output
    assert "objects deleted 3" in real.output and "receipts 1" in real.output
    assert os.environ.get("VAULT_DATA_DIR")

    bad = vault_cli("retention", "sweep", "--as-of", "tomorrow")
    assert bad.exit_code == 2
