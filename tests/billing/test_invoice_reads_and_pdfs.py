"""A month's run at any size: reads that do not grow with its facilities, the billed test on its index,
and invoices that commit before their PDFs, which a download or the sweep renders when no job could."""

import io
from datetime import date

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from agency.billing.invoicing import invoice_facility, run_invoices, unbilled_entries_query
from agency.billing.jobs import render_missing_pdfs
from agency.billing.ledger import ledger_problems
from agency.billing.models import Invoice, InvoiceLine, TimesheetEntry
from agency.core.outbox import OutboxMessage
from agency.extensions import db
from agency.placements.models import Placement
from tests import factories, workers
from tests.sql import counted

pytestmark = pytest.mark.usefixtures("users")

MONTH = (date(2026, 11, 1), date(2026, 11, 30))
# A port nothing listens on: Redis configured but down.
REDIS_DOWN = "redis://127.0.0.1:1/0"


def is_facility_lock(statement: str) -> bool:
    """The row locks facilities' invoices are written under (lock_all orders by key; PostgreSQL adds FOR ...)."""
    return statement.startswith("SELECT facilities.") and "ORDER BY facilities.id" in statement


def facilities_with_a_billed_week_and_late_hours(count: int) -> list[int]:
    """Facilities each with a week billed and, since, a late approval in that week and new hours."""
    ids = []
    for n in range(count):
        place = factories.facility(name=f"Clinic {count}-{n}", billing_email=f"ap{n}@clinic.example.org")
        factories.rate_card(place)
        placement = factories.active_placement(place)
        for day in (2, 3, 4, 5, 6):
            factories.entry(placement, date(2026, 11, day), direct="9")
        ids.append(place.id)
    run_invoices(*MONTH, facility_ids=ids)
    for place_id in ids:
        placement = db.session.scalars(sa.select(Placement).where(Placement.facility_id == place_id)).one()
        factories.entry(placement, date(2026, 11, 7), direct="4")  # the billed week's Saturday: overtime
        factories.entry(placement, date(2026, 11, 10), direct="8")
    return ids


def test_a_run_reads_what_it_prices_with_the_same_queries_for_six_facilities_as_for_two(app, setting):
    reads = {}
    # PDF jobs, which run inline here, read their invoice each: they are not the run's reads.
    setting(INVOICE_PDF_JOBS=False)
    for count in (2, 6):
        ids = facilities_with_a_billed_week_and_late_hours(count)
        with counted() as seen:
            result = run_invoices(*MONTH, facility_ids=ids)
        assert len(result.invoice_ids) == count
        locks = [s for s in seen if is_facility_lock(s)]
        assert len(locks) == 1  # the facilities' invoices are written under their locks, taken at once
        reads[count] = [s for s in seen if s.lstrip().upper().startswith("SELECT") and not is_facility_lock(s)]
    assert len(reads[2]) == len(reads[6]), (reads[2], reads[6])
    db.session.rollback()
    assert ledger_problems(db.session) == []


def test_an_invoice_of_a_month_of_days_is_written_in_as_many_statements_as_one_of_two_days(app, setting):
    weekdays = [day for day in (date(2026, 11, d) for d in range(2, 25)) if day.weekday() < 5]
    writes, lines = {}, {}
    setting(INVOICE_PDF_JOBS=False)
    # The year's first invoice also makes the year's number counter: the two compared come after it.
    for days in (weekdays[:1], weekdays[:2], weekdays):
        place = factories.facility()
        factories.rate_card(place)
        placement = factories.active_placement(place)
        for day in days:  # nine hours a day: overtime from each week's fifth day
            factories.entry(placement, day, direct="9", supervision="1")
        with counted() as seen:
            [invoice_id] = run_invoices(*MONTH, facility_ids=[place.id]).invoice_ids
        writes[len(days)] = [s for s in seen if not s.lstrip().upper().startswith("SELECT")]
        lines[len(days)] = len(db.session.get(Invoice, invoice_id).lines)
    month = len(weekdays)
    assert lines[month] > lines[2]
    # Lines, their sources and the billed-entry guards go in one multi-row INSERT each, never row by row.
    assert len(writes[month]) == len(writes[2]), (writes[2], writes[month])
    db.session.rollback()
    assert ledger_problems(db.session) == []


def test_the_already_billed_test_is_answered_from_the_index_of_live_billings(app):
    factories.invoiced_day(factories.facility())
    query = unbilled_entries_query(MONTH[1], [1, 2]).with_only_columns(TimesheetEntry.id)
    sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    if db.engine.dialect.name == "sqlite":
        plan = " ".join(row[3] for row in db.session.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}")))
    else:
        # The tables are tiny here: forbid the scan a planner would rightly choose on them, so that the
        # plan shows which index it can use for the test at all.
        db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = " ".join(row[0] for row in db.session.execute(sa.text(f"EXPLAIN {sql}")))
    db.session.rollback()
    assert "uq_billed_entries_live_entry" in plan, plan


def billable(name="Clinic A", billing_email="ap@clinic-a.example.org"):
    place = factories.facility(name=name, billing_email=billing_email)
    factories.rate_card(place)
    factories.entry(factories.active_placement(place), date(2026, 11, 2), direct="8")
    return place


def test_with_redis_down_the_invoice_commits_without_its_pdf_and_a_download_renders_it(app, api):
    place = billable()
    with workers.jobs_on_redis(app, REDIS_DOWN):
        invoice, _ = invoice_facility(place.id, *MONTH)
    assert invoice.number == "INV-2026-00001" and invoice.pdf is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0  # the email waits

    download = api("billing").get(f"/api/v1/invoices/{invoice.id}/pdf")
    assert download.status_code == 200
    text = PdfReader(io.BytesIO(download.data)).pages[0].extract_text()
    assert invoice.number in text
    db.session.rollback()
    stored = db.session.get(Invoice, invoice.id)
    assert stored.pdf == download.data
    [email] = db.session.scalars(sa.select(OutboxMessage)).all()
    assert email.attachment == stored.pdf


def test_with_redis_down_the_sweep_renders_the_pdfs_no_job_did_and_queues_each_email_once(app, setting):
    places = [billable(name=f"Clinic {n}", billing_email=f"ap{n}@clinic.example.org") for n in range(2)]
    with workers.jobs_on_redis(app, REDIS_DOWN):
        made = run_invoices(*MONTH).invoice_ids
    assert len(made) == len(places)
    setting(PDF_SWEEP_AFTER_SECONDS=0)
    assert render_missing_pdfs() == {"stored": 2}
    assert render_missing_pdfs() == {"stored": 0}
    db.session.rollback()
    invoices = db.session.scalars(sa.select(Invoice).order_by(Invoice.id)).all()
    assert all(invoice.pdf.startswith(b"%PDF-") for invoice in invoices)
    emails = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [e.to_addr for e in emails] == ["ap0@clinic.example.org", "ap1@clinic.example.org"]
    assert [e.attachment for e in emails] == [invoice.pdf for invoice in invoices]


def test_emailing_an_invoice_by_hand_renders_its_pdf_first(app, browser):
    place = billable(billing_email=None)
    with workers.jobs_on_redis(app, REDIS_DOWN):
        invoice, _ = invoice_facility(place.id, *MONTH)
    assert invoice.pdf is None
    place.billing_email = "ap@clinic-a.example.org"
    db.session.commit()
    page = browser("billing").post(f"/invoices/{invoice.id}/email", form_url=f"/invoices/{invoice.id}",
                                   follow_redirects=True)
    assert b"queued to ap@clinic-a.example.org" in page.data
    db.session.rollback()
    [email] = db.session.scalars(sa.select(OutboxMessage)).all()
    assert email.attachment == db.session.get(Invoice, invoice.id).pdf
    assert email.attachment.startswith(b"%PDF-")


def test_a_void_between_the_runs_read_and_its_lock_makes_it_price_that_facility_again(app, monkeypatch):
    from agency.billing import invoicing

    first, second = (billable(name=name, billing_email=None) for name in ("Clinic A", "Clinic B"))
    earlier, _ = invoice_facility(second.id, date(2026, 11, 1), date(2026, 11, 2))
    placement = db.session.scalars(sa.select(Placement).where(Placement.facility_id == second.id)).one()
    factories.entry(placement, date(2026, 11, 3), direct="8")

    def lock_after_a_void(model, idents):
        if second.id in idents and not voided:  # another request voids the invoice, as the run is about to lock
            voided.append(earlier.id)
            with db.engine.begin() as other:
                other.execute(sa.update(Invoice).where(Invoice.id == earlier.id).values(
                    status="void", void_reason="issued to the wrong facility", voided_at=sa.func.now()))
                other.execute(sa.text("UPDATE billed_entries SET live = false WHERE invoice_id = :id"),
                              {"id": earlier.id})
                other.execute(sa.text("UPDATE timesheet_entries SET status = 'approved' WHERE id IN "
                                      "(SELECT entry_id FROM billed_entries WHERE invoice_id = :id)"),
                              {"id": earlier.id})
        return real_lock_all(model, idents)

    voided, real_lock_all = [], invoicing.lock_all
    monkeypatch.setattr(invoicing, "lock_all", lock_after_a_void)
    made = run_invoices(*MONTH).invoice_ids
    db.session.rollback()
    rebill = db.session.get(Invoice, made[-1])
    assert rebill.facility_id == second.id
    # Priced again under the lock: the hours the void released are billed with the new day.
    assert sum(line.quantity for line in rebill.lines) == 16
    assert ledger_problems(db.session) == []


def test_hours_edited_and_approved_again_between_the_runs_read_and_its_lock_are_billed_as_they_now_are(
        app, monkeypatch, users):
    from agency.billing import invoicing
    from agency.billing.timesheets import decide, update_entry

    place = billable(billing_email=None)
    entry_id = db.session.scalars(sa.select(TimesheetEntry.id).order_by(TimesheetEntry.id)).first()
    real_lock_all, edited = invoicing.lock_all, []

    def lock_after_an_edit(model, idents):
        if model is invoicing.Facility and place.id in idents and not edited:
            edited.append(entry_id)
            with app.app_context():  # another request: the hours corrected, then approved again
                entry = db.session.get(TimesheetEntry, entry_id)
                update_entry(entry, {"direct_care_hours": 2}, users["billing"])
                decide([db.session.get(TimesheetEntry, entry_id)], True, users["billing"])
        return real_lock_all(model, idents)

    monkeypatch.setattr(invoicing, "lock_all", lock_after_an_edit)
    run_invoices(*MONTH)
    db.session.rollback()
    worked = db.session.scalar(sa.select(sa.func.sum(TimesheetEntry.direct_care_hours)))
    assert edited and worked == 2
    assert db.session.scalar(sa.select(sa.func.sum(InvoiceLine.quantity)).where(
        InvoiceLine.item == "direct_care_hour")) == worked
    assert ledger_problems(db.session) == []


def test_a_pdf_that_fails_after_its_invoice_committed_leaves_the_invoice_in_its_runs_outcome(app, monkeypatch):
    from agency.billing import pdf, runs

    billable(name="Clinic A", billing_email=None)
    billable(name="Clinic B", billing_email=None)

    def broken(html):
        raise pdf.PdfError("the invoice PDF could not be rendered (1 errors)")

    monkeypatch.setattr(pdf, "render_pdf", broken)
    handle = runs.start_invoice_run(*MONTH)  # no Redis: the parts, and the PDF jobs they queue, run here
    db.session.rollback()
    made = db.session.scalars(sa.select(Invoice.id).order_by(Invoice.id)).all()
    assert len(made) == 2 and handle.status == "finished"
    assert sorted(handle.result["invoice_ids"]) == made
    assert db.session.scalar(sa.select(sa.func.count()).where(Invoice.pdf.is_(None))) == 2  # for the sweep
