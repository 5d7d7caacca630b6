"""Template helpers: permission checks, date and money formatting, the agency's today.

Pages, PDFs and emails format money and days through the same functions (core.money.format_money,
core.dates.human_day), so a figure reads the same wherever a facility meets it.
"""

from datetime import date

from flask_login import current_user

from agency.core import dates
from agency.core.money import format_money
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
        return dates.human_day(value) if value is None or isinstance(value, date) else value

    app.add_template_filter(format_money, "money")

    @app.template_filter("short_day")
    def format_short_day(value):
        return f"{value:%b} {value.day}"

    @app.template_filter("month")
    def format_month(value):
        return value.strftime("%b %Y")

    @app.template_filter("label")
    def label(value):
        return "—" if value is None else str(value).replace("_", " ").capitalize()
