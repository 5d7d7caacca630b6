"""`flask credentials ...`: the daily scan and the CE reference data."""

import json

import click
from flask.cli import AppGroup

credentials_cli = AppGroup("credentials", help="Credential scans and CE reference data.")


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
