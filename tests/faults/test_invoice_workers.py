"""Nothing lost, nothing twice: invoice runs on real rq workers racing, crashing and re-running, and
each invoice's PDF and email following from a job of its own."""

import io
from datetime import date

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from agency.billing.invoicing import run_invoices
from agency.billing.ledger import ledger_problems
from agency.billing.models import BilledEntry, Invoice, InvoiceCounter, TimesheetEntry
from agency.billing.runs import start_invoice_run
from agency.core.jobs import job_status
from agency.core.outbox import OutboxMessage
from agency.extensions import db
from tests import factories, workers
from tests.smtp import smtp_server

pytestmark = pytest.mark.usefixtures("users")
NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))


@pytest.fixture
def postgres(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks and concurrent workers need PostgreSQL; SQLite serialises all writers")


def billable_facility():
    place = factories.facility()
    factories.rate_card(place)
    placement = factories.active_placement(place)
    entries = [factories.entry(placement, date(2026, 11, day)) for day in (2, 3, 4, 5, 6)]
    return place, entries


def _waiting_on_billed_entries() -> int:
    """Backends blocked on a lock while writing billed entries: the worker stuck behind our held row."""
    db.session.rollback()
    return db.session.scalar(sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND query ILIKE '%billed_entries%' AND pid <> pg_backend_pid()"))


def count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_two_runs_at_once_for_the_same_facility_and_period_make_one_invoice(app, postgres, redis_url):
    place, entries = billable_facility()
    with workers.jobs_on_redis(app, redis_url):
        runs = [start_invoice_run(*NOVEMBER, place.id).id for _ in range(2)]
        first, second = workers.start_worker(redis_url), workers.start_worker(redis_url)
        logs = workers.wait(first) + workers.wait(second)
    assert count(Invoice) == 1, logs
    db.session.rollback()
    results = [job_status(run_id) for run_id in runs]
    assert [r["status"] for r in results] == ["finished", "finished"]
    assert sorted(len(r["result"]["invoice_ids"]) for r in results) == [0, 1]
    assert count(BilledEntry, BilledEntry.live.is_(True)) == len(entries)
    assert count(TimesheetEntry, TimesheetEntry.status == "invoiced") == len(entries)


def test_a_worker_killed_mid_invoice_leaves_nothing_and_retrying_the_run_completes_it(app, postgres, redis_url,
                                                                                     browser):
    place, entries = billable_facility()
    # Hold one entry's "billed" slot in an open transaction: the worker's invoice blocks on the
    # unique index after writing its invoice and lines, and is killed there.
    blocker = db.engine.connect()
    tx = blocker.begin()
    try:
        hold = blocker.execute(sa.insert(Invoice).values(
            number="HOLD-1", facility_id=place.id, period_start=date(2026, 11, 1), period_end=date(2026, 11, 30),
            issued_on=factories.TODAY, due_on=factories.TODAY, status="issued", total=0, amount_paid=0,
        ).returning(Invoice.id)).scalar_one()
        blocker.execute(sa.insert(BilledEntry).values(invoice_id=hold, entry_id=entries[0].id, live=True))
        with workers.jobs_on_redis(app, redis_url):
            run_id = start_invoice_run(*NOVEMBER, place.id).id
            worker = workers.start_worker(redis_url)
            try:
                workers.poll(lambda: _waiting_on_billed_entries(), timeout=60)
            finally:
                workers.kill(worker)
                log = worker.stdout.read().decode(errors="replace")
            assert "Traceback" not in log, log
    finally:
        tx.rollback()
        blocker.close()

    # The killed worker's transaction is rolled back once its backend notices: no invoice, no number used.
    workers.poll(lambda: count(Invoice) == 0 and not db.session.scalar(sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE '%billed_entries%' AND pid <> pg_backend_pid()"
        " AND state <> 'idle'")))
    assert count(BilledEntry) == 0
    assert count(TimesheetEntry, TimesheetEntry.status == "approved") == len(entries)
    assert (db.session.scalar(sa.select(InvoiceCounter.last_number).where(InvoiceCounter.year == 2026)) or 0) == 0

    # The killed part never recorded an outcome: the run still says started, and its page offers a retry.
    assert job_status(run_id)["status"] == "started"
    billing = browser("billing")
    with workers.jobs_on_redis(app, redis_url):
        retried = billing.post(f"/invoices/runs/{run_id}/retry", {}, form_url=f"/invoices/runs/{run_id}",
                               follow_redirects=True)
        assert b"1 part(s) queued again" in retried.data
        workers.wait(workers.start_worker(redis_url))
    db.session.rollback()
    result = job_status(run_id)
    assert result["status"] == "finished"
    invoice = db.session.get(Invoice, result["result"]["invoice_ids"][0])
    assert invoice.number == "INV-2026-00001"
    assert count(BilledEntry, BilledEntry.live.is_(True)) == len(entries)
    assert ledger_problems(db.session) == []


def test_running_again_after_success_bills_nothing_twice(app, postgres, redis_url):
    place, entries = billable_facility()
    with workers.jobs_on_redis(app, redis_url):
        start_invoice_run(*NOVEMBER, place.id)
        workers.wait(workers.start_worker(redis_url))
        start_invoice_run(*NOVEMBER, place.id)
        workers.wait(workers.start_worker(redis_url))
    assert count(Invoice) == 1
    assert count(BilledEntry) == len(entries)


def test_an_invoice_commits_first_then_its_pdf_job_stores_the_pdf_and_only_then_the_email_goes(app, redis_url):
    place, entries = billable_facility()
    place.billing_email = "ap@clinic.example.org"
    db.session.commit()
    with workers.jobs_on_redis(app, redis_url), smtp_server(app) as inbox:
        # The run, here in the test process, commits the invoice and queues its PDF job for a worker.
        [invoice_id] = run_invoices(*NOVEMBER, [place.id]).invoice_ids
        db.session.rollback()
        invoice = db.session.get(Invoice, invoice_id)
        assert invoice.number == "INV-2026-00001" and invoice.pdf is None
        assert count(OutboxMessage) == 0 and inbox.messages == []

        mail = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(app.config["MAIL_PORT"])}
        log = workers.wait(workers.start_worker(redis_url, **mail))
        assert "Traceback" not in log, log
    db.session.rollback()
    stored = db.session.get(Invoice, invoice_id).pdf
    assert "INV-2026-00001" in PdfReader(io.BytesIO(stored)).pages[0].extract_text()
    [mail] = inbox.to("ap@clinic.example.org")
    attachment = next(mail["message"].iter_attachments())
    assert attachment.get_payload(decode=True) == stored
    assert count(BilledEntry, BilledEntry.live.is_(True)) == len(entries)


def test_two_workers_render_the_pdfs_of_a_run_each_once(app, postgres, redis_url):
    places = [billable_facility()[0] for _ in range(4)]
    with workers.jobs_on_redis(app, redis_url):
        start_invoice_run(*NOVEMBER)
        first, second = workers.start_worker(redis_url), workers.start_worker(redis_url)
        logs = workers.wait(first) + workers.wait(second)
    assert "Traceback" not in logs, logs
    assert count(Invoice) == len(places)
    assert count(Invoice, Invoice.pdf.is_(None)) == 0
    assert ledger_problems(db.session) == []
