"""Envelope encryption of evidence and the vault's signing key.

Every stored object gets a fresh data key: a Tink streaming-AEAD keyset
(AES256-GCM-HKDF, 1 MB segments), so bodies are encrypted and authenticated
segment by segment while they stream. The data key is kept only wrapped by a
master key version (AES-256-GCM from `cryptography`), bound to the object key so
that a wrapped key cannot be moved onto another object. Destroying the wrapped
key makes the object unreadable, backups included.

Master keys live in the data folder (`keys/master-v<N>.key`, mode 0600) or come
from `VAULT_MASTER_KEYS` ("1:<base64>,2:<base64>"); the highest version wraps new
keys, every version unwraps. A keyring loaded from the folder notices a version
added there later (a rotation by another process) on its next use. The Ed25519
signing key lives in `keys/signing-v<N>.pem` or comes from `VAULT_SIGNING_KEY`
(PEM); the newest version signs, and every older version's public key stays
available so that what it signed still verifies.
"""

import base64
import hashlib
import io
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import tink
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from tink import cleartext_keyset_handle, streaming_aead

from vault.errors import IntegrityError, VaultError

log = logging.getLogger(__name__)

streaming_aead.register()

DATA_KEY_TEMPLATE = streaming_aead.streaming_aead_key_templates.AES256_GCM_HKDF_1MB
MASTER_FILE = re.compile(r"^master-v(\d+)\.key$")
SIGNING_FILE = re.compile(r"^signing-v(\d+)\.pem$")
NONCE_BYTES = 12


class KeyMissing(VaultError):
    """No master key (or no signing key) where the settings say to find one."""

    code = "key_missing"
    status = 500


def object_context(object_key: str) -> bytes:
    """Associated data that binds a ciphertext and its wrapped key to one object."""
    return b"mec-vault/object/" + object_key.encode()


@dataclass(frozen=True)
class WrappedKey:
    version: int
    blob: bytes


class MasterKeyring:
    """Versioned master keys: the newest wraps, every version unwraps."""

    def __init__(self, keys: dict[int, bytes], key_dir: Path | None = None):
        if not keys:
            raise KeyMissing("No master key: run `vault init` or set "
                             "VAULT_MASTER_KEYS.")
        self._keys = {version: AESGCM(key) for version, key in keys.items()}
        self.current_version = max(keys)
        self.key_dir = key_dir
        self._seen = _folder_stamp(key_dir)

    @classmethod
    def load(cls, key_dir: Path, from_env: str | None = None) -> "MasterKeyring":
        """Keys from the environment when given, otherwise from the key folder."""
        if from_env:
            return cls(_parse_env_keys(from_env))
        return cls(_read_master_keys(key_dir), key_dir)

    @property
    def versions(self) -> list[int]:
        return sorted(self._keys)

    def refresh(self) -> None:
        """Load versions added to the key folder since this keyring last looked."""
        stamp = _folder_stamp(self.key_dir)
        if self.key_dir is None or stamp == self._seen:
            return
        keys = _read_master_keys(self.key_dir)
        for version, key in keys.items():
            self._keys.setdefault(version, AESGCM(key))
        self.current_version = max(self._keys)
        self._seen = stamp
        log.info("master_keys_reloaded current=%d", self.current_version)

    @staticmethod
    def create(key_dir: Path, version: int = 1) -> Path:
        """Write a new random master key version with mode 0600."""
        path = key_dir / f"master-v{version}.key"
        _write_secret(path, base64.b64encode(AESGCM.generate_key(bit_length=256)))
        return path

    def wrap(self, data_key: bytes, context: bytes) -> WrappedKey:
        self.refresh()
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self.current_version].encrypt(nonce, data_key, context)
        return WrappedKey(self.current_version, nonce + sealed)

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        if wrapped.version not in self._keys:
            self.refresh()
        key = self._keys.get(wrapped.version)
        if key is None:
            raise KeyMissing(f"Master key version {wrapped.version} is not loaded.")
        try:
            return key.decrypt(wrapped.blob[:NONCE_BYTES], wrapped.blob[NONCE_BYTES:],
                               context)
        except InvalidTag as error:
            raise IntegrityError("A wrapped data key failed authentication.") from error


def _read_master_keys(key_dir: Path) -> dict[int, bytes]:
    keys = {}
    if key_dir.is_dir():
        for path in key_dir.iterdir():
            match = MASTER_FILE.match(path.name)
            if match:
                keys[int(match.group(1))] = base64.b64decode(path.read_bytes())
    return keys


def _folder_stamp(key_dir: Path | None) -> int | None:
    try:
        return key_dir.stat().st_mtime_ns if key_dir is not None else None
    except FileNotFoundError:
        return None


def _parse_env_keys(value: str) -> dict[int, bytes]:
    keys = {}
    for item in value.split(","):
        version, _, encoded = item.strip().partition(":")
        key = base64.b64decode(encoded)
        if len(key) != 32:
            raise KeyMissing(f"VAULT_MASTER_KEYS version {version} is not 32 bytes.")
        keys[int(version)] = key
    return keys


def _write_secret(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())


class DataKey:
    """A fresh streaming-AEAD key for one object."""

    def __init__(self, handle: tink.KeysetHandle):
        self._handle = handle
        self._aead = handle.primitive(streaming_aead.StreamingAead)

    @classmethod
    def generate(cls) -> "DataKey":
        return cls(tink.new_keyset_handle(DATA_KEY_TEMPLATE))

    @classmethod
    def from_bytes(cls, material: bytes) -> "DataKey":
        reader = tink.BinaryKeysetReader(material)
        return cls(cleartext_keyset_handle.read(reader))

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        cleartext_keyset_handle.write(tink.BinaryKeysetWriter(buffer), self._handle)
        return buffer.getvalue()

    def encrypting_reader(self, plaintext: BinaryIO, context: bytes) -> BinaryIO:
        """A readable stream of ciphertext, pulled from `plaintext` as it is read."""
        return EncryptingReader(self._aead, plaintext, context)

    def decrypting_reader(self, ciphertext: BinaryIO, context: bytes) -> BinaryIO:
        """A readable stream of plaintext; a tampered segment raises IntegrityError."""
        return DecryptingReader(self._aead.new_decrypting_stream(ciphertext, context))

    def encrypt_bytes(self, plaintext: bytes, context: bytes) -> bytes:
        return self.encrypting_reader(io.BytesIO(plaintext), context).read()

    def decrypt_bytes(self, ciphertext: bytes, context: bytes) -> bytes:
        return self.decrypting_reader(io.BytesIO(ciphertext), context).read()


class _Spool(io.RawIOBase):
    """Where Tink writes ciphertext; drained by EncryptingReader; never closes."""

    def __init__(self):
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def close(self) -> None:
        """Tink closes its destination when it finishes; the chunks must stay."""

    def drain(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


class EncryptingReader(io.RawIOBase):
    """Pulls plaintext, pushes it through Tink, hands out ciphertext.

    Memory stays within about two segments however large the object is.
    """

    CHUNK = 1 << 20

    def __init__(self, aead, plaintext: BinaryIO, context: bytes):
        self._plaintext = plaintext
        self._spool = _Spool()
        self._stream = aead.new_encrypting_stream(self._spool, context)
        self._pending = b""
        self._finished = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending and not self._finished:
            chunk = self._plaintext.read(self.CHUNK)
            if chunk:
                self._stream.write(chunk)
            else:
                self._stream.close()
                self._finished = True
            self._pending = self._spool.drain()
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        return super().read(size)


class DecryptingReader(io.RawIOBase):
    """Tink's decrypting stream with its errors translated to IntegrityError."""

    def __init__(self, stream):
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self._stream.read(len(buffer))
        except tink.TinkError as error:
            log.error("ciphertext_rejected")
            raise IntegrityError(
                "The stored copy failed its integrity check and was not served."
            ) from error
        count = len(data)
        buffer[:count] = data
        return count

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._stream.close()
        finally:
            super().close()


class SigningKey:
    """The vault's Ed25519 key that signs sealed manifests and audit checkpoints."""

    def __init__(self, version: int, private_key: Ed25519PrivateKey):
        self.version = version
        self.private_key = private_key

    @classmethod
    def load(cls, key_dir: Path, from_env: str | None = None) -> "SigningKey":
        if from_env:
            return cls(0, _load_pem(from_env.encode()))
        found = _signing_files(key_dir)
        if not found:
            raise KeyMissing("No signing key: run `vault init` or set "
                             "VAULT_SIGNING_KEY.")
        version = max(found)
        return cls(version, _load_pem(found[version].read_bytes()))

    @staticmethod
    def create(key_dir: Path, version: int = 1) -> Path:
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path = key_dir / f"signing-v{version}.pem"
        _write_secret(path, pem)
        return path

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def public_key_bytes(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def public_pem(self) -> str:
        return public_pem(self.public_key)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)


def public_pem(key: Ed25519PublicKey) -> str:
    """The public key as SubjectPublicKeyInfo PEM, as `openssl pkey` reads it."""
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the key's DER SubjectPublicKeyInfo, in hex: what
    `openssl pkey -pubin -outform DER | sha256sum` prints."""
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def load_public_pem(pem: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; ValueError for anything else."""
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def signing_public_keys(key_dir: Path,
                        from_env: str | None = None) -> dict[int, Ed25519PublicKey]:
    """Every signing key version's public key: old ones verify what they signed."""
    keys = {version: _load_pem(path.read_bytes()).public_key()
            for version, path in _signing_files(key_dir).items()}
    if from_env:
        keys[0] = _load_pem(from_env.encode()).public_key()
    return keys


def _signing_files(key_dir: Path) -> dict[int, Path]:
    found = {}
    if key_dir.is_dir():
        for path in key_dir.iterdir():
            match = SIGNING_FILE.match(path.name)
            if match:
                found[int(match.group(1))] = path
    return found


def _load_pem(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyMissing("The signing key is not an Ed25519 key.")
    return key


def ensure_keys(key_dir: Path) -> list[Path]:
    """Create the first master and signing keys if none exist; return new files."""
    created = []
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    names = [path.name for path in key_dir.iterdir()]
    if not any(MASTER_FILE.match(name) for name in names):
        created.append(MasterKeyring.create(key_dir))
    if not any(SIGNING_FILE.match(name) for name in names):
        created.append(SigningKey.create(key_dir))
    return created
