"""A vault with one issued certificate (and so one sealed package), people of
two districts around it, and the `vault` command line pointed at it."""

from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from tests.conftest import small_pdf
from vault.cli import main

LASID = "0400012345"
OTHER_LASID = "0500012345"
KINDS = ("sa_round1", "sa_round2", "mentor_checklist")


@dataclass
class Sealed:
    """Tokens of everyone around one sealed package."""

    package_id: str
    certificate: str
    document_ids: list[str]
    operator: str
    staff: str
    auditor: str
    other_auditor: str
    other_staff: str


def issue(world, staff: str, operator: str, lasid: str) -> tuple[dict, list[str]]:
    """Enrol, upload the three PDFs, record modules and the exam, issue."""
    assert world.enrol(staff, lasid).status_code == 201
    documents = []
    for kind in KINDS:
        answer = world.upload(staff, lasid, kind, small_pdf(f"{kind} of Jordan Rivera"))
        assert answer.status_code == 201, answer.json
        documents.append(answer.json["id"])
    world.modules(staff, lasid)
    assert world.exam(operator, lasid).status_code == 200
    issued = world.call("POST", f"/api/v1/students/{lasid}/certificates", operator,
                        json={"level": "regional_core"})
    assert issued.status_code == 201, issued.json
    return issued.json, documents


@pytest.fixture
def sealed(world) -> Sealed:
    world.district("D1")
    world.district("D2")
    operator = world.person("operator")
    staff = world.person("district_admin", "D1")
    issued, documents = issue(world, staff, operator, LASID)
    return Sealed(
        package_id=issued["package_id"], certificate=issued["number"],
        document_ids=documents, operator=operator, staff=staff,
        auditor=world.person("auditor", "D1"),
        other_auditor=world.person("auditor", "D2"),
        other_staff=world.person("district_admin", "D2"))


@pytest.fixture
def vault_command(monkeypatch, backend_env):
    """Run `vault ...` in-process against the test's vault."""
    for name, value in backend_env.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return run
