"""Dates: "today" in the agency's timezone, and ISO parsing."""

import re
from datetime import UTC, date, datetime, time, timedelta
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


def is_business_day(day: date) -> bool:
    """Monday to Friday. Federal holidays count as business days: approvals are asked of facilities that
    mostly work through them (inpatient units, residential programs), and no holiday table is kept."""
    return day.weekday() < 5


def business_days_between(start: date, end: date) -> int:
    """Business days after start up to and including end (0 when end is not after start): Thursday to the
    next Tuesday is 3 (Friday, Monday, Tuesday)."""
    if end <= start:
        return 0
    weeks, extra = divmod((end - start).days, 7)
    count = weeks * 5
    for offset in range(1, extra + 1):
        count += is_business_day(start + timedelta(days=weeks * 7 + offset))
    return count


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
