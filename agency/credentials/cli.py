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
