"""Dates: "today" in the agency's timezone, and ISO parsing."""

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask import current_app

from agency.core.bounds import check_day


def today() -> date:
    """The agency's today. Tests and demos may pin it with PINNED_TODAY."""
    pinned = current_app.config.get("PINNED_TODAY")
    if pinned:
        return date.fromisoformat(str(pinned))
    return datetime.now(ZoneInfo(current_app.config["TIMEZONE"])).date()


def start_of(day: date) -> datetime:
    """Midnight at the start of a day in the agency's timezone, in UTC like every stored timestamp.

    UTC matters on SQLite, which keeps timestamps as text without their offset.
    """
    return datetime.combine(day, time(), ZoneInfo(current_app.config["TIMEZONE"])).astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A stored timestamp as aware UTC: SQLite hands timestamps back without their offset."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_iso_date(value) -> date:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError("must be a date as YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date as YYYY-MM-DD") from None
    return check_day(day)


def human_day(value: date | datetime | None) -> str:
    """A day as people write it in a sentence ("Dec 1, 2026"); a timestamp adds its UTC time.

    ISO stays for machines: the API, CSV, <input type=date> values and <time datetime> attributes.
    """
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = as_utc(value)
        return f"{value:%b} {value.day}, {value:%Y %H:%M} UTC"
    return f"{value:%b} {value.day}, {value:%Y}"


def iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    return value.isoformat()


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th weekday (Monday 0) of a month; n = -1 is the last."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    """A holiday on a Saturday is observed the Friday before, on a Sunday the Monday after (5 U.S.C. 6103)."""
    return day + timedelta(days={5: -1, 6: 1}.get(day.weekday(), 0))


@lru_cache(maxsize=64)
def federal_holidays(year: int) -> frozenset[date]:
    """The eleven U.S. federal holidays of a year, as observed: the days facilities' offices are closed."""
    fixed = [(1, 1), (6, 19), (7, 4), (11, 11), (12, 25)]
    return frozenset([_observed(date(year, month, day)) for month, day in fixed] + [
        _nth_weekday(year, 1, 0, 3), _nth_weekday(year, 2, 0, 3), _nth_weekday(year, 5, 0, -1),
        _nth_weekday(year, 9, 0, 1), _nth_weekday(year, 10, 0, 2), _nth_weekday(year, 11, 3, 4),
    ])


def is_business_day(day: date) -> bool:
    """Monday to Friday, but the federal holidays as observed."""
    # New Year's Day on a Saturday is observed on the last day of the year before.
    return day.weekday() < 5 and day not in federal_holidays(day.year) | federal_holidays(day.year + 1)


def business_days_between(start: date, end: date) -> int:
    """Business days after start up to and including end (0 when end is not after start): Thursday to the
    next Tuesday is 3 (Friday, Monday, Tuesday)."""
    if end <= start:
        return 0
    weeks, extra = divmod((end - start).days, 7)
    weekdays = weeks * 5 + sum((start + timedelta(days=weeks * 7 + offset)).weekday() < 5
                               for offset in range(1, extra + 1))
    # Observed holidays always fall on a weekday: each one in the span is a weekday not worked.
    return weekdays - sum(start < holiday <= end for year in range(start.year, end.year + 2)
                          for holiday in federal_holidays(year))


def add_business_days(start: date, days: int) -> date:
    """The day that many business days after start (days >= 0): Thursday plus 3 is the next Tuesday."""
    day = start
    while days > 0:
        day += timedelta(days=1)
        days -= is_business_day(day)
    return day


def local_day(value: datetime) -> date:
    """The agency's calendar day of a stored timestamp."""
    return as_utc(value).astimezone(ZoneInfo(current_app.config["TIMEZONE"])).date()
