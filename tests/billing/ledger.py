"""Read back what live invoices bill, week by week, to check billing against the ledger."""

from collections import defaultdict
from decimal import Decimal

import sqlalchemy as sa

from agency.billing.models import Invoice, InvoiceLine, LineSource, TimesheetEntry
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
