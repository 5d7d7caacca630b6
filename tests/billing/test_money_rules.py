"""Invoices read back, emailed once with their PDF, numbered without gaps, and chased until paid."""

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from pypdf import PdfReader

from agency.billing import timesheets
from agency.billing.invoicing import invoice_facility, scheduled_runs
from agency.billing.models import DunningNotice
from agency.billing.receivables import aging, record_payment, run_dunning, void_invoice
from agency.core.outbox import OutboxMessage, send_outbox
from agency.extensions import db
from tests import factories
from tests.smtp import smtp_server


def billed(name="Clinic A", day=date(2026, 11, 2), **values):
    place = factories.facility(name=name, **values)
    factories.rate_card(place)
    placement = factories.active_placement(place)
    factories.entry(placement, day, direct="8", supervision="1")
    invoice, _ = invoice_facility(place.id, day.replace(day=1), day.replace(day=28))
    return invoice


def test_the_pdf_reads_back_with_number_facility_therapist_total_and_due_date():
    invoice = billed()
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(invoice.pdf)).pages)
    therapist = invoice.lines[0].placement.therapist.full_name
    for expected in (invoice.number, "Clinic A", therapist, "$775.00", "Dec 25, 2026", "Remittance"):
        assert expected in text, expected


def test_invoice_numbers_run_without_gaps_across_facilities():
    numbers = [billed(name=f"Clinic {n}").number for n in range(3)]
    assert numbers == ["INV-2026-00001", "INV-2026-00002", "INV-2026-00003"]


def test_the_schedule_invoices_each_facility_once_per_period_and_late_hours_wait_for_the_next():
    weekly = factories.facility(name="Weekly Clinic", invoice_schedule="weekly")
    monthly = factories.facility(name="Monthly Clinic", invoice_schedule="monthly")
    for place in (weekly, monthly):
        factories.rate_card(place)
    week_job, month_job = factories.active_placement(weekly), factories.active_placement(monthly)
    factories.entry(week_job, date(2026, 11, 9))
    late = factories.entry(week_job, date(2026, 11, 10), approve=False)
    factories.entry(week_job, date(2026, 11, 16))  # next week: not in the closed period
    factories.entry(month_job, date(2026, 11, 10))  # November is still open for a monthly facility

    tuesday = date(2026, 11, 17)  # the week of Nov 9 closed on Sunday
    assert scheduled_runs(tuesday) == [(weekly.id, date(2026, 11, 9), date(2026, 11, 15))]
    first, _ = invoice_facility(weekly.id, date(2026, 11, 9), date(2026, 11, 15))
    assert [line.quantity for line in first.lines] == [Decimal("8")]

    timesheets.decide([late], True, None)
    assert scheduled_runs(tuesday + timedelta(days=1)) == []  # the week's invoice went out already
    monday = date(2026, 11, 23)
    assert scheduled_runs(monday) == [(weekly.id, date(2026, 11, 16), date(2026, 11, 22))]
    second, _ = invoice_facility(weekly.id, date(2026, 11, 16), date(2026, 11, 22))
    assert sorted(line.quantity for line in second.lines) == [Decimal("16")]  # Nov 10 rides along


def test_the_invoice_is_emailed_once_with_its_pdf_attached(app):
    invoice = billed(billing_email="ap@clinic-a.example.org")
    with smtp_server(app) as inbox:
        send_outbox()
        send_outbox()
    [mail] = inbox.to("ap@clinic-a.example.org")
    attachment = next(part for part in mail["message"].iter_attachments())
    assert attachment.get_filename() == f"{invoice.number}.pdf"
    assert attachment.get_payload(decode=True) == invoice.pdf


def test_an_invoice_issued_before_the_facility_had_a_billing_email_is_emailed_once_when_asked(app, browser):
    invoice = billed(billing_email=None)
    page = browser("billing").get(f"/invoices/{invoice.id}")
    assert b"the facility has no billing email" in page.data
    invoice.facility.billing_email = "ap@clinic-a.example.org"
    db.session.commit()
    billing = browser("billing")
    assert b"Email it to ap@clinic-a.example.org" in billing.get(f"/invoices/{invoice.id}").data
    with smtp_server(app) as inbox:
        first = billing.post(f"/invoices/{invoice.id}/email", form_url=f"/invoices/{invoice.id}",
                             follow_redirects=True)
        send_outbox()
    assert b"queued to ap@clinic-a.example.org" in first.data
    agency = app.config["AGENCY_NAME"]
    assert [m["subject"].split(":")[0] for m in inbox.messages] == [f"Invoice {invoice.number} from {agency}"]
    again = billing.post(f"/invoices/{invoice.id}/email", form_url=f"/invoices/{invoice.id}", follow_redirects=True)
    assert b"Not emailed" in again.data and b"never sent twice" in again.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1


def test_each_dunning_level_goes_out_once_escalation_reaches_leadership_and_paid_invoices_rest(app, browser,
                                                                                                  api):
    invoice = billed(billing_email="ap@clinic-a.example.org")  # issued Nov 25, due Dec 25
    due = invoice.due_on
    for offset in (-10, -3, -2, 0, 7, 8, 30, 31, 60, 61, 90):
        run_dunning(due + timedelta(days=offset))
    levels = db.session.scalars(sa.select(DunningNotice.level).order_by(DunningNotice.id)).all()
    assert levels == ["courtesy", "reminder_7", "reminder_30", "escalation_60"]
    # Every reminder sent is listed on the invoice, on its page and in the API.
    page = browser("billing").get(f"/invoices/{invoice.id}").data.decode()
    for line in ("Dec 22, 2026: Courtesy to ap@clinic-a.example.org",
                 "Jan 1, 2027: Reminder 7 to ap@clinic-a.example.org",
                 f"Feb 23, 2027: Escalation 60 to {app.config['LEADERSHIP_EMAIL']}"):
        assert line in page, line
    notices = api("billing").get(f"/api/v1/invoices/{invoice.id}").json["notices"]
    assert [(n["level"], n["sent_on"]) for n in notices] == [
        ("courtesy", "2026-12-22"), ("reminder_7", "2027-01-01"), ("reminder_30", "2027-01-24"),
        ("escalation_60", "2027-02-23")]
    escalation = db.session.scalar(sa.select(OutboxMessage).where(
        OutboxMessage.to_addr == app.config["LEADERSHIP_EMAIL"]))
    assert "Escalation" in escalation.subject and "Open invoices on" in escalation.body

    late = billed(name="Clinic B", billing_email="ap@clinic-b.example.org")
    run_dunning(late.due_on + timedelta(days=35))  # first seen 35 days late: only the 30-day reminder
    with smtp_server(app) as inbox:
        send_outbox()
    run_dunning(late.due_on + timedelta(days=60))  # the escalation waits in the outbox...
    record_payment(late, late.total, factories.TODAY, "ACH 1")  # ...when the money arrives
    run_dunning(late.due_on + timedelta(days=70))
    with smtp_server(app) as later:
        send_outbox()
    assert [m["subject"].split(":")[0] for m in inbox.to("ap@clinic-b.example.org")] == [
        f"Invoice {late.number} from {app.config['AGENCY_NAME']}",
        f"Payment reminder from {app.config['AGENCY_NAME']}"]
    assert not [m for m in later.messages if "Clinic B" in m["subject"]]  # the escalation was taken back
    assert db.session.scalars(sa.select(DunningNotice.level).where(
        DunningNotice.invoice_id == late.id)).all() == ["reminder_30"]


def test_an_invoice_with_nothing_to_collect_is_never_chased():
    place = factories.facility(billing_email="ap@free.example.org")
    factories.rate_card(place, direct_care_hour="0.00")  # hours the contract gives free
    factories.entry(factories.active_placement(place), date(2026, 11, 2))
    invoice, _ = invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 28))
    assert invoice.total == Decimal("0.00")
    assert run_dunning(invoice.due_on + timedelta(days=61))["sent"] == []


def test_aging_buckets_meet_at_their_edges_with_days_sales_outstanding_and_the_share_over_60():
    as_of = factories.TODAY
    for days_late in (0, 1, 30, 31, 60, 61, 90, 91):  # each invoice is $775.00
        invoice = billed(f"Clinic {days_late} days late")
        invoice.due_on = as_of - timedelta(days=days_late)
        invoice.issued_on = invoice.due_on - timedelta(days=30)
    db.session.commit()
    report = aging(as_of)
    assert report.buckets == {"current": Decimal("775.00"), "1_30": Decimal("1550.00"),
                              "31_60": Decimal("1550.00"), "61_90": Decimal("1550.00"),
                              "over_90": Decimal("775.00")}
    assert (report.over_60, report.over_60_share) == (Decimal("2325.00"), Decimal("37.50"))  # of 6,200
    # Billed in the last 90 days: the four invoices issued since Aug 27, $3,100; 6,200 / 3,100 x 90 days.
    assert report.dso == Decimal("180.00")


def test_aging_on_a_past_day_counts_the_payments_and_voids_known_by_then():
    paid_later, voided_later = billed("Paid Later Clinic"), billed("Voided Later Clinic")
    for invoice in (paid_later, voided_later):
        invoice.issued_on, invoice.due_on = date(2026, 10, 1), date(2026, 10, 31)
    db.session.commit()
    total = paid_later.total
    record_payment(paid_later, Decimal("100.00"), date(2026, 11, 20), "ACH 1")
    record_payment(paid_later, total - Decimal("100.00"), factories.TODAY, "ACH 2")
    void_invoice(voided_later, "Billed to the wrong facility")
    voided_later.voided_at = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
    db.session.commit()

    def open_by_facility(day):
        return {f.name: (f.buckets["1_30"], f.total) for f in aging(day).facilities}

    assert open_by_facility(date(2026, 11, 19)) == {"Paid Later Clinic": (total, total),
                                                    "Voided Later Clinic": (total, total)}
    assert open_by_facility(date(2026, 11, 21)) == {"Paid Later Clinic": (total - 100, total - 100),
                                                    "Voided Later Clinic": (total, total)}
    assert open_by_facility(factories.TODAY) == {}
    assert aging(date(2026, 9, 30)).total == 0  # not issued yet
