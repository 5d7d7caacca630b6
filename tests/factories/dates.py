"""The pinned today, read from the test configuration so the app and the tests cannot disagree."""

import tomllib
from datetime import date, timedelta

from agency import ROOT

TODAY = date.fromisoformat(tomllib.loads((ROOT / "config" / "test.toml").read_text())["PINNED_TODAY"])
# Nineteen days out: far enough that onboarding is still in progress.
START = TODAY + timedelta(days=19)


def days_from_today(n: int) -> date:
    return TODAY + timedelta(days=n)
