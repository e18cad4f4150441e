"""Object stores behind one contract (`interface.ObjectStore`), chosen by URL."""

from pathlib import Path
from urllib.parse import urlparse

from vault.config import S3Settings
from vault.errors import VaultError
from vault.storage.interface import ObjectInfo, ObjectStore
from vault.storage.local import LocalObjectStore


def open_store(url: str, s3: S3Settings | None = None) -> ObjectStore:
    """The store for `url`: `file:///path` is the local encrypted folder,
    `s3://BUCKET[/PREFIX]` an S3 bucket with Object Lock (settings in `s3`)."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalObjectStore(Path(parsed.path))
    if parsed.scheme == "s3":
        from vault.storage.s3 import S3ObjectStore

        return S3ObjectStore(parsed.netloc, parsed.path.strip("/"), s3 or S3Settings())
    raise VaultError(f"Unsupported VAULT_STORE_URL scheme {parsed.scheme!r}.",
                     code="bad_configuration")


__all__ = ["LocalObjectStore", "ObjectInfo", "ObjectStore", "open_store"]
