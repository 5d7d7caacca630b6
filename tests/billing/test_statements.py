"""A facility's statement of account: every open invoice with its age, what was paid and credited since the
last statement, and the balance, as JSON, as a PDF, on the facility's schedule (once) and on demand."""

import io
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from pypdf import PdfReader

from agency.billing import statements
from agency.billing.invoicing import invoice_facility
from agency.billing.jobs import statement_schedule
from agency.billing.models import Dispute, Invoice, Payment, Statement
from agency.billing.receivables import record_payment
from agency.core.audit import AuditEvent
from agency.core.jobs import enqueue
from agency.core.outbox import OutboxMessage
from agency.extensions import db
from agency.facilities.models import Facility
from tests import factories, workers
from tests.smtp import smtp_server

TODAY = factories.TODAY  # Wednesday, November 25, 2026


def invoice_of(place, days: list[date], issued: date, due: date) -> Invoice:
    """An invoice of these days' hours (8 direct-care hours at $90.00: $720.00 a day), issued and due so."""
    for day in days:
        factories.entry(placement_at(place), day)
    invoice, _ = invoice_facility(place.id, days[0].replace(day=1), days[-1])
    invoice.issued_on, invoice.due_on = issued, due
    db.session.commit()
    return invoice


def placement_at(place):
    from agency.placements.models import Placement

    found = db.session.scalar(sa.select(Placement).where(Placement.facility_id == place.id))
    return found or factories.active_placement(place)


def credit(invoice: Invoice, amount: str, on: date) -> None:
    """A credit as a resolved dispute gives it: a Payment of kind credit that lowers the balance."""
    db.session.add(Payment(invoice=invoice, amount=Decimal(amount), received_on=on, kind="credit"))
    invoice.amount_paid += Decimal(amount)
    invoice.status = "partially_paid"
    db.session.commit()


def cedar_clinic():
    """Three open invoices, a payment before the last statement (Nov 1), and since it a partial payment and
    a credit:
        September  $720.00 - $100.00 paid Oct 20 - $120.00 credited Nov 12 = $500.00, due Oct 31: 25 days late
        October  $1,440.00 - $300.00 paid Nov 10                          = $1,140.00, due Nov 20: 5 days late
        November   $720.00                                                 =   $720.00, due Dec 25: not yet due
    """
    place = factories.facility(name="Cedar Clinic", billing_email="ap@cedar.example.org")
    factories.rate_card(place)
    sept = invoice_of(place, [date(2026, 9, 2)], date(2026, 10, 1), date(2026, 10, 31))
    octo = invoice_of(place, [date(2026, 10, 5), date(2026, 10, 6)], date(2026, 11, 1), date(2026, 11, 20))
    nov = invoice_of(place, [date(2026, 11, 2)], TODAY, date(2026, 12, 25))
    record_payment(sept, Decimal("100.00"), date(2026, 10, 20), "CHK 1001")
    db.session.add(Statement(facility_id=place.id, as_of=date(2026, 11, 1), kind="scheduled",
                             balance=Decimal("2060.00"), invoice_ids=[sept.id, octo.id], recipients="ap@cedar"))
    db.session.commit()
    record_payment(octo, Decimal("300.00"), date(2026, 11, 10), "ACH 77")
    credit(sept, "120.00", date(2026, 11, 12))
    return place, sept, octo, nov


def test_the_statement_lists_each_open_invoice_with_its_age_and_what_came_in_since_the_last_one(app):
    place, sept, octo, nov = cedar_clinic()
    db.session.add(Dispute(invoice_id=octo.id, reason="Two hours on Oct 6 were not worked", opened_on=TODAY,
                           due_on=TODAY + timedelta(days=14)))
    db.session.commit()
    account = statements.statement(place, TODAY)
    assert [(line.number, line.days_past_due, line.balance, line.disputed) for line in account.invoices] == [
        (sept.number, 25, Decimal("500.00"), False),
        (octo.number, 5, Decimal("1140.00"), True),
        (nov.number, -30, Decimal("720.00"), False),
    ]
    assert account.balance == Decimal("2360.00")
    assert account.since == date(2026, 11, 1)
    assert [(p.kind, p.amount) for p in account.payments] == [("payment", Decimal("300.00")),
                                                              ("credit", Decimal("120.00"))]
    assert (account.paid_since, account.credited_since) == (Decimal("300.00"), Decimal("120.00"))

    # On Nov 11 the credit had not come: September still owed $620.00.
    earlier = statements.statement(place, date(2026, 11, 11))
    assert [line.balance for line in earlier.invoices] == [Decimal("620.00"), Decimal("1140.00")]


def test_a_payment_received_on_a_statements_day_but_entered_after_it_went_out_is_on_the_next(app):
    place, sept, octo, nov = cedar_clinic()
    # Nov 25's statement goes out; then the $50.00 check that came in that morning is entered.
    db.session.add(Statement(facility_id=place.id, as_of=TODAY, kind="on_demand", balance=Decimal("2360.00"),
                             invoice_ids=[sept.id, octo.id, nov.id], recipients="ap@cedar"))
    db.session.commit()
    record_payment(nov, Decimal("50.00"), TODAY, "CHK 1002")
    following = statements.statement(place, TODAY + timedelta(days=30))
    assert following.since == TODAY
    assert [(p.reference, p.amount) for p in following.payments] == [("CHK 1002", Decimal("50.00"))]
    # The one entered before Nov 25's statement went out was on it, and is not listed again.
    assert "ACH 77" not in [p.reference for p in following.payments]


def test_the_statement_pdf_reads_back_and_the_json_follows_the_api(app, api, browser):
    place, sept, octo, nov = cedar_clinic()
    body = api("billing").get(f"/api/v1/facilities/{place.id}/statement?as_of={TODAY.isoformat()}").json
    assert body["balance"] == "2360.00" and body["since"] == "2026-11-01"
    assert [(i["number"], i["days_past_due"], i["balance"], i["disputed"]) for i in body["invoices"]] == [
        (sept.number, 25, "500.00", False), (octo.number, 5, "1140.00", False), (nov.number, -30, "720.00", False)]
    assert [(p["kind"], p["amount"]) for p in body["payments"]] == [("payment", "300.00"), ("credit", "120.00")]

    got = api("billing").get(f"/api/v1/facilities/{place.id}/statement.pdf?as_of={TODAY.isoformat()}")
    assert got.status_code == 200 and got.mimetype == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(got.data)).pages)
    for words in ("STATEMENT", "Cedar Clinic", sept.number, "$500.00", octo.number, "$1,140.00", nov.number,
                  "$2,360.00", "$300.00", "$120.00", "Nov 1, 2026"):
        assert words in text, words
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "download", AuditEvent.summary.contains("statement of Cedar Clinic"))) == 1


def test_the_facility_contact_downloads_its_own_statement_and_no_other(app, browser, api, users):
    own = db.session.get(Facility, users["facility"].facility_id)
    factories.rate_card(own)
    invoice_of(own, [date(2026, 10, 5)], date(2026, 11, 1), date(2026, 11, 20))
    other, *_ = cedar_clinic()
    contact = browser("facility")
    assert "Download the statement of account" in contact.get("/portal").data.decode()
    got = contact.get("/portal/statement.pdf")
    assert got.status_code == 200
    text = PdfReader(io.BytesIO(got.data)).pages[0].extract_text()
    assert own.name.split()[0] in text and "$720.00" in text and "Cedar" not in text
    assert contact.get(f"/facilities/{other.id}/statement.pdf").status_code == 404
    assert api("facility").get(f"/api/v1/facilities/{other.id}/statement").status_code == 404
    assert api("facility").get(f"/api/v1/facilities/{own.id}/statement").json["balance"] == "720.00"


def test_send_statement_now_emails_one_pdf_once_a_day(app, browser, api):
    place, *_ = cedar_clinic()
    billing = browser("billing")
    page = billing.post(f"/facilities/{place.id}/statements", form_url=f"/facilities/{place.id}",
                        follow_redirects=True).data.decode()
    assert "Statement of Cedar Clinic ($2,360.00 open) queued to ap@cedar.example.org" in page
    again = api("billing").post(f"/api/v1/facilities/{place.id}/statements")
    assert again.status_code == 409
    [mail] = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.dedupe_key.startswith("statement:")))
    assert mail.to_addr == "ap@cedar.example.org" and mail.attachment_type == "application/pdf"
    assert "$2,360.00" in mail.subject
    assert db.session.scalars(sa.select(Statement.kind).where(Statement.facility_id == place.id,
                                                              Statement.as_of == TODAY)).all() == ["on_demand"]


def test_the_scheduled_statement_job_run_twice_by_a_real_worker_sends_one_email(app, redis_url):
    monthly, *_ = cedar_clinic()
    weekly = factories.facility(name="Elm Clinic", billing_email="ap@elm.example.org", statement_schedule="weekly")
    factories.facility(name="Oak Clinic", billing_email="ap@oak.example.org", statement_schedule="off")
    with smtp_server(app) as inbox, workers.jobs_on_redis(app, redis_url):
        enqueue(statement_schedule, TODAY.isoformat())
        enqueue(statement_schedule, TODAY.isoformat())
        worker = workers.start_worker(redis_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(app.config["MAIL_PORT"]))
        logs = workers.wait(worker)
    mails = [m for m in inbox.to("ap@cedar.example.org") if m["subject"].startswith("Statement")]
    assert len(mails) == 1, logs
    [cedar] = mails
    # The monthly statement is of October's close (Oct 31): only September's invoice was issued by then.
    assert "$620.00 open on Oct 31, 2026" in cedar["subject"]
    [attachment] = list(cedar["message"].iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert "Oct 31, 2026" in PdfReader(io.BytesIO(attachment.get_content())).pages[0].extract_text()
    assert [m["subject"] for m in inbox.to("ap@elm.example.org")] == [
        "Statement of account from Harbor Behavioral Staffing, LLC: $0.00 open on Nov 22, 2026"]
    assert inbox.to("ap@oak.example.org") == []
    rows = db.session.execute(sa.select(Statement.facility_id, Statement.as_of).where(
        Statement.kind == "scheduled", Statement.as_of != date(2026, 11, 1))).all()  # but the earlier one
    assert sorted(rows) == sorted([(monthly.id, date(2026, 10, 31)), (weekly.id, date(2026, 11, 22))])
