"""Billing pages: timesheets, invoices, payments, receivables, and the facility portal."""

import io
from datetime import date

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from sqlalchemy.orm import joinedload, selectinload
from wtforms.fields.choices import SelectChoice

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
from agency.billing.forms import (
    DecideForm,
    DisputeForm,
    EntryForm,
    FacilityFilterForm,
    ImportForm,
    InvoiceRunForm,
    IssueForm,
    PauseForm,
    PaymentForm,
    PromiseForm,
    ReleaseForm,
    ResolveDisputeForm,
    RetryRunForm,
    VoidForm,
)
from agency.billing.models import (
    ENTRY_STATUSES,
    INVOICE_STATUSES,
    ISSUED_STATUSES,
    Dispute,
    Invoice,
    InvoiceLine,
    TimesheetEntry,
)
from agency.core import audit
from agency.core.bounds import id_or_none
from agency.core.dates import human_day, parse_iso_date, today
from agency.core.errors import Conflict, DomainError
from agency.core.exports import csv_response, list_csv, wants_csv
from agency.core.forms import errors_sentence, flash_import_report, form_values, read_text_upload, show_errors
from agency.core.jobs import recent_jobs
from agency.core.listing import id_arg, paginate, search_arg, sort_by
from agency.core.money import format_money
from agency.core.outbox import OutboxMessage, send_soon
from agency.core.permissions import current_actor, facility_scope, requires
from agency.core.pickers import options_response
from agency.extensions import db
from agency.facilities import services as facility_services
from agency.facilities.models import Facility
from agency.placements.models import Placement

bp = Blueprint("billing", __name__)


@bp.app_template_filter("hold_reasons_seen")
def hold_reasons_seen(reasons):
    """An entry's hold reasons as the page's viewer may read them (holds.reasons_seen_by)."""
    return holds.reasons_seen_by(reasons, current_actor())


def _day_arg(name: str) -> date | None:
    try:
        return parse_iso_date(request.args[name]) if request.args.get(name) else None
    except ValueError:
        flash(f"Ignored {name.replace('_', ' ')}: not a date.", "warning")
        return None


def _download_day_arg(name: str) -> date:
    """A download's day (today when not given): a file has no place for a warning, so a bad day is refused
    rather than replaced by today unseen."""
    try:
        return parse_iso_date(request.args[name]) if request.args.get(name) else today()
    except ValueError:
        abort(400, description=f"{name.replace('_', ' ')} is not a date (YYYY-MM-DD)")


# ----------------------------------------------------------------------------- timesheets


@bp.get("/timesheets")
@requires("timesheets.view")
def timesheets_list():
    actor = current_actor()
    filters = {
        "q": search_arg(),
        "status": request.args.get("status") if request.args.get("status") in ENTRY_STATUSES else None,
        "facility_id": id_arg("facility_id"),
        "date_from": _day_arg("from"),
        "date_to": _day_arg("to"),
    }
    query, sort = sort_by(queries.entries_query(actor, **filters), {
        "date": TimesheetEntry.work_date, "direct": TimesheetEntry.direct_care_hours,
        "supervision": TimesheetEntry.supervision_hours, "miles": TimesheetEntry.travel_miles,
        "status": TimesheetEntry.status}, "-date")
    if wants_csv():
        return csv_response("timesheets.csv", [
            "id", "placement_id", "therapist", "facility", "work_date", "direct_care_hours", "supervision_hours",
            "travel_miles", "status", "rejection_reason", "hold_reasons"], query, lambda e: [
            e.id, e.placement_id, e.placement.therapist.full_name, e.placement.facility.name, e.work_date,
            e.direct_care_hours, e.supervision_hours, e.travel_miles, e.status, e.rejection_reason,
            "; ".join(r["message"] for r in holds.reasons_seen_by(e.hold_reasons, actor))])
    pagination = paginate(query)
    facility_filter = None if facility_scope(actor) is not None else FacilityFilterForm(
        request.args, data={"facility_id": filters["facility_id"]})
    return render_template("billing/timesheets.html", pagination=pagination, filters=filters, sort=sort,
                           statuses=ENTRY_STATUSES, facility_filter=facility_filter, decide_form=DecideForm())


@bp.get("/timesheets/placement-options")
@requires("timesheets.edit")
def placement_options():
    """The timesheet form's placement picker: a page of the placements hours may be recorded against."""
    return options_response(queries.BILLABLE_PLACEMENT_PICKER)


@bp.route("/timesheets/new", methods=["GET", "POST"])
@bp.route("/timesheets/<int:entry_id>/edit", methods=["GET", "POST"])
@requires("timesheets.edit")
def edit_entry(entry_id: int | None = None):
    entry = timesheets.get_entry(entry_id, current_actor()) if entry_id else None
    form = EntryForm(obj=entry)
    if request.method == "GET" and entry is None and id_arg("placement_id"):
        form.placement_id.data = id_arg("placement_id")
    if form.validate_on_submit():
        values = form_values(form, EntryForm.FIELDS)
        try:
            if entry is None:
                saved = timesheets.record_entry(values, current_actor())
            else:
                saved = timesheets.update_entry(entry, values, current_actor())
        except DomainError as exc:
            show_errors(form, exc)
        else:
            if saved.status == "held":
                flash(f"Entry for {human_day(saved.work_date)} saved, but held: "
                      + "; ".join(r["message"] for r in saved.hold_reasons)
                      + ". It cannot be approved until the gap is resolved or an admin releases it.", "warning")
            else:
                flash(f"Entry for {human_day(saved.work_date)} saved; it awaits approval.", "success")
            return redirect(url_for(".timesheets_list"))
    return render_template("billing/entry_form.html", form=form, entry=entry, release_form=ReleaseForm())


@bp.post("/timesheets/<int:entry_id>/release")
@requires("timesheets.release")
def release_entry(entry_id: int):
    """An admin releases a held entry to submitted, with the reason the form asks for (audited)."""
    entry = timesheets.get_entry(entry_id, current_actor())
    form = ReleaseForm()
    if form.validate_on_submit():
        try:
            holds.release(entry, form.reason.data, current_actor())
        except DomainError as exc:
            flash(f"Not released. {exc.sentence}", "error")
        else:
            flash(f"Entry for {human_day(entry.work_date)} released from hold; it awaits approval.", "success")
            return redirect(url_for(".timesheets_list"))
    else:
        flash(f"Not released: {errors_sentence(form)}", "error")
    return redirect(url_for(".edit_entry", entry_id=entry_id))


@bp.post("/timesheets/decide")
@requires("timesheets.decide")
def decide():
    """Approve or reject the ticked entries, all together."""
    form = DecideForm()
    back = request.form.get("next") or url_for(".timesheets_list")
    back = back if back.startswith("/") and not back.startswith("//") else url_for(".timesheets_list")
    ids = [i for i in map(id_or_none, request.form.getlist("entry_ids")) if i is not None]
    if not form.validate_on_submit():
        flash("The form expired; please try again.", "error")
    elif not ids:
        flash("Tick the entries to approve or reject first.", "warning")
    else:
        try:
            entries = [timesheets.get_entry(i, current_actor()) for i in ids]
            decision = timesheets.decide(entries, approve=bool(form.approve.data), actor=current_actor(),
                                         reason=form.reason.data)
        except DomainError as exc:
            flash(f"Nothing changed. {exc.sentence}", "error")
        else:
            changed = decision.changed
            flash(f"{changed} entr{'y' if changed == 1 else 'ies'} "
                  f"{'approved' if form.approve.data else 'rejected'}.", "success")
            if decision.held:
                flash(f"{len(decision.held)} held entr{'y was' if len(decision.held) == 1 else 'ies were'} "
                      f"not approved: {timesheets.held_sentence(decision.held, current_actor())}.", "warning")
    return redirect(back)


@bp.route("/timesheets/import", methods=["GET", "POST"])
@requires("timesheets.edit")
def import_timesheets():
    form = ImportForm()
    report = None
    if form.validate_on_submit() and (text := read_text_upload(form.file, 2)) is not None:
        report = timesheets.import_csv(text, current_actor(), dry_run=form.dry_run.data)
        flash_import_report(report, form.dry_run.data, f"Imported {report.imported} entries."
                            + (f" {report.held} of them held (see why on the timesheets list, filter Held)."
                               if report.held else ""))
    return render_template("billing/import.html", form=form, report=report,
                           columns=timesheets.CSV_COLUMN_HELP)


# ----------------------------------------------------------------------------- invoices


@bp.get("/invoices")
@requires("invoices.view")
def invoices():
    actor = current_actor()
    status = request.args.get("status") if request.args.get("status") in INVOICE_STATUSES else None
    facility_id, q = id_arg("facility_id"), search_arg()
    query, sort = sort_by(queries.invoices_query(actor, status=status, facility_id=facility_id, q=q), {
        "number": Invoice.number, "issued": Invoice.issued_on, "due": Invoice.due_on, "total": Invoice.total,
        "status": Invoice.status}, "-number")
    if wants_csv():
        return csv_response("invoices.csv", [
            "id", "number", "facility", "period_start", "period_end", "issued_on", "due_on", "total",
            "amount_paid", "balance", "status"], query, lambda i: [
            i.id, i.number, i.facility.name, i.period_start, i.period_end, i.issued_on, i.due_on, i.total,
            i.amount_paid, i.balance, i.status])
    pagination = paginate(query)
    return render_template("billing/invoices.html", pagination=pagination, status=status, sort=sort,
                           statuses=INVOICE_STATUSES, facility_id=facility_id, q=q, as_of=today())


@bp.route("/invoices/run", methods=["GET", "POST"])
@requires("invoices.edit")
def run_invoices():
    form = InvoiceRunForm()
    if request.method == "GET":
        form.period_start.data, form.period_end.data = invoicing.last_closed_period("monthly", today())
    if form.validate_on_submit():
        if form.period_end.data < form.period_start.data:
            form.period_end.errors = ["must not be before the period start"]
        else:
            handle = runs.start_invoice_run(form.period_start.data, form.period_end.data,
                                            form.facility_id.data or None, current_actor())
            if handle.status == "finished":
                made = handle.result["invoice_ids"]
                flash(f"{len(made)} invoice(s) generated." if made else "Nothing new to bill in that period.",
                      "success")
                for problem in (handle.result["unpriced"] + handle.result.get("held", []))[:10]:
                    flash(f"Entry {problem['entry_id']} not billed: {problem['reason']}", "warning")
                return redirect(url_for(".invoices"))
            if handle.status == "failed":
                flash("The invoice run ended, but some facilities were not invoiced; see why below.", "error")
            else:
                flash("Invoice run queued; this page shows how it ends.", "success")
            return redirect(url_for(".invoice_run", job_id=handle.id))
    return render_template("billing/run.html", form=form, unbilled=invoicing.unbilled_by_facility(today()),
                           runs=recent_jobs(runs.RUN_JOB))


@bp.get("/invoices/runs/<job_id>")
@requires("invoices.edit")
def invoice_run(job_id: str):
    """How an invoice run is going (it refreshes itself until every part is done), then what it made."""
    return render_template("billing/invoice_run.html", job=runs.describe_run(job_id), retry_form=RetryRunForm(),
                           refresh=current_app.config["INVOICE_RUN_REFRESH_SECONDS"])


@bp.post("/invoices/runs/<job_id>/retry")
@requires("invoices.edit")
def retry_invoice_run(job_id: str):
    """Queue again the parts with facilities not invoiced: failed, or left by a worker that stopped."""
    if not RetryRunForm().validate_on_submit():
        flash("The form expired; please try again.", "error")
    else:
        try:
            parts = runs.retry_invoice_run(job_id)
        except Conflict as exc:
            flash(f"Nothing retried. {exc.sentence}", "warning")
        else:
            flash(f"{len(parts)} part(s) queued again; what was invoiced already is not billed twice.", "success")
    return redirect(url_for(".invoice_run", job_id=job_id))


@bp.get("/invoices/<int:invoice_id>")
@requires("invoices.view")
def invoice(invoice_id: int):
    actor = current_actor()
    found = receivables.get_invoice(invoice_id, actor)
    lines = db.session.scalars(
        sa.select(InvoiceLine).where(InvoiceLine.invoice_id == found.id)
        .options(joinedload(InvoiceLine.placement).joinedload(Placement.therapist),
                 selectinload(InvoiceLine.sources))
        .order_by(InvoiceLine.position)
    ).all()
    email = db.session.scalar(sa.select(OutboxMessage).where(
        OutboxMessage.dedupe_key == pdf.invoice_email_key(found)))
    payment_form = PaymentForm()
    payment_form.received_on.data = today()
    return render_template("billing/invoice.html", invoice=found, lines=lines, email=email,
                           payment_form=payment_form, void_form=VoidForm(), issue_form=IssueForm(), as_of=today(),
                           disputes=db.session.scalars(disputes.disputes_query(actor, invoice_id=found.id)
                                                       .options(joinedload(Dispute.owner), joinedload(Dispute.line))
                                                       .order_by(Dispute.id.desc())).all(),
                           promises=db.session.scalars(promises.promises_query(found.id)).all(),
                           dispute_form=_dispute_form(lines), resolve_form=ResolveDisputeForm(),
                           promise_form=PromiseForm())


def _dispute_form(lines) -> DisputeForm:
    form = DisputeForm()
    form.line_id.choices = [SelectChoice(0, "The whole invoice")] + [
        SelectChoice(line.id, f"{line.placement.therapist.full_name}: {line.description} ({format_money(line.amount)})")
        for line in lines]
    return form


@bp.post("/invoices/<int:invoice_id>/disputes")
@requires("disputes.open")
def open_dispute(invoice_id: int):
    """Open a dispute from the invoice page (billing) or the portal (the facility's contact, its own invoice)."""
    actor = current_actor()
    found = receivables.get_invoice(invoice_id, actor)
    lines = db.session.scalars(sa.select(InvoiceLine).where(InvoiceLine.invoice_id == found.id)
                               .options(joinedload(InvoiceLine.placement).joinedload(Placement.therapist))).all()
    form = _dispute_form(lines)
    if form.validate_on_submit():
        try:
            dispute = disputes.open_dispute(found, form.reason.data, line_id=form.line_id.data or None, actor=actor)
        except DomainError as exc:
            flash(f"Dispute not opened. {exc.sentence}", "error")
        else:
            flash(f"Dispute #{dispute.id} opened on {found.number}; billing answers by {human_day(dispute.due_on)}. "
                  "No reminders are sent for it meanwhile.", "success")
    else:
        flash(f"Dispute not opened: {errors_sentence(form)}", "error")
    return redirect(url_for(".invoice", invoice_id=invoice_id))


@bp.post("/disputes/<int:dispute_id>/resolve")
@requires("disputes.resolve")
def resolve_dispute(dispute_id: int):
    dispute = disputes.get_dispute(dispute_id)
    form = ResolveDisputeForm()
    if form.validate_on_submit():
        try:
            disputes.resolve(dispute, form.outcome.data, form.note.data, amount=form.amount.data,
                             actor=current_actor())
        except DomainError as exc:
            flash(f"Dispute not resolved. {exc.sentence}", "error")
        else:
            flash(f"Dispute #{dispute.id} resolved: {form.outcome.data}.", "success")
    else:
        flash(f"Dispute not resolved: {errors_sentence(form)}", "error")
    return redirect(url_for(".invoice", invoice_id=dispute.invoice_id))


@bp.post("/invoices/<int:invoice_id>/promises")
@requires("promises.record")
def record_promise(invoice_id: int):
    found = receivables.get_invoice(invoice_id)
    form = PromiseForm()
    if form.validate_on_submit():
        try:
            promises.record_promise(found, form.promised_on.data, form.amount.data, form.promised_by.data,
                                    current_actor())
        except DomainError as exc:
            flash(f"Promise not recorded. {exc.sentence}", "error")
        else:
            flash(f"Promise of {format_money(form.amount.data)} by {human_day(form.promised_on.data)} recorded; "
                  "no reminders until then.", "success")
    else:
        flash(f"Promise not recorded: {errors_sentence(form)}", "error")
    return redirect(url_for(".invoice", invoice_id=invoice_id))


@bp.get("/disputes")
@requires("disputes.resolve")
def disputes_list():
    """Billing's disputes: open ones (overdue first flagged), or resolved."""
    as_of = today()
    status = request.args.get("status", "open")
    overdue = status == "overdue"
    query = disputes.disputes_query(status=None if overdue else status, overdue_on=as_of if overdue else None)
    query = query.options(joinedload(Dispute.invoice).joinedload(Invoice.facility), joinedload(Dispute.owner))
    pagination = paginate(query.order_by(Dispute.due_on, Dispute.id))
    return render_template("billing/disputes.html", pagination=pagination, status=status, as_of=as_of)


@bp.post("/invoices/<int:invoice_id>/issue")
@requires("invoices.edit")
def issue(invoice_id: int):
    found = receivables.get_invoice(invoice_id)
    if not IssueForm().validate_on_submit():
        flash("Not issued: the form expired; try again.", "error")
    else:
        try:
            invoicing.issue_invoice(found, current_actor())
        except DomainError as exc:
            flash(f"Not issued. {exc.sentence}", "error")
        else:
            flash(f"Draft #{found.id} issued as {found.number}; its PDF and email follow.", "success")
    return redirect(url_for(".invoice", invoice_id=invoice_id))


@bp.post("/invoices/<int:invoice_id>/discard")
@requires("invoices.edit")
def discard(invoice_id: int):
    found = receivables.get_invoice(invoice_id)
    form = VoidForm()
    if form.validate_on_submit():
        try:
            invoicing.discard_invoice(found, form.reason.data, current_actor())
        except DomainError as exc:
            flash(f"Not discarded. {exc.sentence}", "error")
        else:
            flash(f"Draft #{found.id} discarded; its hours can be billed again.", "success")
    else:
        flash(f"Not discarded: {errors_sentence(form)}", "error")
    return redirect(url_for(".invoice", invoice_id=invoice_id))


@bp.post("/invoices/<int:invoice_id>/email")
@requires("invoices.edit")
def email_invoice(invoice_id: int):
    found = receivables.get_invoice(invoice_id)
    try:
        invoicing.email_invoice(found, current_actor())
    except DomainError as exc:
        flash(f"Not emailed. {exc.sentence}", "error")
    else:
        flash(f"Invoice {found.number} queued to {found.facility.billing_email}; {_when_sent()}.", "success")
    return redirect(url_for(".invoice", invoice_id=invoice_id))


@bp.get("/invoices/<int:invoice_id>/pdf")
@requires("invoices.view")
def invoice_pdf(invoice_id: int):
    found = receivables.get_invoice(invoice_id, current_actor())
    data = pdf.ensure_pdf(found)
    audit.record("download", found, f"downloaded invoice {found.number} PDF")
    db.session.commit()
    return send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                     download_name=f"{found.number}.pdf")


@bp.post("/invoices/<int:invoice_id>/payments")
@requires("payments.record")
def record_payment(invoice_id: int):
    found = receivables.get_invoice(invoice_id)
    form = PaymentForm()
    if form.validate_on_submit():
        try:
            receivables.record_payment(found, form.amount.data, form.received_on.data, form.reference.data,
                                       current_actor())
        except DomainError as exc:
            flash(f"Payment not recorded. {exc.sentence}", "error")
        else:
            flash(f"Payment of {format_money(form.amount.data)} recorded; balance {format_money(found.balance)}.",
                  "success")
    else:
        flash(f"Payment not recorded: {errors_sentence(form)}", "error")
    return redirect(url_for(".invoice", invoice_id=invoice_id))


@bp.post("/invoices/<int:invoice_id>/void")
@requires("invoices.edit")
def void(invoice_id: int):
    found = receivables.get_invoice(invoice_id)
    form = VoidForm()
    if form.validate_on_submit():
        try:
            receivables.void_invoice(found, form.reason.data, current_actor())
        except DomainError as exc:
            flash(f"Not voided. {exc.sentence}", "error")
        else:
            flash(f"Invoice {found.number} voided; its hours can be billed again.", "success")
    else:
        flash(f"Not voided: {errors_sentence(form)}", "error")
    return redirect(url_for(".invoice", invoice_id=invoice_id))


# ----------------------------------------------------------------------------- receivables


@bp.get("/receivables")
@requires("receivables.view")
def receivables_page():
    as_of = _day_arg("as_of") or today()
    report = receivables.aging(as_of, current_actor())
    if wants_csv():
        return list_csv(f"aging-{as_of.isoformat()}.csv", ["facility_id", "facility", *receivables.BUCKETS, "total"], [
            *([row.facility_id, row.name, *(row.buckets[b] for b in receivables.BUCKETS), row.total]
              for row in report.facilities),
            ["", "All facilities", *(report.buckets[b] for b in receivables.BUCKETS), report.total]])
    return render_template(
        "billing/receivables.html", report=report, buckets=receivables.BUCKETS,
        labels=receivables.BUCKET_LABELS,
        chart_labels=[receivables.BUCKET_LABELS[b] for b in receivables.BUCKETS],
        chart_values=[report.buckets[b] for b in receivables.BUCKETS],
    )


# ----------------------------------------------------------------------------- collections measured


@bp.get("/collections/metrics")
@requires("collections.view")
def collection_metrics():
    as_of = _day_arg("as_of") or today()
    report = metrics.collections_report(as_of)
    rows, sort = metrics.sorted_rows(report.facilities, request.args.get("sort", "name"))
    return render_template("billing/collection_metrics.html", report=report, rows=rows, sort=sort,
                           ratings=metrics.RATINGS)


@bp.get("/collections/metrics.csv")
@requires("collections.view")
def collection_metrics_csv():
    as_of = _download_day_arg("as_of")
    report = metrics.collections_report(as_of)
    rows, _ = metrics.sorted_rows(report.facilities, request.args.get("sort", "name"))
    return list_csv(f"collections-{as_of.isoformat()}.csv", metrics.CSV_HEADER,
                    [*(metrics.csv_row(row) for row in rows), metrics.csv_row(report.agency)])


# ----------------------------------------------------------------------------- dunning


@bp.get("/receivables/dunning")
@requires("receivables.view")
def dunning():
    """The facilities the dunning chases: each invoice's level reached, what goes now, and the mail sent."""
    as_of = today()
    pagination = paginate(receivables.dunning_ladder(as_of))
    return render_template("billing/dunning.html", pagination=pagination, as_of=as_of,
                           rows=receivables.dunning_rows(pagination.items, as_of),
                           levels=receivables.dunning_levels(), pause_form=PauseForm())


@bp.post("/receivables/dunning/facilities/<int:facility_id>/pause")
@requires("dunning.manage")
def pause_dunning(facility_id: int):
    """Pause a facility's payment reminders with a reason (or, with resume, restart them); audited."""
    facility = facility_services.get_facility(facility_id)
    form = PauseForm()
    paused = request.form.get("resume") != "1"
    if not form.validate_on_submit():
        flash(f"Nothing changed: {errors_sentence(form)}", "error")
        return redirect(url_for(".dunning"))
    try:
        facility_services.update_facility(
            facility, {"dunning_paused": paused, "dunning_pause_reason": form.reason.data}, current_actor())
    except DomainError as exc:
        flash(f"Nothing changed: {exc.message}", "error")
    else:
        flash(f"Payment reminders to {facility.name} {'paused' if paused else 'resumed'}.", "success")
    return redirect(url_for(".dunning"))


@bp.post("/receivables/dunning/facilities/<int:facility_id>/send")
@requires("dunning.manage")
def send_reminder_now(facility_id: int):
    """Send a facility's due reminder levels now, through the dunning run's own send, once."""
    facility = facility_services.get_facility(facility_id)
    try:
        chases = receivables.send_next_now(facility, today(), current_actor())
    except DomainError as exc:
        flash(f"Nothing sent: {exc.message}", "warning")
    else:
        flash(f"Reminder to {facility.name} queued for " + ", ".join(
            f"{c.invoice.number} ({c.level['key'].replace('_', ' ')})" for c in chases) + f"; {_when_sent()}.",
            "success")
    return redirect(url_for(".dunning"))


# ----------------------------------------------------------------------------- statements


@bp.get("/facilities/<int:facility_id>/statement.pdf")
@requires("invoices.view")
def statement_pdf(facility_id: int):
    """The facility's statement of account today as a PDF (a contact only its own); the download is audited."""
    account = statements.statement(statements.get_facility(facility_id, current_actor()), today())
    return _statement_download(account)


@bp.get("/portal/statement.pdf")
@requires("invoices.view")
def portal_statement():
    """The contact's own facility's current statement of account."""
    own = facility_scope(current_actor())
    if own is None:
        return redirect(url_for(".receivables_page"))
    return _statement_download(statements.statement(statements.get_facility(own, current_actor()), today()))


def _statement_download(account):
    data = statements.statement_pdf(account)
    audit.record("download", account.facility, f"downloaded the statement of {account.facility.name} on "
                                               f"{human_day(account.as_of)}")
    db.session.commit()
    return send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                     download_name=statements.pdf_name(account))


@bp.post("/facilities/<int:facility_id>/statements")
@requires("statements.send")
def send_statement(facility_id: int):
    """Send the facility its statement of account now, with its PDF, to the billing email."""
    facility = facility_services.get_facility(facility_id)
    try:
        row = statements.send_now(facility, current_actor())
    except DomainError as exc:
        flash(f"Nothing sent: {exc.message}", "warning")
    else:
        flash(f"Statement of {facility.name} ({format_money(row.balance)} open) queued to {row.recipients}; "
              f"{_when_sent()}.", "success")
    return redirect(url_for("facilities.facility", facility_id=facility_id))


# ----------------------------------------------------------------------------- collection tasks


@bp.post("/collection-tasks/<int:task_id>/done")
@requires("collection_tasks.view")
def complete_task(task_id: int):
    """Mark a collection task on one's dashboard done (audited)."""
    try:
        task = collections.complete_task(task_id, current_actor())
    except DomainError as exc:
        flash(f"Nothing changed: {exc.message}", "warning")
    else:
        flash(f"Done: {task.title}.", "success")
    return redirect(url_for("dashboard.dashboard"))


def _when_sent() -> str:
    """When the outbox sends what a request queued: as the request ends, or with its next periodic send."""
    return "the outbox sends it in a moment" if send_soon() else "the outbox sends it with its next send"


# ----------------------------------------------------------------------------- facility portal


@bp.get("/portal")
@requires("invoices.view")
def portal():
    """A facility contact's home: hours to approve, open invoices and the statement of account."""
    actor = current_actor()
    own = facility_scope(actor)
    if own is None:
        return redirect(url_for(".invoices"))
    facility = db.session.get(Facility, own)
    as_of = today()
    size = current_app.config["PAGE_SIZE"]
    waiting = paginate(approvals.waiting_query(actor))
    held = db.session.scalars(holds.held_query(facility_ids=[own]).limit(size)).all()
    placements = db.session.scalars(
        sa.select(Placement).where(Placement.facility_id == own, Placement.status.in_(
            Placement.COMMITTED)).options(joinedload(Placement.therapist)).order_by(Placement.start_on)
        .limit(size)
    ).all()
    statement = db.session.scalars(
        queries.invoices_query(actor).where(Invoice.status.in_(ISSUED_STATUSES)).order_by(Invoice.issued_on.desc(),
                                                                               Invoice.id.desc()).limit(size)
    ).all()
    owed = receivables.aging(as_of, actor)  # what Receivables shows for this facility, to the cent
    return render_template(
        "billing/portal.html", facility=facility, waiting=waiting, placements=placements,
        statement=statement, as_of=as_of, decide_form=DecideForm(), open_total=owed.total, held=held,
        overdue_total=owed.overdue, waiting_phrase=approvals.waiting_phrase, disputed_total=owed.disputed,
        disputes=db.session.scalars(disputes.disputes_query(actor).options(joinedload(Dispute.invoice))
                                    .order_by(Dispute.id.desc()).limit(size)).all(),
        disputed_ids=disputes.disputed_ids([i.id for i in statement]),
    )
