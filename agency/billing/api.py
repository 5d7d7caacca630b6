"""JSON API for timesheets, invoices, payments, invoice runs and receivables."""

import io

from flask import send_file

from agency.billing import (
    approvals,
    collections,
    disputes,
    holds,
    invoicing,
    metrics,
    pdf,
    promises,
    queries,
    receivables,
    runs,
    statements,
    timesheets,
)
from agency.billing.models import (
    CHASE_STEPS,
    DISPUTE_OUTCOMES,
    DISPUTE_STATUSES,
    ENTRY_STATUSES,
    INVOICE_STATUSES,
    PROMISE_STATUSES,
    STATEMENT_KINDS,
    TASK_KINDS,
    TASK_OWNERS,
    CollectionTask,
    Dispute,
    Invoice,
    PaymentPromise,
    TimesheetEntry,
)
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
    Timestamp,
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
    submitted_at=Timestamp(nullable=False, description="when the hours last went to the facility for approval "
                           "(recorded, corrected after a decision, or released from a hold)"),
)
WAITING = Schema(
    "WaitingEntry",
    entry_id=Int(read_only=True, nullable=False, source=lambda entry: entry.id),
    placement_id=Int(read_only=True, nullable=False),
    work_date=Date(read_only=True, nullable=False),
    hours=Dec(read_only=True, nullable=False, source=lambda entry: entry.total_hours,
              description="direct care and supervision hours"),
    submitted_at=Timestamp(nullable=False),
    business_days_waiting=Int(read_only=True, nullable=False, description="business days (Monday to Friday) "
                              "after the day of submission, up to as_of"),
    chased=ListOf(read_only=True, item=Choice(choices=CHASE_STEPS), description="the reminder steps sent: "
                  "approver, alternate, recruiter"),
)
WAITING_FILTERS = Schema("WaitingFilters", facility_id=IdArg(),
                         as_of=Date(description="the day to count business days to; today if left out"))
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
    id=Int(read_only=True), number=Str(read_only=True, description="null for a draft: numbered at issue"),
    facility_id=Int(read_only=True),
    period_start=Date(read_only=True), period_end=Date(read_only=True), issued_on=Date(read_only=True),
    due_on=Date(read_only=True), status=Choice(read_only=True, nullable=False, choices=INVOICE_STATUSES),
    total=Money(read_only=True, nullable=False), amount_paid=Money(read_only=True, nullable=False),
    balance=Money(read_only=True, nullable=False), void_reason=Str(read_only=True),
    review_reason=Str(read_only=True, description="why the safety stop parked this draft for review; null if "
                      "it was not parked (a draft of a facility whose invoicing is review)"),
    supplements_invoice_id=Int(read_only=True, description="the earlier invoice of the same facility and period "
                               "this supplemental one adds to (hours approved after it was issued); null if none"),
    lines=ListOf(read_only=True, item=Nested(schema=LINE)),
    notices=ListOf(read_only=True, item=Nested(schema=NOTICE), description="reminders sent"),
    disputed=Bool(read_only=True, nullable=False, source=disputes.is_disputed,
                  description="the invoice has an open dispute: no reminders, and not collectible until resolved"),
)
INVOICE_SUMMARY = INVOICE.without("InvoiceSummary", "lines", "notices")
INVOICE_FILTERS = Schema("InvoiceFilters", status=Choice(choices=INVOICE_STATUSES), facility_id=IdArg())
VOID = Schema("Void", reason=Str(required=True, max_length=500))
PAYMENT = Schema("Payment", id=Int(read_only=True), invoice_id=Int(read_only=True), amount=Money(required=True),
                 received_on=Date(required=True), reference=Str(max_length=120))
STATEMENT_LINE = Schema(
    "StatementInvoice", invoice_id=Int(read_only=True, nullable=False), number=Str(read_only=True, nullable=False),
    issued_on=Date(read_only=True, nullable=False), due_on=Date(read_only=True, nullable=False),
    days_past_due=Int(read_only=True, nullable=False, description="negative while not yet due"),
    balance=Money(read_only=True, nullable=False, description="the balance on as_of"),
    disputed=Bool(read_only=True, nullable=False, description="an open dispute: the dunning does not chase it"))
STATEMENT_PAYMENT = Schema(
    "StatementPayment", invoice_id=Int(read_only=True, nullable=False),
    kind=Choice(read_only=True, nullable=False, choices=("payment", "credit")),
    amount=Money(read_only=True, nullable=False), received_on=Date(read_only=True, nullable=False),
    reference=Str(read_only=True))
STATEMENT = Schema(
    "Statement", facility_id=Int(read_only=True, nullable=False), as_of=Date(read_only=True, nullable=False),
    since=Date(read_only=True, description="the day of the last statement sent before as_of; null if none"),
    invoices=ListOf(read_only=True, item=Nested(schema=STATEMENT_LINE)),
    payments=ListOf(read_only=True, item=Nested(schema=STATEMENT_PAYMENT),
                    description="payments and credits received after since and by as_of"),
    balance=Money(read_only=True, nullable=False), paid_since=Money(read_only=True, nullable=False),
    credited_since=Money(read_only=True, nullable=False))
STATEMENT_SENT = Schema(
    "StatementSent", id=Int(read_only=True, nullable=False), facility_id=Int(read_only=True, nullable=False),
    as_of=Date(read_only=True, nullable=False), kind=Choice(read_only=True, nullable=False, choices=STATEMENT_KINDS),
    balance=Money(read_only=True, nullable=False), invoice_ids=ListOf(read_only=True, item=Int()),
    recipients=Str(read_only=True, nullable=False))
TASK = Schema(
    "CollectionTask", id=Int(read_only=True, nullable=False), kind=Choice(read_only=True, nullable=False,
                                                                         choices=TASK_KINDS),
    facility_id=Int(read_only=True, nullable=False), invoice_id=Int(read_only=True),
    owner_role=Choice(read_only=True, nullable=False, choices=TASK_OWNERS), owner_id=Int(read_only=True),
    title=Str(read_only=True, nullable=False), detail=Str(read_only=True),
    created_on=Date(read_only=True, nullable=False), due_on=Date(read_only=True, nullable=False),
    done_at=Timestamp(read_only=True))
RUN = Schema("InvoiceRun", period_start=Date(required=True), period_end=Date(required=True), facility_id=Id())
JOB_STARTED = Schema("JobStarted", job_id=Str(read_only=True, nullable=False, source=lambda handle: handle.id))
BUCKETS = Schema("AgingBuckets", **{bucket: Money(read_only=True, nullable=False) for bucket in AGING_BUCKETS})
FACILITY_AGING = Schema("FacilityAging", facility_id=Int(read_only=True, nullable=False),
                        name=Str(read_only=True, nullable=False), buckets=Nested(read_only=True, schema=BUCKETS,
                                                                                 nullable=False),
                        total=Money(read_only=True, nullable=False),
                        disputed=Money(read_only=True, nullable=False, description="of the total, under an open "
                                       "dispute"),
                        collectible=Money(read_only=True, nullable=False, description="the total less disputed"))
DISPUTE = Schema(
    "Dispute",
    id=Int(read_only=True, nullable=False), invoice_id=Int(read_only=True, nullable=False),
    line_id=Id(description="the invoice line disputed; null for the whole invoice"),
    reason=Str(required=True, max_length=1000, multiline=True),
    status=Choice(read_only=True, nullable=False, choices=DISPUTE_STATUSES),
    opened_on=Date(read_only=True, nullable=False),
    due_on=Date(description="by when billing settles it; default 14 days from today (billing only)"),
    owner_id=Id(description="the billing or admin user who owns it; default the billing user opening it, else "
                "the billing team (null); null for a facility contact"),
    outcome=Choice(read_only=True, choices=DISPUTE_OUTCOMES),
    note=Str(read_only=True, source=lambda d: d.resolution_note,
             description="how it was resolved (internal: null for a facility contact)"),
    resolved_on=Date(read_only=True),
    credit_amount=Money(read_only=True, description="what a credited dispute credited on the invoice"),
)
DISPUTE_FILTERS = Schema("DisputeFilters", status=Choice(choices=DISPUTE_STATUSES))
RESOLUTION = Schema("DisputeResolution", outcome=Choice(required=True, choices=DISPUTE_OUTCOMES),
                    note=Str(required=True, max_length=1000, multiline=True),
                    amount=Money(description="required when credited: the credit, at most the balance"))
PROMISE = Schema(
    "PaymentPromise",
    id=Int(read_only=True, nullable=False), invoice_id=Int(read_only=True, nullable=False),
    promised_on=Date(required=True), amount=Money(required=True), promised_by=Str(required=True, max_length=200),
    status=Choice(read_only=True, nullable=False, choices=PROMISE_STATUSES),
    made_on=Date(read_only=True, nullable=False), resolved_on=Date(read_only=True),
)
AGING = Schema("Aging", as_of=Date(read_only=True, nullable=False),
               buckets=Nested(read_only=True, nullable=False, schema=BUCKETS),
               facilities=ListOf(read_only=True, item=Nested(schema=FACILITY_AGING)),
               total=Money(read_only=True, nullable=False),
               disputed=Money(read_only=True, nullable=False, description="of the total, under an open dispute"),
               collectible=Money(read_only=True, nullable=False, description="the total less disputed: what "
                                 "collections may chase"),
               over_60_share=Dec(read_only=True, nullable=False, description="share of receivables over 60 days"),
               dso=Dec(read_only=True, description="days sales outstanding; null when money is owed and "
                       "nothing was billed in 90 days"))


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


@bp.get("/timesheets/waiting")
@requires("timesheets.view")
@documented("Entries waiting for the facility's approval, with the business days they have waited and the "
            "reminders sent (a facility contact sees only its own facility's)", response=WAITING, many=True,
            query=WAITING_FILTERS, errors=(400,))
def waiting_entries():
    filters = parse_args()
    as_of = as_of_arg()
    return page(queries.entries_query(current_actor(), status="submitted", facility_id=filters.get("facility_id")),
                TimesheetEntry.id, lambda rows: approvals.waiting_rows(rows, as_of))


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
    return page(queries.invoices_query(current_actor(), **filters), Invoice.id, _disputed)


def _disputed(invoices: list[Invoice]) -> list[dict]:
    ids = disputes.disputed_ids([invoice.id for invoice in invoices])
    return [{"disputed": invoice.id in ids} for invoice in invoices]


@bp.get("/invoices/<int:invoice_id>")
@requires("invoices.view")
@documented("An invoice with its lines", response=INVOICE, errors=(404,))
def get_invoice(invoice_id: int):
    return reply(receivables.get_invoice(invoice_id, current_actor()))


@bp.get("/invoices/<int:invoice_id>/pdf")
@requires("invoices.view")
@documented("The invoice PDF (audited); a draft has none until issued (409)", content_type="application/pdf",
            errors=(404, 409))
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


@bp.post("/invoices/<int:invoice_id>/issue")
@requires("invoices.edit")
@documented("Issue a draft: it takes the year's next number, is dated today and sent; issued already is 409",
            response=INVOICE, errors=(404, 409))
def issue_invoice(invoice_id: int):
    invoice = invoicing.issue_invoice(receivables.get_invoice(invoice_id, current_actor()), current_actor())
    send_soon()
    return reply(invoice)


@bp.post("/invoices/<int:invoice_id>/discard")
@requires("invoices.edit")
@documented("Discard a draft with a reason; its entries are freed to bill again and no number is used",
            request=VOID, response=INVOICE, errors=(400, 404, 409))
def discard_invoice(invoice_id: int):
    invoice = receivables.get_invoice(invoice_id, current_actor())
    return reply(invoicing.discard_invoice(invoice, VOID.load(json_body())["reason"], current_actor()))


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
@documented("Record a full or partial payment; more than the balance, or a reference already recorded on the "
            "invoice, is refused", request=PAYMENT,
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


# ----------------------------------------------------------------------------- disputes and promises


@bp.post("/invoices/<int:invoice_id>/disputes")
@requires("disputes.open")
@documented("Open the invoice's dispute (or of one of its lines); a facility contact opens one on its own "
            "invoice and sets no owner nor due day; a second open dispute is 409", request=DISPUTE,
            response=DISPUTE, status=201, errors=(400, 404, 409))
def open_dispute(invoice_id: int):
    actor = current_actor()
    invoice = receivables.get_invoice(invoice_id, actor)
    values = DISPUTE.load(json_body())
    dispute = disputes.open_dispute(invoice, values.get("reason"), line_id=values.get("line_id"),
                                    owner_id=values.get("owner_id"), due_on=values.get("due_on"), actor=actor)
    return created(dispute, "billing_api.invoice_disputes", {"invoice_id": invoice_id}, **disputes.seen_by(actor))


@bp.get("/invoices/<int:invoice_id>/disputes")
@requires("invoices.view")
@documented("An invoice's disputes, newest first", response=DISPUTE, many=True, errors=(404,))
def invoice_disputes(invoice_id: int):
    actor = current_actor()
    invoice = receivables.get_invoice(invoice_id, actor)
    return page(disputes.disputes_query(actor, invoice_id=invoice.id), Dispute.id,
                lambda rows: [disputes.seen_by(actor) for _ in rows])


@bp.get("/disputes")
@requires("disputes.open")
@documented("Disputes (a facility contact sees only its own facility's)", response=DISPUTE, many=True,
            query=DISPUTE_FILTERS)
def list_disputes():
    actor = current_actor()
    return page(disputes.disputes_query(actor, **parse_args()), Dispute.id,
                lambda rows: [disputes.seen_by(actor) for _ in rows])


@bp.post("/disputes/<int:dispute_id>/resolve")
@requires("disputes.resolve")
@documented("Resolve a dispute once: credited (with amount, recorded as a credit on the invoice), corrected "
            "(the invoice must be void) or upheld; a note is required", request=RESOLUTION, response=DISPUTE,
            errors=(400, 404, 409))
def resolve_dispute(dispute_id: int):
    dispute = disputes.get_dispute(dispute_id, current_actor())
    values = RESOLUTION.load(json_body())
    return reply(disputes.resolve(dispute, values["outcome"], values["note"], amount=values.get("amount"),
                                  actor=current_actor()))


@bp.post("/invoices/<int:invoice_id>/promises")
@requires("promises.record")
@documented("Record a promise to pay: no reminders before promised_on; unpaid after it, the ladder resumes "
            "one level up. One open promise per invoice", request=PROMISE, response=PROMISE, status=201,
            errors=(400, 404, 409))
def record_promise(invoice_id: int):
    invoice = receivables.get_invoice(invoice_id, current_actor())
    values = PROMISE.load(json_body())
    promise = promises.record_promise(invoice, values["promised_on"], values["amount"], values["promised_by"],
                                      current_actor())
    return created(promise, "billing_api.invoice_promises", {"invoice_id": invoice_id})


@bp.get("/invoices/<int:invoice_id>/promises")
@requires("promises.record")
@documented("An invoice's promises to pay, newest first", response=PROMISE, many=True, errors=(404,))
def invoice_promises(invoice_id: int):
    invoice = receivables.get_invoice(invoice_id, current_actor())
    return page(promises.promises_query(invoice.id), PaymentPromise.id)
# ----------------------------------------------------------------------------- statements


@bp.get("/facilities/<int:facility_id>/statement")
@requires("invoices.view")
@documented("A facility's statement of account on a day (a contact only its own)", response=STATEMENT,
            errors=(400, 404), query=AS_OF)
def get_statement(facility_id: int):
    facility = statements.get_facility(facility_id, current_actor())
    return reply(statements.to_json(statements.statement(facility, as_of_arg())))


@bp.get("/facilities/<int:facility_id>/statement.pdf")
@requires("invoices.view")
@documented("A facility's statement of account on a day as a PDF (audited)", content_type="application/pdf",
            errors=(400, 404), query=AS_OF)
def statement_pdf(facility_id: int):
    account = statements.statement(statements.get_facility(facility_id, current_actor()), as_of_arg())
    data = statements.statement_pdf(account)
    audit.record("download", account.facility, f"downloaded the statement of {account.facility.name} on "
                 f"{account.as_of.isoformat()}", actor=current_actor())
    db.session.commit()
    return send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                     download_name=statements.pdf_name(account))


@bp.post("/facilities/<int:facility_id>/statements")
@requires("statements.send")
@documented("Email the facility its statement of account today with its PDF, once a day", response=STATEMENT_SENT,
            status=201, errors=(400, 404, 409))
def send_statement(facility_id: int):
    row = statements.send_now(statements.get_facility(facility_id, current_actor()), current_actor())
    send_soon()
    return reply(row, 201)


# ----------------------------------------------------------------------------- collection tasks


@bp.get("/collection-tasks")
@requires("collection_tasks.view")
@documented("The open collection tasks on the caller's dashboard", response=TASK, many=True)
def list_tasks():
    return page(collections.open_tasks_for(current_actor()).order_by(None), CollectionTask.id)


@bp.post("/collection-tasks/<int:task_id>/done")
@requires("collection_tasks.view")
@documented("Mark one of the caller's collection tasks done", response=TASK, errors=(404, 409))
def complete_task(task_id: int):
    return reply(collections.complete_task(task_id, current_actor()))
# ----------------------------------------------------------------------------- collections measured

_FIGURES = dict(
    receivables=Money(read_only=True, nullable=False, description="open on as_of"),
    billed_90_days=Money(read_only=True, nullable=False, source=lambda r: r.aging.billed_90_days,
                         description="billed in the 90 days to as_of"),
    dso=Dec(read_only=True, description="days sales outstanding: receivables / billed_90_days x 90; null when "
            "money is owed and nothing was billed in 90 days"),
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
