"""Each role lands on a dashboard of its own work; facility contacts land on their portal."""

import re
from datetime import date

import pytest

from agency.billing.receivables import record_payment
from agency.dashboard.metrics import expirations_by_week
from tests import factories


@pytest.mark.parametrize("role, expected", [
    ("admin", b"Credential compliance"), ("recruiter", b"My placements"),
    ("credentialing", b"Credential expirations by week"), ("billing", b"Billed and collected by month"),
])
def test_each_role_sees_its_dashboard(browser, role, expected):
    b = browser(role)
    response = b.get("/", follow_redirects=True)
    assert response.status_code == 200 and expected in response.data


def test_a_facility_contact_lands_on_the_portal(browser):
    response = browser("facility").get("/", follow_redirects=True)
    assert b"Statement of account" in response.data


def test_billed_and_collected_are_drawn_to_one_scale_and_read_out_as_tables(browser):
    invoice = factories.invoiced_day(factories.facility())  # 8 h at $90 = $720
    record_payment(invoice, invoice.total / 2, factories.TODAY, "ACH half")
    page = browser("billing").get("/", follow_redirects=True).data.decode()

    def last_bar(title):
        svg = page[page.index(f'aria-label="{title}"'):]
        return float(re.findall(r'<rect [^>]*height="([0-9.]+)"', svg[:svg.index("</svg>")])[-1])

    assert last_bar("Collected per month") == pytest.approx(last_bar("Billed per month") / 2, abs=0.1)
    assert "<caption>Billed per month</caption>" in page and "$720.00" in page


def test_expirations_by_week_count_privileges_by_their_home_license_and_only_working_therapists(app):
    today = factories.TODAY
    person = factories.therapist(discipline="PSYCHOLOGIST", home_state="NY")
    home = factories.license(person, state="NY", license_type="PSYCHOLOGIST", expires_on=date(2026, 12, 3))
    factories.license(person, state="PA", license_type="PSYCHOLOGIST", kind="compact_privilege",
                      home_license_id=home.id, expires_on=date(2028, 1, 1))
    gone = factories.therapist(status="inactive")
    factories.license(gone, expires_on=date(2026, 12, 3))
    weeks = expirations_by_week(today)
    assert weeks[1] == (date(2026, 12, 2), 2)  # the home license and the privilege resting on it
    assert sum(count for _, count in weeks) == 2


@pytest.mark.parametrize("role, url", [("billing", "/"), ("credentialing", "/"), ("admin", "/"),
                                       ("billing", "/receivables")])
def test_every_chart_has_a_legend_that_its_svg_points_to(browser, role, url):
    factories.invoiced_day(factories.facility())
    page = browser(role).get(url, follow_redirects=True).data.decode()
    charts = re.findall(r'<svg class="chart"[^>]*aria-describedby="([^"]+)"', page)
    assert charts and len(charts) == page.count('<svg class="chart"')
    for legend in charts:
        assert f'<ul class="chart-legend" id="{legend}"' in page


def test_the_aging_legend_names_each_bucket_in_its_colour(browser):
    page = browser("billing").get("/receivables").data.decode()
    legend = page[page.index('<ul class="chart-legend"'):]
    legend = legend[:legend.index("</ul>")]
    assert legend.count("<li>") == 5 and 'fill="#b3261e"' in legend and "Bar heights in dollars" in legend
