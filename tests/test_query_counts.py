"""Pages do a bounded number of SQL queries whatever the data size."""

from contextlib import contextmanager
from datetime import date

import sqlalchemy as sa

from agency.extensions import db
from tests import factories

PAGES = ["/therapists", "/licenses", "/worklist", "/facilities", "/placements", "/assignments?status=",
         "/recruiting", "/timesheets", "/invoices", "/receivables", "/dashboard", "/search?q=ri"]


@contextmanager
def counted():
    statements = []

    def listen(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)


def grow(n: int) -> None:
    """n more facilities, each with a placement, hours, an invoice, and therapists with credentials."""
    from agency.billing.invoicing import invoice_facility
    from agency.placements.services import save_assignment

    for i in range(n):
        place = factories.facility(name=f"Clinic {i} {factories.npi()}")
        factories.rate_card(place)
        placement = factories.active_placement(place)
        factories.entry(placement, date(2026, 11, 2))
        factories.entry(placement, date(2026, 11, 3), approve=False)
        invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 30))
        person = factories.therapist(caqh_id="1", caqh_attested_on=date(2026, 8, 1))
        factories.license(person, expires_on=date(2026, 12, 20))
        factories.panel(person)
        save_assignment(None, {"facility_id": place.id, "title": f"Job {i}", "discipline": "LCSW",
                               "start_on": date(2026, 12, 1), "length_weeks": 4, "hours_per_week": 20})


def queries_per_page(b) -> dict[str, int]:
    result = {}
    for url in PAGES:
        with counted() as statements:
            response = b.get(url)
        assert response.status_code == 200, url
        result[url] = len(statements)
    return result


def test_list_pages_and_dashboards_do_not_query_per_row(browser):
    b = browser("admin")
    grow(2)
    small = queries_per_page(b)
    grow(8)
    large = queries_per_page(b)
    assert large == small
