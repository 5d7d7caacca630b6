"""`flask seed-demo`: a realistic demo agency."""

import click


@click.command("seed-demo")
def seed_demo_command():
    """Fill an empty database with a realistic demo agency."""
    raise click.ClickException("not yet available")
