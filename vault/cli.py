"""The `vault` command line of CONTRACT.md.

Each command opens one unit of work and calls domain operations; VaultError is
translated here into a message on standard error and exit status 1.
"""

import logging
import os
import sys
from datetime import date, timedelta
from functools import wraps
from getpass import getpass

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from vault import accounts
from vault.config import Settings
from vault.crypto import ensure_keys
from vault.db import unit_of_work
from vault.errors import VaultError
from vault.runtime import Runtime
from vault.schema import upgrade

log = logging.getLogger(__name__)


def _runtime() -> Runtime:
    return Runtime.from_settings(Settings.from_env())


def translated(command):
    """Show a VaultError as one line for a person, exit 1."""
    @wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except VaultError as error:
            click.echo(f"error ({error.code}): {error.message}", err=True)
            sys.exit(1)
        except OperationalError as error:
            # The command's boundary: no database where the settings point.
            click.echo(f"error (database_unavailable): the database at "
                       f"{_database_shown()} cannot be used "
                       f"({type(error.orig).__name__}); run `vault init` first, "
                       f"with the same VAULT_DATA_DIR and VAULT_DATABASE_URL as "
                       f"the server.", err=True)
            sys.exit(1)
    return run


def _database_shown() -> str:
    return make_url(Settings.from_env().database_url).render_as_string(
        hide_password=True)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
def main(verbose: bool) -> None:
    """Evidence vault for the Micro-Enterprise Credential."""
    # Keys, the database and objects are for this account's eyes only.
    os.umask(0o077)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")


@main.command()
@translated
def init() -> None:
    """Create the schema, the master key and the signing key if missing."""
    settings = Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    created = [] if settings.master_keys and settings.signing_key else ensure_keys(
        settings.key_dir)
    runtime = Runtime.from_settings(settings)
    runtime.store.create()
    runtime.store.discard_partials()
    upgrade(runtime.engine)
    for path in created:
        click.echo(f"created {path}")
    click.echo(f"vault ready in {settings.data_dir}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the web app and API with gunicorn."""
    from web.server import serve as run_server

    run_server(host, port, workers)


@main.group()
def district() -> None:
    """Districts and charter schools."""


@district.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--agreement-signed", "agreement", type=click.DateTime(["%Y-%m-%d"]),
              help="Date the tracking agreement was signed (YYYY-MM-DD).")
@translated
def district_add(code: str, name: str, agreement) -> None:
    """Add a district or charter school."""
    signed: date | None = agreement.date() if agreement else None
    with unit_of_work(_runtime().sessions) as session:
        added = accounts.add_district(session, code, name, signed)
        click.echo(f"district {added.code} added"
                   + (f", agreement signed {signed}" if signed else
                      ", no tracking agreement yet"))


@main.group()
def user() -> None:
    """People and their roles."""


@user.command("add")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(accounts.ROLES))
@click.option("--district", "districts", multiple=True,
              help="A district code; repeat for several.")
@translated
def user_add(email: str, role: str, districts: tuple[str, ...]) -> None:
    """Add a person; the password is read from standard input or generated."""
    password, generated = _read_password()
    with unit_of_work(_runtime().sessions) as session:
        person = accounts.add_person(session, email, role, list(districts), password)
        click.echo(f"{person.email} added as {role}")
    if generated:
        click.echo(f"password: {password}")


def _read_password() -> tuple[str, bool]:
    """A password typed twice (terminal) or given on standard input; empty: made."""
    if sys.stdin is None or sys.stdin.closed:
        first = second = ""
    elif sys.stdin.isatty():
        first = getpass("Password (empty to generate one): ")
        second = getpass("Password again: ") if first else ""
    else:
        lines = sys.stdin.read().splitlines()
        first = lines[0] if lines else ""
        second = lines[1] if len(lines) > 1 else first
    if not first:
        return accounts.generate_password(), True
    if first != second:
        raise VaultError("The two passwords differ.", code="password_mismatch")
    return first, False


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.argument("email")
@translated
def token_create(email: str) -> None:
    """Print a new API token for EMAIL as the last line."""
    with unit_of_work(_runtime().sessions) as session:
        person = accounts.person_by_email(session, email)
        secret = accounts.create_token(session, person)
    click.echo(f"token for {person.email} ({person.role}); keep it secret:")
    click.echo(secret)


@main.command()
@click.option("--repair", is_flag=True,
              help="Remove orphaned objects (never a row).")
@click.option("--older-than", "older_than", type=click.IntRange(min=0), default=60,
              show_default=True, metavar="MINUTES",
              help="Younger objects without a row may be uploads in flight: "
                   "they are listed, not counted or removed.")
@translated
def fsck(repair: bool, older_than: int) -> None:
    """Report objects without rows and rows without objects; exit 1 if any."""
    from vault.fsck import check_store

    runtime = _runtime()
    with unit_of_work(runtime.sessions) as session:
        report = check_store(runtime, session, repair=repair,
                             grace=timedelta(minutes=older_than))
    click.echo(f"{report.objects} objects, {report.rows} rows")
    for key in report.orphans:
        state = "removed" if key in report.removed else "orphaned"
        click.echo(f"{state} object {key} (no row points to it)")
    for key in report.locked:
        click.echo(f"locked object {key} cannot be removed before its lock lapses")
    for key in report.awaiting_removal:
        click.echo(f"object {key} awaits removal by the retention sweep")
    for key in report.young_orphans:
        click.echo(f"recent object {key} has no row yet (an upload in flight?)")
    for missing in report.missing:
        click.echo(f"MISSING object {missing.object_key} of {missing.record} "
                   f"{missing.record_id}")
    if not report.consistent:
        sys.exit(1)


@main.command()
@translated
def demo() -> None:
    """Load a demo district with accounts, students and PDFs; print how to sign in."""
    from vault.demo import load_demo

    for line in load_demo(_runtime()):
        click.echo(line)


from retention.cli import retention, scheduler  # noqa: E402

main.add_command(retention)
main.add_command(scheduler)

from vault.cli_sealing import audit, keys_group, package, seal  # noqa: E402

main.add_command(package)
main.add_command(audit)
main.add_command(keys_group)
main.add_command(seal)
