"""Every list downloads as CSV with the same filters as the page."""

import csv
import html
import io
import re
from datetime import date

import pytest
import sqlalchemy as sa

from agency.core.audit import AuditEvent
from agency.extensions import db
from tests import factories

# Each export with the filters a user might have set on its page.
EXPORTS = ["/therapists?status=inactive", "/licenses", "/worklist?kind=license", "/facilities?q=export",
           "/placements", "/assignments?status=", "/recruiting", "/timesheets?status=approved&from=2026-11-01",
           "/invoices", "/receivables?as_of=2027-01-10"]


@pytest.fixture
def data(users):
    place = factories.facility(name="Export Clinic")
    factories.rate_card(place)
    placement = factories.active_placement(place)
    factories.entry(placement, date(2026, 11, 2))
    factories.therapist(first_name="Zed", status="inactive")
    return place


@pytest.mark.parametrize("url, header", [
    ("/therapists?format=csv", "first_name"), ("/therapists?status=inactive&format=csv", "first_name"),
    ("/licenses?format=csv", "license_type"), ("/worklist?format=csv", "days_left"),
    ("/facilities?format=csv", "facility_type"), ("/placements?format=csv", "service_states"),
    ("/assignments?status=&format=csv", "length_weeks"), ("/recruiting?format=csv", "at_risk"),
    ("/timesheets?format=csv", "direct_care_hours"), ("/invoices?format=csv", "number"),
    ("/receivables?as_of=2027-01-10&format=csv", "1_30"),
])
def test_every_list_exports_csv(browser, data, url, header):
    response = browser("admin").get(url)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert header in rows[0]


def test_the_export_honours_the_page_filters(browser, data):
    rows = list(csv.DictReader(io.StringIO(
        browser("admin").get("/therapists?status=inactive&format=csv").get_data(as_text=True))))
    assert [r["first_name"] for r in rows] == ["Zed"]


@pytest.mark.parametrize("page", ["/therapists?status=inactive&page=1", "/licenses", "/worklist", "/facilities",
                                  "/placements", "/assignments", "/recruiting", "/timesheets", "/invoices"])
def test_every_list_page_offers_its_csv_with_the_filters_it_shows(browser, data, page):
    b = browser("admin")
    link = re.search(rb'<a class="button" href="([^"]+)">Download CSV</a>', b.get(page).data)
    assert link, page
    href = html.unescape(link.group(1).decode())
    assert "format=csv" in href and "page=" not in href
    if "status=inactive" in page:
        assert "status=inactive" in href
    assert b.get(href).mimetype == "text/csv"


@pytest.mark.parametrize("page", EXPORTS)
def test_every_export_of_personal_data_is_audited_with_who_took_it_and_the_filters(browser, users, data, page):
    role = "billing" if page.startswith(("/timesheets", "/invoices", "/receivables")) else "admin"
    b = browser(role)
    b.get(page)  # the page itself is not an export
    response = b.get(page + ("&" if "?" in page else "?") + "format=csv")
    assert response.mimetype == "text/csv" and response.get_data(as_text=True)  # read, so the stream ends
    filters = page.partition("?")[2]
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "export")).all()
    assert [(e.user_id, e.object_type, e.changes["filters"]) for e in events] == [
        (users[role].id, "csv_export", filters)]
    filename = response.headers["Content-Disposition"].split('filename="')[1].rstrip('"')
    assert events[0].changes["file"] == filename and filename in events[0].summary and filters in events[0].summary


def test_an_export_is_in_the_audit_log_before_its_first_row_is_sent(browser, data):
    response = browser("admin").get("/therapists?status=inactive&format=csv", buffered=False)
    # Read through a connection of its own: only what is committed is there.
    with db.engine.connect() as other:
        logged = other.execute(sa.select(AuditEvent.summary).where(AuditEvent.action == "export")).scalars().all()
    assert logged == ["Exported therapists.csv with status=inactive"]
    assert "Zed" in response.get_data(as_text=True)
    response.close()
