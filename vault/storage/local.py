"""The one-machine backend: encrypted objects as files in a folder.

Layout: `<root>/<k[0:2]>/<k[2:4]>/<key>`. A put writes `<root>/.partial/<random>`,
fsyncs it, renames it into place and fsyncs the folder, so a crash leaves at most
a partial file, which `discard_partials` removes.

Write-once: a locked object has a lock record `<root>/locked/<key>.lock` (JSON,
`retain_until` in UTC) and its file is made read-only. `delete` refuses it
(ObjectLocked) until that moment; the record is written before the object
appears, so a crash never leaves a sealed object unlocked.
"""

import errno
import io
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from vault.errors import ObjectLocked, ObjectMissing, StorageError
from vault.storage.interface import ObjectInfo, ObjectStore

log = logging.getLogger(__name__)

COPY_CHUNK = 1 << 20
PARTIAL_DIR = ".partial"
LOCK_DIR = "locked"
READ_ONLY = 0o400


class LocalObjectStore(ObjectStore):
    """Objects as files under one folder, written atomically."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not key or not key.isalnum():
            raise StorageError(f"Object key {key!r} is not an opaque id.")
        return self.root / key[:2] / key[2:4] / key

    def _lock_path(self, key: str) -> Path:
        self._path(key)
        return self.root / LOCK_DIR / f"{key}.lock"

    def put(self, key: str, stream: BinaryIO,
            retain_until: datetime | None = None) -> ObjectInfo:
        target = self._path(key)
        partial = self.root / PARTIAL_DIR / uuid.uuid4().hex
        locked_here = False
        try:
            partial.parent.mkdir(parents=True, exist_ok=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                raise StorageError(f"Object {key} already exists.")
            size = self._write_synced(partial, stream)
            if retain_until is not None:
                locked_here = self._write_lock(key, retain_until)
                os.chmod(partial, READ_ONLY)
            os.link(partial, target)
            _fsync_dir(target.parent)
        except OSError as error:
            self._forget_lock(key, locked_here)
            raise StorageError(f"Could not store object {key}: {error}") from error
        except StorageError:
            self._forget_lock(key, locked_here)
            raise
        finally:
            partial.unlink(missing_ok=True)
        return ObjectInfo(key, size)

    def _forget_lock(self, key: str, locked_here: bool) -> None:
        """Undo the lock record of a put that did not make its object."""
        if locked_here:
            self._lock_path(key).unlink(missing_ok=True)

    @staticmethod
    def _write_synced(path: Path, stream: BinaryIO) -> int:
        size = 0
        with open(path, "xb") as file:
            while chunk := stream.read(COPY_CHUNK):
                file.write(chunk)
                size += len(chunk)
            file.flush()
            os.fsync(file.fileno())
        return size

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError as error:
            raise ObjectMissing(f"Object {key} is missing from the store.") from error
        except OSError as error:
            raise StorageError(f"Could not read object {key}: {error}") from error

    def stat(self, key: str) -> ObjectInfo:
        try:
            found = self._path(key).stat()
            return ObjectInfo(key, found.st_size,
                              datetime.fromtimestamp(found.st_mtime, timezone.utc))
        except FileNotFoundError as error:
            raise ObjectMissing(f"Object {key} is missing from the store.") from error

    def delete(self, key: str, *, now: datetime | None = None) -> None:
        now = now or datetime.now(timezone.utc)
        until = self.locked_until(key)
        if until is not None and now < until:
            raise ObjectLocked(f"Object {key} is write-once until "
                               f"{until.isoformat()}.")
        try:
            self._path(key).unlink(missing_ok=True)
            self._lock_path(key).unlink(missing_ok=True)
        except OSError as error:
            raise StorageError(f"Could not delete object {key}: {error}") from error

    def lock_until(self, key: str, retain_until: datetime) -> None:
        if not self._path(key).exists():
            raise ObjectMissing(f"Object {key} is missing from the store.")
        try:
            self._write_lock(key, retain_until)
            os.chmod(self._path(key), READ_ONLY)
        except OSError as error:
            raise StorageError(f"Could not lock object {key}: {error}") from error

    def locked_until(self, key: str) -> datetime | None:
        try:
            record = json.loads(self._lock_path(key).read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            raise StorageError(f"The lock record of object {key} cannot be read: "
                               f"{error}") from error
        return datetime.fromisoformat(record["retain_until"]).astimezone(timezone.utc)

    def _write_lock(self, key: str, retain_until: datetime) -> bool:
        """Write (or extend) the lock record atomically; True when there was no
        record before."""
        if retain_until.tzinfo is None:
            raise StorageError(f"The lock of object {key} needs an aware datetime.")
        current = self.locked_until(key)
        if current is not None and current >= retain_until:
            return False

        record = self._lock_path(key)
        record.parent.mkdir(parents=True, exist_ok=True)
        partial = self.root / PARTIAL_DIR / uuid.uuid4().hex
        partial.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"key": key, "retain_until":
                           retain_until.astimezone(timezone.utc).isoformat()})
        try:
            self._write_synced(partial, io.BytesIO(body.encode()))
            os.replace(partial, record)
            _fsync_dir(record.parent)
        finally:
            partial.unlink(missing_ok=True)
        return current is None

    def keys(self, prefix: str = "") -> Iterator[str]:
        # Keys lie in folders named by their first four characters.
        top = self.root / prefix[:2] / prefix[2:4] if len(prefix) >= 4 else self.root
        for folder, subfolders, names in os.walk(top):
            subfolders[:] = [name for name in subfolders
                             if name not in (PARTIAL_DIR, LOCK_DIR)]
            yield from (name for name in names
                        if name.isalnum() and name.startswith(prefix))

    def ping(self) -> None:
        if not self.root.is_dir() or not os.access(self.root, os.W_OK):
            raise StorageError(f"The object folder {self.root} is not writable.")

    def discard_partials(self, older_than_seconds: float = 3600) -> int:
        """Remove partial files left by interrupted puts; returns how many."""
        folder = self.root / PARTIAL_DIR
        if not folder.is_dir():
            return 0
        cutoff = time.time() - older_than_seconds
        removed = 0
        for path in folder.iterdir():
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        if removed:
            log.info("partial_objects_removed count=%d", removed)
        return removed

    def create(self) -> None:
        """Make the folder (mode 0700) if it does not exist."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    except OSError as error:
        if error.errno != errno.EINVAL:
            raise
    finally:
        os.close(descriptor)


__all__ = ["LocalObjectStore"]
