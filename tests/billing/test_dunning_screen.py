"""Billing sees its collections: each overdue invoice's place on the dunning ladder, the reminders sent and
their real state in the outbox, with a facility's reminders paused and a due level sent now, once."""

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from agency.billing.invoicing import invoice_facility
from agency.billing.models import DunningNotice, Invoice
from agency.billing.receivables import aging, run_dunning, send_next_now
from agency.core.audit import AuditEvent
from agency.core.errors import Conflict
from agency.core.outbox import OutboxMessage, send_outbox
from agency.extensions import db
from agency.facilities.models import Facility
from tests import factories
from tests.smtp import smtp_server
from tests.sql import counted

TODAY = factories.TODAY


def overdue(name: str, days_late: int, email: str | None = None) -> Invoice:
    """An invoice of the facility's November hours, days_late past its due date today."""
    place = factories.facility(name=name, billing_email=email or f"ap@{name.split()[0].lower()}.example.org")
    factories.rate_card(place)
    factories.entry(factories.active_placement(place), date(2026, 11, 2))
    invoice, _ = invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 28))
    invoice.due_on = TODAY - timedelta(days=days_late)
    invoice.issued_on = invoice.due_on - timedelta(days=30)
    db.session.commit()
    return invoice


def sent_levels(invoice: Invoice) -> list[str]:
    return db.session.scalars(sa.select(DunningNotice.level).where(DunningNotice.invoice_id == invoice.id)
                              .order_by(DunningNotice.id)).all()


def test_the_ladder_shows_what_each_invoice_reached_what_goes_next_and_the_mail_as_the_outbox_has_it(app, browser):
    chased = overdue("Cedar Clinic", days_late=10)
    not_yet = overdue("Maple Clinic", days_late=-20)  # due in 20 days: not on the ladder yet
    run_dunning(TODAY)
    billing = browser("billing")
    page = billing.get("/receivables/dunning").data.decode()
    assert chased.number in page and not_yet.number not in page
    assert "Reminder 7 on" in page and "Pending" in page  # sent by the run, still waiting in the outbox
    assert f"Reminder 30 on {(chased.due_on + timedelta(days=30)):%b %d, %Y}" in page
    assert ">Send now</button>" not in page  # nothing due until the 30-day reminder

    with smtp_server(app) as inbox:
        send_outbox()
    assert [m["subject"] for m in inbox.to("ap@cedar.example.org") if "past due" in m["subject"]] == [
        f"Invoice {chased.number} is 10 days past due: ${chased.balance} open"]
    page = billing.get("/receivables/dunning").data.decode()
    assert "Sent" in page and "Pending" not in page


def test_send_now_queues_the_due_level_through_the_run_once_however_often_it_is_clicked(app, browser):
    invoice = overdue("Birch Clinic", days_late=8)
    billing = browser("billing")
    page = billing.get("/receivables/dunning").data.decode()
    assert "Reminder 7 due now" in page and ">Send now</button>" in page
    url = f"/receivables/dunning/invoices/{invoice.id}/send"
    first = billing.post(url, form_url="/receivables/dunning", follow_redirects=True).data.decode()
    assert f"Reminder 7 notice for {invoice.number} queued to ap@birch.example.org" in first
    again = billing.post(url, form_url="/receivables/dunning", follow_redirects=True).data.decode()
    assert "Nothing sent" in again and "no reminder" in again and "is due yet" in again
    assert run_dunning(TODAY)["sent"] == []  # the daily run finds it sent, too
    assert sent_levels(invoice) == ["reminder_7"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.dedupe_key == f"dunning:{invoice.number}:reminder_7")) == 1
    try:
        send_next_now(invoice, TODAY)
    except Conflict:
        pass
    else:
        raise AssertionError("a second send of a sent level must be refused")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.summary.contains("sent now"))) == 1


def test_two_clicks_of_send_now_at_once_queue_the_reminder_once(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises every writer; two sends at once need PostgreSQL (AGENCY_DATABASE_URL)")
    invoice_id = overdue("Poplar Clinic", days_late=8).id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def click():
        with app.app_context():
            invoice = db.session.get(Invoice, invoice_id)
            barrier.wait(timeout=10)
            try:
                send_next_now(invoice, TODAY)
                outcomes.append("queued")
            except Conflict:
                db.session.rollback()
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(outcomes) == ["queued", "refused"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.dedupe_key.startswith("dunning:"))) == 1


def test_a_paused_facility_gets_no_reminders_from_the_run_until_resumed_and_the_pause_is_audited(app, browser):
    paused = overdue("Aspen Clinic", days_late=31)
    chased = overdue("Willow Clinic", days_late=31)
    billing = browser("billing")
    done = billing.post(f"/receivables/dunning/facilities/{paused.facility_id}/pause",
                        form_url="/receivables/dunning", follow_redirects=True).data.decode()
    assert "Payment reminders to Aspen Clinic paused" in done and "Paused" in done
    assert db.session.get(Facility, paused.facility_id).dunning_paused is True
    assert db.session.scalars(sa.select(AuditEvent.summary).where(
        AuditEvent.object_type == "facility", AuditEvent.object_id == paused.facility_id,
        AuditEvent.action == "update")).all() == ["facility Aspen Clinic: payment reminders paused"]

    assert run_dunning(TODAY)["sent"] == [{"invoice_id": chased.id, "level": "reminder_30"}]
    assert sent_levels(paused) == []
    billing.post(f"/receivables/dunning/facilities/{paused.facility_id}/pause", {"resume": "1"},
                 form_url="/receivables/dunning")
    assert run_dunning(TODAY)["sent"] == [{"invoice_id": paused.id, "level": "reminder_30"}]


def test_the_pause_is_the_api_facilitys_dunning_paused_set_by_billing_only(app, api):
    place = factories.facility(name="Spruce Clinic")
    url = f"/api/v1/facilities/{place.id}"
    assert api("recruiter").get(url).json["dunning_paused"] is False
    refused = api("recruiter").patch(url, json={"dunning_paused": True})
    assert refused.status_code == 403 and "dunning_paused" in refused.json["error"]["fields"]
    assert api("billing").patch(url, json={"dunning_paused": True}).json["dunning_paused"] is True
    assert api("recruiter").patch(url, json={"name": "Spruce Clinic East"}).status_code == 200  # the rest stays theirs
    db.session.expire_all()
    assert db.session.get(Facility, place.id).dunning_paused is True


def test_the_portal_open_balance_is_receivables_total_for_the_facility_to_the_cent(app, browser, users):
    own = db.session.get(Facility, users["facility"].facility_id)
    factories.rate_card(own)
    placement = factories.active_placement(own)
    factories.entry(placement, date(2026, 10, 5))
    late, _ = invoice_facility(own.id, date(2026, 10, 1), date(2026, 10, 31))
    late.due_on, late.issued_on = TODAY - timedelta(days=12), TODAY - timedelta(days=42)
    factories.entry(placement, date(2026, 11, 2))
    tomorrow, _ = invoice_facility(own.id, date(2026, 11, 1), date(2026, 11, 30))
    tomorrow.issued_on, tomorrow.due_on = TODAY + timedelta(days=1), TODAY + timedelta(days=31)
    db.session.commit()  # an invoice dated tomorrow is not owed today, on either screen

    [row] = [f for f in aging(TODAY).facilities if f.facility_id == own.id]
    assert row.total == late.total and late.total > Decimal("0")
    portal = browser("facility").get("/portal").data.decode()
    money = app.jinja_env.filters["money"](row.total)
    assert f"<dt>Open</dt><dd>{money}</dd>" in portal and f"<dt>Overdue</dt><dd>{money}</dd>" in portal
    aging_row = browser("billing").get("/receivables").data.decode().split(f">{own.name}</a>")[1].split("</tr>")[0]
    # Its total, none of it in dispute, all of it collectible.
    assert aging_row.endswith(f"<td><strong>{money}</strong></td><td>$0.00</td><td>{money}</td>")


def test_an_invoice_page_says_its_email_is_queued_until_the_outbox_has_sent_it(app, browser):
    invoice = overdue("Hazel Clinic", days_late=0)
    billing = browser("billing")
    assert "queued to ap@hazel.example.org, not sent yet" in billing.get(f"/invoices/{invoice.id}").data.decode()
    with smtp_server(app):
        send_outbox()
    page = billing.get(f"/invoices/{invoice.id}").data.decode()
    assert "sent to ap@hazel.example.org" in page and "not sent yet" not in page


def test_the_ladder_reads_a_page_in_as_many_statements_for_six_chased_invoices_as_for_two(app, browser):
    billing = browser("billing")
    counts = []
    for total in (2, 6):
        while db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) < total:
            n = db.session.scalar(sa.select(sa.func.count()).select_from(Invoice))
            overdue(f"Ladder{n} Clinic", days_late=8 + 25 * (n % 3))
        run_dunning(TODAY)
        with counted() as statements:
            page = billing.get("/receivables/dunning")
        assert page.status_code == 200 and page.data.decode().count("days past due)") == total
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
