"""The invoice document, rendered from templates/pdf/invoice.html by xhtml2pdf, and the email it goes with.

An invoice commits without its PDF: rendering takes far longer than writing the
invoice, so it is done afterwards, outside the invoice's transaction and its
number lock, by a job per invoice (or on demand by a download, or by the sweep
when no job could be queued). The facility's email waits for the PDF.
"""

import io
from datetime import timedelta
from itertools import groupby

import sqlalchemy as sa
from flask import current_app, render_template
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload
from xhtml2pdf import pisa

from agency.billing.models import Invoice, InvoiceLine
from agency.core.dates import human_day, utcnow
from agency.core.errors import Conflict
from agency.core.money import format_money
from agency.core.outbox import queue_email, remittance
from agency.extensions import db
from agency.placements.models import Placement


class PdfError(RuntimeError):
    """xhtml2pdf could not render the document."""


def invoice_html(invoice: Invoice) -> str:
    """The invoice as the HTML its PDF is made from: letterhead, bill-to, period, lines by therapist, totals."""
    groups = [
        (placement, list(lines))
        for placement, lines in groupby(invoice.lines, key=lambda line: line.placement)
    ]
    return render_template("pdf/invoice.html", invoice=invoice, groups=groups, config=current_app.config)


def render_pdf(html: str) -> bytes:
    out = io.BytesIO()
    result = pisa.CreatePDF(html, dest=out, encoding="utf-8")
    if result.err:
        raise PdfError(f"the PDF could not be rendered ({result.err} errors)")
    return out.getvalue()


def _with_lines(invoice_id: int) -> Invoice | None:
    return db.session.scalar(
        sa.select(Invoice).where(Invoice.id == invoice_id)
        .options(joinedload(Invoice.facility), joinedload(Invoice.supplements),
                 selectinload(Invoice.lines).joinedload(InvoiceLine.placement)
                 .joinedload(Placement.therapist))
    )


def store_invoice_pdf(invoice_id: int) -> bool:
    """Render and store the invoice's PDF if it has none, and then queue its email; True if this call stored it.

    Idempotent and safe twice at once: the PDF is written only where there is none (one conditional
    UPDATE, which the other caller waits for and then finds done), and the email goes with the PDF that
    was stored, in the same commit, once ever (its dedupe key).
    """
    # A draft (or a discarded one) has no number and is never sent: its PDF is made once it is issued.
    missing = db.session.scalar(sa.select(Invoice.id).where(Invoice.id == invoice_id, Invoice.pdf.is_(None),
                                                            Invoice.number.is_not(None)))
    if missing is None:
        return False
    invoice = _with_lines(invoice_id)
    data = render_pdf(invoice_html(invoice))
    stored = db.session.execute(
        sa.update(Invoice).where(Invoice.id == invoice_id, Invoice.pdf.is_(None)).values(pdf=data)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    if not stored:
        db.session.rollback()
        return False
    db.session.expire(invoice, ["pdf"])
    if invoice.facility.billing_email and invoice.status != "void":
        queue_invoice_email(invoice)
    try:
        db.session.commit()
    except IntegrityError:  # the email was queued at the same moment by a manual request: it goes once
        db.session.rollback()
        return False
    return True


def ensure_pdf(invoice: Invoice) -> bytes:
    """The invoice's PDF, rendered and stored now if no job has yet (a download never waits for one)."""
    if invoice.number is None:
        raise Conflict(f"invoice {invoice.label} has no PDF: it is made when the draft is issued")
    if invoice.pdf is None:
        store_invoice_pdf(invoice.id)
        db.session.refresh(invoice, ["pdf"])
    return invoice.pdf


def render_missing_pdfs(limit: int = 200) -> int:
    """Render the PDFs of invoices that still have none PDF_SWEEP_AFTER_SECONDS after they were made (their
    job could not be queued, Redis being down, or was lost with it); how many this sweep stored."""
    before = utcnow() - timedelta(seconds=int(current_app.config["PDF_SWEEP_AFTER_SECONDS"]))
    waiting = db.session.scalars(
        sa.select(Invoice.id).where(Invoice.pdf.is_(None), Invoice.number.is_not(None),
                                    Invoice.created_at < before).order_by(Invoice.id)
        .limit(limit)
    ).all()
    return sum(store_invoice_pdf(invoice_id) for invoice_id in waiting)


def invoice_email_key(invoice: Invoice) -> str:
    return f"invoice:{invoice.number}"


def queue_invoice_email(invoice: Invoice) -> bool:
    """Put the invoice with its PDF in the outbox to the facility's billing email; False if it was before."""
    facility = invoice.facility
    agency = current_app.config["AGENCY_NAME"]
    kind = "Supplemental invoice" if invoice.supplements else "Invoice"
    supplement = f"\n\n{invoice.supplement_note}; it adds to that invoice." if invoice.supplements else ""
    return queue_email(
        facility.billing_email, f"{kind} {invoice.number} from {agency}: {format_money(invoice.total)} due "
        f"{human_day(invoice.due_on)}",
        f"Dear {facility.name} accounts payable,\n\nPlease find attached {kind.lower()} {invoice.number} from "
        f"{agency} for services from {human_day(invoice.period_start)} to {human_day(invoice.period_end)}: "
        f"{format_money(invoice.total)}, due {human_day(invoice.due_on)}.{supplement}\n\n{remittance()}"
        "\n\nThank you.",
        dedupe_key=invoice_email_key(invoice),
        attachment=(f"{invoice.number}.pdf", "application/pdf", invoice.pdf),
    )
