"""Billing sees its collections: each overdue invoice's place on the dunning ladder, the reminders sent and
their real state in the outbox, with a facility's reminders paused and a due level sent now, once."""

import threading
from datetime import date, timedelta
from decimal import Decimal

import requests
import sqlalchemy as sa

from agency.billing.invoicing import invoice_facility
from agency.billing.models import Dispute, DunningNotice, Invoice, PaymentPromise
from agency.billing.receivables import aging, record_payment, run_dunning
from agency.core.audit import AuditEvent
from agency.core.dates import human_day
from agency.core.outbox import OutboxMessage, send_outbox
from agency.extensions import db
from agency.facilities.models import Facility
from agency.placements.models import Placement
from tests import factories, live
from tests.conftest import PASSWORD, Browser
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


def second_invoice(first: Invoice, days_late: int) -> Invoice:
    """Another invoice of the same facility (October's hours), days_late past due today."""
    place = db.session.get(Facility, first.facility_id)
    factories.entry(db.session.scalar(sa.select(Placement).where(Placement.facility_id == place.id)),
                    date(2026, 10, 5))
    invoice, _ = invoice_facility(place.id, date(2026, 10, 1), date(2026, 10, 31))
    invoice.due_on = TODAY - timedelta(days=days_late)
    invoice.issued_on = invoice.due_on - timedelta(days=30)
    db.session.commit()
    return invoice


def reminders_to(address: str) -> list[OutboxMessage]:
    return db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.dedupe_key.startswith("dunning:"),
                                                             OutboxMessage.to_addr == address)).all()


def test_two_invoices_of_a_facility_at_different_levels_go_in_one_email_naming_both(app, browser, users):
    seven = overdue("Cedar Clinic", days_late=8)
    thirty = second_invoice(seven, days_late=31)
    placement = db.session.scalar(sa.select(Placement).where(Placement.facility_id == seven.facility_id))
    placement.recruiter_id = users["recruiter"].id
    db.session.commit()
    assert run_dunning(TODAY)["sent"] == [
        {"facility_id": seven.facility_id, "invoice_id": thirty.id, "level": "reminder_30"},
        {"facility_id": seven.facility_id, "invoice_id": seven.id, "level": "reminder_7"}]
    [mail] = reminders_to("ap@cedar.example.org")
    assert f"{seven.number}  due {human_day(seven.due_on)}, 8 days past due  ${seven.balance}  (reminder 7)" \
        in mail.body
    assert f"{thirty.number}  due {human_day(thirty.due_on)}, 31 days past due  ${thirty.balance}  (reminder 30)" \
        in mail.body
    assert mail.attachment_type == "application/pdf"
    assert "2 invoice(s)" in mail.subject
    assert sent_levels(seven) == ["reminder_7"] and sent_levels(thirty) == ["reminder_30"]
    assert run_dunning(TODAY)["sent"] == []  # a second run finds every level sent
    assert len(reminders_to("ap@cedar.example.org")) == 1

    # reminder_30 is the recruiter's: a task on their dashboard, not on another recruiter's.
    from agency.auth.services import create_user
    create_user("other.recruiter@staff.example.org", "recruiter", PASSWORD, name="Other")
    mine = browser("recruiter").get("/dashboard").data.decode()
    assert f"Call Cedar Clinic about {thirty.number} (reminder 30)" in mine
    other = Browser(app.test_client())
    other.login("other.recruiter@staff.example.org")
    assert "Call Cedar Clinic" not in other.get("/dashboard").data.decode()
    assert "Call Cedar Clinic" not in browser("billing").get("/dashboard").data.decode()


def test_a_disputed_or_promised_invoice_is_not_chased_and_a_broken_promise_goes_one_level_up_at_once(app):
    disputed = overdue("Birch Clinic", days_late=8)
    promised = overdue("Alder Clinic", days_late=8)
    broken = overdue("Hazel Clinic", days_late=10)
    db.session.add(Dispute(invoice_id=disputed.id, reason="Hours not worked", opened_on=TODAY,
                           due_on=TODAY + timedelta(days=14)))
    db.session.add(PaymentPromise(invoice_id=promised.id, promised_on=TODAY + timedelta(days=3),
                                  amount=promised.balance, promised_by="Dana Ruiz, AP", made_on=TODAY))
    # Hazel had its 7-day reminder, then promised to pay by yesterday and did not.
    db.session.add(DunningNotice(invoice_id=broken.id, level="reminder_7", sent_on=TODAY - timedelta(days=3),
                                 recipients="ap@hazel.example.org"))
    db.session.add(PaymentPromise(invoice_id=broken.id, promised_on=TODAY - timedelta(days=1),
                                  amount=broken.balance, promised_by="Lee, AP", made_on=TODAY - timedelta(days=3),
                                  status="broken", resolved_on=TODAY))
    db.session.commit()
    # 10 days late reaches only the 7-day level, but after the broken promise the 30-day one goes now.
    assert run_dunning(TODAY)["sent"] == [
        {"facility_id": broken.facility_id, "invoice_id": broken.id, "level": "reminder_30"}]
    assert sent_levels(disputed) == [] and sent_levels(promised) == []
    assert run_dunning(TODAY)["sent"] == []
    assert run_dunning(TODAY + timedelta(days=4))["sent"] == [  # the promised day passed unpaid
        {"facility_id": promised.facility_id, "invoice_id": promised.id, "level": "reminder_7"}]


def test_leadership_gets_one_summary_of_the_accounts_history_and_a_task(app, browser):
    late = overdue("Aspen Clinic", days_late=61)
    newer = second_invoice(late, days_late=8)
    record_payment(newer, Decimal("100.00"), TODAY - timedelta(days=2), "CHK 9")
    db.session.add(DunningNotice(invoice_id=late.id, level="reminder_30", sent_on=TODAY - timedelta(days=31),
                                 recipients="ap@aspen.example.org"))
    db.session.add(Dispute(invoice_id=newer.id, reason="Mileage on Oct 5", opened_on=TODAY - timedelta(days=1),
                           due_on=TODAY + timedelta(days=13)))
    db.session.add(PaymentPromise(invoice_id=late.id, promised_on=TODAY - timedelta(days=10), amount=late.balance,
                                  promised_by="Sam Ortiz, CFO", made_on=TODAY - timedelta(days=20),
                                  status="broken", resolved_on=TODAY - timedelta(days=9)))
    db.session.commit()
    run_dunning(TODAY)
    [summary] = reminders_to(app.config["LEADERSHIP_EMAIL"])
    assert summary.subject == "Escalation: Aspen Clinic is 61 days past due, $1,340.00 open"  # 720 + 720 - 100
    for words in (f"{late.number}  issued", "61 days past due", f"{newer.number}  issued", "DISPUTED",
                  f"{late.number}  reminder 30 to ap@aspen.example.org", "Mileage on Oct 5 (open)",
                  "promised by Sam Ortiz, CFO: broken", f"{newer.number}  payment  $100.00"):
        assert words in summary.body, words
    assert "Call Aspen Clinic" in browser("admin").get("/dashboard").data.decode()
    assert reminders_to("ap@aspen.example.org") == []  # escalation is leadership's; the disputed one waits


def test_a_task_is_done_once_from_the_dashboard_or_the_api(app, browser, api):
    overdue("Poplar Clinic", days_late=61)
    run_dunning(TODAY)
    [task] = api("admin").get("/api/v1/collection-tasks").json["items"]
    assert task["owner_role"] == "leadership" and task["kind"] == "dunning"
    assert api("billing").post(f"/api/v1/collection-tasks/{task['id']}/done").status_code == 404
    admin = browser("admin")
    page = admin.post(f"/collection-tasks/{task['id']}/done", form_url="/dashboard",
                      follow_redirects=True).data.decode()
    assert "Done: Call Poplar Clinic" in page and 'id="collection-tasks"' not in page
    assert api("admin").post(f"/api/v1/collection-tasks/{task['id']}/done").status_code == 409
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.summary.startswith("collection task done"))) == 1


def test_send_now_sends_the_due_levels_through_the_run_once_however_often_it_is_clicked(app, browser):
    invoice = overdue("Birch Clinic", days_late=8)
    billing = browser("billing")
    page = billing.get("/receivables/dunning").data.decode()
    assert "Reminder 7" in page and ">Send now</button>" in page
    url = f"/receivables/dunning/facilities/{invoice.facility_id}/send"
    first = billing.post(url, form_url="/receivables/dunning", follow_redirects=True).data.decode()
    assert f"Reminder to Birch Clinic queued for {invoice.number} (reminder 7)" in first
    again = billing.post(url, form_url="/receivables/dunning", follow_redirects=True).data.decode()
    assert "Nothing sent" in again
    assert run_dunning(TODAY)["sent"] == []
    assert sent_levels(invoice) == ["reminder_7"]
    assert len(reminders_to("ap@birch.example.org")) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.summary.contains("sent now"))) == 1


def test_two_dunning_runs_at_once_send_each_facility_once(app):
    first = overdue("Poplar Clinic", days_late=8)
    second_invoice(first, days_late=31)
    overdue("Linden Clinic", days_late=8)
    barrier = threading.Barrier(2)
    results: list = []

    def run():
        with app.app_context():
            barrier.wait(timeout=10)
            try:
                results.append(run_dunning(TODAY)["sent"])
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(len(sent) for sent in results) in ([0, 3], [1, 2]), results
    assert len(reminders_to("ap@poplar.example.org")) == 1 and len(reminders_to("ap@linden.example.org")) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DunningNotice)) == 3


def test_a_paused_facility_gets_no_reminders_until_resumed_the_pause_says_why_and_is_audited(app, browser):
    paused = overdue("Aspen Clinic", days_late=31)
    chased = overdue("Willow Clinic", days_late=31)
    billing = browser("billing")
    url = f"/receivables/dunning/facilities/{paused.facility_id}/pause"
    refused = billing.post(url, form_url="/receivables/dunning", follow_redirects=True).data.decode()
    assert "say why payment reminders are paused" in refused
    too_long = billing.post(url, {"reason": "x" * 501}, form_url="/receivables/dunning", follow_redirects=True)
    assert too_long.status_code == 200 and "Nothing changed" in too_long.data.decode()
    assert db.session.get(Facility, paused.facility_id).dunning_paused is False
    done = billing.post(url, {"reason": "CFO negotiating a payment plan"}, form_url="/receivables/dunning",
                        follow_redirects=True).data.decode()
    assert "Payment reminders to Aspen Clinic paused" in done and "Paused: CFO negotiating a payment plan" in done
    assert db.session.scalars(sa.select(AuditEvent.summary).where(
        AuditEvent.object_type == "facility", AuditEvent.object_id == paused.facility_id,
        AuditEvent.action == "update")).all() == [
        "facility Aspen Clinic: payment reminders paused (CFO negotiating a payment plan)"]

    assert run_dunning(TODAY)["sent"] == [
        {"facility_id": chased.facility_id, "invoice_id": chased.id, "level": "reminder_30"}]
    assert sent_levels(paused) == []
    billing.post(url, {"resume": "1"}, form_url="/receivables/dunning")
    assert db.session.get(Facility, paused.facility_id).dunning_pause_reason is None
    assert run_dunning(TODAY)["sent"] == [
        {"facility_id": paused.facility_id, "invoice_id": paused.id, "level": "reminder_30"}]


def test_the_pause_is_the_api_facilitys_dunning_paused_with_a_reason_set_by_billing_only(app, api):
    place = factories.facility(name="Spruce Clinic")
    url = f"/api/v1/facilities/{place.id}"
    assert api("recruiter").get(url).json["dunning_paused"] is False
    refused = api("recruiter").patch(url, json={"dunning_paused": True, "dunning_pause_reason": "talks"})
    assert refused.status_code == 403 and "dunning_paused" in refused.json["error"]["fields"]
    no_reason = api("billing").patch(url, json={"dunning_paused": True})
    assert no_reason.status_code in (400, 422) and "dunning_pause_reason" in no_reason.json["error"]["fields"]
    body = api("billing").patch(url, json={"dunning_paused": True, "dunning_pause_reason": "Payment plan"}).json
    assert body["dunning_paused"] is True and body["dunning_pause_reason"] == "Payment plan"
    assert api("recruiter").patch(url, json={"name": "Spruce Clinic East"}).status_code == 200  # the rest stays theirs
    db.session.expire_all()
    assert db.session.get(Facility, place.id).dunning_paused is True


def test_a_facility_contact_never_reads_why_its_reminders_are_paused_nor_how_it_is_invoiced(app, api, browser, users):
    own = db.session.get(Facility, users["facility"].facility_id)
    url = f"/api/v1/facilities/{own.id}"
    changed = api("billing").patch(url, json={"dunning_paused": True, "dunning_pause_reason": "CFO is a slow payer",
                                              "invoicing": "review", "safety_factor": "2.5"})
    assert changed.status_code == 200, changed.json
    internal = ("invoicing", "safety_factor", "dunning_pause_reason")
    assert [api("billing").get(url).json[k] for k in internal] == ["review", "2.50", "CFO is a slow payer"]
    contact = api("facility")
    assert [contact.get(url).json[k] for k in internal] == [None, None, None]
    assert [contact.get("/api/v1/facilities").json["items"][0][k] for k in internal] == [None, None, None]
    page = browser("facility").get(f"/facilities/{own.id}").data.decode()
    assert "slow payer" not in page and "Invoicing" not in page
    assert "slow payer" in browser("billing").get(f"/facilities/{own.id}").data.decode()


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


def test_a_dunning_level_without_a_known_owner_or_action_stops_the_app_at_start(app):

    from agency import ConfigError, create_app

    levels = [{"key": "courtesy", "days": -3, "owner": "billing", "action": "email"},
              {"key": "call", "days": 20, "owner": "sales", "action": "fax"}]
    try:
        create_app({"DUNNING_LEVELS": levels, "TESTING": True})
    except ConfigError as exc:
        assert "call: owner must be one of billing, recruiter, leadership" in str(exc)
        assert "call: action must be one of email, task, both" in str(exc)
    else:
        raise AssertionError("an unknown owner must stop the app")


def test_two_clerks_clicking_send_now_at_once_on_a_real_server_send_one_reminder(app, users):
    """Two signed-in browsers post the facility's Send now at the same moment, round after round: one email,
    one notice per invoice-level, however the requests interleave."""
    clerks = [requests.Session() for _ in range(2)]
    with live.server() as site:
        for clerk in clerks:
            assert site.sign_in(clerk, "billing@staff.example.org", PASSWORD).status_code == 302, site.log_text()
        for round_ in range(4):
            invoice = overdue(f"Clinic{round_} Health", days_late=8)
            answers = site.forms_at_once(clerks, f"/receivables/dunning/facilities/{invoice.facility_id}/send",
                                         "/receivables/dunning")
            assert [a.status_code for a in answers] == [302, 302], site.log_text()[-3000:]
            db.session.rollback()
            assert sent_levels(invoice) == ["reminder_7"]
            assert len(reminders_to(f"ap@clinic{round_}.example.org")) == 1
