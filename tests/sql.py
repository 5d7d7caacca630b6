"""Counting the SQL a page or a service sends: bounded work is proven by statement counts, never timings."""

from contextlib import contextmanager

import sqlalchemy as sa

from agency.extensions import db


@contextmanager
def counted():
    """The statements sent while inside, in order."""
    statements = []

    def listen(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)


def count_statements(call) -> int:
    with counted() as statements:
        call()
    return len(statements)


def statements_per_page(client, urls) -> dict[str, int]:
    """Statements per GET of each URL, each of which must answer 200."""
    result = {}
    for url in urls:
        with counted() as statements:
            response = client.get(url)
        assert response.status_code == 200, url
        result[url] = len(statements)
    return result
