"""Encrypted objects: the bytes of documents and certificates, in and out.

A fresh data key per object; the body is encrypted while it streams into the
store; the key is kept only wrapped, bound to the object key.
"""

import logging
import threading
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy.orm import Session

from vault.crypto import DataKey, WrappedKey, object_context
from vault.errors import EvidenceRemoved, IntegrityError, StorageError
from vault.models import EncryptedObject, new_id
from vault.runtime import Runtime

log = logging.getLogger(__name__)

TEXT_CONTEXT = b"/text"
# What the retention sweep leaves in place of a destroyed wrapped data key.
DESTROYED_KEY = b""


@dataclass(frozen=True)
class StoredObject:
    object_key: str
    wrapped_key: bytes
    key_version: int
    data_key: DataKey


def put_encrypted(runtime: Runtime, session: Session,
                  plaintext: BinaryIO) -> StoredObject:
    """Encrypt `plaintext` into a new object; removed if the session rolls back."""
    object_key = new_id()
    context = object_context(object_key)
    data_key = DataKey.generate()
    wrapped = runtime.keyring.wrap(data_key.to_bytes(), context)

    # Tracked first: a put that fails after the store kept the object (an answer
    # lost on the way back) still has it removed when the transaction rolls back.
    runtime.track_new_object(session, object_key)
    runtime.store.put(object_key, data_key.encrypting_reader(plaintext, context))
    return StoredObject(object_key, wrapped.blob, wrapped.version, data_key)


class ObjectUpload:
    """A new encrypted object written from `plaintext` in a thread of its own, so
    that the store works while the caller is still receiving the bytes.

    `stored` waits for it and hands the object to a session (removed again if
    that session rolls back); `discard` waits for it and removes whatever it
    wrote, for an upload that was refused or broken before it was claimed.
    """

    def __init__(self, runtime: Runtime, plaintext: BinaryIO):
        self._runtime = runtime
        self.object_key = new_id()
        context = object_context(self.object_key)
        self._data_key = DataKey.generate()
        self._wrapped = runtime.keyring.wrap(self._data_key.to_bytes(), context)
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._write, name=f"object-upload-{self.object_key}",
            args=(plaintext, self._data_key.encrypting_reader(plaintext, context)),
            daemon=True)
        self._thread.start()

    def _write(self, plaintext: BinaryIO, ciphertext: BinaryIO) -> None:
        try:
            self._runtime.store.put(self.object_key, ciphertext)
        except BaseException as error:  # handed to the thread that waits for it
            self._error = error
        finally:
            plaintext.close()

    def stored(self, session: Session) -> StoredObject:
        """The object once written; its failure raised here."""
        self._runtime.track_new_object(session, self.object_key)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return StoredObject(self.object_key, self._wrapped.blob, self._wrapped.version,
                            self._data_key)

    def discard(self) -> None:
        """Wait for the write to end and remove anything it completed."""
        self._thread.join()
        if self._error is None:
            try:
                self._runtime.store.delete(self.object_key)
            except StorageError:
                log.exception("object_discard_failed key=%s", self.object_key)


def data_key_of(runtime: Runtime, record: EncryptedObject) -> DataKey:
    if not record.wrapped_key:
        raise EvidenceRemoved("This evidence was removed when its retention period "
                              "ended; only its record of removal remains.")
    wrapped = WrappedKey(record.key_version, record.wrapped_key)
    return DataKey.from_bytes(
        runtime.keyring.unwrap(wrapped, object_context(record.object_key)))


def open_decrypted(runtime: Runtime, record: EncryptedObject) -> BinaryIO:
    """A readable plaintext stream of the record's object.

    The first segment is authenticated before this returns, so a damaged header
    or first megabyte is an IntegrityError here rather than a broken response.
    """
    data_key = data_key_of(runtime, record)
    ciphertext = runtime.store.open(record.object_key)
    reader = data_key.decrypting_reader(ciphertext, object_context(record.object_key))
    try:
        return _Prefetched(reader, reader.read(1 << 16))
    except IntegrityError:
        reader.close()
        ciphertext.close()
        raise


class _Prefetched:
    """A reader whose first bytes were already read (and so authenticated)."""

    def __init__(self, reader: BinaryIO, head: bytes):
        self._reader = reader
        self._head = head

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0:
                data, self._head = self._head + self._reader.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._reader.read(size)

    def close(self) -> None:
        self._reader.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def encrypt_text(stored: StoredObject, text: str) -> bytes:
    return stored.data_key.encrypt_bytes(
        text.encode(), object_context(stored.object_key) + TEXT_CONTEXT)


def decrypt_text(runtime: Runtime, record: EncryptedObject, ciphertext: bytes) -> str:
    data_key = data_key_of(runtime, record)
    context = object_context(record.object_key) + TEXT_CONTEXT
    return data_key.decrypt_bytes(ciphertext, context).decode()
