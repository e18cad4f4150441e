"""Envelope encryption: streaming round trips, tampering, key wrapping, key files."""

import base64
import io
import os
import stat

import pytest

from vault.crypto import (
    DataKey,
    KeyMissing,
    MasterKeyring,
    SigningKey,
    WrappedKey,
    ensure_keys,
    object_context,
)
from vault.errors import IntegrityError


def encrypt(data: bytes, key: DataKey, context: bytes = b"ctx") -> bytes:
    return key.encrypting_reader(io.BytesIO(data), context).read()


@pytest.mark.parametrize("size", [0, 1, 1 << 20, (3 << 20) + 17])
def test_round_trip_in_small_reads(size):
    data = os.urandom(size)
    key = DataKey.generate()
    reader = key.encrypting_reader(io.BytesIO(data), b"ctx")
    ciphertext = b"".join(iter(lambda: reader.read(4096), b""))

    again = DataKey.from_bytes(key.to_bytes())
    assert again.decrypt_bytes(ciphertext, b"ctx") == data
    if size >= 64:
        assert data[:64] not in ciphertext


@pytest.mark.parametrize("where", [0, 40, 1000, -1])
def test_a_flipped_byte_is_an_integrity_error_never_wrong_bytes(where):
    key = DataKey.generate()
    ciphertext = bytearray(encrypt(os.urandom(100_000), key))
    ciphertext[where] ^= 0x01
    with pytest.raises(IntegrityError):
        key.decrypt_bytes(bytes(ciphertext), b"ctx")


def test_a_late_flip_yields_only_authenticated_segments():
    data = os.urandom(3 << 20)
    key = DataKey.generate()
    ciphertext = bytearray(encrypt(data, key))
    ciphertext[-10] ^= 0x01
    reader = key.decrypting_reader(io.BytesIO(bytes(ciphertext)), b"ctx")
    served = b""
    with pytest.raises(IntegrityError):
        while chunk := reader.read(1 << 16):
            served += chunk
    assert data.startswith(served) and len(served) < len(data)


def test_ciphertext_is_bound_to_its_context():
    key = DataKey.generate()
    ciphertext = encrypt(b"%PDF-1.7 evidence", key, object_context("aaa"))
    with pytest.raises(IntegrityError):
        key.decrypt_bytes(ciphertext, object_context("bbb"))


def test_wrapped_key_unwraps_only_for_its_object(tmp_path):
    MasterKeyring.create(tmp_path)
    ring = MasterKeyring.load(tmp_path)
    wrapped = ring.wrap(b"k" * 32, object_context("one"))
    assert ring.unwrap(wrapped, object_context("one")) == b"k" * 32
    with pytest.raises(IntegrityError):
        ring.unwrap(wrapped, object_context("two"))


def test_newest_master_version_wraps_and_old_versions_still_unwrap(tmp_path):
    MasterKeyring.create(tmp_path, version=1)
    old = MasterKeyring.load(tmp_path).wrap(b"x" * 32, b"c")
    MasterKeyring.create(tmp_path, version=2)
    ring = MasterKeyring.load(tmp_path)
    assert ring.current_version == 2
    assert ring.wrap(b"y" * 32, b"c").version == 2
    assert ring.unwrap(old, b"c") == b"x" * 32


def test_unknown_master_version_is_a_clear_error(tmp_path):
    MasterKeyring.create(tmp_path)
    with pytest.raises(KeyMissing, match="version 9"):
        MasterKeyring.load(tmp_path).unwrap(WrappedKey(9, b"0" * 40), b"c")


def test_keys_from_the_environment():
    key = base64.b64encode(b"\x01" * 32).decode()
    ring = MasterKeyring.load(None, from_env=f"1:{key},3:{key}")
    assert ring.current_version == 3
    with pytest.raises(KeyMissing):
        MasterKeyring.load(None, from_env="1:" + base64.b64encode(b"short").decode())


def test_init_writes_keys_once_with_mode_0600(tmp_path):
    created = ensure_keys(tmp_path / "keys")
    assert len(created) == 2
    for path in created:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_keys(tmp_path / "keys") == []
    signer = SigningKey.load(tmp_path / "keys")
    assert len(signer.public_key_bytes()) == 32


def test_no_key_folder_means_a_clear_error(tmp_path):
    with pytest.raises(KeyMissing, match="vault init"):
        MasterKeyring.load(tmp_path / "nothing")
