"""The platform: configuration, migrations and the identifiers every area relies on."""

from decimal import Decimal

import pytest

from agency import ConfigError, create_app
from agency.core.states import npi_is_valid


def test_npi_check_digit_follows_the_cms_luhn_rule():
    assert npi_is_valid("1234567893")
    assert not npi_is_valid("1234567890")
    assert not npi_is_valid("123456789")
    assert not npi_is_valid("12345678a3")


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.delenv("AGENCY_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="AGENCY_SECRET_KEY"):
        create_app({"ENV": "production", "SECRET_KEY": ""})


def test_environment_overrides_the_toml_defaults(monkeypatch):
    monkeypatch.setenv("AGENCY_LICENSE_EXPIRING_DAYS", "45")
    assert create_app().config["LICENSE_EXPIRING_DAYS"] == 45


def test_money_reads_as_dollars_with_thousands_separators_and_cents_half_up(app):
    render = app.jinja_env.from_string("{{ value|money }}").render
    assert render(value=Decimal("1234567.5")) == "$1,234,567.50"
    assert render(value=Decimal("0.005")) == "$0.01"
    assert render(value=Decimal("-42")) == "($42.00)"
    assert render(value=None) == "—"
