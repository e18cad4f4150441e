"""The object store contract on the local folder backend."""

import io
import os

import pytest

from vault.errors import ObjectMissing, StorageError
from vault.storage import LocalObjectStore


@pytest.fixture
def store(tmp_path):
    local = LocalObjectStore(tmp_path / "objects")
    local.create()
    return local


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


def test_put_open_stat_delete(store):
    data = os.urandom(3 << 20)
    info = store.put("abc123", io.BytesIO(data))
    assert info.size == len(data)
    assert store.stat("abc123").size == len(data)
    with store.open("abc123") as stream:
        assert stream.read() == data
    assert list(store.keys()) == ["abc123"]
    store.delete("abc123")
    with pytest.raises(ObjectMissing):
        store.stat("abc123")
    with pytest.raises(ObjectMissing):
        store.open("abc123")
    store.delete("abc123")


def test_an_interrupted_put_leaves_nothing(store):
    with pytest.raises(StorageError):
        store.put("half", Exploding(5 << 20))
    assert list(store.keys()) == []
    assert not any((store.root / ".partial").iterdir())


def test_an_existing_object_is_never_overwritten(store):
    store.put("same", io.BytesIO(b"first"))
    with pytest.raises(StorageError):
        store.put("same", io.BytesIO(b"second"))
    with store.open("same") as stream:
        assert stream.read() == b"first"


def test_keys_must_be_opaque_ids(store):
    with pytest.raises(StorageError):
        store.put("../escape", io.BytesIO(b"x"))


def test_stale_partials_are_discarded(store):
    partial = store.root / ".partial" / "leftover"
    partial.parent.mkdir(exist_ok=True)
    partial.write_bytes(b"ciphertext")
    os.utime(partial, (0, 0))
    assert store.discard_partials() == 1
    assert not partial.exists()


def test_ping_fails_when_the_folder_is_gone(tmp_path):
    with pytest.raises(StorageError):
        LocalObjectStore(tmp_path / "missing").ping()
