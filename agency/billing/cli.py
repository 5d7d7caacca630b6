"""`flask billing ...`: invoice runs, the invoice schedule and the dunning run from the command line."""

import json

import click

from agency.core.errors import CommandGroup

billing_cli = CommandGroup("billing", help="Invoice runs and dunning.")


@billing_cli.command("invoice")
@click.option("--period-start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day of the period.")
@click.option("--period-end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day of the period.")
@click.option("--facility-id", type=int, default=None, help="Only this facility (default: every facility).")
def invoice(period_start, period_end, facility_id):
    """Invoice approved, unbilled hours up to the period end; safe to run again."""
    from agency.billing.jobs import generate_invoices

    if period_end < period_start:
        raise click.BadParameter("must not be before --period-start", param_hint="--period-end")
    result = generate_invoices(period_start.date().isoformat(), period_end.date().isoformat(), facility_id)
    click.echo(json.dumps(result))


@billing_cli.command("schedule")
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Run as if today were this day.")
def schedule(as_of):
    """Invoice every facility whose weekly, biweekly or monthly period has closed."""
    from agency.billing.jobs import invoice_schedule

    click.echo(json.dumps(invoice_schedule(as_of.date().isoformat() if as_of else None)))


@billing_cli.command("dunning")
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Run as if today were this day.")
def dunning(as_of):
    """Send the payment reminders now due, each level once per invoice."""
    from agency.billing.jobs import daily_dunning

    click.echo(json.dumps(daily_dunning(as_of.date().isoformat() if as_of else None)))


