"""`flask credentials ...`: the daily scan and the CE reference data."""

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
