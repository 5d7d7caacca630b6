"""What a facility reads from the agency (invoice email, reminders, the PDF, the pages) names the agency,
says where to pay, and writes money as "$12,345.60"."""

import io
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from pypdf import PdfReader

from agency.billing.invoicing import invoice_facility
from agency.billing.receivables import run_dunning
from agency.core.audit import AuditEvent
from agency.core.outbox import OutboxMessage
from agency.extensions import db
from tests import factories

AGENCY = {"AGENCY_NAME": "Lakeshore Clinical Staffing, Inc.", "AGENCY_ADDRESS": "200 Canal Street, Chicago, IL 60606",
          "AGENCY_PHONE": "(312) 555-0199", "BILLING_EMAIL": "ar@lakeshore.example",
          "REMIT_TO": "ACH: First Lake Bank, routing 071000013, account ending 9921. Checks payable to "
                      "Lakeshore Clinical Staffing, Inc. at the address above."}


def large_invoice(**facility):
    """Eight hours at $1,543.20: an invoice of $12,345.60, big enough to need a thousands separator."""
    place = factories.facility(name="Lakeview Behavioral Hospital", billing_email="ap@lakeview.example.org",
                               **facility)
    factories.rate_card(place, direct_care_hour="1543.20")
    factories.entry(factories.active_placement(place), date(2026, 11, 2), direct="8")
    invoice, _ = invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 28))
    assert invoice.total == Decimal("12345.60")
    return invoice


def mail_to(address, subject_part):
    return db.session.scalar(sa.select(OutboxMessage).where(
        OutboxMessage.to_addr == address, OutboxMessage.subject.contains(subject_part)))


def test_the_invoice_email_names_the_agency_and_says_where_to_pay(setting):
    setting(**AGENCY)
    invoice = large_invoice()
    mail = mail_to("ap@lakeview.example.org", invoice.number)
    assert mail.subject == (f"Invoice {invoice.number} from Lakeshore Clinical Staffing, Inc.: $12,345.60 due "
                            f"{invoice.due_on:%b} {invoice.due_on.day}, {invoice.due_on.year}")
    assert "our agency" not in mail.subject + mail.body
    assert "Nov 1, 2026 to Nov 28, 2026: $12,345.60" in mail.body
    # The address the remittance line's "above" points to is there, above it.
    remit = mail.body.index(AGENCY["REMIT_TO"])
    assert mail.body.index(AGENCY["AGENCY_ADDRESS"]) < remit
    # Signed by the agency, with the desk that answers billing mail.
    assert mail.body.rstrip().endswith("Lakeshore Clinical Staffing, Inc.\n200 Canal Street, Chicago, IL 60606\n"
                                       "(312) 555-0199 · ar@lakeshore.example")


def test_a_reminder_carries_the_agencys_address_and_remittance_and_a_readable_balance(setting):
    setting(**AGENCY)
    invoice = large_invoice()
    run_dunning(invoice.due_on + timedelta(days=7))
    mail = mail_to("ap@lakeview.example.org", "Payment reminder")
    assert mail.subject == "Payment reminder from Lakeshore Clinical Staffing, Inc.: 1 invoice(s), $12,345.60 open"
    assert f"{invoice.number}  due {invoice.due_on:%b} {invoice.due_on.day}, {invoice.due_on.year}, " \
           "7 days past due  $12,345.60  (reminder 7)" in mail.body
    assert ("Please remit to:\nLakeshore Clinical Staffing, Inc.\n200 Canal Street, Chicago, IL 60606\n"
            + AGENCY["REMIT_TO"]) in mail.body
    assert invoice.due_on.isoformat() not in mail.body


def test_the_escalation_lists_the_account_in_readable_money_and_days(app):
    invoice = large_invoice()
    run_dunning(invoice.due_on + timedelta(days=61))
    mail = mail_to(app.config["LEADERSHIP_EMAIL"], "Escalation")
    assert "$12,345.60 open" in mail.subject and "balance $12,345.60" in mail.body
    assert "61 days past due" in mail.body
    assert "-11-" not in mail.body and "-12-" not in mail.body  # no ISO days in the letter


def test_the_pdf_shows_amounts_with_separators_and_days_in_words(setting):
    setting(**AGENCY)
    invoice = large_invoice()
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(invoice.pdf)).pages)
    for expected in ("$12,345.60", "$1,543.20", "Lakeshore Clinical Staffing, Inc.", AGENCY["AGENCY_ADDRESS"],
                     "First Lake Bank", "Nov 1, 2026 to Nov 28, 2026"):
        assert expected in text, expected


def test_a_payment_flash_and_its_audit_summary_have_thousands_separators(browser):
    invoice = large_invoice()
    page = browser("billing").post(f"/invoices/{invoice.id}/payments",
                                   {"amount": "2345.60", "received_on": invoice.issued_on.isoformat(),
                                    "reference": "ACH 77"}, form_url=f"/invoices/{invoice.id}",
                                   follow_redirects=True).data.decode()
    assert "Payment of $2,345.60 recorded; balance $10,000.00." in page
    summaries = db.session.scalars(sa.select(AuditEvent.summary)).all()
    assert f"payment $2,345.60 on {invoice.number}" in summaries
    assert any(s.endswith(": $12,345.60") and invoice.number in s for s in summaries)
