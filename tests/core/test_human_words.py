"""Figures and days read the way a facility writes them; refusals read as sentences that say what to do."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from agency.core.dates import human_day
from agency.core.errors import Conflict, ValidationError
from agency.core.money import format_money


def test_money_has_thousands_separators_two_decimals_and_credits_in_parentheses():
    assert format_money(Decimal("12345.6")) == "$12,345.60"
    assert format_money(Decimal("1234567.005")) == "$1,234,567.01"  # half-up at the cent
    assert format_money(Decimal("-1234")) == "($1,234.00)"
    assert format_money(Decimal("0")) == "$0.00"
    assert format_money(7) == "$7.00"
    assert format_money(None) == "—"


def test_money_refuses_a_float_which_has_already_lost_cents():
    with pytest.raises(TypeError):
        format_money(0.1 + 0.2)


def test_the_template_filter_is_the_same_function(app):
    render = app.jinja_env.from_string("{{ value|money }}").render
    assert render(value=Decimal("-12345.6")) == "($12,345.60)"


def test_a_day_reads_without_a_leading_zero_and_a_timestamp_in_utc(app):
    assert human_day(date(2026, 12, 1)) == "Dec 1, 2026"
    assert human_day(datetime(2026, 12, 1, 14, 5, tzinfo=UTC)) == "Dec 1, 2026 14:05 UTC"
    assert human_day(None) == "—"
    render = app.jinja_env.from_string("{{ value|day }} <time datetime=\"{{ value.isoformat() }}\">").render
    assert render(value=date(2027, 1, 9)) == 'Jan 9, 2027 <time datetime="2027-01-09">'


def test_a_refusal_about_a_field_reads_as_a_sentence_without_the_field_code():
    told = ValidationError.on("reason", "say why the hours are rejected")
    assert told.sentence == "Say why the hours are rejected."
    assert told.message == "reason: say why the hours are rejected"  # the API's message and fields stand
    assert told.fields == {"reason": ["say why the hours are rejected"]}
    assert ValidationError.on("received_on", "cannot be in the future").sentence == (
        "Received on cannot be in the future.")
    assert ValidationError.on("home_license_id", "must be one of this therapist's licenses").sentence == (
        "Home license must be one of this therapist's licenses.")
    assert Conflict("invoice INV-1 is already void").sentence == "Invoice INV-1 is already void."
