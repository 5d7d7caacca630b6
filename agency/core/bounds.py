"""What the database can hold.

Ids, days and amounts that come from outside are checked against these
before they reach a query, so a wild value is a clear 400 or 404 and never a
database error.
"""

import re
from datetime import date

from flask import abort, request
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1  # PostgreSQL INTEGER
# Far enough either way for any license, contract or timesheet, and with room for the date
# arithmetic (renewal cycles, terms, aging) that Python refuses past the year 9999.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)
# NUMERIC(12, 2): the largest amount a money column stores.
MAX_AMOUNT = 10**10


def parse_id(value) -> int:
    """A record id given as text (a query string, a form, a CSV cell) or as a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = value.strip() if isinstance(value, str) else ""
    if not re.fullmatch(r"[0-9]{1,10}", text) or not 1 <= int(text) <= MAX_ID:
        raise ValueError("must be a record id (a whole number)")
    return int(text)


def id_or_none(value) -> int | None:
    """A chosen id from a form or query string; blank or malformed counts as nothing chosen."""
    try:
        return parse_id(value)
    except ValueError:
        return None


def check_day(day: date) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"must be between {FIRST_DAY.year} and {LAST_DAY.year}")
    return day


class IdConverter(IntegerConverter):
    """`<int:...>` in URLs: a number past any id is a 404, whatever the method.

    Refusing to match instead would let routing go on to the same path's other methods and
    answer 405, as if the method were the fault.
    """

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= MAX_ID:
            raise NotFound(f"No record has the id {value}.")
        return number


def refuse_nul_characters():
    """Before each request: text with a NUL character is refused whole, since PostgreSQL stores none."""
    values = [v for source in (request.args, request.form) for _, v in source.items(multi=True)]
    if any("\x00" in value for value in values) or (request.is_json and b"\\u0000" in request.get_data()):
        abort(400, "Text may not contain NUL characters.")
