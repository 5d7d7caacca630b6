"""Every list downloads as CSV with the same filters as the page."""

import csv
import html
import io
import re
from datetime import date

import pytest

from tests import factories


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
