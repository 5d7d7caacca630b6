"""A facility disputes an invoice and billing settles it (credited, corrected, upheld); someone at a facility
promises to pay and the daily check judges it the day after, telling whoever recorded a broken one, once;
what is disputed is owed but not collectible."""

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from agency.billing import disputes, metrics, promises, receivables
from agency.billing.jobs import daily_promise_check
from agency.billing.models import CollectionTask, Dispute, Invoice, Payment, PaymentPromise
from agency.core.outbox import OutboxMessage
from agency.extensions import db
from agency.facilities.models import Facility
from tests import factories, live, workers
from tests.smtp import smtp_server

TODAY = factories.TODAY


def invoice_of(total: str, paid: str = "0", name: str = "Cedar Clinic", facility=None) -> Invoice:
    """An invoice of the facility's November hours for total, with paid already received today."""
    place = facility or factories.facility(name=name, billing_email=f"ap@{name.split()[0].lower()}.example.org")
    invoice = factories.invoiced_day(place)
    invoice.total = Decimal(total)
    db.session.commit()
    if Decimal(paid):
        receivables.record_payment(invoice, Decimal(paid), TODAY, "ACH 1001")
    return invoice


def test_a_credit_of_400_on_a_1250_invoice_with_250_paid_leaves_600_and_is_no_money_collected(api, users):
    invoice = invoice_of("1250.00", paid="250.00")
    billing = api("billing")
    opened = billing.post(f"/api/v1/invoices/{invoice.id}/disputes", json={"reason": "Nov 2 billed at the LCSW rate"})
    assert opened.status_code == 201, opened.json
    dispute = opened.json
    assert dispute["status"] == "open" and dispute["owner_id"] == users["billing"].id
    assert dispute["due_on"] == (TODAY + timedelta(days=14)).isoformat()
    assert billing.get(f"/api/v1/invoices/{invoice.id}").json["disputed"] is True
    listed = billing.get("/api/v1/invoices").json["items"]
    assert [i["disputed"] for i in listed if i["id"] == invoice.id] == [True]

    resolved = billing.post(f"/api/v1/disputes/{dispute['id']}/resolve",
                            json={"outcome": "credited", "amount": "400.00", "note": "Rate corrected to LMHC"})
    assert resolved.status_code == 200, resolved.json
    assert resolved.json["credit_amount"] == "400.00" and resolved.json["outcome"] == "credited"
    shown = billing.get(f"/api/v1/invoices/{invoice.id}").json
    assert shown["balance"] == "600.00" and shown["status"] == "partially_paid" and shown["disputed"] is False
    credit = db.session.scalar(sa.select(Payment).where(Payment.invoice_id == invoice.id, Payment.kind == "credit"))
    assert credit.amount == Decimal("400.00") and credit.reference == f"dispute #{dispute['id']}"
    assert db.session.scalars(sa.select(Payment.kind).where(Payment.invoice_id == invoice.id)
                              .order_by(Payment.id)).all() == ["payment", "credit"]

    again = billing.post(f"/api/v1/disputes/{dispute['id']}/resolve", json={"outcome": "upheld", "note": "again"})
    assert again.status_code == 409


@pytest.mark.parametrize("days", [-1, 91])
def test_a_dispute_due_before_today_or_past_90_days_is_refused_and_nothing_opens(api, days):
    invoice = invoice_of("1250.00")
    due = (TODAY + timedelta(days=days)).isoformat()
    refused = api("billing").post(f"/api/v1/invoices/{invoice.id}/disputes", json={"reason": "Rate", "due_on": due})
    assert refused.status_code == 400 and "due_on" in refused.json["error"]["fields"], refused.json
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Dispute)) == 0
    latest = (TODAY + timedelta(days=90)).isoformat()
    assert api("billing").post(f"/api/v1/invoices/{invoice.id}/disputes",
                               json={"reason": "Rate", "due_on": latest}).status_code == 201


def test_a_credit_beyond_the_balance_or_without_a_note_changes_nothing(api):
    invoice = invoice_of("1250.00", paid="250.00")
    billing = api("billing")
    dispute_id = billing.post(f"/api/v1/invoices/{invoice.id}/disputes", json={"reason": "Wrong rate"}).json["id"]
    for body in ({"outcome": "credited", "amount": "1000.01", "note": "x"}, {"outcome": "credited", "note": "x"},
                 {"outcome": "upheld", "note": " "}, {"outcome": "waived", "note": "x"}):
        assert billing.post(f"/api/v1/disputes/{dispute_id}/resolve", json=body).status_code in (400, 422), body
    db.session.rollback()
    assert db.session.get(Invoice, invoice.id).balance == Decimal("1000.00")
    assert db.session.get(Dispute, dispute_id).status == "open"


def test_crediting_the_whole_balance_settles_the_invoice_and_keeps_its_promise(users):
    invoice = invoice_of("1250.00", paid="250.00")
    promise = promises.record_promise(invoice, TODAY + timedelta(days=10), Decimal("1000.00"), "Dana Ruiz, AP",
                                      users["billing"])
    dispute = disputes.open_dispute(invoice, "Hours not worked", actor=users["billing"])
    disputes.resolve(dispute, "credited", "Placement had ended", amount=Decimal("1000.00"), actor=users["billing"])
    assert db.session.get(Invoice, invoice.id).status == "paid"
    assert db.session.get(PaymentPromise, promise.id).status == "kept"


def test_corrected_is_refused_until_the_invoice_is_void_then_resolves(api):
    invoice = invoice_of("1250.00")
    billing = api("billing")
    dispute_id = billing.post(f"/api/v1/invoices/{invoice.id}/disputes", json={"reason": "Billed to the wrong unit"}
                              ).json["id"]
    refused = billing.post(f"/api/v1/disputes/{dispute_id}/resolve", json={"outcome": "corrected", "note": "Rebill"})
    assert refused.status_code == 409 and "not void" in refused.json["error"]["message"]
    assert billing.post(f"/api/v1/invoices/{invoice.id}/void", json={"reason": "Wrong unit"}).status_code == 200
    done = billing.post(f"/api/v1/disputes/{dispute_id}/resolve", json={"outcome": "corrected", "note": "Rebilled"})
    assert done.status_code == 200 and done.json["outcome"] == "corrected"


def test_upheld_leaves_the_invoice_to_be_chased_and_a_second_open_dispute_is_refused(api):
    invoice = invoice_of("1250.00")
    billing = api("billing")
    first = billing.post(f"/api/v1/invoices/{invoice.id}/disputes", json={"reason": "Too high"})
    second = billing.post(f"/api/v1/invoices/{invoice.id}/disputes", json={"reason": "Also too high"})
    assert (first.status_code, second.status_code) == (201, 409)
    billing.post(f"/api/v1/disputes/{first.json['id']}/resolve", json={"outcome": "upheld", "note": "Rates per card"})
    shown = billing.get(f"/api/v1/invoices/{invoice.id}").json
    assert shown["balance"] == "1250.00" and shown["disputed"] is False
    db.session.rollback()
    assert db.session.scalar(sa.select(Invoice.id).where(Invoice.id == invoice.id, ~receivables.collections.held_back(
        TODAY))) == invoice.id


def test_aging_leaves_1000_disputed_of_3000_open_out_of_the_collectible_2000(api, browser, users):
    place = factories.facility(name="Cedar Clinic", billing_email="ap@cedar.example.org")
    invoice_of("2000.00", facility=place)
    disputed = invoice_of("1000.00", name="Maple Clinic")
    disputes.open_dispute(disputed, "Duplicate of October", actor=users["billing"])
    aging = api("billing").get(f"/api/v1/receivables/aging?as_of={TODAY.isoformat()}").json
    assert (aging["total"], aging["disputed"], aging["collectible"]) == ("3000.00", "1000.00", "2000.00")
    maple = [f for f in aging["facilities"] if f["name"] == "Maple Clinic"][0]
    assert (maple["disputed"], maple["collectible"]) == ("1000.00", "0.00")
    page = browser("billing").get("/receivables").data.decode()
    assert '<strong id="collectible">$2,000.00</strong>' in page


def test_a_facility_contact_disputes_its_own_invoice_from_the_portal_and_sees_no_internal_words(api, browser, users):
    home = db.session.get(Facility, users["facility"].facility_id)
    own = invoice_of("1250.00", facility=home)
    other = invoice_of("900.00", name="Maple Clinic")
    contact = browser("facility")
    portal = contact.get("/portal").data.decode()
    assert "Dispute it" in portal
    line_id = own.lines[0].id
    contact.post(f"/invoices/{own.id}/disputes", {"reason": "Nov 2 was a holiday", "line_id": str(line_id)},
                 form_url=f"/invoices/{own.id}")
    dispute = disputes.open_for(own.id)
    assert dispute.line_id == line_id and dispute.owner_id is None and dispute.opened_by_id == users["facility"].id
    assert "Nov 2 was a holiday" in contact.get("/portal").data.decode()
    billing = api("billing")
    billing.post(f"/api/v1/disputes/{dispute.id}/resolve", json={"outcome": "upheld", "note": "Recruiter confirmed"})

    facility = api("facility")
    seen = facility.get(f"/api/v1/invoices/{own.id}/disputes").json["items"]
    assert seen[0]["status"] == "resolved" and seen[0]["note"] is None and seen[0]["owner_id"] is None
    assert "Recruiter confirmed" not in contact.get(f"/invoices/{own.id}").data.decode()
    assert facility.get(f"/api/v1/invoices/{other.id}/disputes").status_code == 404
    assert facility.post(f"/api/v1/invoices/{other.id}/disputes", json={"reason": "x"}).status_code == 404
    billing.post(f"/api/v1/invoices/{other.id}/disputes", json={"reason": "Maple's own"})
    assert [d["invoice_id"] for d in facility.get("/api/v1/disputes").json["items"]] == [own.id]
    assert facility.post(f"/api/v1/invoices/{own.id}/disputes", json={"reason": "x", "owner_id": users["billing"].id}
                         ).status_code == 400
    dispute_id = facility.post(f"/api/v1/invoices/{own.id}/disputes", json={"reason": "Again"}).json["id"]
    assert facility.post(f"/api/v1/disputes/{dispute_id}/resolve", json={"outcome": "upheld", "note": "x"}
                         ).status_code == 403
    assert facility.post(f"/api/v1/invoices/{own.id}/promises", json={
        "promised_on": TODAY.isoformat(), "amount": "10.00", "promised_by": "me"}).status_code == 403


def test_a_promise_must_be_dated_within_60_days_for_no_more_than_the_balance_by_someone(api):
    invoice = invoice_of("1250.00", paid="250.00")
    billing = api("billing")
    path = f"/api/v1/invoices/{invoice.id}/promises"
    good = {"promised_on": (TODAY + timedelta(days=60)).isoformat(), "amount": "1000.00", "promised_by": "Dana"}
    for bad in ({**good, "promised_on": (TODAY + timedelta(days=61)).isoformat()},
                {**good, "promised_on": (TODAY - timedelta(days=1)).isoformat()},
                {**good, "amount": "1000.01"}, {**good, "promised_by": "  "}):
        answer = billing.post(path, json=bad)
        assert answer.status_code in (400, 422), (bad, answer.json)
    made = billing.post(path, json=good)
    assert made.status_code == 201 and made.json["status"] == "open" and made.json["made_on"] == TODAY.isoformat()
    assert billing.post(path, json=good).status_code == 409
    assert [p["id"] for p in billing.get(path).json["items"]] == [made.json["id"]]


def test_a_promise_is_kept_by_partial_payments_reaching_its_amount_and_broken_when_short(users):
    kept_invoice = invoice_of("1250.00", paid="250.00")
    short_invoice = invoice_of("1250.00", paid="250.00", name="Maple Clinic")
    day = TODAY + timedelta(days=5)
    kept = promises.record_promise(kept_invoice, day, Decimal("500.00"), "Dana Ruiz by phone", users["billing"])
    short = promises.record_promise(short_invoice, day, Decimal("500.00"), "Lee Park by email", users["billing"])
    receivables.record_payment(kept_invoice, Decimal("300.00"), TODAY, "ACH 1")
    receivables.record_payment(kept_invoice, Decimal("200.00"), TODAY, "ACH 2")
    receivables.record_payment(short_invoice, Decimal("300.00"), TODAY, "ACH 3")
    # Not yet judged on its own day: reminders still wait for it.
    assert promises.check_promises(day) == {"as_of": day.isoformat(), "kept": [], "broken": []}
    result = promises.check_promises(day + timedelta(days=1))
    assert (result["kept"], result["broken"]) == ([kept.id], [short.id])
    assert db.session.get(PaymentPromise, short.id).resolved_on == day + timedelta(days=1)


def test_a_payment_that_settles_the_invoice_keeps_its_promise_at_once(users):
    invoice = invoice_of("1250.00")
    promise = promises.record_promise(invoice, TODAY + timedelta(days=20), Decimal("600.00"), "Dana", users["billing"])
    receivables.record_payment(invoice, Decimal("1250.00"), TODAY, "Wire")
    settled = db.session.get(PaymentPromise, promise.id)
    assert (settled.status, settled.resolved_on) == ("kept", TODAY)


def test_a_credit_is_no_money_paid_toward_a_promise(users):
    # $1,000 promised on a $3,000 invoice; a dispute credits $1,000 and nothing is paid: broken.
    invoice = invoice_of("3000.00")
    day = TODAY + timedelta(days=5)
    promise = promises.record_promise(invoice, day, Decimal("1000.00"), "Dana Ruiz by phone", users["billing"])
    dispute = disputes.open_dispute(invoice, "Two days billed twice", actor=users["billing"])
    disputes.resolve(dispute, "credited", "Billed twice", amount=Decimal("1000.00"), actor=users["billing"])
    assert promises.check_promises(day + timedelta(days=1))["broken"] == [promise.id]


def test_a_payment_received_after_the_promised_day_keeps_nothing(users, setting):
    invoice = invoice_of("1250.00")
    day = TODAY + timedelta(days=2)
    promise = promises.record_promise(invoice, day, Decimal("1250.00"), "Dana Ruiz by phone", users["billing"])
    setting(PINNED_TODAY=(day + timedelta(days=1)).isoformat())
    receivables.record_payment(invoice, Decimal("1250.00"), day + timedelta(days=1), "ACH late")
    assert db.session.get(PaymentPromise, promise.id).status == "open"
    assert promises.check_promises(day + timedelta(days=1))["broken"] == [promise.id]


def test_voiding_a_promised_invoice_withdraws_its_promise_and_the_rate_does_not_count_it(users):
    invoice = invoice_of("1250.00")
    promise = promises.record_promise(invoice, TODAY + timedelta(days=5), Decimal("1250.00"), "Dana Ruiz",
                                      users["billing"])
    receivables.void_invoice(invoice, "billed to the wrong unit", users["billing"])
    withdrawn = db.session.get(PaymentPromise, promise.id)
    assert (withdrawn.status, withdrawn.resolved_on) == ("withdrawn", TODAY)
    assert promises.check_promises(TODAY + timedelta(days=6)) == {
        "as_of": (TODAY + timedelta(days=6)).isoformat(), "kept": [], "broken": []}
    row = metrics.collections_report(TODAY + timedelta(days=6)).agency
    assert (row.promises_kept, row.promises_broken, row.promise_kept_rate) == (0, 0, None)


def test_the_daily_check_on_a_real_worker_twice_tells_the_owner_of_a_broken_promise_once(app, redis_url, users):
    invoice = invoice_of("1250.00", paid="250.00")
    day = TODAY + timedelta(days=3)
    promise = promises.record_promise(invoice, day, Decimal("500.00"), "Dana Ruiz by phone", users["billing"])
    receivables.record_payment(invoice, Decimal("100.00"), TODAY, "ACH short")
    from agency.core.jobs import enqueue

    with smtp_server(app) as inbox, workers.jobs_on_redis(app, redis_url):
        settings = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(app.config["MAIL_PORT"])}
        for _ in range(2):
            enqueue(daily_promise_check, (day + timedelta(days=1)).isoformat())
            log = workers.wait(workers.start_worker(redis_url, **settings))
    db.session.rollback()
    assert db.session.get(PaymentPromise, promise.id).status == "broken", log
    mails = inbox.to(users["billing"].email)
    assert [m["subject"] for m in mails] == [f"Promise broken: Cedar Clinic on {invoice.number}"], log
    body = mails[0]["message"].get_body(("plain",)).get_content()
    assert "promised $500.00" in body and "$100.00 was paid since" in body and "Balance: $900.00" in body
    tasks = db.session.scalars(sa.select(CollectionTask).where(CollectionTask.kind == "broken_promise")).all()
    assert [(t.owner_id, t.invoice_id) for t in tasks] == [(users["billing"].id, invoice.id)]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.dedupe_key == f"promise-broken:{promise.id}")) == 1


def test_a_dispute_past_its_due_day_puts_one_task_on_its_owners_dashboard(users):
    invoice = invoice_of("1250.00")
    dispute = disputes.open_dispute(invoice, "Rate", due_on=TODAY + timedelta(days=2), actor=users["admin"])
    assert disputes.add_overdue_tasks(TODAY + timedelta(days=2)) == []
    assert disputes.add_overdue_tasks(TODAY + timedelta(days=3)) == [dispute.id]
    assert disputes.add_overdue_tasks(TODAY + timedelta(days=4)) == []
    task = db.session.scalar(sa.select(CollectionTask).where(CollectionTask.kind == "dispute"))
    assert task.owner_id == users["admin"].id and task.invoice_id == invoice.id


def test_a_late_disputes_task_whose_owner_has_left_falls_to_the_billing_team(users, api):
    from agency.auth.services import create_user, set_active

    leaver = create_user("leaver@staff.example.org", "billing", "a long pass phrase 7", name="Lee Leaver")
    invoice = invoice_of("1250.00")
    dispute = disputes.open_dispute(invoice, "Rate", owner_id=leaver.id, due_on=TODAY + timedelta(days=2),
                                    actor=users["billing"])
    assert disputes.add_overdue_tasks(TODAY + timedelta(days=3)) == [dispute.id]

    def titles():
        return [t["title"] for t in api("billing").get("/api/v1/collection-tasks").json["items"]]

    # While Lee works here the task is Lee's alone; once Lee is deactivated every billing user sees it.
    assert titles() == []
    set_active(leaver, False, users["admin"])
    assert titles() == [f"Dispute #{dispute.id} on {invoice.number} was due {dispute.due_on:%b %d, %Y}"]


def test_the_disputes_page_lists_open_and_overdue_ones(browser, users):
    late = disputes.open_dispute(invoice_of("1250.00"), "Late one", actor=users["billing"])
    late.opened_on, late.due_on = TODAY - timedelta(days=20), TODAY - timedelta(days=6)
    db.session.commit()
    disputes.open_dispute(invoice_of("800.00", name="Maple Clinic"), "Fresh one", actor=users["billing"])
    page = browser("billing")
    overdue = page.get("/disputes?status=overdue").data.decode()
    assert "Late one" in overdue and "Fresh one" not in overdue
    both = page.get("/disputes").data.decode()
    assert "Late one" in both and "Fresh one" in both


def test_two_disputes_of_one_invoice_at_once_open_one(app, users):
    from agency.auth.services import issue_token

    token = issue_token(users["billing"])
    with live.server() as site:
        for round_ in range(4):
            invoice = invoice_of("500.00", name=f"Clinic {round_}")
            path = f"/api/v1/invoices/{invoice.id}/disputes"
            answers = site.at_once(token, ("POST", path, {"reason": "one"}), ("POST", path, {"reason": "two"}))
            assert all(a.status_code < 500 for a in answers), site.log_text()[-3000:]
            assert sorted(a.status_code for a in answers) == [201, 409], [a.text[:300] for a in answers]
            db.session.rollback()
            assert db.session.scalar(sa.select(sa.func.count()).select_from(Dispute).where(
                Dispute.invoice_id == invoice.id)) == 1


@pytest.mark.parametrize("outcome", ["credited", "upheld"])
def test_two_resolutions_of_one_dispute_at_once_resolve_it_once(app, users, outcome):
    from agency.auth.services import issue_token

    token = issue_token(users["billing"])
    body = {"outcome": outcome, "note": "settled", **({"amount": "100.00"} if outcome == "credited" else {})}
    with live.server() as site:
        invoice = invoice_of("500.00")
        dispute = disputes.open_dispute(invoice, "Too high", actor=users["billing"])
        path = f"/api/v1/disputes/{dispute.id}/resolve"
        answers = site.at_once(token, ("POST", path, body), ("POST", path, body))
        assert sorted(a.status_code for a in answers) == [200, 409], [a.text[:300] for a in answers]
    db.session.rollback()
    assert db.session.get(Invoice, invoice.id).balance == Decimal("400.00" if outcome == "credited" else "500.00")


def test_the_daily_check_is_registered_with_rqs_cron_earlier_in_the_day_than_the_dunning(app):
    from rq.cron import CronScheduler

    from agency import ROOT

    scheduler = CronScheduler(connection=None, name="test")
    scheduler.load_config_from_file(str(ROOT / "agency" / "cron.py"))
    names = {job.func.__name__: job for job in scheduler.get_jobs()}
    assert names["daily_promise_check"].cron == app.config["PROMISE_CHECK_CRON"] == "30 12 * * *"

    def minute_of_day(cron: str) -> int:
        minute, hour = cron.split()[:2]
        return int(hour) * 60 + int(minute)

    assert minute_of_day(app.config["PROMISE_CHECK_CRON"]) < minute_of_day(app.config["DUNNING_CRON"])


def test_aging_of_a_past_day_counts_the_disputes_open_that_day(users, setting):
    invoice = invoice_of("1250.00")
    invoice.issued_on = TODAY - timedelta(days=10)
    db.session.commit()
    dispute = disputes.open_dispute(invoice, "Hours not worked", actor=users["billing"])
    setting(PINNED_TODAY=(TODAY + timedelta(days=3)).isoformat())
    disputes.resolve(dispute, "upheld", "The sign-in sheets show the hours", actor=users["billing"])
    on = {days: receivables.aging(TODAY + timedelta(days=days)) for days in (-1, 0, 2, 3)}
    # Before it was opened and from the day it was resolved, the balance is collectible again.
    assert {days: (a.disputed, a.collectible) for days, a in on.items()} == {
        -1: (Decimal("0.00"), Decimal("1250.00")), 0: (Decimal("1250.00"), Decimal("0.00")),
        2: (Decimal("1250.00"), Decimal("0.00")), 3: (Decimal("0.00"), Decimal("1250.00"))}
