"""What the race tests share: a real server for the module, an admin's API token, and days of work."""

from datetime import date, timedelta

import pytest

from agency.auth.services import issue_token
from tests import live

FIRST_DAY = date(2026, 9, 1)


@pytest.fixture(scope="module")
def site(app):
    with live.server() as running:
        yield running


@pytest.fixture
def token(users):
    return issue_token(users["admin"])


def days(count: int) -> list[date]:
    """Consecutive work days from the first of September."""
    return [FIRST_DAY + timedelta(days=n) for n in range(count)]
