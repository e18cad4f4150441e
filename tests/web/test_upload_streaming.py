"""A signed-in upload goes to the store while it arrives; nothing else does."""

import io
import threading
import time

import pytest
from sqlalchemy import text

from tests.conftest import multipart, small_pdf
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


def test_a_body_broken_off_mid_file_abandons_its_store_write(world, people, runtime,
                                                            started):
    data = small_pdf(pages=400)
    boundary = "cut-off-here"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\n'
            f"sa_round1\r\n--{boundary}\r\nContent-Disposition: form-data; "
            f'name="file"; filename="report.pdf"\r\n'
            f"Content-Type: application/pdf\r\n\r\n").encode() + data[:len(data) // 2]

    answer = world.call("POST", f"/api/v1/students/{LASID}/documents", people["up"],
                        data=body,
                        content_type=f"multipart/form-data; boundary={boundary}")

    assert 400 <= answer.status_code < 500
    assert answer.json["error"]["code"]
    assert len(started) == 1
    assert not started[0]._thread.is_alive()
    assert nothing_left(runtime)
    partials = runtime.settings.data_dir / "objects" / ".partial"
    assert not partials.exists() or list(partials.iterdir()) == []


class HeldBody(io.RawIOBase):
    """A request body that stops half-way until `resume` is set (or 10 s pass)."""

    def __init__(self, data: bytes, resume: threading.Event):
        self.data, self.resume, self.position = data, resume, 0
        self.held_until_resumed = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.position = offset if whence == io.SEEK_SET else len(self.data) + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer) -> int:
        if self.position >= len(self.data) // 2 and self.held_until_resumed is None:
            self.held_until_resumed = self.resume.wait(10)
        count = min(len(buffer), len(self.data) - self.position, 4096)
        buffer[:count] = self.data[self.position:self.position + count]
        self.position += count
        return count


def test_an_upload_in_progress_blocks_no_other_district(world, people, app):
    """While one district's body is still arriving, another's requests answer:
    the upload holds no database lock until its body is in and checked."""
    world.district("D2")
    other = world.person("uploader", "D2")
    assert world.enrol(other, "0400066603").status_code == 201
    body, content_type = multipart({"kind": "sa_round1"},
                                   ("file", "report.pdf", small_pdf(pages=200)))
    with world.runtime.engine.begin() as connection:  # as for a token's first use
        connection.execute(text("UPDATE api_tokens SET last_used_at = NULL"))
    resume = threading.Event()
    held = HeldBody(body, resume)
    answers = {}

    def upload():
        answers["upload"] = app.test_client().post(
            f"/api/v1/students/{LASID}/documents", input_stream=held,
            content_type=content_type,
            headers={"Authorization": f"Bearer {people['up']}"})

    uploading = threading.Thread(target=upload)
    uploading.start()
    while held.position < len(body) // 2 and uploading.is_alive():
        time.sleep(0.01)
    answers["read"] = world.call("GET", "/api/v1/students/0400066603", other)
    answers["write"] = world.call("PUT", "/api/v1/students/0400066603/modules/"
                                  "presentation", other,
                                  json={"completed_on": "2026-10-02"})
    resume.set()
    uploading.join(30)

    assert held.held_until_resumed is True
    assert answers["read"].status_code == 200
    assert answers["write"].status_code == 200
    assert answers["upload"].status_code == 201
