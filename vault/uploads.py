"""An upload on its way in: spooled once to an unnamed file, hashed as it lands.

The web request writes the multipart file part straight into an UploadSpool,
so the body is read once; the CLI and the demo copy their streams into one.
The spool has no name on disk and vanishes when closed; its bytes never go
under the data folder.

A signed-in request's spool may also feed the object store while the body is
still arriving (`stream_into`): a follower reads what has landed, waits for
more, and ends when the upload is claimed as complete. A spool closed without
being claimed (a refusal, a broken request) abandons that store write, so no
object is ever completed from it.
"""

import hashlib
import io
import os
import tempfile
import threading
from collections.abc import Callable
from typing import BinaryIO, Protocol

from vault.errors import VaultError

COPY_CHUNK = 1 << 20
# A store write following an upload gives up when the body stalls this long.
STALL_SECONDS = 300


class UploadTooLarge(VaultError):
    code = "too_large"
    status = 413


class StoreWrite(Protocol):
    """A store write running beside the spool (vault.objects.ObjectUpload)."""

    def discard(self) -> None: ...


WRITING, COMPLETE, ABANDONED = "writing", "complete", "abandoned"


class UploadSpool:
    """A writable, then readable, unnamed temporary file that hashes what it holds."""

    def __init__(self, limit: int):
        self.limit = limit
        self.size = 0
        self._digest = hashlib.sha256()
        self._file = tempfile.TemporaryFile()
        self._progress = threading.Condition()
        self._state = WRITING
        self._start_write: Callable[[BinaryIO], StoreWrite] | None = None
        self._store_write: StoreWrite | None = None

    def stream_into(self, start: Callable[[BinaryIO], StoreWrite]) -> None:
        """Call `start` with a reader of this spool at the first byte written;
        the store write it returns runs while the rest arrives."""
        self._start_write = start

    def claim_store_write(self) -> StoreWrite | None:
        """Declare the spool complete and take over its store write, if any."""
        with self._progress:
            if self._state == WRITING:
                self._state = COMPLETE
            self._progress.notify_all()
        claimed, self._store_write = self._store_write, None
        return claimed

    def _abandon(self) -> None:
        with self._progress:
            if self._state == WRITING:
                self._state = ABANDONED
            self._progress.notify_all()

    @classmethod
    def copy_of(cls, source: BinaryIO, limit: int) -> "UploadSpool":
        """Spool everything `source` yields."""
        spool = cls(limit)
        try:
            while chunk := source.read(COPY_CHUNK):
                spool.write(chunk)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def write(self, data: bytes) -> int:
        if self.size + len(data) > self.limit:
            # The parser that owns this spool drops it on error: close it here.
            self.close()
            raise UploadTooLarge(
                f"The file is larger than the {self.limit // (1024 * 1024)} MB limit.")
        self._digest.update(data)
        written = self._file.write(data)
        if self._start_write is not None:
            self._feed_store_write()
        else:
            self.size += len(data)
        return written

    def _feed_store_write(self) -> None:
        """Make the new bytes visible to the follower, starting the write at first."""
        self._file.flush()
        if self._store_write is None:
            follower = _Follower(self, self.reader())
            self._store_write = self._start_write(follower)
        with self._progress:
            self.size = self._file.tell()
            self._progress.notify_all()

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def readline(self, size: int = -1) -> bytes:
        return self._file.readline(size)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def flush(self) -> None:
        self._file.flush()

    def fileno(self) -> int:
        return self._file.fileno()

    def reader(self) -> BinaryIO:
        """A second, independent handle on the same bytes, at the start."""
        self._file.flush()
        return open(f"/proc/self/fd/{self._file.fileno()}", "rb")

    def close(self) -> None:
        """Close the file; an unclaimed store write is abandoned and waited for."""
        self._abandon()
        unclaimed, self._store_write = self._store_write, None
        if unclaimed is not None:
            unclaimed.discard()
        self._file.close()

    @property
    def closed(self) -> bool:
        return self._file.closed

    def __enter__(self) -> "UploadSpool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Follower(io.RawIOBase):
    """Reads a spool as it is written: waits for more, ends when it is claimed
    complete, fails when it is abandoned."""

    def __init__(self, spool: UploadSpool, handle: BinaryIO):
        self._spool = spool
        self._handle = handle
        self._position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        spool = self._spool
        with spool._progress:
            while self._position >= spool.size and spool._state == WRITING:
                if not spool._progress.wait(STALL_SECONDS):
                    raise OSError(f"No bytes of the upload arrived for "
                                  f"{STALL_SECONDS} seconds.")
            if spool._state == ABANDONED:
                raise OSError("The upload was abandoned before it was complete.")
            available = spool.size - self._position
        if available <= 0:
            return 0
        count = self._handle.readinto(memoryview(buffer)[:min(len(buffer), available)])
        self._position += count
        return count

    def close(self) -> None:
        if not self.closed:
            self._handle.close()
        super().close()
