"""`flask users create`, `flask users token` and `flask users unlock`."""

import secrets

import click
from flask import current_app

from agency.auth import services, throttle
from agency.core.errors import CommandGroup
from agency.core.permissions import ROLES

users_cli = CommandGroup("users", help="Manage users and their API tokens.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the user may do.")
@click.option("--facility-id", type=int, default=None,
              help="The facility a facility contact belongs to (role facility only).")
@click.option("--password", default=None,
              help="Initial password; a random one is generated and printed if omitted.")
@click.option("--name", default="", help="Display name.")
def create(email, role, facility_id, password, name):
    """Create a user with a role."""
    generated = password is None
    password = password or secrets.token_urlsafe(12)
    user = services.create_user(email, role, password, facility_id=facility_id, name=name)
    click.echo(f"Created {user.email} ({user.role}).")
    if generated:
        click.echo(f"Password: {password}")


@users_cli.command("token")
@click.argument("email")
def token(email):
    """Make a new API token for a user and print it alone on the last line."""
    user = services.user_by_email(email)
    value = services.issue_token(user)
    click.echo(f"New API token for {user.email} (shown once; store it safely):")
    click.echo(value)


@users_cli.command("unlock")
@click.argument("email")
def unlock(email):
    """Let a user locked out by failed sign-ins try again now: the way back in when every admin is locked out."""
    user = services.user_by_email(email)
    throttle.forget_account_failures(user.email)
    services.unlock(user)
    click.echo(f"{user.email} may sign in again.")
    if not current_app.config["REDIS_URL"]:
        click.echo("Without AGENCY_REDIS_URL each web server counts failures in its own memory, which this command "
                   "cannot reach: restart the web servers to clear those counts.")
