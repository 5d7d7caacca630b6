"""CSV downloads of the lists: the same query the page shows, every row, streamed.

Every export goes through here, so two rules hold for all of them: no cell can run as a
spreadsheet formula, and each download is in the audit log with the filters it used.
"""

import csv
import io
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlencode

from flask import Response, request, stream_with_context

from agency.core import audit
from agency.extensions import db

BATCH = 500

# OWASP's CSV injection rule: a spreadsheet reads a cell starting with one of these as a formula
# (tab and carriage return because Excel skips them and reads what follows).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A spreadsheet set to split on semicolons (Excel in most of Europe) or tabs starts a new cell
# inside "Acme;=cmd|' /C calc'!A0", which the comma-separated file writes unquoted: a trigger after
# a separator (and any spaces) is neutralised the same way (OWASP: mind the field separators too).
# A separator first in the text is the leading rule's.
SMUGGLED = re.compile(r"(?<=.)([,;\t\r\n][ ]*)(?=[=+\-@])", re.DOTALL)
# What the app writes itself: amounts, hours, ids, dates and flags. A negative amount (a credit)
# starts with "-" yet is a number a spreadsheet must add up, not text a user typed, so it stays
# as it is; everything else is text and is checked.
APP_VALUES = (int, float, Decimal, date, datetime)


def wants_csv() -> bool:
    return request.args.get("format") == "csv"


def cell(value):
    """A value as a CSV cell that a spreadsheet shows and never evaluates."""
    if value is None:
        return ""
    if isinstance(value, APP_VALUES):  # bool is an int
        return value
    text = SMUGGLED.sub(r"\1'", str(value))
    # The leading quote makes the spreadsheet show the text as typed instead of evaluating it.
    return "'" + text if text.startswith(FORMULA_START) else text


def _row(values: Iterable) -> list:
    return [cell(v) for v in values]


def _record_export(filename: str) -> None:
    """Audit the download by the signed-in actor, committed now: the body may stream (and fail) later."""
    filters = [(key, value) for key, value in request.args.items(multi=True) if key != "format"]
    audit.record("export", None, f"Exported {filename}" + (f" with {urlencode(filters)}" if filters else ""),
                 object_type="csv_export", changes={"file": filename, "filters": urlencode(filters)})
    db.session.commit()


def _attachment(body, filename: str) -> Response:
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def csv_response(filename: str, header: list[str], query, row: Callable[[object], Iterable], *,
                 whole_rows: bool = False) -> Response:
    """Stream every row of a select() as CSV, fetched in batches so memory stays flat.

    `row` gets each row's first entity, or with whole_rows the result row itself (a select of a
    therapist and an outer-joined enrollment that may be None).
    """

    def generate():
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        yield out.getvalue()
        result = db.session.execute(query.execution_options(yield_per=BATCH))
        for obj in (result if whole_rows else result.scalars()):
            out.seek(0)
            out.truncate()
            writer.writerow(_row(row(obj)))
            yield out.getvalue()

    _record_export(filename)
    # The rows are read while the response streams, so the request context must stay open.
    return _attachment(stream_with_context(generate()), filename)


def list_csv(filename: str, header: list[str], rows: Iterable[Iterable]) -> Response:
    """CSV of rows already computed in memory (worklists built from several queries)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    # Written before the audit commits: the rows may read attributes the commit would expire.
    writer.writerows(_row(r) for r in rows)
    _record_export(filename)
    return _attachment(out.getvalue(), filename)
