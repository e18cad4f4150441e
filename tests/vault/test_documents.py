"""Uploads at rest: nothing in plaintext, row and object together, tampering."""

import io
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import small_pdf
from vault import documents
from vault.errors import IntegrityError
from vault.models import EvidenceDocument

LASID = "0400012345"


def files_containing(root: Path, needle: bytes) -> list[Path]:
    return [path for path in root.rglob("*")
            if path.is_file() and needle in path.read_bytes()]


@pytest.fixture
def uploader(world):
    world.district("D1")
    token = world.person("uploader", "D1")
    world.enrol(token, LASID)
    return token


def test_no_pdf_bytes_in_plaintext_at_rest(world, uploader, runtime, rest_folders):
    marker = os.urandom(8).hex()
    data = small_pdf(f"Student name: Jordan Rivera {marker}")
    answer = world.upload(uploader, LASID, "sa_round1", data)
    assert answer.status_code == 201
    runtime.engine.dispose()

    for root in rest_folders:
        assert files_containing(root, b"%PDF-") == []
        assert files_containing(root, marker.encode()) == []
        assert files_containing(root, data[len(data) // 2:len(data) // 2 + 48]) == []


def test_a_failing_commit_leaves_no_object_behind(world, uploader, runtime,
                                                   monkeypatch):
    def broken_audit(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(documents, "record_event", broken_audit)
    answer = world.upload(uploader, LASID, "sa_round1", small_pdf())
    assert answer.status_code == 500
    assert answer.json["error"]["code"] == "internal_error"
    assert list(runtime.store.keys()) == []
    with runtime.sessions() as session:
        assert session.scalar(select(func.count(EvidenceDocument.id))) == 0


def test_a_flipped_stored_byte_is_refused_not_served(world, uploader, runtime):
    document = world.upload(uploader, LASID, "sa_round1", small_pdf()).json
    with runtime.sessions() as session:
        key = session.get(EvidenceDocument, document["id"]).object_key
    with runtime.store.open(key) as stored:
        ciphertext = bytearray(stored.read())
    ciphertext[len(ciphertext) // 2] ^= 0x01
    runtime.store.delete(key)
    runtime.store.put(key, io.BytesIO(bytes(ciphertext)))

    answer = world.call("GET", f"/api/v1/documents/{document['id']}/content", uploader)
    assert answer.status_code == 500
    assert answer.json["error"]["code"] == "integrity_error"
    assert b"%PDF" not in answer.data


def test_a_missing_object_is_a_clear_error(world, uploader, runtime):
    document = world.upload(uploader, LASID, "sa_round1", small_pdf()).json
    with runtime.sessions() as session:
        key = session.get(EvidenceDocument, document["id"]).object_key
    runtime.store.delete(key)
    answer = world.call("GET", f"/api/v1/documents/{document['id']}/content", uploader)
    assert answer.json["error"]["code"] == "object_missing"


def test_extracted_text_is_kept_encrypted_and_reads_back(world, uploader, runtime):
    from vault.objects import decrypt_text

    document = world.upload(uploader, LASID, "sa_round1",
                            small_pdf("Student name: Jordan Rivera")).json
    with runtime.sessions() as session:
        row = session.get(EvidenceDocument, document["id"])
        assert b"Jordan" not in row.text_ciphertext
        assert "Jordan Rivera" in decrypt_text(runtime, row, row.text_ciphertext)
    with pytest.raises(IntegrityError):
        decrypt_text(runtime, row, row.text_ciphertext[:-1] + b"\x00")


def test_a_document_naming_another_student_is_flagged(world, uploader):
    world.enrol(uploader, "0400000002", first_name="Casey", last_name="Nguyen")
    own = world.upload(uploader, LASID, "sa_round1",
                       small_pdf("Student name: Jordan Rivera")).json
    assert own["warnings"] == []
    other = world.upload(uploader, LASID, "sa_round2",
                         small_pdf("Round 2 report of Casey Nguyen")).json
    assert [w["code"] for w in other["warnings"]] == ["name_mismatch"]
    labelled = world.upload(uploader, LASID, "mentor_checklist",
                            small_pdf("Student Name: Pat Smith")).json
    assert [w["code"] for w in labelled["warnings"]] == ["name_mismatch"]
    assert "Casey" not in str(other) and "Pat" not in str(labelled)


@pytest.mark.parametrize("text", [
    "we will younger pupils coach; young people will learn",
    "Student: Mentor Checklist Form",
    "Student - Self Assessment Report",
])
def test_words_that_only_look_like_another_name_are_not_flagged(world, uploader,
                                                                 text):
    world.enrol(uploader, "0400000003", first_name="Will", last_name="Young")
    answer = world.upload(uploader, LASID, "sa_round1", small_pdf(text)).json
    assert answer["warnings"] == []
