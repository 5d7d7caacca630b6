"""Template helpers: permission checks, date and money formatting, the agency's today."""

from datetime import date, datetime

from flask_login import current_user

from agency.core import dates
from agency.core.money import to_cents
from agency.core.permissions import can


def init_app(app):
    @app.context_processor
    def helpers():
        return {
            "can": lambda permission: can(current_user, permission),
            "today": dates.today(),
        }

    @app.template_filter("day")
    def format_day(value):
        if value is None:
            return "—"
        if isinstance(value, datetime):
            return value.strftime("%b %d, %Y %H:%M UTC")
        if isinstance(value, date):
            return value.strftime("%b %d, %Y")
        return value

    @app.template_filter("money")
    def format_money(value):
        if value is None:
            return "—"
        cents = to_cents(value)
        return f"{'-' if cents < 0 else ''}${abs(cents):,}"

    @app.template_filter("short_day")
    def format_short_day(value):
        return value.strftime("%b %d")

    @app.template_filter("month")
    def format_month(value):
        return value.strftime("%b %Y")

    @app.template_filter("label")
    def label(value):
        return "—" if value is None else str(value).replace("_", " ").capitalize()
