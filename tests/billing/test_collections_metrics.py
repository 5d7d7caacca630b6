"""Collections measured: who may read the figures, the JSON's shape, and collected against billed this month."""

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from agency.billing import disputes, metrics, promises, receivables
from agency.billing.invoicing import invoice_facility
from agency.billing.models import Invoice, Payment
from agency.core.dates import start_of
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


def owing(total: str, name: str, due_days_ago: int, place=None):
    """An issued invoice of total at the facility (its first, or another day's at place), due due_days_ago
    before today and unpaid."""
    if place is None:
        invoice = factories.invoiced_day(
            factories.facility(name=name, billing_email=f"ap@{name.split()[0].lower()}.example.org"))
    else:
        day = date(2026, 11, 2) + timedelta(days=db.session.scalar(
            sa.select(sa.func.count()).select_from(Invoice).where(Invoice.facility_id == place.id)))
        factories.entry(factories.active_placement(place), day)
        invoice, _ = invoice_facility(place.id, day, day)
    invoice.total = Decimal(total)
    invoice.due_on = factories.TODAY - timedelta(days=due_days_ago)
    invoice.issued_on = invoice.due_on - timedelta(days=30)
    db.session.commit()
    return invoice


def test_20000_of_100000_open_over_60_days_past_due_is_a_20_percent_share_to_watch(app, users):
    cedar = owing("80000.00", "Cedar Clinic", due_days_ago=10)
    owing("20000.00", "Cedar Clinic", due_days_ago=61, place=cedar.facility)
    report = metrics.collections_report(factories.TODAY)
    assert report.agency.receivables == Decimal("100000.00")
    assert (report.agency.over_60_share, report.agency.over_60_rating) == (Decimal("20.0"), "watch")
    assert report.facilities[0].over_60_share == Decimal("20.0")
    # One more dollar over 60 days is over target; 14.9% is on target.
    assert [metrics.over_60_rating(Decimal(s)) for s in ("14.9", "15.0", "20.0", "20.1")] == [
        "good", "watch", "watch", "bad"]


def test_three_promises_kept_and_one_broken_is_a_75_percent_promise_kept_rate(app, users, setting):
    first = owing("1000.00", "Cedar Clinic", due_days_ago=40)
    invoices = [first] + [owing("1000.00", "Cedar Clinic", due_days_ago=40, place=first.facility) for _ in range(3)]
    promised_on = factories.TODAY + timedelta(days=3)
    for invoice in invoices:
        promises.record_promise(invoice, promised_on, Decimal("1000.00"), "Pat Lee, AP, by phone")
    setting(PINNED_TODAY=promised_on.isoformat())
    for invoice in invoices[:3]:
        receivables.record_payment(invoice, Decimal("1000.00"), promised_on, "ACH")
    # The fourth is still open on its day: the check the day after finds it broken.
    promises.check_promises(promised_on + timedelta(days=1))
    row = metrics.collections_report(promised_on + timedelta(days=1)).facilities[0]
    assert (row.promises_kept, row.promises_broken, row.promise_kept_rate) == (3, 1, Decimal("75.0"))


def test_disputes_resolved_in_4_and_10_days_are_a_7_day_dispute_cycle(app, users, setting):
    first = owing("1000.00", "Cedar Clinic", due_days_ago=5)
    second = owing("2000.00", "Cedar Clinic", due_days_ago=5, place=first.facility)
    quick = disputes.open_dispute(first, "Mileage on Nov 2 was not driven", actor=users["billing"])
    slow = disputes.open_dispute(second, "Two hours on Nov 2 were not worked", actor=users["billing"])
    setting(PINNED_TODAY=(factories.TODAY + timedelta(days=4)).isoformat())
    disputes.resolve(quick, "upheld", "The mileage log shows the trip", actor=users["billing"])
    setting(PINNED_TODAY=(factories.TODAY + timedelta(days=10)).isoformat())
    disputes.resolve(slow, "credited", "The hours were not worked", amount=Decimal("180.00"),
                     actor=users["billing"])
    report = metrics.collections_report(factories.TODAY + timedelta(days=10))
    assert (report.agency.disputes_resolved, report.agency.dispute_cycle_days) == (2, Decimal("7.0"))
    assert report.facilities[0].dispute_cycle_days == Decimal("7.0")


@pytest.mark.parametrize("role", ["billing", "admin"])
def test_the_billing_and_admin_dashboards_show_the_collections_figures_and_the_facility_to_watch(
        app, users, browser, role):
    cedar = owing("80000.00", "Cedar Clinic", due_days_ago=10)
    owing("20000.00", "Cedar Clinic", due_days_ago=61, place=cedar.facility)
    owing("5000.00", "Birch House", due_days_ago=10)
    page = browser(role).get("/dashboard").get_data(as_text=True)
    panel = page[page.index('id="collections-panel"'):]
    panel = panel[:panel.index("</section>")]
    assert "Days sales outstanding" in panel and "Promises kept" in panel and "Dispute cycle time" in panel
    # $20,000 of $105,000 open is over 60 days: 19.0%, to watch; Cedar (20.0%) is listed, Birch (0%) is not.
    assert "19.0%" in panel
    watch = panel[panel.index('id="collections-to-watch"'):]
    assert "Cedar Clinic" in watch and "20.0%" in watch and "Birch House" not in watch


def test_recruiters_and_credentialing_dashboards_have_no_collections_panel(app, users, browser):
    owing("20000.00", "Cedar Clinic", due_days_ago=61)
    for role in ("recruiter", "credentialing"):
        assert 'id="collections-panel"' not in browser(role).get("/dashboard").get_data(as_text=True)


def test_a_past_days_dso_counts_an_invoice_voided_since_as_billed_then_as_well_as_owed(app, users):
    # Two $9,000 invoices issued 10 days ago, both open yesterday; one is voided today. Yesterday $18,000
    # was owed of $18,000 billed in 90 days: a DSO of 90.0, not $18,000 over $9,000.
    kept = owing("9000.00", "Cedar Clinic", due_days_ago=-20)
    voided = owing("9000.00", "Cedar Clinic", due_days_ago=-20, place=kept.facility)
    receivables.void_invoice(voided, "billed to the wrong unit", users["billing"])
    voided.voided_at = start_of(factories.TODAY) + timedelta(hours=9)  # this morning (the clock is not pinned)
    db.session.commit()
    yesterday = metrics.collections_report(factories.TODAY - timedelta(days=1)).agency
    assert (yesterday.receivables, yesterday.aging.billed_90_days, yesterday.dso) == (
        Decimal("18000.00"), Decimal("18000.00"), Decimal("90.0"))
    now = metrics.collections_report(factories.TODAY).agency
    assert (now.receivables, now.aging.billed_90_days, now.dso) == (
        Decimal("9000.00"), Decimal("9000.00"), Decimal("90.0"))


def test_money_owed_with_nothing_billed_in_90_days_has_no_dso_rather_than_the_best_one(app, users, api, browser):
    owing("5000.00", "Cedar Clinic", due_days_ago=80)  # issued 110 days ago
    row = metrics.collections_report(factories.TODAY).facilities[0]
    assert (row.receivables, row.dso) == (Decimal("5000.00"), None)
    assert api("billing").get("/api/v1/collections/metrics").json["agency"]["dso"] is None
    assert "No billing in 90 days" in browser("billing").get("/collections/metrics").data.decode()
    assert metrics.over_60_rating(row.over_60_share) == "bad"


def test_the_csv_of_a_day_that_is_no_date_is_refused_not_replaced_by_today(app, users, browser):
    billing = browser("billing")
    refused = billing.get("/collections/metrics.csv?as_of=2026-02-30")
    assert refused.status_code == 400 and "as of is not a date" in refused.get_data(as_text=True)
    # Nothing waits to be shown on the next page either.
    assert "Ignored" not in billing.get("/collections/metrics").get_data(as_text=True)
