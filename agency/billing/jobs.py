"""Billing jobs: the parts of invoice runs, the scheduled runs, invoice PDFs, and the daily dunning."""

from collections import defaultdict
from datetime import date

from agency.billing import approvals, disputes, invoicing, pdf, promises, receivables, runs, statements
from agency.core.dates import today
from agency.core.jobs import job
from agency.core.outbox import send_outbox


@job
def invoice_run_part(run_id: str, part: int) -> dict:
    """Invoice one part of a run (its facilities not invoiced yet, each on its own), then send the outbox."""
    outcome = runs.run_part(run_id, part)
    send_outbox()
    return outcome


@job
def render_invoice_pdf(invoice_id: int) -> dict:
    """Render and store a committed invoice's PDF, then send the facility's email that waited for it."""
    stored = pdf.store_invoice_pdf(invoice_id)
    if stored:
        send_outbox()
    return {"invoice_id": invoice_id, "stored": stored}


@job
def render_missing_pdfs() -> dict:
    """Render the PDFs no job rendered (Redis was down when their invoice committed), then their emails."""
    stored = pdf.render_missing_pdfs()
    if stored:
        send_outbox()
    return {"stored": stored}


@job
def invoice_schedule(as_of: str | None = None) -> dict:
    """Start one invoice run per closed period, of the facilities whose schedule closed it."""
    day = date.fromisoformat(as_of) if as_of else today()
    due = invoicing.scheduled_runs(day)
    periods = defaultdict(list)
    for facility_id, start, end in due:
        periods[(start, end)].append(facility_id)
    started = [runs.start_invoice_run(start, end, facility_ids=ids).id
               for (start, end), ids in sorted(periods.items())]
    report = invoicing.schedule_report(day)
    return {"as_of": day.isoformat(), "facilities": [facility_id for facility_id, _, _ in due], "runs": started,
            "off": report.off, "unapproved_at_close": report.unapproved_at_close,
            "drafts_waiting": report.drafts_waiting}


@job
def daily_dunning(as_of: str | None = None) -> dict:
    """Send the reminder levels now due on open invoices, then the outbox."""
    result = receivables.run_dunning(date.fromisoformat(as_of) if as_of else today())
    send_outbox()
    return result


@job
def approval_chase(as_of: str | None = None) -> dict:
    """Remind whoever is due of the hours waiting past their facility's approval window, then the outbox."""
    result = approvals.run_chase(date.fromisoformat(as_of) if as_of else today())
    send_outbox()
    return result


@job
def daily_promise_check(as_of: str | None = None) -> dict:
    """Settle the promises to pay whose day has passed (telling whoever recorded a broken one), and put a task
    on the owner's dashboard for each dispute past its due day; then the outbox."""
    day = date.fromisoformat(as_of) if as_of else today()
    result = {**promises.check_promises(day), "late_disputes": disputes.add_overdue_tasks(day)}
    send_outbox()
    return result


@job
def statement_schedule(as_of: str | None = None) -> dict:
    """Send the statements of account of the facilities whose statement period closed, then the outbox."""
    day = date.fromisoformat(as_of) if as_of else today()
    sent = statements.send_scheduled(day)
    send_outbox()
    return {"as_of": day.isoformat(), "facilities": sent}
