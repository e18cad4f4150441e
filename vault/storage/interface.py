"""The object store contract: every backend keeps opaque, already-encrypted bytes.

Keys are opaque ids chosen by the vault (no personal data). A backend never sees
plaintext: the vault encrypts before `put` and decrypts after `open`.

Errors: a backend raises `vault.errors.StorageError` when the store cannot be
reached or refuses, with the object key in the message and the cause chained,
and `vault.errors.ObjectMissing` when the key does not exist.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    modified: datetime | None = None


class ObjectStore(ABC):
    """Where the vault keeps ciphertext."""

    @abstractmethod
    def put(self, key: str, stream: BinaryIO) -> ObjectInfo:
        """Store everything `stream` yields under `key`, atomically.

        Either the whole object becomes visible under `key` or nothing does: an
        interrupted put leaves no partial object. Memory use is bounded whatever
        the size. An existing key is never overwritten (StorageError).
        """

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A readable stream of the object's bytes; the caller closes it."""

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo:
        """Size and last change of the object; ObjectMissing when there is none."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object (every version of it); a missing key is not an error."""

    @abstractmethod
    def keys(self) -> Iterator[str]:
        """Every key in the store, in no particular order."""

    @abstractmethod
    def ping(self) -> None:
        """Raise StorageError unless the store answers."""

    @abstractmethod
    def create(self) -> None:
        """Make the store ready (a folder; a bucket with versioning and Object
        Lock); safe to run twice."""

    def discard_partials(self, older_than_seconds: float = 3600) -> int:
        """Remove what interrupted puts left behind; returns how many."""
        return 0

    def close(self) -> None:
        """Let go of connections; the store is not used afterwards."""
