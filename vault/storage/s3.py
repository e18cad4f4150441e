"""The S3 backend: encrypted objects in a bucket with versioning and Object Lock.

Objects are stored as `<prefix>/<key>`. A put streams the ciphertext in parts of
PART_SIZE, one part in memory at a time, as a multipart upload: S3 makes the
object visible only when the upload completes, so an interrupted put leaves at
most an incomplete upload, which the put aborts on the way out (or, when the
server itself is gone, `discard_partials` aborts later).

The bucket keeps versions, so a plain delete would only hide the bytes behind a
delete marker: `delete` removes every version of the key instead.

Write-once objects carry Object Lock retention in `settings.lock_mode`
(GOVERNANCE or COMPLIANCE) until their date; the server refuses to remove a
locked version before then (by its own clock), which `delete` reports as
ObjectLocked. The vault never sends a governance bypass.

The HTTP pool gives up quickly on a dead server (CONNECT_TIMEOUT, few retries);
every minio, urllib3 and socket error becomes a StorageError (ObjectMissing for
a missing key) here, with the key in the message and the cause chained.
"""

import io
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import BinaryIO

import certifi
import urllib3
from minio import Minio
from minio.datatypes import Upload
from minio.error import MinioException, S3Error
from minio.helpers import check_bucket_name
from minio.retention import Retention
from urllib3.exceptions import HTTPError

from vault.config import S3Settings
from vault.errors import ObjectLocked, ObjectMissing, StorageError, VaultError
from vault.storage.interface import ObjectInfo, ObjectStore

log = logging.getLogger(__name__)

PART_SIZE = 5 << 20
PARALLEL_PARTS = 4
READ_CHUNK = 1 << 20
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 30.0
KEY_PATTERN = re.compile(r"[A-Za-z0-9]+")
MISSING_CODES = frozenset({"NoSuchKey", "NoSuchVersion"})
NO_LOCK_CODES = frozenset({"NoSuchObjectLockConfiguration",
                           "ObjectLockConfigurationNotFoundError"})
LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")
UPLOADS_PAGE = 1000


class S3ObjectStore(ObjectStore):
    """Objects in one S3 bucket (under an optional prefix), written atomically."""

    def __init__(self, bucket: str, prefix: str, settings: S3Settings):
        try:
            check_bucket_name(bucket)
        except ValueError as error:
            raise VaultError(f"S3 bucket name {bucket!r} is not valid: {error}",
                             code="bad_configuration") from error
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.settings = settings
        self.client = Minio(settings.host, access_key=settings.access_key,
                            secret_key=settings.secret_key, secure=settings.secure,
                            region=settings.region, http_client=_http_pool())

    def _name(self, key: str) -> str:
        if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
            raise StorageError(f"Object key {key!r} is not an opaque id.")
        return f"{self.prefix}/{key}" if self.prefix else key

    @property
    def _listing_prefix(self) -> str | None:
        return f"{self.prefix}/" if self.prefix else None

    def _key_of(self, name: str) -> str | None:
        """The vault key behind an object name, or None when it is not one of ours."""
        listing_prefix = self._listing_prefix or ""
        key = name[len(listing_prefix):]
        if not name.startswith(listing_prefix) or not KEY_PATTERN.fullmatch(key):
            return None
        return key

    @contextmanager
    def _edge(self, action: str, subject: str):
        """Translate what minio, urllib3 and sockets raise into the vault's errors."""
        try:
            yield
        except S3Error as error:
            if error.code in MISSING_CODES:
                message = f"The {subject} is missing from the store."
                raise ObjectMissing(message) from error
            log.warning("object_store_refused action=%s subject=%s bucket=%s code=%s",
                        action, subject, self.bucket, error.code)
            raise StorageError(f"Could not {action} {subject}: the store answered "
                               f"{error.code}.") from error
        except (MinioException, HTTPError, OSError, ValueError) as error:
            # ValueError: minio could not parse the answer (a date in a format
            # S3 does not use, say); to the vault the store is not answering.
            log.warning("object_store_failed action=%s subject=%s bucket=%s error=%s",
                        action, subject, self.bucket, type(error).__name__)
            raise StorageError(f"Could not {action} {subject}: {error}") from error

    def put(self, key: str, stream: BinaryIO,
            retain_until: datetime | None = None) -> ObjectInfo:
        name = self._name(key)
        source = _PartReader(stream)
        retention = self._retention(key, retain_until) if retain_until else None

        with self._edge("store", f"object {key}"):
            if self._exists(name):
                raise StorageError(f"Object {key} already exists.")
            # Parts go up in parallel while the next one is encrypted; minio
            # aborts the multipart upload when a part or the stream fails, and
            # `discard_partials` aborts any upload a crash left behind.
            self.client.put_object(self.bucket, name, source, length=-1,
                                   part_size=PART_SIZE,
                                   num_parallel_uploads=PARALLEL_PARTS,
                                   retention=retention)

        self._confirm(key, name, source.size)
        log.info("object_stored key=%s bucket=%s size=%d", key, self.bucket,
                 source.size)
        return ObjectInfo(key, source.size)

    def _exists(self, name: str) -> bool:
        try:
            self.client.stat_object(self.bucket, name)
        except S3Error as error:
            if error.code in MISSING_CODES:
                return False
            raise
        return True

    def _confirm(self, key: str, name: str, size: int) -> None:
        """Check the stored size; a short object is removed, never left in place."""
        stored = self.stat(key).size
        if stored == size:
            return

        log.error("object_size_mismatch key=%s bucket=%s sent=%d stored=%d",
                  key, self.bucket, size, stored)
        self.delete(key)
        raise StorageError(f"Object {key} was stored with {stored} of {size} bytes "
                           f"and has been removed.")

    def open(self, key: str) -> BinaryIO:
        name = self._name(key)
        with self._edge("read", f"object {key}"):
            response = self.client.get_object(self.bucket, name)
        return _ObjectReader(response, key, self._edge)

    def stat(self, key: str) -> ObjectInfo:
        name = self._name(key)
        with self._edge("inspect", f"object {key}"):
            found = self.client.stat_object(self.bucket, name)
        modified = found.last_modified
        if modified is not None:
            modified = _as_utc(modified)
        return ObjectInfo(key, found.size or 0, modified)

    def delete(self, key: str, *, now: datetime | None = None) -> None:
        name = self._name(key)
        with self._edge("delete", f"object {key}"):
            versions = [item.version_id for item in self.client.list_objects(
                self.bucket, prefix=name, include_version=True)
                if item.object_name == name]
            for version in versions:
                self._remove_version(key, name, version)

        if versions:
            log.info("object_deleted key=%s bucket=%s versions=%d", key, self.bucket,
                     len(versions))

    def _remove_version(self, key: str, name: str, version: str | None) -> None:
        try:
            self.client.remove_object(self.bucket, name, version_id=version)
        except S3Error as error:
            until = self._version_locked_until(name, version)
            if error.code == "AccessDenied" and until is not None:
                raise ObjectLocked(f"Object {key} is write-once until "
                                   f"{until.isoformat()}.") from error
            raise

    def lock_until(self, key: str, retain_until: datetime) -> None:
        name = self._name(key)
        retention = self._retention(key, retain_until)
        with self._edge("lock", f"object {key}"):
            version = self.client.stat_object(self.bucket, name).version_id
            current = self._version_locked_until(name, version)
            if current is not None and current >= retention.retain_until_date:
                return
            self.client.set_object_retention(self.bucket, name, retention,
                                             version_id=version)
        log.info("object_locked key=%s bucket=%s until=%s", key, self.bucket,
                 retention.retain_until_date.isoformat())

    def locked_until(self, key: str) -> datetime | None:
        name = self._name(key)
        with self._edge("inspect the lock of", f"object {key}"):
            return self._version_locked_until(name, None)

    def _version_locked_until(self, name: str, version: str | None) -> datetime | None:
        try:
            found = self.client.get_object_retention(self.bucket, name,
                                                     version_id=version)
        except S3Error as error:
            if error.code in NO_LOCK_CODES:
                return None
            raise
        if found is None or found.retain_until_date is None:
            return None
        return _as_utc(found.retain_until_date)

    def _retention(self, key: str, retain_until: datetime) -> Retention:
        if retain_until.tzinfo is None:
            raise StorageError(f"The lock of object {key} needs an aware datetime.")
        mode = self.settings.lock_mode
        if mode not in LOCK_MODES:
            raise VaultError(f"VAULT_S3_LOCK_MODE {mode!r} is not one of "
                             f"{', '.join(LOCK_MODES)}.", code="bad_configuration")
        return Retention(mode, _as_utc(retain_until))

    def keys(self, prefix: str = "") -> Iterator[str]:
        subject = f"the objects under {self.bucket}/{self.prefix}"
        with self._edge("list", subject):
            listing = (self._listing_prefix or "") + prefix
            for item in self.client.list_objects(self.bucket, recursive=True,
                                                 prefix=listing or None):
                key = self._key_of(item.object_name or "")
                if key and not item.is_dir and not item.is_delete_marker:
                    yield key

    def ping(self) -> None:
        with self._edge("reach", f"bucket {self.bucket}"):
            found = self.client.bucket_exists(self.bucket)
        if not found:
            raise StorageError(f"Bucket {self.bucket} does not exist: run "
                               f"`vault init` to create it.")

    def create(self) -> None:
        """Make the bucket with Object Lock (and so versioning), or check the one
        that is there keeps versions."""
        with self._edge("prepare", f"bucket {self.bucket}"):
            if not self.client.bucket_exists(self.bucket):
                self._make_bucket()
            status = self.client.get_bucket_versioning(self.bucket).status

        if status != "Enabled":
            raise StorageError(f"Bucket {self.bucket} exists without versioning "
                               f"(status {status}); the vault needs a bucket made "
                               f"with Object Lock.")

    def _make_bucket(self) -> None:
        try:
            self.client.make_bucket(self.bucket, location=self.settings.region,
                                    object_lock=True)
        except S3Error as error:
            # Another process made it between our check and our request.
            if error.code != "BucketAlreadyOwnedByYou":
                raise
        else:
            log.info("bucket_created bucket=%s object_lock=true", self.bucket)

    def incomplete_uploads(self) -> Iterator[Upload]:
        """Multipart uploads under the prefix that were neither finished nor aborted.

        minio-py 7.2 lists them only through its private `_list_multipart_uploads`;
        its own next-upload-id marker is never filled in, so pages continue from
        the last upload seen.
        """
        key_marker = upload_marker = None
        with self._edge("list", f"the incomplete uploads in {self.bucket}"):
            while True:
                page = self.client._list_multipart_uploads(
                    self.bucket, prefix=self._listing_prefix, key_marker=key_marker,
                    upload_id_marker=upload_marker, max_uploads=UPLOADS_PAGE)
                yield from (upload for upload in page.uploads
                            if self._key_of(upload.object_name))
                if not page.is_truncated or not page.uploads:
                    return
                key_marker = page.uploads[-1].object_name
                upload_marker = page.uploads[-1].upload_id

    def discard_partials(self, older_than_seconds: float = 3600) -> int:
        """Abort incomplete multipart uploads under the prefix started before the
        cutoff; returns how many."""
        cutoff = datetime.now(timezone.utc) - timedelta(seconds=older_than_seconds)
        stale = [upload for upload in self.incomplete_uploads()
                 if upload.initiated_time is None
                 or _as_utc(upload.initiated_time) <= cutoff]

        for upload in stale:
            key = self._key_of(upload.object_name)
            with self._edge("abort the upload of", f"object {key}"):
                self.client._abort_multipart_upload(self.bucket, upload.object_name,
                                                    upload.upload_id)

        if stale:
            log.info("partial_uploads_aborted bucket=%s count=%d", self.bucket,
                     len(stale))
        return len(stale)

    def close(self) -> None:
        """Close the pooled connections; the store is not used afterwards."""
        self.client._http.clear()


class _PartReader:
    """The caller's stream as minio reads it: whole parts, gathered in chunks.

    minio asks for a whole part at once; this reads it from the caller's stream in
    READ_CHUNK pieces (so an encrypting reader never allocates a part-sized
    buffer per call) and counts what went by.
    """

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = PART_SIZE
        pieces = []
        wanted = size
        while wanted > 0:
            piece = self._stream.read(min(wanted, READ_CHUNK))
            if not piece:
                break
            pieces.append(piece)
            wanted -= len(piece)

        data = b"".join(pieces)
        self.size += len(data)
        return data


class _ObjectReader(io.RawIOBase):
    """An object's bytes off the wire; closing it hands the connection back."""

    def __init__(self, response: urllib3.BaseHTTPResponse, key: str, edge):
        self._response = response
        self._key = key
        self._edge = edge

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        with self._edge("read", f"object {self._key}"):
            return self._response.readinto(buffer)

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._response.close()
            self._response.release_conn()
        finally:
            super().close()


def _http_pool() -> urllib3.PoolManager:
    """Connections that fail fast on a dead server and retry only the harmless."""
    retries = urllib3.Retry(total=3, connect=0, read=1, redirect=0, status=2,
                            other=0, backoff_factor=0.2,
                            status_forcelist=(500, 502, 503, 504),
                            respect_retry_after_header=False)
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT),
        retries=retries, maxsize=10, cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where())


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


__all__ = ["S3ObjectStore"]
