"""A sealed package: its zip verifies offline, and any change to it is named."""

import io
import json
import tracemalloc
import zipfile

import pytest

from tests.sealing.conftest import LASID
from vault.packages import verify_zip


def download(world, token: str, package_id: str) -> bytes:
    answer = world.call("GET", f"/api/v1/packages/{package_id}/download", token)
    assert answer.status_code == 200, answer.data[:200]
    assert answer.mimetype == "application/zip"
    return answer.data


def rewritten(data: bytes, change) -> bytes:
    """The zip with `change(name, bytes)` applied to each entry (None drops it)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, \
            zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            body = change(name, source.read(name))
            if body is not None:
                target.writestr(name, body)
    return out.getvalue()


def flip(body: bytes, at: int = -1) -> bytes:
    mutable = bytearray(body)
    mutable[at] ^= 0x01
    return bytes(mutable)


def test_the_granted_auditor_downloads_a_package_that_verifies(world, sealed,
                                                               tmp_path,
                                                               vault_command):
    data = download(world, sealed.auditor, sealed.package_id)
    names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    assert {"manifest.json", "manifest.sig", "public-key.pem", "public-key.sha256",
            "README.txt", f"certificates/{sealed.certificate}.pdf"} <= names
    assert {f"documents/{d}.pdf" for d in sealed.document_ids} <= names

    report = verify_zip(io.BytesIO(data))
    assert report.verified, report.problems
    assert report.files_checked == 4

    path = tmp_path / "package.zip"
    path.write_bytes(data)
    checked = vault_command("package", "verify", str(path))
    assert checked.exit_code == 0, checked.output
    assert "VERIFIED" in checked.output


def test_the_manifest_seals_hashes_dates_and_the_chain_head(world, sealed):
    detail = world.call("GET", f"/api/v1/packages/{sealed.package_id}", sealed.auditor)
    assert detail.status_code == 200
    manifest = detail.json["manifest"]
    assert manifest["certificate_number"] == sealed.certificate
    assert manifest["student"] == {"lasid": LASID, "cohort": 2027}
    assert "Jordan" not in json.dumps(manifest)
    assert {d["id"] for d in manifest["documents"]} == set(sealed.document_ids)
    assert manifest["modules"]["presentation"] == "2026-10-01"
    assert manifest["exam_results"][0]["passed"] is True
    assert manifest["rules_version"]
    assert manifest["audit_chain_head"]["seq"] > 0
    assert manifest["retain_until"] == "2028-12-04T06:00:00+00:00"
    assert detail.json["public_key_fingerprint"] == manifest["signing_key"][
        "fingerprint"]


@pytest.mark.parametrize("target", ["pdf", "certificate", "manifest", "signature"])
def test_one_flipped_byte_fails_verification(world, sealed, tmp_path, vault_command,
                                             target):
    data = download(world, sealed.auditor, sealed.package_id)
    victim = {"pdf": f"documents/{sealed.document_ids[1]}.pdf",
              "certificate": f"certificates/{sealed.certificate}.pdf",
              "manifest": "manifest.json", "signature": "manifest.sig"}[target]
    changed = rewritten(data, lambda name, body:
                        flip(body, len(body) // 2) if name == victim else body)

    report = verify_zip(io.BytesIO(changed))
    assert not report.verified
    assert any(victim in problem for problem in report.problems), report.problems

    path = tmp_path / "changed.zip"
    path.write_bytes(changed)
    checked = vault_command("package", "verify", str(path))
    assert checked.exit_code == 1
    assert "FAILED" in checked.output and victim in checked.output


def test_a_byte_flipped_inside_the_zip_file_fails(world, sealed):
    data = download(world, sealed.auditor, sealed.package_id)
    archive = zipfile.ZipFile(io.BytesIO(data))
    info = archive.getinfo(f"documents/{sealed.document_ids[0]}.pdf")
    header = data[info.header_offset:info.header_offset + 30]
    name_length = int.from_bytes(header[26:28], "little")
    extra_length = int.from_bytes(header[28:30], "little")
    at = info.header_offset + 30 + name_length + extra_length + 5
    report = verify_zip(io.BytesIO(flip(data, at)))
    assert not report.verified
    assert any(info.filename in problem for problem in report.problems)


def test_a_file_added_or_removed_fails(world, sealed):
    data = download(world, sealed.auditor, sealed.package_id)
    removed_name = f"documents/{sealed.document_ids[2]}.pdf"

    removed = verify_zip(io.BytesIO(rewritten(
        data, lambda name, body: None if name == removed_name else body)))
    assert not removed.verified
    assert any(removed_name in p and "missing" in p for p in removed.problems)

    out = io.BytesIO(data)
    with zipfile.ZipFile(out, "a") as archive:
        archive.writestr("documents/extra.pdf", b"%PDF-1.4 extra")
    added = verify_zip(io.BytesIO(out.getvalue()))
    assert not added.verified
    assert any("documents/extra.pdf" in p and "extra" in p for p in added.problems)


def test_a_package_signed_by_another_key_is_refused_when_a_key_is_expected(
        world, sealed):
    data = download(world, sealed.auditor, sealed.package_id)
    report = verify_zip(io.BytesIO(data), expected_fingerprint="00" * 32)
    assert not report.verified
    assert "not by the expected" in report.problems[0]


def bomb_in_place_of(data: bytes, target: str, megabytes: int = 200) -> bytes:
    """The zip with `target` replaced by zeros that inflate to `megabytes`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target_zip:
        for name in source.namelist():
            if name != target:
                target_zip.writestr(name, source.read(name))
        with target_zip.open(target, "w") as entry:
            for _ in range(megabytes):
                entry.write(bytes(1 << 20))
    return out.getvalue()


@pytest.mark.parametrize("target", ["README.txt", "manifest.json", "manifest.sig",
                                    "public-key.pem", "documents"])
def test_a_zip_bomb_in_any_place_fails_without_inflating(world, sealed, target):
    data = download(world, sealed.auditor, sealed.package_id)
    if target == "documents":
        target = f"documents/{sealed.document_ids[0]}.pdf"
    bomb = bomb_in_place_of(data, target)

    tracemalloc.start()
    report = verify_zip(io.BytesIO(bomb))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert peak < 40 << 20
    if target == "README.txt":  # unsigned, never read: only its presence counts
        assert report.verified, report.problems
    else:
        assert not report.verified
        assert any(target in problem for problem in report.problems)


@pytest.mark.parametrize("manifest", [b"[]", b"not json", b'{"documents": "x"}',
                                      b'{"documents": [{"file": 1}]}',
                                      b'{"signing_key": "x"}', b'{"a": NaN}',
                                      b'{"a": "\\ud800"}', b"[" * 100_000])
def test_a_manifest_of_another_shape_signed_by_its_own_key_fails_plainly(
        world, sealed, manifest):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from vault.crypto import fingerprint, public_pem

    key = Ed25519PrivateKey.generate()
    replaced = {"manifest.json": manifest, "manifest.sig": key.sign(manifest),
                "public-key.pem": public_pem(key.public_key()).encode(),
                "public-key.sha256": fingerprint(key.public_key()).encode()}
    data = download(world, sealed.auditor, sealed.package_id)

    report = verify_zip(io.BytesIO(rewritten(
        data, lambda name, body: replaced.get(name, body))))

    assert not report.verified
    assert any("manifest.json" in problem for problem in report.problems)


@pytest.mark.parametrize("flag", ["encrypted", "unknown_method"])
def test_an_entry_zipfile_cannot_open_is_a_failure_not_a_crash(world, sealed, flag):
    data = bytearray(download(world, sealed.auditor, sealed.package_id))
    archive = zipfile.ZipFile(io.BytesIO(bytes(data)))
    for info in archive.infolist():
        for offset in (info.header_offset, _central_offset(data, info.filename)):
            if flag == "encrypted":
                data[offset + (6 if offset == info.header_offset else 8)] |= 0x01
            else:
                at = offset + (8 if offset == info.header_offset else 10)
                data[at:at + 2] = (99).to_bytes(2, "little")

    report = verify_zip(io.BytesIO(bytes(data)))

    assert not report.verified
    assert any("damaged in the zip" in problem for problem in report.problems)


def _central_offset(data: bytearray, name: str) -> int:
    """Where the central directory's record of `name` starts."""
    return data.rindex(b"PK\x01\x02", 0, data.rindex(name.encode()))


def test_verified_without_a_fingerprint_says_the_key_was_not_compared(
        world, sealed, tmp_path, vault_command):
    path = tmp_path / "package.zip"
    path.write_bytes(download(world, sealed.auditor, sealed.package_id))

    plain = vault_command("package", "verify", str(path))
    report = verify_zip(str(path))
    pinned = vault_command("package", "verify", str(path), "--fingerprint",
                           report.fingerprint)

    assert plain.exit_code == 0 and "--fingerprint" in plain.output
    assert pinned.exit_code == 0 and "NOTE" not in pinned.output


def test_not_a_zip_is_said_plainly(tmp_path, vault_command):
    path = tmp_path / "junk.zip"
    path.write_bytes(b"not a zip at all")
    checked = vault_command("package", "verify", str(path))
    assert checked.exit_code == 1
    assert "not a readable zip file" in checked.output


def test_an_operator_seal_for_an_audit_makes_a_second_package(world, sealed,
                                                              vault_command):
    sealed_again = vault_command("seal", LASID, "--by", "operator-x@test.vault")
    assert sealed_again.exit_code == 0, sealed_again.output
    listed = world.call("GET", "/api/v1/packages?district=D1", sealed.auditor)
    assert listed.status_code == 200
    packages = listed.json["packages"]
    assert [p["reason"] for p in packages] == ["audit", "certificate"]
    assert verify_zip(io.BytesIO(download(world, sealed.auditor,
                                          packages[0]["id"]))).verified


def test_a_package_whose_evidence_was_removed_is_listed_as_such(world, sealed,
                                                               runtime):
    from tests.retention.conftest import DAY_AFTER, sweep

    before = world.call("GET", "/api/v1/packages?district=D1", sealed.auditor).json
    sweep(runtime, DAY_AFTER)
    after = world.call("GET", "/api/v1/packages?district=D1", sealed.auditor).json

    assert [package["evidence_removed"] for package in before["packages"]] == [False]
    assert [package["evidence_removed"] for package in after["packages"]] == [True]
    assert world.call("GET", f"/api/v1/packages/{sealed.package_id}",
                      sealed.auditor).status_code == 410
