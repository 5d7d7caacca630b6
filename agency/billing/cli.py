"""`flask billing ...`: invoice runs, the invoice schedule and the dunning run from the command line."""

import json
import sys

import click

from agency.core.errors import CommandGroup

billing_cli = CommandGroup("billing", help="Invoice runs and dunning.")


@billing_cli.command("invoice")
@click.option("--period-start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day of the period.")
@click.option("--period-end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day of the period.")
@click.option("--facility-id", type=int, default=None, help="Only this facility (default: every facility).")
def invoice(period_start, period_end, facility_id):
    """Invoice approved, unbilled hours up to the period end, here and now, part by part; safe to run again.

    Prints the run's result (its invoice ids and the entries left unpriced); a run with facilities
    not invoiced exits with status 1, saying which and why.
    """
    from agency.billing import runs

    run_id = runs.create_invoice_run(period_start.date(), period_end.date(), facility_id).id
    _run_parts(run_id, runs.part_numbers(run_id))


@billing_cli.command("retry")
@click.argument("run_id")
def retry(run_id):
    """Run again, here and now, the parts of an invoice run with facilities not invoiced."""
    from agency.billing import runs

    parts = runs.part_numbers(run_id, not_done=True)
    if not parts:
        raise click.ClickException(f"no facility of run {run_id} is waiting to be invoiced")
    _run_parts(run_id, parts)


def _run_parts(run_id: str, parts: list[int]) -> None:
    """Run the parts in this process, the progress on stderr, then print the run's result."""
    from agency.billing import runs
    from agency.billing.jobs import invoice_run_part

    with click.progressbar(parts, label=f"Invoice run {run_id}", file=sys.stderr) as todo:
        for part in todo:
            invoice_run_part(run_id, part)
    status = runs.run_statuses([run_id])[run_id]
    click.echo(json.dumps({"job_id": run_id, **status["result"]}))
    if status["status"] == "failed":
        raise click.ClickException(status["error"])


@billing_cli.command("schedule")
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Run as if today were this day.")
def schedule(as_of):
    """Start an invoice run for each weekly, biweekly or monthly period that has closed."""
    from agency.billing.jobs import invoice_schedule

    click.echo(json.dumps(invoice_schedule(as_of.date().isoformat() if as_of else None)))


@billing_cli.command("dunning")
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Run as if today were this day.")
def dunning(as_of):
    """Send the payment reminders now due, each level once per invoice."""
    from agency.billing.jobs import daily_dunning

    click.echo(json.dumps(daily_dunning(as_of.date().isoformat() if as_of else None)))
