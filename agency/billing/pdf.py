"""The invoice document, rendered from templates/pdf/invoice.html by xhtml2pdf."""

import io
from itertools import groupby

from flask import current_app, render_template
from xhtml2pdf import pisa

from agency.billing.models import Invoice


class PdfError(RuntimeError):
    """xhtml2pdf could not render the document."""


def render_invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice as PDF bytes: letterhead, bill-to, period, lines by therapist, totals, remittance."""
    groups = [
        (placement, list(lines))
        for placement, lines in groupby(invoice.lines, key=lambda line: line.placement)
    ]
    html = render_template("pdf/invoice.html", invoice=invoice, groups=groups, config=current_app.config)
    out = io.BytesIO()
    result = pisa.CreatePDF(html, dest=out, encoding="utf-8")
    if result.err:
        raise PdfError(f"the invoice PDF could not be rendered ({result.err} errors)")
    return out.getvalue()
