"""Write-once storage on the local folder and on SeaweedFS (S3 Object Lock)."""

import io
import time
from datetime import datetime, timedelta, timezone

import pytest

from vault.errors import ObjectLocked, StorageError
from vault.models import Certificate, EvidenceDocument, SealedPackage
from vault.storage import LocalObjectStore

SEALED_UNTIL = datetime(2028, 12, 4, 6, 0, tzinfo=timezone.utc)


def test_a_locked_object_refuses_deletion_until_its_date(runtime):
    store = runtime.store
    until = datetime.now(timezone.utc) + timedelta(days=30)
    store.put("lockedobject1", io.BytesIO(b"sealed"), retain_until=until)

    with pytest.raises(ObjectLocked) as refused:
        store.delete("lockedobject1")
    assert "lockedobject1" in str(refused.value)
    assert refused.value.code == "object_locked"
    assert abs(store.locked_until("lockedobject1") - until) < timedelta(seconds=1)
    with store.open("lockedobject1") as stream:
        assert stream.read() == b"sealed"


def test_a_lock_is_extended_never_shortened(runtime):
    store = runtime.store
    store.put("plainobject1", io.BytesIO(b"x"))
    assert store.locked_until("plainobject1") is None

    first = datetime.now(timezone.utc) + timedelta(days=10)
    store.lock_until("plainobject1", first)
    store.lock_until("plainobject1", first - timedelta(days=5))
    assert abs(store.locked_until("plainobject1") - first) < timedelta(seconds=1)
    store.lock_until("plainobject1", first + timedelta(days=5))
    assert store.locked_until("plainobject1") > first + timedelta(days=4)
    with pytest.raises(ObjectLocked):
        store.delete("plainobject1")


def test_a_locked_key_is_never_overwritten(runtime):
    runtime.store.put("onceonly1", io.BytesIO(b"first"),
                      retain_until=datetime.now(timezone.utc) + timedelta(days=1))
    with pytest.raises(StorageError, match="already exists"):
        runtime.store.put("onceonly1", io.BytesIO(b"second"))
    with runtime.store.open("onceonly1") as stream:
        assert stream.read() == b"first"


def test_the_lock_lapses_at_its_date(runtime):
    store = runtime.store
    until = datetime.now(timezone.utc) + timedelta(seconds=2)
    store.put("shortlock1", io.BytesIO(b"x"), retain_until=until)
    if isinstance(store, LocalObjectStore):
        store.delete("shortlock1", now=until + timedelta(seconds=1))
    else:
        time.sleep(3)  # the S3 server's own clock governs Object Lock
        store.delete("shortlock1")
    assert "shortlock1" not in set(store.keys())


def test_the_local_store_acts_as_of_a_given_day(runtime):
    store = runtime.store
    if not isinstance(store, LocalObjectStore):
        pytest.skip("S3 ignores `now`: the server's clock governs")
    store.put("asof1", io.BytesIO(b"x"), retain_until=SEALED_UNTIL)
    with pytest.raises(ObjectLocked):
        store.delete("asof1", now=SEALED_UNTIL - timedelta(microseconds=1))
    store.delete("asof1", now=SEALED_UNTIL)
    assert store.locked_until("asof1") is None


def test_a_sealed_record_is_locked_until_the_end_of_its_retention_date(
        world, sealed, runtime):
    with runtime.sessions() as session:
        package = session.get(SealedPackage, sealed.package_id)
        keys = [package.object_key, package.signature_key]
        keys += [session.get(EvidenceDocument, d).object_key
                 for d in sealed.document_ids]
        keys += [c.object_key for c in session.query(Certificate)]
    assert package.retain_until == SEALED_UNTIL

    for key in keys:
        assert runtime.store.locked_until(key) == SEALED_UNTIL
        with pytest.raises(ObjectLocked):
            runtime.store.delete(key)


def test_a_new_upload_after_sealing_is_a_new_document(world, sealed, runtime):
    from tests.conftest import small_pdf
    from tests.sealing.conftest import LASID

    answer = world.upload(sealed.staff, LASID, "sa_round1", small_pdf("A new round"))
    assert answer.status_code == 201
    assert answer.json["id"] not in sealed.document_ids
    for document_id in sealed.document_ids:
        read = world.call("GET", f"/api/v1/documents/{document_id}", sealed.staff)
        assert read.status_code == 200
