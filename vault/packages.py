"""Sealed packages for auditors: list, detail, the zip, and its offline check.

The zip holds `manifest.json` (the signed canonical bytes), `manifest.sig` (the
raw 64-byte Ed25519 signature), `public-key.pem` and `public-key.sha256` (its
fingerprint), every document and certificate the manifest names (decrypted,
the exact bytes sealed) and `README.txt`. It is written as it streams, one
file at a time, so a large package is never held in memory or on disk.

`verify_zip` needs nothing but the zip: no database, no data folder, no key.
"""

import hashlib
import json
import logging
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from cryptography.exceptions import InvalidSignature
from sqlalchemy import select
from sqlalchemy.orm import Session

from vault import access
from vault.audit import canonical_json, record_event
from vault.crypto import fingerprint, load_public_pem
from vault.errors import ObjectMissing
from vault.models import (
    Certificate,
    District,
    EvidenceDocument,
    Person,
    SealedPackage,
    Student,
)
from vault.objects import open_decrypted
from vault.runtime import Runtime
from vault.sealing import certificate_file, document_file, sealed_manifest

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "public-key.pem"
FINGERPRINT = "public-key.sha256"
README = "README.txt"
FIXED_FILES = (MANIFEST, SIGNATURE, PUBLIC_KEY, FINGERPRINT, README)
# The most each signed-for file can hold; the README is not read at all.
FIXED_LIMITS = {MANIFEST: 8 << 20, SIGNATURE: 1024, PUBLIC_KEY: 4096,
                FINGERPRINT: 1024}
COPY_CHUNK = 1 << 20
# What zipfile raises for a damaged member: a bad CRC, a broken deflate stream.
# What zipfile raises for a damaged entry, an encrypted one (RuntimeError) or
# one compressed by a method it does not know (NotImplementedError).
DAMAGED = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError,
           RuntimeError, NotImplementedError)

README_TEXT = """\
Sealed evidence package {package_id}
Micro-Enterprise Credential evidence vault

What is inside
  manifest.json      what was sealed: every file's SHA-256 and size, module
                     dates, exam results, certificates, rules version, the
                     audit log's chain head; canonical JSON (sorted keys, no
                     whitespace, UTF-8)
  manifest.sig       the vault's Ed25519 signature of manifest.json (64 bytes)
  public-key.pem     the vault's public key that made the signature
  public-key.sha256  the key's fingerprint: SHA-256 of its DER form
  documents/, certificates/
                     the PDFs exactly as they were uploaded or issued

How to check it
  1. With the vault's command line, offline:
         vault package verify {zip_name}
     It checks the signature, every file's hash and size, and that no file
     is missing or extra; it exits 0 only if everything holds.
  2. By hand, with OpenSSL 3 and coreutils, after unzipping:
         openssl pkeyutl -verify -pubin -inkey public-key.pem -rawin \\
             -in manifest.json -sigfile manifest.sig
         openssl pkey -pubin -in public-key.pem -outform DER | sha256sum
         sha256sum documents/*.pdf certificates/*.pdf
     The signature must verify, the fingerprint must equal public-key.sha256
     and the one the vault publishes, and each file's hash must equal its
     "sha256" in manifest.json.

The fingerprint proves which key signed; compare it with the one the vault's
operator publishes (`vault keys list`). This README is not signed.
"""


# Listing and reading ---------------------------------------------------------


def package_summary(package: SealedPackage, student: Student, district: District,
                    certificate: Certificate | None) -> dict:
    """One package as a list row: ids, dates and counts, no names."""
    return {
        "id": package.id,
        "reason": package.reason,
        "district": district.code,
        "lasid": student.lasid,
        "certificate": ({"number": certificate.number, "level": certificate.level,
                         "issued_on": certificate.issued_on.isoformat()}
                        if certificate else None),
        "rules_version": package.rules_version,
        "documents": len(package.document_ids),
        # Its key destroyed by the retention sweep: listed, no longer readable.
        "evidence_removed": not package.wrapped_key,
        "sealed_at": package.created_at.isoformat(),
        "retain_until": (package.retain_until.isoformat()
                         if package.retain_until else None),
        "signing_key_fingerprint": package.signing_key_fingerprint,
    }


def list_packages(session: Session, person: Person,
                  district_code: str | None = None,
                  lasid: str | None = None) -> list[dict]:
    """The sealed packages `person` may see, newest first, optionally of one
    district or student; a district they may not see is NotFound."""
    query = (access.packages_visible_to(person)
             .join(Student, Student.id == SealedPackage.student_id)
             .join(District, District.id == SealedPackage.district_id)
             .outerjoin(Certificate, Certificate.id == SealedPackage.certificate_id)
             .add_columns(Student, District, Certificate)
             .where(SealedPackage.object_key.is_not(None))
             .order_by(SealedPackage.created_at.desc(), SealedPackage.id))
    if district_code is not None:
        district = access.visible_district(session, person, district_code)
        query = query.where(SealedPackage.district_id == district.id)
    if lasid is not None:
        query = query.where(Student.lasid == lasid)
    return [package_summary(*row) for row in session.execute(query)]


def package_detail(runtime: Runtime, session: Session, person: Person,
                   package: SealedPackage, address: str | None = None) -> dict:
    """The signed manifest with its signature and key; the read is an event."""
    manifest, signature = sealed_manifest(runtime, package)
    record_event(session, person, "package_read", district_id=package.district_id,
                 subject=("package", package.id), address=address)
    return {
        "id": package.id,
        "manifest": json.loads(manifest),
        "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
        "signature": signature.hex(),
        "signature_algorithm": "Ed25519",
        "public_key": package.public_key_pem,
        "public_key_fingerprint": package.signing_key_fingerprint,
    }


# The zip ---------------------------------------------------------------------


@dataclass
class PackageDownload:
    """What a download streams: gathered inside the request's transaction, so
    the stream itself needs only the store and the keys."""

    package_id: str
    manifest: bytes
    signature: bytes
    public_key_pem: str
    fingerprint: str
    files: list[tuple[str, EvidenceDocument | Certificate]]

    @property
    def filename(self) -> str:
        return f"package-{self.package_id}.zip"


def prepare_download(runtime: Runtime, session: Session, person: Person,
                     package: SealedPackage,
                     address: str | None = None) -> PackageDownload:
    """Read the sealed manifest and find each file it names; the download is an
    audit event. Raises IntegrityError if the manifest is not the sealed one."""
    manifest, signature = sealed_manifest(runtime, package)
    named = json.loads(manifest)
    documents = {item.id: item for item in session.scalars(
        select(EvidenceDocument).where(EvidenceDocument.id.in_(
            [entry["id"] for entry in named["documents"]])))}
    certificates = {item.number: item for item in session.scalars(
        select(Certificate).where(Certificate.number.in_(
            [entry["number"] for entry in named["certificates"]])))}

    files: list[tuple[str, EvidenceDocument | Certificate]] = []
    for entry in named["documents"]:
        files.append((document_file(entry["id"]), _present(documents, entry["id"])))
    for entry in named["certificates"]:
        files.append((certificate_file(entry["number"]),
                      _present(certificates, entry["number"])))

    record_event(session, person, "package_downloaded",
                 district_id=package.district_id, subject=("package", package.id),
                 address=address, files=len(files))
    return PackageDownload(package.id, manifest, signature, package.public_key_pem,
                           package.signing_key_fingerprint, files)


def _present(records: dict, key: str):
    if key not in records:
        raise ObjectMissing(f"Sealed record {key} is no longer in the vault.")
    return records[key]


class _Sink:
    """Where zipfile writes; drained by the generator. It cannot seek, so
    zipfile writes sizes after each file's data."""

    def __init__(self):
        self.chunks: list[bytes] = []

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing buffered here: the generator hands chunks out as they come."""

    def drain(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


def zip_chunks(runtime: Runtime, download: PackageDownload) -> Iterator[bytes]:
    """The package's zip as a stream of chunks, decrypting one file at a time."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, download.manifest)
        archive.writestr(SIGNATURE, download.signature)
        archive.writestr(PUBLIC_KEY, download.public_key_pem)
        archive.writestr(FINGERPRINT, download.fingerprint + "\n")
        archive.writestr(README, README_TEXT.format(package_id=download.package_id,
                                                    zip_name=download.filename))
        yield sink.drain()

        for name, record in download.files:
            with open_decrypted(runtime, record) as source, \
                    archive.open(name, "w", force_zip64=True) as entry:
                while chunk := source.read(COPY_CHUNK):
                    entry.write(chunk)
                    yield sink.drain()
            yield sink.drain()
    yield sink.drain()


def write_zip(runtime: Runtime, download: PackageDownload, target: BinaryIO) -> None:
    for chunk in zip_chunks(runtime, download):
        target.write(chunk)


# Offline verification --------------------------------------------------------


@dataclass
class ZipReport:
    """What `verify_zip` found; `problems` says plainly what failed."""

    package_id: str | None = None
    fingerprint: str | None = None
    files_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return not self.problems


def verify_zip(source, expected_fingerprint: str | None = None) -> ZipReport:
    """Check a package zip with nothing but itself: the signature over the
    manifest, every file's hash and size, nothing missing, nothing extra."""
    report = ZipReport()
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as error:
        report.problems.append(f"not a readable zip file: {error}")
        return report

    with archive:
        names = [info.filename for info in archive.infolist()]
        for name in sorted(name for name, count in Counter(names).items()
                           if count > 1):
            report.problems.append(f"{name} appears more than once in the zip")
        fixed = {name: _read(archive, name, limit, report)
                 for name, limit in FIXED_LIMITS.items()}
        if README not in names:
            report.problems.append(f"{README} is missing from the zip")
        manifest = _authentic_manifest(fixed, expected_fingerprint, report)
        if manifest is None:
            return report

        try:
            expected = _expected_files(manifest)
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            report.problems.append(f"{MANIFEST} is signed but lists its files in a "
                                   f"form this vault never writes "
                                   f"({type(error).__name__})")
            return report
        for name in sorted(set(names) - set(expected) - set(FIXED_FILES)):
            report.problems.append(f"{name} is in the zip but not in the manifest "
                                   f"(an extra file)")
        for name, (sha256, size) in expected.items():
            _check_file(archive, name, sha256, size, report)
    return report


def _read(archive: zipfile.ZipFile, name: str, limit: int,
          report: ZipReport) -> bytes | None:
    """A small file of the package, refused when it is (or inflates to) more
    than `limit` bytes, so that a zip bomb costs nothing."""
    try:
        with archive.open(name) as entry:
            data = entry.read(limit + 1)
    except KeyError:
        report.problems.append(f"{name} is missing from the zip")
        return None
    except DAMAGED as error:
        report.problems.append(f"{name} is damaged in the zip: {error}")
        return None
    if len(data) > limit:
        report.problems.append(f"{name} is larger than a package's {name} can be "
                               f"({limit} bytes)")
        return None
    return data


def _authentic_manifest(fixed: dict[str, bytes | None], expected_fingerprint,
                        report: ZipReport) -> dict | None:
    """The manifest if its signature holds under the enclosed key, else None."""
    if fixed[PUBLIC_KEY] is None or fixed[MANIFEST] is None or fixed[SIGNATURE] is None:
        return None
    try:
        key = load_public_pem(fixed[PUBLIC_KEY])
    except ValueError as error:
        report.problems.append(f"{PUBLIC_KEY} is not an Ed25519 public key: {error}")
        return None

    report.fingerprint = fingerprint(key)
    stated = (fixed[FINGERPRINT] or b"").decode("ascii", "replace").strip()
    if stated != report.fingerprint:
        report.problems.append(f"{FINGERPRINT} ({stated or 'empty'}) is not the "
                               f"fingerprint of {PUBLIC_KEY} ({report.fingerprint})")
    # As pasted: spaces, colons and capitals do not count.
    if expected_fingerprint:
        expected_fingerprint = re.sub(r"[\s:]", "", expected_fingerprint).lower()
    if expected_fingerprint and expected_fingerprint != report.fingerprint:
        report.problems.append(f"the package is signed by key {report.fingerprint}, "
                               f"not by the expected {expected_fingerprint}")
    try:
        key.verify(fixed[SIGNATURE], fixed[MANIFEST])
    except InvalidSignature:
        report.problems.append(f"the signature in {SIGNATURE} does not match "
                               f"{MANIFEST}: the manifest or the signature was "
                               f"changed")
        return None

    try:
        manifest = json.loads(fixed[MANIFEST])
        report.package_id = str(manifest.get("package_id"))
        signer = manifest.get("signing_key", {}).get("fingerprint")
        canonical = canonical_json(manifest) == fixed[MANIFEST]
    except (AttributeError, ValueError, RecursionError) as error:
        # Signed by the key that came with it, yet no manifest this vault writes
        # (a list, NaN, a lone surrogate, nesting beyond reason...).
        report.problems.append(f"{MANIFEST} is signed but is not a package manifest "
                               f"({type(error).__name__})")
        return None
    if signer != report.fingerprint:
        report.problems.append("the manifest names another signing key than "
                               f"{PUBLIC_KEY}")
    if not canonical:
        report.problems.append(f"{MANIFEST} is not in canonical form")
    return manifest


def _expected_files(manifest: dict) -> dict[str, tuple[str, int]]:
    """The files the manifest lists, by name; ValueError (or a lookup error) for
    a manifest of another shape."""
    expected = {}
    for entry in manifest.get("documents", []) + manifest.get("certificates", []):
        name, sha256, size = entry["file"], entry["sha256"], entry["size"]
        if not (isinstance(name, str) and isinstance(sha256, str)
                and type(size) is int and size >= 0):
            raise ValueError("a file entry needs a name, a SHA-256 and a size")
        expected[name] = (sha256, size)
    return expected


def _check_file(archive: zipfile.ZipFile, name: str, sha256: str, size: int,
                report: ZipReport) -> None:
    digest, length = hashlib.sha256(), 0
    try:
        with archive.open(name) as entry:
            # One byte past the sealed size is enough to tell it differs.
            while length <= size and (chunk := entry.read(COPY_CHUNK)):
                digest.update(chunk)
                length += len(chunk)
    except KeyError:
        report.problems.append(f"{name} is missing from the zip")
        return
    except DAMAGED as error:
        report.problems.append(f"{name} is damaged in the zip: {error}")
        return

    report.files_checked += 1
    if length > size:
        report.problems.append(f"{name} has more than the {size} bytes the manifest "
                               f"sealed")
    elif length < size:
        report.problems.append(f"{name} has {length} bytes; the manifest sealed "
                               f"{size}")
    elif digest.hexdigest() != sha256:
        report.problems.append(f"{name} does not match its SHA-256 in the manifest "
                               f"(changed after sealing)")
