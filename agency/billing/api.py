"""JSON API for timesheets, invoices, payments, invoice runs and receivables."""

import io

from flask import jsonify, send_file

from agency.billing import invoicing, queries, receivables, timesheets
from agency.billing.jobs import generate_invoices
from agency.billing.models import ENTRY_STATUSES, INVOICE_STATUSES, Invoice, Payment, TimesheetEntry
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
    Object,
    Schema,
    Str,
    api_blueprint,
    as_of_arg,
    created,
    json_body,
    page,
    parse_args,
)
from agency.core.dates import iso
from agency.core.errors import ValidationError
from agency.core.jobs import start_job
from agency.core.money import money_str
from agency.core.openapi import documented
from agency.core.outbox import send_soon
from agency.core.permissions import current_actor, requires
from agency.extensions import db

bp = api_blueprint("billing_api", __name__)

ENTRY = Schema(
    "TimesheetEntry",
    id=Int(read_only=True),
    placement_id=Id(required=True),
    work_date=Date(required=True),
    direct_care_hours=Dec(minimum=None, nullable=False),
    supervision_hours=Dec(minimum=None, nullable=False),
    travel_miles=Dec(minimum=None, nullable=False),
    status=Choice(read_only=True, choices=ENTRY_STATUSES),
    rejection_reason=Str(read_only=True),
    notes=Str(max_length=500),
)
ENTRY_FILTERS = Schema("TimesheetFilters", status=Choice(choices=ENTRY_STATUSES), placement_id=IdArg(),
                       facility_id=IdArg(), **{"from": Date(), "to": Date()})
REJECTION = Schema("Rejection", reason=Str(required=True, max_length=500))
IMPORT = Schema("TimesheetImport", csv=Str(required=True, max_length=2_000_000), dry_run=Bool(nullable=False))
IMPORT_REPORT = Schema("TimesheetImportReport", rows=Int(read_only=True), imported=Int(read_only=True),
                       errors=Object(read_only=True, description="list of {line, message}"))
LINE = {"type": "object", "properties": {k: {"type": "string"} for k in
                                         ("description", "item", "quantity", "unit_price", "amount")}}
INVOICE = Schema(
    "Invoice",
    id=Int(read_only=True), number=Str(read_only=True), facility_id=Int(read_only=True),
    period_start=Date(read_only=True), period_end=Date(read_only=True), issued_on=Date(read_only=True),
    due_on=Date(read_only=True), status=Choice(read_only=True, choices=INVOICE_STATUSES),
    total=Str(read_only=True), amount_paid=Str(read_only=True), balance=Str(read_only=True),
    void_reason=Str(read_only=True),
    lines=Object(read_only=True, description="list of {description, item, quantity, unit_price, amount}"),
    notices=Object(read_only=True, description="reminders sent: list of {level, sent_on}"),
)
INVOICE_FILTERS = Schema("InvoiceFilters", status=Choice(choices=INVOICE_STATUSES), facility_id=IdArg())
VOID = Schema("Void", reason=Str(required=True, max_length=500))
PAYMENT = Schema("Payment", id=Int(read_only=True), invoice_id=Int(read_only=True), amount=Dec(required=True),
                 received_on=Date(required=True), reference=Str(max_length=120))
RUN = Schema("InvoiceRun", period_start=Date(required=True), period_end=Date(required=True), facility_id=Id())
JOB = Schema("JobStarted", job_id=Str(read_only=True))
AGING = Schema("Aging", as_of=Date(read_only=True), buckets=Object(read_only=True), facilities=Object(read_only=True),
               total=Str(read_only=True), over_60_share=Str(read_only=True), dso=Str(read_only=True))


def entry_json(e: TimesheetEntry) -> dict:
    return {"id": e.id, "placement_id": e.placement_id, "work_date": iso(e.work_date),
            "direct_care_hours": str(e.direct_care_hours), "supervision_hours": str(e.supervision_hours),
            "travel_miles": str(e.travel_miles), "status": e.status, "rejection_reason": e.rejection_reason,
            "notes": e.notes}


def invoice_json(i: Invoice, *, lines: bool = True) -> dict:
    body = {"id": i.id, "number": i.number, "facility_id": i.facility_id, "period_start": iso(i.period_start),
            "period_end": iso(i.period_end), "issued_on": iso(i.issued_on), "due_on": iso(i.due_on),
            "status": i.status, "total": money_str(i.total), "amount_paid": money_str(i.amount_paid),
            "balance": money_str(i.balance), "void_reason": i.void_reason}
    if lines:
        body["lines"] = [{"description": line.description, "item": line.item, "quantity": str(line.quantity),
                          "unit_price": money_str(line.unit_price), "amount": money_str(line.amount)}
                         for line in i.lines]
        body["notices"] = [{"level": n.level, "sent_on": iso(n.sent_on)} for n in i.notices]
    return body


def payment_json(p: Payment) -> dict:
    return {"id": p.id, "invoice_id": p.invoice_id, "amount": money_str(p.amount),
            "received_on": iso(p.received_on), "reference": p.reference}


# ----------------------------------------------------------------------------- timesheets


@bp.get("/timesheets")
@requires("timesheets.view")
@documented("List timesheet entries (a facility contact sees only its own facility's)", response=ENTRY,
            many=True, query={"status": {"type": "string", "enum": list(ENTRY_STATUSES)},
                              "placement_id": {"type": "integer"}, "facility_id": {"type": "integer"},
                              "from": {"type": "string", "format": "date"},
                              "to": {"type": "string", "format": "date"}})
def list_entries():
    filters = parse_args(ENTRY_FILTERS)
    filters["date_from"], filters["date_to"] = filters.pop("from", None), filters.pop("to", None)
    return page(queries.entries_query(current_actor(), **filters), TimesheetEntry.id, entry_json)


@bp.post("/timesheets")
@requires("timesheets.edit")
@documented("Record a day of work", request=ENTRY, response=ENTRY, status=201, errors=(400, 409))
def create_entry():
    entry = timesheets.record_entry(ENTRY.load(json_body()), current_actor())
    return created(entry_json(entry), "billing_api.get_entry", entry_id=entry.id)


@bp.get("/timesheets/<int:entry_id>")
@requires("timesheets.view")
@documented("A timesheet entry", response=ENTRY, errors=(404,))
def get_entry(entry_id: int):
    return jsonify(entry_json(timesheets.get_entry(entry_id, current_actor())))


@bp.patch("/timesheets/<int:entry_id>")
@requires("timesheets.edit")
@documented("Correct an entry (invoiced entries are locked)", request=ENTRY, response=ENTRY,
            errors=(400, 404, 409))
def update_entry(entry_id: int):
    entry = timesheets.get_entry(entry_id, current_actor())
    return jsonify(entry_json(timesheets.update_entry(entry, ENTRY.load(json_body(), partial=True),
                                                      current_actor())))


@bp.post("/timesheets/<int:entry_id>/approve")
@requires("timesheets.decide")
@documented("Approve an entry", response=ENTRY, errors=(404, 409))
def approve(entry_id: int):
    entry = timesheets.get_entry(entry_id, current_actor())
    timesheets.decide([entry], True, current_actor())
    return jsonify(entry_json(entry))


@bp.post("/timesheets/<int:entry_id>/reject")
@requires("timesheets.decide")
@documented("Reject an entry with a reason", request=REJECTION, response=ENTRY, errors=(400, 404, 409))
def reject(entry_id: int):
    entry = timesheets.get_entry(entry_id, current_actor())
    timesheets.decide([entry], False, current_actor(), reason=REJECTION.load(json_body())["reason"])
    return jsonify(entry_json(entry))


@bp.post("/timesheets/import")
@requires("timesheets.edit")
@documented("Import entries from CSV text; with any bad row nothing is imported (400 with the report)",
            request=IMPORT, response=IMPORT_REPORT, errors=(400,))
def import_entries():
    values = IMPORT.load(json_body())
    report = timesheets.import_csv(values["csv"], current_actor(), dry_run=values.get("dry_run", True))
    body = {"rows": report.rows, "imported": report.imported,
            "errors": [{"line": line, "message": message} for line, message in report.errors]}
    return jsonify(body), (200 if report.ok else 400)


# ----------------------------------------------------------------------------- invoices


@bp.get("/invoices")
@requires("invoices.view")
@documented("List invoices (a facility contact sees only its own)", response=INVOICE, many=True,
            query={"status": {"type": "string", "enum": list(INVOICE_STATUSES)}, "facility_id": {"type": "integer"}})
def list_invoices():
    filters = parse_args(INVOICE_FILTERS)
    return page(queries.invoices_query(current_actor(), **filters), Invoice.id,
                lambda i: invoice_json(i, lines=False))


@bp.get("/invoices/<int:invoice_id>")
@requires("invoices.view")
@documented("An invoice with its lines", response=INVOICE, errors=(404,))
def get_invoice(invoice_id: int):
    return jsonify(invoice_json(receivables.get_invoice(invoice_id, current_actor())))


@bp.get("/invoices/<int:invoice_id>/pdf")
@requires("invoices.view")
@documented("The invoice PDF (audited)", content_type="application/pdf", errors=(404,))
def invoice_pdf(invoice_id: int):
    invoice = receivables.get_invoice(invoice_id, current_actor())
    audit.record("download", invoice, f"downloaded invoice {invoice.number} PDF", actor=current_actor())
    db.session.commit()
    return send_file(io.BytesIO(invoice.pdf), mimetype="application/pdf", as_attachment=True,
                     download_name=f"{invoice.number}.pdf")


@bp.post("/invoices/<int:invoice_id>/void")
@requires("invoices.edit")
@documented("Void an unpaid invoice; its entries can be billed again", request=VOID, response=INVOICE,
            errors=(400, 404, 409))
def void_invoice(invoice_id: int):
    invoice = receivables.get_invoice(invoice_id, current_actor())
    invoice = receivables.void_invoice(invoice, VOID.load(json_body())["reason"], current_actor())
    return jsonify(invoice_json(invoice))


@bp.post("/invoices/<int:invoice_id>/email")
@requires("invoices.edit")
@documented("Email an invoice not emailed yet (e.g. issued before the facility had a billing email); "
            "an invoice is never emailed twice", response=INVOICE, errors=(400, 404, 409))
def email_invoice(invoice_id: int):
    invoice = invoicing.email_invoice(receivables.get_invoice(invoice_id, current_actor()), current_actor())
    send_soon()
    return jsonify(invoice_json(invoice))


@bp.post("/invoices/<int:invoice_id>/payments")
@requires("payments.record")
@documented("Record a full or partial payment; more than the balance is refused", request=PAYMENT,
            response=PAYMENT, status=201, errors=(400, 404, 409))
def record_payment(invoice_id: int):
    invoice = receivables.get_invoice(invoice_id, current_actor())
    values = PAYMENT.load(json_body())
    payment = receivables.record_payment(invoice, values["amount"], values["received_on"], values.get("reference"),
                                         current_actor())
    return created(payment_json(payment), "billing_api.get_invoice", invoice_id=invoice_id)


@bp.post("/invoices/generate")
@requires("invoices.edit")
@documented("Start an invoice run; poll GET /jobs/{job_id} for {invoice_ids}", request=RUN, response=JOB,
            status=202, errors=(400, 503))
def generate():
    values = RUN.load(json_body())
    if values["period_end"] < values["period_start"]:
        raise ValidationError.on("period_end", "must not be before period_start")
    actor = current_actor()
    handle = start_job(generate_invoices, values["period_start"].isoformat(), values["period_end"].isoformat(),
                       values.get("facility_id"), actor.id, actor=actor)
    return jsonify({"job_id": handle.id}), 202


# ----------------------------------------------------------------------------- receivables


@bp.get("/receivables/aging")
@requires("receivables.view")
@documented("Open balances by days past due, per facility and in total", response=AGING, errors=(400,),
            query=AS_OF)
def aging():
    as_of = as_of_arg()
    report = receivables.aging(as_of, current_actor())

    def buckets(values):
        return {k: money_str(v) for k, v in values.items()}

    return jsonify({
        "as_of": as_of.isoformat(), "buckets": buckets(report.buckets), "total": money_str(report.total),
        "over_60_share": str(report.over_60_share), "dso": str(report.dso),
        "facilities": [{"facility_id": f.facility_id, "name": f.name, "buckets": buckets(f.buckets),
                        "total": money_str(f.total)} for f in report.facilities],
    })
