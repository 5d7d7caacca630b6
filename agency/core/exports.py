"""CSV downloads of the lists: the same query the page shows, every row, streamed."""

import csv
import io
from collections.abc import Callable, Iterable

from flask import Response, request, stream_with_context

from agency.extensions import db

BATCH = 500


def wants_csv() -> bool:
    return request.args.get("format") == "csv"


def csv_response(filename: str, header: list[str], query, row: Callable[[object], Iterable]) -> Response:
    """Stream every row of a select() as CSV, fetched in batches so memory stays flat."""

    def generate():
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        yield out.getvalue()
        result = db.session.execute(query.execution_options(yield_per=BATCH))
        for obj in result.scalars():
            out.seek(0)
            out.truncate()
            writer.writerow(["" if v is None else v for v in row(obj)])
            yield out.getvalue()

    # The rows are read while the response streams, so the request context must stay open.
    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def list_csv(filename: str, header: list[str], rows: Iterable[Iterable]) -> Response:
    """CSV of rows already computed in memory (worklists built from several queries)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in r] for r in rows)
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
