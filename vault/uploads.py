"""An upload on its way in: spooled once to an unnamed file, hashed as it lands.

The web request writes the multipart file part straight into an UploadSpool,
so the body is read once; the CLI and the demo copy their streams into one.
The spool has no name on disk and vanishes when closed; its bytes never go
under the data folder.
"""

import hashlib
import os
import tempfile
from typing import BinaryIO

from vault.errors import VaultError

COPY_CHUNK = 1 << 20


class UploadTooLarge(VaultError):
    code = "too_large"
    status = 413


class UploadSpool:
    """A writable, then readable, unnamed temporary file that hashes what it holds."""

    def __init__(self, limit: int):
        self.limit = limit
        self.size = 0
        self._digest = hashlib.sha256()
        self._file = tempfile.TemporaryFile()

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
        self.size += len(data)
        if self.size > self.limit:
            # The parser that owns this spool drops it on error: close it here.
            self._file.close()
            raise UploadTooLarge(
                f"The file is larger than the {self.limit // (1024 * 1024)} MB limit.")
        self._digest.update(data)
        return self._file.write(data)

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
        self._file.close()

    @property
    def closed(self) -> bool:
        return self._file.closed

    def __enter__(self) -> "UploadSpool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
