"""Date arithmetic in SQL that reads the same on SQLite and PostgreSQL.

SQLite keeps dates as ISO text and shifts them with date(); PostgreSQL adds
integers and intervals to dates. These constructs compile to each.
"""

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


class add_days(FunctionElement):
    """The date plus a whole number of days (negative goes back)."""

    type = sa.Date()
    inherit_cache = True
    name = "add_days"


@compiles(add_days)
def _add_days_pg(element, compiler, **kw):
    day, days = list(element.clauses)
    return f"CAST(({compiler.process(day, **kw)} + {compiler.process(days, **kw)}) AS DATE)"


@compiles(add_days, "sqlite")
def _add_days_sqlite(element, compiler, **kw):
    day, days = list(element.clauses)
    return f"date({compiler.process(day, **kw)}, printf('%+d days', {compiler.process(days, **kw)}))"


class add_months(FunctionElement):
    """The date so many calendar months later, the day kept or cut to the month's last (as relativedelta).

    31 January plus one month is 28 (or 29) February, not 3 March.
    """

    type = sa.Date()
    inherit_cache = True
    name = "add_months"


@compiles(add_months)
def _add_months_pg(element, compiler, **kw):
    day, months = list(element.clauses)
    return (f"CAST({compiler.process(day, **kw)} + make_interval(months => "
            f"CAST({compiler.process(months, **kw)} AS INTEGER)) AS DATE)")


def _shift_months_sqlite(day: str, months: str) -> str:
    # The first of the target month, then the same day of it, capped at that month's last day.
    first = f"date({day}, 'start of month', printf('%+d months', {months})"
    return (f"min({first}, printf('+%d days', CAST(strftime('%d', {day}) AS INTEGER) - 1)), "
            f"{first}, '+1 month', '-1 day'))")


@compiles(add_months, "sqlite")
def _add_months_sqlite(element, compiler, **kw):
    day, months = (compiler.process(c, **kw) for c in element.clauses)
    return _shift_months_sqlite(day, months)


class months_before(FunctionElement):
    """The date so many calendar months earlier, the day kept or cut to the month's last (as relativedelta).

    31 March less one month is 28 (or 29) February, not 3 March.
    """

    type = sa.Date()
    inherit_cache = True
    name = "months_before"


@compiles(months_before)
def _months_before_pg(element, compiler, **kw):
    day, months = list(element.clauses)
    return (f"CAST({compiler.process(day, **kw)} - make_interval(months => "
            f"CAST({compiler.process(months, **kw)} AS INTEGER)) AS DATE)")


@compiles(months_before, "sqlite")
def _months_before_sqlite(element, compiler, **kw):
    day, months = (compiler.process(c, **kw) for c in element.clauses)
    return _shift_months_sqlite(day, f"-({months})")


class days_between(FunctionElement):
    """Whole days from the first date to the second (later minus earlier is positive)."""

    type = sa.Integer()
    inherit_cache = True
    name = "days_between"


@compiles(days_between)
def _days_between_pg(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"({end} - {start})"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(julianday({end}) - julianday({start}) AS INTEGER)"
