"""Collections measured: who may read the figures, the JSON's shape, and collected against billed this month."""

import csv
import io
from decimal import Decimal

import pytest
import sqlalchemy as sa

from agency.billing import disputes, metrics, receivables
from agency.billing.models import Payment
from agency.extensions import db
from tests import factories


@pytest.mark.parametrize("role", ["recruiter", "facility"])
def test_recruiters_and_facility_contacts_are_refused_the_collections_figures(api, role):
    assert api(role).get("/api/v1/collections/metrics").status_code == 403


def test_billing_reads_the_agency_figures_and_a_row_per_facility(api):
    response = api("billing").get("/api/v1/collections/metrics")
    assert response.status_code == 200, response.json
    assert "agency" in response.json and "facilities" in response.json


def test_30000_collected_of_40000_billed_this_month_is_75_percent(app, users):
    invoice = factories.invoiced_day(factories.facility(name="Cedar Clinic", billing_email="ap@cedar.example.org"))
    invoice.total = Decimal("40000.00")
    db.session.commit()
    receivables.record_payment(invoice, Decimal("30000.00"), factories.TODAY, "ACH 1001")
    report = metrics.collections_report(factories.TODAY)
    assert report.agency.billed_month == Decimal("40000.00")
    assert report.agency.collected_month == Decimal("30000.00")
    assert report.agency.collected_share == Decimal("75.0")
    assert [r.name for r in report.facilities] == ["Cedar Clinic"]


def test_a_500_credit_this_month_is_not_money_collected(app, users):
    invoice = factories.invoiced_day(factories.facility(name="Cedar Clinic", billing_email="ap@cedar.example.org"))
    invoice.total = Decimal("40000.00")
    db.session.commit()
    receivables.record_payment(invoice, Decimal("30000.00"), factories.TODAY, "ACH 1001")
    dispute = disputes.open_dispute(invoice, "Nov 2 billed at the LCSW rate")
    disputes.resolve(dispute, "credited", "Billed at the wrong rate", amount=Decimal("500.00"))
    credit = db.session.scalars(sa.select(Payment).where(Payment.kind == "credit")).one()
    assert (credit.amount, credit.received_on) == (Decimal("500.00"), factories.TODAY)
    report = metrics.collections_report(factories.TODAY)
    assert report.agency.collected_month == Decimal("30000.00")
    assert report.agency.collected_share == Decimal("75.0")


def test_the_csv_has_a_row_for_cedar_with_75_percent_collected(app, users, browser):
    invoice = factories.invoiced_day(factories.facility(name="Cedar Clinic", billing_email="ap@cedar.example.org"))
    invoice.total = Decimal("40000.00")
    db.session.commit()
    receivables.record_payment(invoice, Decimal("30000.00"), factories.TODAY, "ACH 1001")
    response = browser("billing").get("/collections/metrics.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    cedar = [r for r in rows if r["facility"] == "Cedar Clinic"]
    assert len(cedar) == 1
    assert (cedar[0]["billed_month"], cedar[0]["collected_month"], cedar[0]["collected_share"]) == (
        "40000.00", "30000.00", "75.0")


def test_45000_owed_of_90000_billed_in_90_days_is_a_dso_of_45_days(app, users):
    invoice = factories.invoiced_day(factories.facility(name="Cedar Clinic", billing_email="ap@cedar.example.org"))
    invoice.total = Decimal("90000.00")
    db.session.commit()
    receivables.record_payment(invoice, Decimal("45000.00"), factories.TODAY, "ACH 1001")
    report = metrics.collections_report(factories.TODAY)
    assert report.agency.receivables == Decimal("45000.00")
    assert report.agency.dso == Decimal("45.0")
    assert report.facilities[0].dso == Decimal("45.0")
