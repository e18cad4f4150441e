"""The object store contract: every backend keeps opaque, already-encrypted bytes.

Keys are opaque ids chosen by the vault (no personal data). A backend never sees
plaintext: the vault encrypts before `put` and decrypts after `open`.

Errors: a backend raises `vault.errors.StorageError` when the store cannot be
reached or refuses, with the object key in the message and the cause chained,
`vault.errors.ObjectMissing` when the key does not exist, and
`vault.errors.ObjectLocked` when a write-once object is asked to go early.

Write-once: an object put with `retain_until` (or locked later with
`lock_until`) can be neither deleted nor replaced before that moment, an aware
UTC datetime. A lock is only ever extended, never shortened.
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
    def put(self, key: str, stream: BinaryIO,
            retain_until: datetime | None = None) -> ObjectInfo:
        """Store everything `stream` yields under `key`, atomically.

        Either the whole object becomes visible under `key` or nothing does: an
        interrupted put leaves no partial object. Memory use is bounded whatever
        the size. An existing key is never overwritten (StorageError). With
        `retain_until` the object is write-once until then.
        """

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A readable stream of the object's bytes; the caller closes it."""

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo:
        """Size and last change of the object; ObjectMissing when there is none."""

    @abstractmethod
    def delete(self, key: str, *, now: datetime | None = None) -> None:
        """Remove the object (every version of it); a missing key is not an error.

        ObjectLocked while the object's lock holds. The local store judges that
        by `now` (default: the clock), so a sweep can act as if it were another
        day; S3 ignores `now`, since the server's clock governs Object Lock.
        """

    @abstractmethod
    def lock_until(self, key: str, retain_until: datetime) -> None:
        """Keep the existing object write-once until `retain_until` at least;
        an earlier lock is extended, a later one left as it is."""

    @abstractmethod
    def locked_until(self, key: str) -> datetime | None:
        """The moment the object's lock ends (aware UTC), or None if unlocked."""

    @abstractmethod
    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every key in the store that starts with `prefix`, in no particular
        order."""

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
