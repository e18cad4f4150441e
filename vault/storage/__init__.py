"""Object stores behind one contract (`interface.ObjectStore`), chosen by URL."""

from pathlib import Path
from urllib.parse import urlparse

from vault.errors import VaultError
from vault.storage.interface import ObjectInfo, ObjectStore
from vault.storage.local import LocalObjectStore


def open_store(url: str) -> ObjectStore:
    """The store for `url`: `file:///path` is the local encrypted folder."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalObjectStore(Path(parsed.path))
    raise VaultError(f"Unsupported VAULT_STORE_URL scheme {parsed.scheme!r}.",
                     code="bad_configuration")


__all__ = ["LocalObjectStore", "ObjectInfo", "ObjectStore", "open_store"]
