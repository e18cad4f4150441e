"""The object store contract, on the local folder and on a real SeaweedFS S3."""

import hashlib
import io
import os
import secrets
import tracemalloc

import pytest

from vault.errors import ObjectMissing, StorageError
from vault.storage import LocalObjectStore
from vault.storage.s3 import PARALLEL_PARTS, PART_SIZE, S3ObjectStore

STORES = ("local", "s3")


@pytest.fixture(params=STORES)
def store(request, tmp_path):
    if request.param == "local":
        backend = LocalObjectStore(tmp_path / "objects")
    else:
        seaweed = request.getfixturevalue("seaweed")
        backend = S3ObjectStore(seaweed.bucket, "c" + secrets.token_hex(6),
                                seaweed.s3_settings())
    backend.create()
    yield backend
    backend.close()


class Exploding(io.RawIOBase):
    """A stream that fails half-way, like a client that disconnects."""

    def __init__(self, good: int):
        self.left = good

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.left <= 0:
            raise OSError("connection reset")
        count = min(len(buffer), self.left)
        buffer[:count] = b"x" * count
        self.left -= count
        return count


class Generated(io.RawIOBase):
    """`size` pseudo-random bytes made as they are read, never held at once."""

    def __init__(self, size: int):
        self.left = size
        self.digest = hashlib.sha256()
        self.counter = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        count = min(len(buffer), self.left, 1 << 20)
        block = hashlib.sha256(self.counter.to_bytes(8, "big")).digest() * (
            count // 32 + 1)
        buffer[:count] = block[:count]
        self.digest.update(block[:count])
        self.counter += 1
        self.left -= count
        return count


def test_put_open_stat_delete(store):
    data = os.urandom(3 << 20)
    info = store.put("abc123", io.BytesIO(data))
    assert info.size == len(data)
    assert store.stat("abc123").size == len(data)
    assert store.stat("abc123").modified is not None
    with store.open("abc123") as stream:
        assert stream.read() == data
    assert list(store.keys()) == ["abc123"]

    store.delete("abc123")
    with pytest.raises(ObjectMissing):
        store.stat("abc123")
    with pytest.raises(ObjectMissing, match="abc123"):
        store.open("abc123")
    store.delete("abc123")
    assert list(store.keys()) == []


def test_keys_list_by_prefix(store):
    for key in ("auditcheckpoint1", "auditcheckpoint2", "audit9", "aud", "xyz1"):
        store.put(key, io.BytesIO(b"x"))

    assert sorted(store.keys("auditcheckpoint")) == ["auditcheckpoint1",
                                                     "auditcheckpoint2"]
    assert sorted(store.keys("aud")) == ["aud", "audit9", "auditcheckpoint1",
                                         "auditcheckpoint2"]
    assert sorted(store.keys()) == ["aud", "audit9", "auditcheckpoint1",
                                    "auditcheckpoint2", "xyz1"]
    assert list(store.keys("nothing")) == []


def test_an_interrupted_put_leaves_nothing(store):
    with pytest.raises(StorageError):
        store.put("half", Exploding(PART_SIZE + (5 << 20)))
    assert list(store.keys()) == []
    assert store.discard_partials(older_than_seconds=0) == 0


def test_an_existing_object_is_never_overwritten(store):
    store.put("same", io.BytesIO(b"first"))
    with pytest.raises(StorageError, match="same"):
        store.put("same", io.BytesIO(b"second"))
    with store.open("same") as stream:
        assert stream.read() == b"first"


def test_keys_must_be_opaque_ids(store):
    for key in ("../escape", "a/b", "", "name with spaces", "lasid-0400012345"):
        with pytest.raises(StorageError):
            store.put(key, io.BytesIO(b"x"))
    assert list(store.keys()) == []


def test_a_large_object_streams_through_in_bounded_memory(store):
    size = 12 * PART_SIZE + 12345
    source = Generated(size)

    tracemalloc.start()
    try:
        store.put("large", source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert store.stat("large").size == size
    # The parts in flight and the one being read (its pieces, their join and
    # minio's copy without its look-ahead byte), plus a part's worth of slack
    # for buffers: however large the object.
    bound = (PARALLEL_PARTS + 4) * PART_SIZE
    assert peak < bound < size, f"peak {peak / 2**20:.1f} MiB"
    digest = hashlib.sha256()
    with store.open("large") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    assert digest.hexdigest() == source.digest.hexdigest()


def test_stores_are_separate_under_their_prefixes(request, store, tmp_path):
    if isinstance(store, LocalObjectStore):
        other = LocalObjectStore(tmp_path / "other")
    else:
        other = S3ObjectStore(store.bucket, store.prefix + "x", store.settings)
    other.create()
    store.put("mine", io.BytesIO(b"1"))
    other.put("theirs", io.BytesIO(b"2"))
    assert list(store.keys()) == ["mine"]
    assert list(other.keys()) == ["theirs"]
    other.close()


def test_local_partials_are_discarded(tmp_path):
    local = LocalObjectStore(tmp_path / "objects")
    local.create()
    partial = local.root / ".partial" / "leftover"
    partial.parent.mkdir(exist_ok=True)
    partial.write_bytes(b"ciphertext")
    os.utime(partial, (0, 0))
    assert local.discard_partials() == 1
    assert not partial.exists()


def test_ping_fails_when_the_folder_is_gone(tmp_path):
    with pytest.raises(StorageError):
        LocalObjectStore(tmp_path / "missing").ping()


def s3_store(seaweed) -> S3ObjectStore:
    backend = S3ObjectStore(seaweed.bucket, "v" + secrets.token_hex(6),
                            seaweed.s3_settings())
    backend.create()
    return backend


def test_s3_delete_removes_every_version(seaweed):
    store = s3_store(seaweed)
    store.put("versioned", io.BytesIO(b"evidence"))
    name = f"{store.prefix}/versioned"

    store.delete("versioned")

    left = list(store.client.list_objects(store.bucket, prefix=name,
                                          include_version=True))
    assert left == []
    store.close()


def test_s3_abandoned_multipart_uploads_are_aborted(seaweed):
    store = s3_store(seaweed)
    name = f"{store.prefix}/abandoned"
    store.client._create_multipart_upload(store.bucket, name, {})
    assert [upload.object_name for upload in store.incomplete_uploads()] == [name]

    assert store.discard_partials(older_than_seconds=3600) == 0
    assert store.discard_partials(older_than_seconds=0) == 1
    assert list(store.incomplete_uploads()) == []
    store.close()


def test_s3_bucket_is_made_with_versioning_and_object_lock(seaweed):
    store = s3_store(seaweed)
    assert store.client.get_bucket_versioning(store.bucket).status == "Enabled"
    assert store.client.get_object_lock_config(store.bucket) is not None
    store.close()


def test_s3_down_is_a_storage_error_naming_the_key(tmp_path):
    from devstack.seaweed import SeaweedServer

    with SeaweedServer(tmp_path / "weed") as server:
        store = S3ObjectStore("down-test", "p", server.s3_settings())
        store.create()
        store.put("there", io.BytesIO(b"x"))
    with pytest.raises(StorageError, match="there") as raised:
        store.stat("there")
    assert raised.value.code == "storage_unavailable"
    with pytest.raises(StorageError):
        store.ping()
    store.close()
