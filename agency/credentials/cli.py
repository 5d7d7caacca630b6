"""`flask credentials ...`: the daily scan, the CE reference data, roster imports and exclusion screening."""

import json

import click

from agency.core.errors import CommandGroup

credentials_cli = CommandGroup("credentials", help="Credential scans and reference rules (CAQH, payers, CE).")


@credentials_cli.command("scan")
@click.option("--as-of", default=None, help="Scan as if today were this date (YYYY-MM-DD).")
def scan(as_of):
    """Run the daily credential scan now: queue due reminders and send the outbox."""
    from agency.credentials.scan import daily_credential_scan

    click.echo(json.dumps(daily_credential_scan(as_of)))


@credentials_cli.command("load-ce-rules")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A TOML file of rules; defaults to the reference rules shipped with the app.")
def load_ce_rules(path):
    """Load CE rules per state and license type, keeping any rule already edited."""
    from pathlib import Path

    from agency.credentials.services import load_ce_reference

    created, skipped = load_ce_reference(Path(path) if path else None)
    click.echo(f"{created} CE rule(s) loaded, {skipped} already present and left as they are.")


@credentials_cli.command("load-rules")
def load_rules():
    """Load every shipped reference rule (CAQH per state, re-credentialing per payer, CE), keeping edited ones."""
    from agency.credentials.rules import load_reference

    for kind, (created, skipped) in load_reference().items():
        click.echo(f"{kind}: {created} rule(s) loaded, {skipped} already present and left as they are.")


@credentials_cli.command("import-roster")
@click.argument("csv_file", type=click.File("rb"))
@click.option("--commit", is_flag=True,
              help="Import when every row is good; without it the file is only checked (a dry run).")
def import_roster_command(csv_file, commit):
    """Check, and with --commit import, a roster CSV of therapists and their licenses."""
    from agency.credentials.roster import import_roster

    data = csv_file.read()  # bytes: the import says itself when they are not UTF-8 text
    total = max(data.count(b"\n") - 1, 0)
    with click.progressbar(length=total, label="Checking rows") as bar:
        report = import_roster(data, dry_run=not commit, progress=bar.update)
    for line, message in report.errors:
        click.echo(f"line {line}: {message}", err=True)
    if report.errors:
        raise click.ClickException(f"{len(report.errors)} problem(s) in {report.rows} row(s); nothing imported.")
    if commit:
        click.echo(f"Imported {report.therapists} therapists and {report.licenses} licenses.")
    else:
        click.echo(f"All {report.rows} rows are good. Run again with --commit to import them.")


@credentials_cli.command("screen")
@click.argument("file", type=click.File("rb"))
@click.option("--source", type=click.Choice(["oig_leie", "state_medicaid"]), default="oig_leie", show_default=True,
              help="oig_leie: the OIG's UPDATED.csv; state_medicaid: a state's list in the same 18-column layout.")
@click.option("--state", default=None, help="The state of a state Medicaid list (required with state_medicaid).")
@click.option("--as-of", default=None, help="Date the run as if today were this day (YYYY-MM-DD).")
def screen(file, source, state, as_of):
    """Screen every therapist against an exclusion file and store the run as dated evidence."""
    import os

    from agency.core.dates import parse_iso_date
    from agency.core.errors import DomainError
    from agency.credentials.screening import screen_file, source_label

    try:
        day = parse_iso_date(as_of) if as_of else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--as-of") from None
    if not file.seekable():
        raise click.BadParameter("must be a file on disk (its rows are counted first, for the progress bar)",
                                 param_hint="FILE")
    # The rows to come, counted on the bytes (a quoted field may hold a line break, so the bar may end early).
    total = max(sum(chunk.count(b"\n") for chunk in iter(lambda: file.read(1 << 20), b"")) - 1, 0)
    file.seek(0)
    try:
        with click.progressbar(length=total, label="Screening rows") as bar:
            run = screen_file(file, os.path.basename(file.name), source, state, screened_on=day, progress=bar.update)
    except DomainError as exc:
        for line in exc.fields.get("file", []):
            click.echo(line, err=True)
        raise click.ClickException(exc.message if "file" not in exc.fields else
                                   "the file was refused; nothing was stored.") from None
    counts = {status: sum(1 for hit in run.hits if hit.status == status) for status in ("confirmed", "pending",
                                                                                       "dismissed")}
    click.echo(f"Screening {run.id}: {run.therapists_screened} therapists against {run.rows} rows of the "
               f"{source_label(run.source, run.list_state)} ({run.filename}, sha256 {run.sha256}), "
               f"screened {run.screened_on.isoformat()}.")
    click.echo(f"{counts['confirmed']} confirmed, {counts['pending']} to confirm or dismiss, "
               f"{counts['dismissed']} dismissed as decided before.")
