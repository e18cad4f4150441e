"""Retention fixtures: a district with a complete record, sweeps on a given day."""

from datetime import date

import pytest
from sqlalchemy import select

from retention.lock import sweep_lock
from retention.sweep import SweepReport, run_sweep
from tests.conftest import small_pdf
from vault.models import EvidenceDocument
from vault.storage.s3 import S3ObjectStore

LASID = "0400012345"
OTHER_LASID = "0400067890"
KINDS = ("sa_round1", "sa_round2", "mentor_checklist")
# Uploads happen on TODAY (2026-12-03), the newest event of the record.
RETAINED_THROUGH = date(2028, 12, 3)
DAY_AFTER = date(2028, 12, 4)


class School:
    """Two districts, their people, and students with evidence (tokens by role)."""

    def __init__(self, world):
        self.world = world
        world.district("D1")
        world.district("D2")
        self.operator = world.person("operator")
        self.uploader = world.person("uploader", "D1")
        self.uploader2 = world.person("uploader", "D2")
        self.auditor = world.person("auditor", "D1", email="auditor1@test.vault")
        self.auditor2 = world.person("auditor", "D2", email="auditor2@test.vault")
        self.exam_provider = world.person("exam_provider")

    def record(self, lasid: str = LASID, token: str | None = None,
               documents: int = 3) -> list[str]:
        """Enrol a student with module dates, documents and a passed exam."""
        token = token or self.uploader
        assert self.world.enrol(token, lasid).status_code == 201
        self.world.modules(token, lasid)
        ids = []
        for number in range(documents):
            answer = self.world.upload(token, lasid, KINDS[number % 3],
                                       small_pdf(f"Jordan Rivera {number}"))
            assert answer.status_code == 201, answer.json
            ids.append(answer.json["id"])
        answer = self.world.exam(self.exam_provider, lasid)
        assert answer.json["accepted"] == 1
        return ids

    def hold(self, scope: str, ref: str, token: str | None = None):
        return self.world.call("POST", "/api/v1/holds", token or self.auditor,
                               json={"scope": scope, "ref": ref,
                                     "reason": "records request 2028-114"})


@pytest.fixture
def school(world) -> School:
    return School(world)


def sweep(runtime, as_of: date | None = None, dry_run: bool = False,
          **options) -> SweepReport:
    """One sweep as the command runs it: under the lock unless dry."""
    if dry_run:
        return run_sweep(runtime, as_of, dry_run=True, **options)
    with sweep_lock(runtime.engine) as lock:
        return run_sweep(runtime, as_of, lock=lock, **options)


def object_keys(runtime, lasid: str = LASID) -> list[str]:
    from vault.models import Student

    with runtime.sessions() as session:
        return list(session.scalars(
            select(EvidenceDocument.object_key).join(Student)
            .where(Student.lasid == lasid)))


def stored_versions(runtime, key: str) -> int:
    """How many versions of `key` the store keeps (0 or 1 in the folder)."""
    store = runtime.store
    if isinstance(store, S3ObjectStore):
        name = store._name(key)
        return sum(1 for item in store.client.list_objects(
            store.bucket, prefix=name, include_version=True)
            if item.object_name == name)
    return int(store._path(key).exists())
