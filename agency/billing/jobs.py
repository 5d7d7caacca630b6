"""Billing jobs: invoice runs, the scheduled fan-out per facility, invoice PDFs, and the daily dunning."""

from datetime import date

from agency.billing import invoicing, pdf, receivables
from agency.core.dates import today
from agency.core.jobs import enqueue, job
from agency.core.outbox import send_outbox


@job(label="Invoice run")
def generate_invoices(period_start: str, period_end: str, facility_id: int | None = None,
                      actor_id: int | None = None) -> dict:
    """Invoice every facility (or one) with approved, unbilled hours in the period."""
    actor = _actor(actor_id)
    result = invoicing.run_invoices(date.fromisoformat(period_start), date.fromisoformat(period_end),
                                    None if facility_id is None else [facility_id], actor)
    send_outbox()
    return result.as_dict()


@job(label="Invoice PDF")
def render_invoice_pdf(invoice_id: int) -> dict:
    """Render and store a committed invoice's PDF, then send the facility's email that waited for it."""
    stored = pdf.store_invoice_pdf(invoice_id)
    if stored:
        send_outbox()
    return {"invoice_id": invoice_id, "stored": stored}


@job(label="Missing invoice PDFs")
def render_missing_pdfs() -> dict:
    """Render the PDFs no job rendered (Redis was down when their invoice committed), then their emails."""
    stored = pdf.render_missing_pdfs()
    if stored:
        send_outbox()
    return {"stored": stored}


@job
def invoice_schedule(as_of: str | None = None) -> dict:
    """Fan out one invoice job per facility whose invoice period has closed."""
    day = date.fromisoformat(as_of) if as_of else today()
    runs = invoicing.scheduled_runs(day)
    for facility_id, start, end in runs:
        enqueue(generate_invoices, start.isoformat(), end.isoformat(), facility_id)
    return {"as_of": day.isoformat(), "facilities": [run[0] for run in runs]}


@job
def daily_dunning(as_of: str | None = None) -> dict:
    """Send the reminder levels now due on open invoices, then the outbox."""
    result = receivables.run_dunning(date.fromisoformat(as_of) if as_of else today())
    send_outbox()
    return result


def _actor(actor_id: int | None):
    if actor_id is None:
        return None
    from agency.auth.models import User
    from agency.extensions import db

    return db.session.get(User, actor_id)
