"""`vault retention sweep` and `vault scheduler`.

A sweep run by hand takes the same database lock as the scheduler: when
another sweep holds it, this one says so and exits (status 1) without
touching anything. A dry run removes nothing and so needs no lock.
"""

import sys
from datetime import date

import click

from vault.config import Settings
from vault.errors import VaultError
from vault.runtime import Runtime


def _runtime() -> Runtime:
    return Runtime.from_settings(Settings.from_env())


def _fail(error: VaultError) -> None:
    click.echo(f"error ({error.code}): {error.message}", err=True)
    sys.exit(1)


@click.group()
def retention() -> None:
    """Retention: the two-year sweep."""


@retention.command("sweep")
@click.option("--dry-run", is_flag=True,
              help="List each record a real sweep would remove; remove nothing.")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]),
              help="Sweep as if it were this day (YYYY-MM-DD).")
def sweep(dry_run: bool, as_of) -> None:
    """Remove every record past its retention date and not under a legal hold."""
    from retention.lock import sweep_lock
    from retention.sweep import run_sweep

    day: date | None = as_of.date() if as_of else None
    try:
        runtime = _runtime()
        if dry_run:
            report = run_sweep(runtime, day, dry_run=True)
        else:
            with sweep_lock(runtime.engine) as lock, _progress() as progress:
                report = run_sweep(runtime, day, lock=lock, progress=progress)
    except VaultError as error:
        _fail(error)

    verb = "would remove" if dry_run else "removed"
    if dry_run:
        for facts in report.records:
            click.echo(f"would remove student {facts.lasid} ({facts.district_code}): "
                       f"{facts.documents} documents, {facts.module_dates} module "
                       f"dates, {facts.exam_results} exam results; kept through "
                       f"{facts.retention_date}")
        for key in report.pending:
            click.echo(f"would retry locked object {key}")
    counts = report.counts
    records = counts["records"] if dry_run else counts["records_removed"]
    click.echo(f"sweep as of {report.as_of}: {verb} {records} records "
               f"({counts['documents']} documents, {counts['module_dates']} module "
               f"dates, {counts['exam_results']} exam results, {counts['students']} "
               f"students); {counts['held']} due records held")
    if not dry_run:
        click.echo(f"objects deleted {counts['objects_deleted']}, still locked "
                   f"{counts['objects_locked'] + counts['objects_still_locked']}, "
                   f"earlier locked ones removed {counts['pending_objects_removed']}, "
                   f"receipts {counts['receipts']}")
    if counts["records_failed"]:
        click.echo(f"error (sweep_incomplete): {counts['records_failed']} records "
                   "could not be removed (see the log); the next sweep tries them "
                   "again", err=True)
        sys.exit(1)


class _progress:
    """A progress bar on a terminal; nothing when the output is a file or pipe."""

    def __enter__(self):
        self.bar = None
        if not sys.stdout.isatty():
            return None
        return self._advance

    def _advance(self, done: int, total: int | None = None) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total or 0, label="sweeping")
            self.bar.__enter__()
        self.bar.update(done)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


@click.command()
def scheduler() -> None:
    """Sweep every day at 02:00 in the vault's time zone, in the foreground."""
    from retention.scheduler import serve

    try:
        serve(_runtime())
    except VaultError as error:
        _fail(error)
