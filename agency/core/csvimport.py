"""The one way a CSV file is imported: every row checked by the services, then all rows or none.

Each importer (the roster, timesheets) gives the columns and a function for
one row; that function parses the row's cells and calls the same service
checks the pages and the API call, then adds what the row makes to the
session. Rows are flushed as they go, so a later row is checked against the
earlier ones exactly as against rows already on file. The skeleton reads the
file, numbers the lines, refuses what is not a CSV of those columns, collects
each row's refusal with its line, and commits only when every row is good and
this is no dry run.
"""

import csv
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError

from agency.core.errors import DomainError
from agency.core.integrity import commit_or_conflict, refusal
from agency.extensions import db


@dataclass
class ImportReport:
    rows: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class CsvLayout:
    columns: tuple[str, ...]  # every column the importer reads, in the order a template shows them
    required: tuple[str, ...]  # columns the header must have


def decode(data: bytes | str) -> str:
    """The file as text; the BOM spreadsheet programs write is dropped."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValueError("the file is not UTF-8 text") from None
    return data.removeprefix("\ufeff")


def _records(text: str, layout: CsvLayout, report: ImportReport) -> Iterator[tuple[int, dict]]:
    """(line, {column: stripped cell}) for each row; a bad header or row is reported at its line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip() for name in next(reader, [])]
    missing = [c for c in layout.required if c not in header]
    if missing:
        report.errors.append((1, f"missing column(s): {', '.join(missing)}; "
                                 f"columns are {', '.join(layout.columns)}"))
        return
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            report.errors.append((line, f"not readable as CSV ({exc}); checking stopped here"))
            return
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        report.rows += 1
        if len(cells) > len(header):
            report.errors.append((start, f"has {len(cells)} cells but the header names {len(header)} columns"))
            continue
        yield start, {name: cell.strip() for name, cell in zip(header, cells, strict=False) if name}


def run_import(data: bytes | str, layout: CsvLayout, report: ImportReport, row: Callable[[dict], None], *,
               finish: Callable[[], None], dry_run: bool,
               progress: Callable[[int], None] | None = None) -> ImportReport:
    """Check every row with row(); when all are good and this is no dry run, finish() and commit.

    Anything else (a dry run, any refused row) rolls back, so the database is as it was.
    """
    try:
        text = decode(data)
    except ValueError as exc:
        report.errors.append((1, str(exc)))
        return report
    if "\x00" in text:
        report.errors.append((text.count("\n", 0, text.index("\x00")) + 1,
                              "holds a NUL character: the file is not a text CSV"))
        return report
    try:
        for line, cells in _records(text, layout, report):
            try:
                row(cells)
            except DomainError as exc:
                report.errors.append((line, exc.message))
            except IntegrityError as exc:
                # The session is rolled back with it, so the rows before are gone: stop here.
                report.errors.append((line, f"{refusal(exc).message}; checking stopped here"))
                break
            if progress:
                progress(1)
        if not report.rows and not report.errors:
            report.errors.append((1, "the file has no rows"))
        if dry_run or report.errors:
            return report
        finish()
        commit_or_conflict()
        return report
    finally:
        if dry_run or report.errors:
            db.session.rollback()


@contextmanager
def as_column(names: dict[str, str]):
    """Name the CSV's column, not the service's field, in a refusal (number becomes license_number)."""
    try:
        yield
    except DomainError as exc:
        fields = {names.get(key, key): messages for key, messages in exc.fields.items()}
        message = exc.message
        for key, column in names.items():
            if message.startswith(f"{key}: "):
                message = f"{column}: {message.removeprefix(f'{key}: ')}"
        raise type(exc)(message, fields) from None
