"""JSON API for timesheets, invoices, payments, invoice runs and receivables."""

import io

from flask import send_file

from agency.billing import holds, invoicing, metrics, pdf, queries, receivables, runs, timesheets
from agency.billing.models import ENTRY_STATUSES, INVOICE_STATUSES, Invoice, TimesheetEntry
from agency.billing.receivables import BUCKETS as AGING_BUCKETS
from agency.core import audit
from agency.core.api import (
    AS_OF,
    Bool,
    Choice,
    Date,
    Dec,
    Id,
    IdArg,
    Int,
    ListOf,
    Money,
    Nested,
    Schema,
    Str,
    api_blueprint,
    as_of_arg,
    created,
    json_body,
    page,
    parse_args,
    reply,
)
from agency.core.openapi import documented
from agency.core.outbox import send_soon
from agency.core.permissions import current_actor, requires, withheld
from agency.extensions import db

bp = api_blueprint("billing_api", __name__)

HOLD_REASON = Schema("HoldReason", code=Choice(read_only=True, nullable=False, choices=holds.HOLD_CODES),
                     message=Str(read_only=True, nullable=False))
ENTRY = Schema(
    "TimesheetEntry",
    id=Int(read_only=True),
    placement_id=Id(required=True),
    work_date=Date(required=True),
    direct_care_hours=Dec(minimum=None, nullable=False),
    supervision_hours=Dec(minimum=None, nullable=False),
    travel_miles=Dec(minimum=None, nullable=False),
    status=Choice(read_only=True, choices=ENTRY_STATUSES),
    hold_reasons=ListOf(read_only=True, item=Nested(schema=HOLD_REASON),
                        description="why a held entry is held; empty unless the status is held"),
    rejection_reason=Str(read_only=True),
    release_reason=Str(read_only=True, description="why an admin released the entry from a hold; null if never"),
    notes=Str(max_length=500, multiline=True, description="null for a facility contact"),
)
ENTRY_FILTERS = Schema("TimesheetFilters", status=Choice(choices=ENTRY_STATUSES), placement_id=IdArg(),
                       facility_id=IdArg(), **{"from": Date(), "to": Date()})
REJECTION = Schema("Rejection", reason=Str(required=True, max_length=500))
RELEASE = Schema("Release", reason=Str(required=True, max_length=500))
IMPORT = Schema("TimesheetImport", csv=Str(required=True, max_length=2_000_000, multiline=True),
                dry_run=Bool(nullable=False))
IMPORT_ERROR = Schema("ImportError", line=Int(read_only=True, nullable=False, source=lambda e: e[0]),
                      message=Str(read_only=True, nullable=False, source=lambda e: e[1]))
IMPORT_REPORT = Schema("TimesheetImportReport", rows=Int(read_only=True, nullable=False),
                       imported=Int(read_only=True, nullable=False),
                       held=Int(read_only=True, nullable=False, description="of the imported entries, how many "
                                "are held (recorded for a day the therapist could not bill)"),
                       errors=ListOf(read_only=True, item=Nested(schema=IMPORT_ERROR)))
LINE = Schema("InvoiceLine", description=Str(read_only=True), item=Str(read_only=True),
              quantity=Dec(read_only=True, nullable=False), unit_price=Money(read_only=True, nullable=False),
              amount=Money(read_only=True, nullable=False))
NOTICE = Schema("DunningNotice", level=Str(read_only=True, nullable=False),
                sent_on=Date(read_only=True, nullable=False))
INVOICE = Schema(
    "Invoice",
    id=Int(read_only=True), number=Str(read_only=True), facility_id=Int(read_only=True),
    period_start=Date(read_only=True), period_end=Date(read_only=True), issued_on=Date(read_only=True),
    due_on=Date(read_only=True), status=Choice(read_only=True, nullable=False, choices=INVOICE_STATUSES),
    total=Money(read_only=True, nullable=False), amount_paid=Money(read_only=True, nullable=False),
    balance=Money(read_only=True, nullable=False), void_reason=Str(read_only=True),
    supplements_invoice_id=Int(read_only=True, description="the earlier invoice of the same facility and period "
                               "this supplemental one adds to (hours approved after it was issued); null if none"),
    lines=ListOf(read_only=True, item=Nested(schema=LINE)),
    notices=ListOf(read_only=True, item=Nested(schema=NOTICE), description="reminders sent"),
)
INVOICE_SUMMARY = INVOICE.without("InvoiceSummary", "lines", "notices")
INVOICE_FILTERS = Schema("InvoiceFilters", status=Choice(choices=INVOICE_STATUSES), facility_id=IdArg())
VOID = Schema("Void", reason=Str(required=True, max_length=500))
PAYMENT = Schema("Payment", id=Int(read_only=True), invoice_id=Int(read_only=True), amount=Money(required=True),
                 received_on=Date(required=True), reference=Str(max_length=120))
RUN = Schema("InvoiceRun", period_start=Date(required=True), period_end=Date(required=True), facility_id=Id())
JOB_STARTED = Schema("JobStarted", job_id=Str(read_only=True, nullable=False, source=lambda handle: handle.id))
BUCKETS = Schema("AgingBuckets", **{bucket: Money(read_only=True, nullable=False) for bucket in AGING_BUCKETS})
FACILITY_AGING = Schema("FacilityAging", facility_id=Int(read_only=True, nullable=False),
                        name=Str(read_only=True, nullable=False), buckets=Nested(read_only=True, schema=BUCKETS,
                                                                                 nullable=False),
                        total=Money(read_only=True, nullable=False))
AGING = Schema("Aging", as_of=Date(read_only=True, nullable=False),
               buckets=Nested(read_only=True, nullable=False, schema=BUCKETS),
               facilities=ListOf(read_only=True, item=Nested(schema=FACILITY_AGING)),
               total=Money(read_only=True, nullable=False),
               over_60_share=Dec(read_only=True, nullable=False, description="share of receivables over 60 days"),
               dso=Dec(read_only=True, nullable=False, description="days sales outstanding"))


# ----------------------------------------------------------------------------- timesheets


@bp.get("/timesheets")
@requires("timesheets.view")
@documented("List timesheet entries (a facility contact sees only its own facility's)", response=ENTRY,
            many=True, query=ENTRY_FILTERS)
def list_entries():
    filters = parse_args()
    filters["date_from"], filters["date_to"] = filters.pop("from", None), filters.pop("to", None)
    return page(queries.entries_query(current_actor(), **filters), TimesheetEntry.id,
                lambda rows: [_seen(row) for row in rows])


def _seen(entry: TimesheetEntry) -> dict:
    """What this viewer reads of an entry: restricted fields withheld, hold reasons as holds lets them see."""
    actor = current_actor()
    return {**withheld(TimesheetEntry, actor), "hold_reasons": holds.reasons_seen_by(entry.hold_reasons, actor)}


def _reply_entry(entry: TimesheetEntry, status: int = 200):
    return reply(entry, status, **_seen(entry))


@bp.post("/timesheets")
@requires("timesheets.edit")
@documented("Record a day of work", request=ENTRY, response=ENTRY, status=201, errors=(400, 409))
def create_entry():
    entry = timesheets.record_entry(ENTRY.load(json_body()), current_actor())
    return created(entry, "billing_api.get_entry", {"entry_id": entry.id}, **_seen(entry))


@bp.get("/timesheets/<int:entry_id>")
@requires("timesheets.view")
@documented("A timesheet entry", response=ENTRY, errors=(404,))
def get_entry(entry_id: int):
    return _reply_entry(timesheets.get_entry(entry_id, current_actor()))


@bp.patch("/timesheets/<int:entry_id>")
@requires("timesheets.edit")
@documented("Correct an entry (invoiced entries are locked)", request=ENTRY, response=ENTRY,
            errors=(400, 404, 409))
def update_entry(entry_id: int):
    entry = timesheets.get_entry(entry_id, current_actor())
    return _reply_entry(timesheets.update_entry(entry, ENTRY.load(json_body(), partial=True), current_actor()))


@bp.post("/timesheets/<int:entry_id>/approve")
@requires("timesheets.decide")
@documented("Approve an entry; a held entry is 409", response=ENTRY, errors=(404, 409))
def approve(entry_id: int):
    entry = timesheets.get_entry(entry_id, current_actor())
    timesheets.decide([entry], True, current_actor())
    return _reply_entry(entry)


@bp.post("/timesheets/<int:entry_id>/reject")
@requires("timesheets.decide")
@documented("Reject an entry with a reason", request=REJECTION, response=ENTRY, errors=(400, 404, 409))
def reject(entry_id: int):
    entry = timesheets.get_entry(entry_id, current_actor())
    timesheets.decide([entry], False, current_actor(), reason=REJECTION.load(json_body())["reason"])
    return _reply_entry(entry)


@bp.post("/timesheets/<int:entry_id>/release")
@requires("timesheets.release")
@documented("Release a held entry to submitted with a reason (admin only; audited; it covers the reasons it "
            "was held for, and a reason of another kind found later holds it again)",
            request=RELEASE, response=ENTRY, errors=(400, 404, 409))
def release(entry_id: int):
    entry = timesheets.get_entry(entry_id, current_actor())
    reason = RELEASE.load(json_body())["reason"]
    return _reply_entry(holds.release(entry, reason, current_actor()))


@bp.post("/timesheets/import")
@requires("timesheets.edit")
@documented("Import entries from CSV text; with any bad row nothing is imported (400 with the report)",
            request=IMPORT, response=IMPORT_REPORT, responses={400: IMPORT_REPORT}, errors=(400,))
def import_entries():
    values = IMPORT.load(json_body())
    report = timesheets.import_csv(values["csv"], current_actor(), dry_run=values.get("dry_run", True))
    return reply(report, 200 if report.ok else 400)


# ----------------------------------------------------------------------------- invoices


@bp.get("/invoices")
@requires("invoices.view")
@documented("List invoices (a facility contact sees only its own)", response=INVOICE_SUMMARY, many=True,
            query=INVOICE_FILTERS)
def list_invoices():
    filters = parse_args()
    return page(queries.invoices_query(current_actor(), **filters), Invoice.id)


@bp.get("/invoices/<int:invoice_id>")
@requires("invoices.view")
@documented("An invoice with its lines", response=INVOICE, errors=(404,))
def get_invoice(invoice_id: int):
    return reply(receivables.get_invoice(invoice_id, current_actor()))


@bp.get("/invoices/<int:invoice_id>/pdf")
@requires("invoices.view")
@documented("The invoice PDF (audited)", content_type="application/pdf", errors=(404,))
def invoice_pdf(invoice_id: int):
    invoice = receivables.get_invoice(invoice_id, current_actor())
    data = pdf.ensure_pdf(invoice)
    audit.record("download", invoice, f"downloaded invoice {invoice.number} PDF", actor=current_actor())
    db.session.commit()
    return send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                     download_name=f"{invoice.number}.pdf")


@bp.post("/invoices/<int:invoice_id>/void")
@requires("invoices.edit")
@documented("Void an unpaid invoice; its entries can be billed again", request=VOID, response=INVOICE,
            errors=(400, 404, 409))
def void_invoice(invoice_id: int):
    invoice = receivables.get_invoice(invoice_id, current_actor())
    invoice = receivables.void_invoice(invoice, VOID.load(json_body())["reason"], current_actor())
    return reply(invoice)


@bp.post("/invoices/<int:invoice_id>/email")
@requires("invoices.edit")
@documented("Email an invoice not emailed yet (e.g. issued before the facility had a billing email); "
            "an invoice is never emailed twice", response=INVOICE, errors=(400, 404, 409))
def email_invoice(invoice_id: int):
    invoice = invoicing.email_invoice(receivables.get_invoice(invoice_id, current_actor()), current_actor())
    send_soon()
    return reply(invoice)


@bp.post("/invoices/<int:invoice_id>/payments")
@requires("payments.record")
@documented("Record a full or partial payment; more than the balance is refused", request=PAYMENT,
            response=PAYMENT, status=201, errors=(400, 404, 409))
def record_payment(invoice_id: int):
    invoice = receivables.get_invoice(invoice_id, current_actor())
    values = PAYMENT.load(json_body())
    payment = receivables.record_payment(invoice, values["amount"], values["received_on"], values.get("reference"),
                                         current_actor())
    return created(payment, "billing_api.get_invoice", {"invoice_id": invoice_id})


@bp.post("/invoices/generate")
@requires("invoices.edit")
@documented("Start an invoice run; poll GET /jobs/{job_id} for {invoice_ids}", request=RUN, response=JOB_STARTED,
            status=202, errors=(400, 503))
def generate():
    values = RUN.load(json_body())
    handle = runs.start_invoice_run(values["period_start"], values["period_end"], values.get("facility_id"),
                                    current_actor())
    return reply(handle, 202)


# ----------------------------------------------------------------------------- receivables


@bp.get("/receivables/aging")
@requires("receivables.view")
@documented("Open balances by days past due, per facility and in total", response=AGING, errors=(400,),
            query=AS_OF)
def aging():
    return reply(receivables.aging(as_of_arg(), current_actor()))


# ----------------------------------------------------------------------------- collections measured

_FIGURES = dict(
    receivables=Money(read_only=True, nullable=False, description="open on as_of"),
    billed_90_days=Money(read_only=True, nullable=False, source=lambda r: r.aging.billed_90_days,
                         description="billed in the 90 days to as_of"),
    dso=Dec(read_only=True, nullable=False, description="days sales outstanding: receivables / billed_90_days x 90"),
    over_60=Money(read_only=True, nullable=False, source=lambda r: r.aging.over_60,
                  description="open more than 60 days past due"),
    over_60_share=Dec(read_only=True, nullable=False, description="over_60 / receivables, percent"),
    over_60_rating=Choice(read_only=True, nullable=False, choices=tuple(metrics.RATINGS),
                          description="good under 15%, watch from 15% to 20%, bad over 20%"),
    promises_kept=Int(read_only=True, nullable=False, description="promises to pay kept, settled in 90 days"),
    promises_broken=Int(read_only=True, nullable=False, description="promises to pay broken, settled in 90 days"),
    promise_kept_rate=Dec(read_only=True, description="kept / (kept + broken), percent; null with no promises"),
    disputes_resolved=Int(read_only=True, nullable=False, description="disputes resolved in 90 days"),
    dispute_cycle_days=Dec(read_only=True, description="average days from opening to resolution of those; "
                                                       "null with none"),
    disputes_open=Int(read_only=True, nullable=False, description="disputes open on as_of"),
    oldest_open_dispute_days=Int(read_only=True, description="age in days of the oldest open dispute"),
    billed_month=Money(read_only=True, nullable=False, description="invoiced in as_of's month up to as_of"),
    collected_month=Money(read_only=True, nullable=False,
                          description="payments received in as_of's month up to as_of (credits are not money)"),
    collected_share=Dec(read_only=True, description="collected_month / billed_month, percent; null with nothing "
                                                    "billed"),
)
AGENCY_COLLECTIONS = Schema("AgencyCollectionMetrics", **_FIGURES)
FACILITY_COLLECTIONS = Schema("FacilityCollectionMetrics", facility_id=Int(read_only=True, nullable=False),
                              name=Str(read_only=True, nullable=False), **_FIGURES)
COLLECTIONS = Schema("CollectionMetrics", as_of=Date(read_only=True, nullable=False),
                     agency=Nested(read_only=True, nullable=False, schema=AGENCY_COLLECTIONS),
                     facilities=ListOf(read_only=True, item=Nested(schema=FACILITY_COLLECTIONS)))


@bp.get("/collections/metrics")
@requires("collections.view")
@documented("Collections measured on a day: DSO, share over 60 days, promise-kept rate, dispute cycle time and "
            "collected against billed this month, for the agency and each facility with something to measure",
            response=COLLECTIONS, errors=(400,), query=AS_OF)
def collection_metrics():
    return reply(metrics.collections_report(as_of_arg()))
