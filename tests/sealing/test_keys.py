"""Key rotation: every document still reads and every package still verifies."""

import hashlib
import io

from sqlalchemy import select

from tests.sealing.conftest import LASID
from vault import keys
from vault.audit import AuditCheckpoint
from vault.models import Certificate, EvidenceDocument, SealedPackage
from vault.packages import verify_zip


def object_bodies(runtime) -> dict[str, bytes]:
    """The stored ciphertext of every object, as the store holds it."""
    bodies = {}
    for key in runtime.store.keys():
        with runtime.store.open(key) as stream:
            bodies[key] = stream.read()
    return bodies


def key_versions(runtime) -> set[int]:
    with runtime.sessions() as session:
        # Checkpoints are signed plaintext: they have no data key.
        return {version for model in keys.ENCRYPTED_RECORDS
                for version in session.scalars(select(model.key_version))
                if version is not None}


def assert_everything_reads(world, sealed, runtime) -> None:
    with runtime.sessions() as session:
        documents = session.scalars(select(EvidenceDocument)).all()
    for document in documents:
        content = world.call("GET", f"/api/v1/documents/{document.id}/content",
                             sealed.staff)
        assert content.status_code == 200
        assert hashlib.sha256(content.data).hexdigest() == document.sha256
    with runtime.sessions() as session:
        package_ids = session.scalars(select(SealedPackage.id)).all()
    for package_id in package_ids:
        data = world.call("GET", f"/api/v1/packages/{package_id}/download",
                          sealed.auditor).data
        report = verify_zip(io.BytesIO(data))
        assert report.verified, report.problems


def test_rotation_rewraps_every_key_and_rewrites_no_object(world, sealed, runtime,
                                                          vault_command):
    before = object_bodies(runtime)
    assert key_versions(runtime) == {1}

    rotated = vault_command("keys", "rotate")
    assert rotated.exit_code == 0, rotated.output
    assert "master key v2 added" in rotated.output
    assert "no object was rewritten" in rotated.output

    assert key_versions(runtime) == {2}
    assert object_bodies(runtime) == before
    assert_everything_reads(world, sealed, runtime)


def test_an_interrupted_rotation_resumes_and_reads_work_meanwhile(world, sealed,
                                                                 runtime,
                                                                 vault_command):
    keys.add_master_version(runtime)

    class Interrupted(Exception):
        pass

    def stop_after_first_batch(done):
        raise Interrupted

    try:
        keys.rewrap_all(runtime, stop_after_first_batch, limit=2)
    except Interrupted:
        pass
    assert key_versions(runtime) == {1, 2}
    assert_everything_reads(world, sealed, runtime)

    resumed = vault_command("keys", "rotate", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert key_versions(runtime) == {2}
    assert_everything_reads(world, sealed, runtime)


def test_old_packages_verify_after_the_signing_key_rotates(world, sealed, runtime,
                                                          vault_command):
    rotated = vault_command("keys", "rotate", "--no-master")
    assert rotated.exit_code == 0, rotated.output

    resealed = vault_command("seal", LASID)
    assert resealed.exit_code == 0, resealed.output
    with runtime.sessions() as session:
        versions = dict(session.execute(select(
            SealedPackage.reason, SealedPackage.signing_key_version)).all())
        checkpoint_keys = set(session.scalars(
            select(AuditCheckpoint.signing_key_version)))
    assert versions == {"certificate": 1, "audit": 2}
    assert checkpoint_keys == {1, 2}

    listed = vault_command("keys", "list")
    assert listed.output.count("signing v") == 2
    assert_everything_reads(world, sealed, runtime)
    assert vault_command("audit", "verify").exit_code == 0


def test_certificates_read_after_rotation(world, sealed, runtime, vault_command):
    assert vault_command("keys", "rotate").exit_code == 0
    with runtime.sessions() as session:
        certificate = session.scalar(select(Certificate))
    answer = world.call("GET", f"/api/v1/certificates/{certificate.number}/content",
                        sealed.operator)
    assert answer.status_code == 200
    assert hashlib.sha256(answer.data).hexdigest() == certificate.sha256


def test_rotation_passes_over_keys_the_sweep_destroyed(world, sealed, runtime,
                                                      vault_command):
    from tests.retention.conftest import DAY_AFTER, sweep
    from tests.sealing.conftest import OTHER_LASID, issue

    swept = sweep(runtime, DAY_AFTER)
    assert swept.counts["certificates_kept"] == 1
    issued, documents = issue(world, sealed.other_staff, sealed.operator, OTHER_LASID)

    rotated = vault_command("keys", "rotate")

    assert rotated.exit_code == 0, rotated.output
    for document_id in documents:
        content = world.call("GET", f"/api/v1/documents/{document_id}/content",
                             sealed.other_staff)
        assert content.status_code == 200
    data = world.call("GET", f"/api/v1/packages/{issued['package_id']}/download",
                      sealed.operator).data
    assert verify_zip(io.BytesIO(data)).verified
    removed = world.call("GET", f"/api/v1/packages/{sealed.package_id}/download",
                         sealed.operator)
    assert removed.status_code == 410
