"""Read back what live invoices bill, week by week, to check billing against the ledger."""

from collections import defaultdict
from decimal import Decimal

import sqlalchemy as sa

from agency.billing.models import BilledEntry, Invoice, InvoiceLine, LineSource, TimesheetEntry
from agency.billing.pricing import week_start
from agency.extensions import db


def week_bills(placement_ids) -> dict:
    """(placement, Monday) -> (overtime, unit price) -> direct-care hours live lines bill, credits netted."""
    rows = db.session.execute(
        sa.select(TimesheetEntry.placement_id, TimesheetEntry.work_date, InvoiceLine.overtime,
                  InvoiceLine.unit_price, LineSource.quantity)
        .join(LineSource.line).join(InvoiceLine.invoice).join(LineSource.entry)
        .where(TimesheetEntry.placement_id.in_(placement_ids), Invoice.status != "void",
               InvoiceLine.item == "direct_care_hour")
    )
    bills: dict = defaultdict(lambda: defaultdict(Decimal))
    for placement_id, work_date, overtime, unit, quantity in rows:
        bills[(placement_id, week_start(work_date))][(overtime, unit)] += quantity
    return {week: {key: hours for key, hours in kinds.items() if hours} for week, kinds in bills.items()}


def assert_ledger_holds(placement_ids) -> None:
    """Every invoiced entry is on exactly one live invoice, which has lines tracing it; each invoice's
    total is the exact sum of its lines, and no live invoice is at zero or below."""
    entries = db.session.scalars(sa.select(TimesheetEntry).where(TimesheetEntry.placement_id.in_(placement_ids)))
    for entry in entries:
        live = db.session.scalars(sa.select(BilledEntry.invoice_id).where(
            BilledEntry.entry_id == entry.id, BilledEntry.live.is_(True))).all()
        assert len(live) == (1 if entry.status == "invoiced" else 0), (entry.work_date, entry.status, live)
        if live:
            traced = db.session.scalar(sa.select(sa.func.count()).select_from(LineSource).join(LineSource.line)
                                       .where(LineSource.entry_id == entry.id, InvoiceLine.invoice_id == live[0]))
            assert traced >= 1
    invoices = db.session.scalars(sa.select(Invoice).join(Invoice.lines).where(
        InvoiceLine.placement_id.in_(placement_ids)).distinct())
    for invoice in invoices:
        assert invoice.total == sum(line.amount for line in invoice.lines)
        assert invoice.status == "void" or invoice.total > 0
