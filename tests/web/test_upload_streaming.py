"""A signed-in upload goes to the store while it arrives; nothing else does."""

import pytest

from tests.conftest import small_pdf
from vault import objects
from vault.storage.s3 import S3ObjectStore

LASID = "0400066601"


@pytest.fixture
def started(monkeypatch):
    """Every store write begun while a body was arriving."""
    begun = []
    real = objects.ObjectUpload.__init__

    def counting(self, runtime, plaintext):
        begun.append(self)
        real(self, runtime, plaintext)

    monkeypatch.setattr(objects.ObjectUpload, "__init__", counting)
    return begun


@pytest.fixture
def people(world):
    world.district("D1")
    world.district("D0", agreement=None)
    people = {"up": world.person("uploader", "D1"),
              "up0": world.person("uploader", "D0")}
    assert world.enrol(people["up"], LASID).status_code == 201
    assert world.enrol(people["up0"], "0400066602").status_code == 201
    return people


def nothing_left(runtime) -> bool:
    store = runtime.store
    incomplete = (list(store.incomplete_uploads())
                  if isinstance(store, S3ObjectStore) else [])
    return list(store.keys()) == [] and incomplete == []


def test_an_accepted_upload_was_stored_while_it_arrived(world, people, started):
    data = small_pdf(pages=40)
    answer = world.upload(people["up"], LASID, "sa_round1", data)
    assert answer.status_code == 201
    assert len(started) == 1
    content = world.call("GET", f"/api/v1/documents/{answer.json['id']}/content",
                         people["up"])
    assert content.data == data


@pytest.mark.parametrize(("token", "lasid", "kind", "data", "status"), [
    ("up", LASID, "sa_round1", b"<html>no pdf</html>", 422),
    ("up", LASID, "birth_certificate", None, 422),
    ("up0", "0400066602", "sa_round1", None, 403),
    ("up", "0400099999", "sa_round1", None, 404),
])
def test_a_refused_upload_leaves_no_object(world, people, runtime, started, token,
                                           lasid, kind, data, status):
    answer = world.upload(people[token], lasid, kind, data or small_pdf())
    assert answer.status_code == status
    assert nothing_left(runtime)


def test_an_unknown_caller_starts_no_store_write(world, people, runtime, started):
    answer = world.upload("not-a-token", LASID, "sa_round1", small_pdf())
    assert answer.status_code == 401
    assert started == [] and nothing_left(runtime)
