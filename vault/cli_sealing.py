"""Commands for sealed packages, the audit log and keys.

`vault package verify` works offline: it reads the zip and nothing else.
"""

import sys

import click
from sqlalchemy import select

from vault import accounts, keys
from vault.access import valid_lasid
from vault.audit import record_event, verify_chain, write_checkpoint
from vault.cli import _runtime, translated
from vault.crypto import fingerprint, signing_public_keys
from vault.db import unit_of_work
from vault.errors import Forbidden, NotFound
from vault.models import Student
from vault.packages import verify_zip
from vault.sealing import seal_package


@click.group()
def package() -> None:
    """Sealed evidence packages."""


@package.command("verify")
@click.argument("zip_file", metavar="FILE.zip",
                type=click.Path(exists=True, dir_okay=False))
@click.option("--fingerprint", "expected", metavar="SHA256",
              help="Also require the package to be signed by this key.")
def package_verify(zip_file: str, expected: str | None) -> None:
    """Check a downloaded package offline; exit 0 only if everything holds."""
    report = verify_zip(zip_file, expected)
    if report.package_id:
        click.echo(f"package {report.package_id}")
    if report.fingerprint:
        click.echo(f"signed by key {report.fingerprint}")
    click.echo(f"{report.files_checked} file(s) checked against the manifest")
    if report.verified:
        click.echo("VERIFIED: the signature holds, every file matches its hash, "
                   "nothing is missing or extra")
        if not expected:
            click.echo("NOTE: the key came with the package. To know the vault "
                       "signed it, compare the key above with the fingerprint the "
                       "operator publishes (`vault keys list`), or run again with "
                       "--fingerprint.")
        return
    for problem in report.problems:
        click.echo(f"FAILED: {problem}")
    sys.exit(1)


@click.group()
def audit() -> None:
    """The audit log's hash chain and its checkpoints."""


@audit.command("verify")
@translated
def audit_verify() -> None:
    """Recompute the audit log's hash chain; exit 0 only if it is intact."""
    runtime = _runtime()
    with runtime.sessions() as session:
        report = verify_chain(runtime, session)
    click.echo(f"{report.events} event(s) checked, {report.checkpoints} "
               f"checkpoint(s) checked")
    if report.intact:
        click.echo("INTACT: every event matches its hash and every checkpoint")
        return
    for problem in report.problems:
        click.echo(f"BROKEN: {problem}")
    sys.exit(1)


@audit.command("checkpoint")
@translated
def audit_checkpoint() -> None:
    """Sign the chain head and keep it in write-once storage."""
    runtime = _runtime()
    with unit_of_work(runtime.sessions) as session:
        checkpoint = write_checkpoint(runtime, session, "command")
    click.echo(f"checkpoint {checkpoint.id} at event #{checkpoint.seq} "
               f"({checkpoint.head_hash}), kept until "
               f"{checkpoint.retain_until.isoformat()}")


@click.group("keys")
def keys_group() -> None:
    """Master and signing keys."""


@keys_group.command("rotate")
@click.option("--master/--no-master", default=True, show_default=True,
              help="Add a master key version and rewrap every data key.")
@click.option("--signing/--no-signing", default=True, show_default=True,
              help="Add a signing key version (old public keys stay).")
@click.option("--resume", is_flag=True,
              help="Add no version: finish rewrapping under the newest one.")
@translated
def keys_rotate(master: bool, signing: bool, resume: bool) -> None:
    """Rotate keys; rewrapping is resumable and never rewrites an object."""
    runtime = _runtime()
    if signing and not resume:
        before = runtime.signing_key
        after = keys.add_signing_version(runtime)
        with unit_of_work(runtime.sessions) as session:
            record_event(session, None, "signing_key_rotated",
                         old_fingerprint=before.fingerprint,
                         new_fingerprint=after.fingerprint, version=after.version)
        click.echo(f"signing key v{after.version} ({after.fingerprint}); "
                   f"v{before.version} stays for verification")
    if not (master or resume):
        return

    if not resume:
        version = keys.add_master_version(runtime)
        with unit_of_work(runtime.sessions) as session:
            record_event(session, None, "master_key_rotated", version=version)
        click.echo(f"master key v{version} added")
    with runtime.sessions() as session:
        stale = keys.stale_keys(runtime, session)
    with click.progressbar(length=stale, label="Rewrapping data keys") as bar:
        done = keys.rewrap_all(runtime, bar.update)
    click.echo(f"{done} data key(s) rewrapped under master key "
               f"v{runtime.keyring.current_version}; no object was rewritten")


@keys_group.command("list")
@translated
def keys_list() -> None:
    """Print every signing key version's fingerprint (to compare with packages)."""
    settings = _runtime().settings
    for version, key in sorted(signing_public_keys(settings.key_dir,
                                                   settings.signing_key).items()):
        click.echo(f"signing v{version} {fingerprint(key)}")


@click.command()
@click.argument("lasid")
@click.option("--by", "email", help="The operator sealing it (for the audit log).")
@translated
def seal(lasid: str, email: str | None) -> None:
    """Seal a student's record as it stands, for an audit."""
    runtime = _runtime()
    with unit_of_work(runtime.sessions) as session:
        actor = accounts.person_by_email(session, email) if email else None
        if actor is not None and actor.role != "operator":
            raise Forbidden("Only the operator seals records for an audit.")
        student = session.scalar(select(Student).where(
            Student.lasid == valid_lasid(lasid)))
        if student is None:
            raise NotFound(f"No student {lasid}.")
        package = seal_package(runtime, session, actor, student, reason="audit")
    click.echo(f"package {package.id} sealed: {len(package.document_ids)} "
               f"document(s), kept until {package.retain_until.isoformat()}")
