"""The one-machine backend: encrypted objects as files in a folder.

Layout: `<root>/<k[0:2]>/<k[2:4]>/<key>`. A put writes `<root>/.partial/<random>`,
fsyncs it, renames it into place and fsyncs the folder, so a crash leaves at most
a partial file, which `discard_partials` removes.
"""

import errno
import logging
import os
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from vault.errors import ObjectMissing, StorageError
from vault.storage.interface import ObjectInfo, ObjectStore

log = logging.getLogger(__name__)

COPY_CHUNK = 1 << 20
PARTIAL_DIR = ".partial"


class LocalObjectStore(ObjectStore):
    """Objects as files under one folder, written atomically."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not key or not key.isalnum():
            raise StorageError(f"Object key {key!r} is not an opaque id.")
        return self.root / key[:2] / key[2:4] / key

    def put(self, key: str, stream: BinaryIO) -> ObjectInfo:
        target = self._path(key)
        partial = self.root / PARTIAL_DIR / uuid.uuid4().hex
        try:
            partial.parent.mkdir(parents=True, exist_ok=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                raise StorageError(f"Object {key} already exists.")
            size = self._write_synced(partial, stream)
            os.link(partial, target)
            _fsync_dir(target.parent)
        except OSError as error:
            raise StorageError(f"Could not store object {key}: {error}") from error
        finally:
            partial.unlink(missing_ok=True)
        return ObjectInfo(key, size)

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

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as error:
            raise StorageError(f"Could not delete object {key}: {error}") from error

    def keys(self) -> Iterator[str]:
        for folder, subfolders, names in os.walk(self.root):
            subfolders[:] = [name for name in subfolders if name != PARTIAL_DIR]
            yield from (name for name in names if name.isalnum())

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
