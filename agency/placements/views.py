"""Placement pages: open assignments, matching, placements, checklists, check-ins, the recruiter worklist."""

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy.orm import joinedload, selectinload

from agency.billing import holds
from agency.core.bounds import id_or_none
from agency.core.dates import parse_iso_date, today
from agency.core.errors import DomainError
from agency.core.exports import csv_response, list_csv, wants_csv
from agency.core.forms import form_values, show_errors
from agency.core.listing import id_arg, page_args, paginate, paginate_list, search_arg, sort_by
from agency.core.permissions import can, current_actor, requires
from agency.core.pickers import options_response
from agency.credentials import queries as credential_queries
from agency.credentials.forms import choices
from agency.credentials.models import DISCIPLINES, Document
from agency.extensions import db
from agency.placements import queries, services
from agency.placements.at_risk import revenue_at_risk
from agency.placements.forms import (
    AlertForm,
    AssignmentForm,
    CheckInForm,
    ChecklistToggleForm,
    PlacementForm,
    ProposeForm,
    StatusForm,
)
from agency.placements.matching import match_assignment
from agency.placements.models import (
    ASSIGNMENT_STATUSES,
    PLACEMENT_STATUSES,
    Assignment,
    AssignmentAlert,
    Placement,
)
from agency.placements.readiness import readiness
from agency.placements.watch import CODE_LABELS, Watch, watch_items
from agency.placements.worklist import KINDS, recruiter_worklist

bp = Blueprint("placements", __name__)


@bp.get("/therapists/options")
@requires("therapists.view")
def therapist_options():
    """The placement form's therapist picker: a page of the therapists a placement may be proposed for."""
    return options_response(queries.THERAPIST_PICKER)


# ----------------------------------------------------------------------------- recruiter worklist


@bp.get("/recruiting")
@requires("assignments.view")
def recruiting():
    kind = request.args.get("kind") if request.args.get("kind") in KINDS else None
    as_of = today()
    items = recruiter_worklist(as_of, kind=kind)
    if wants_csv():
        return list_csv("recruiting-worklist.csv", ["due_on", "kind", "what", "details", "at_risk"],
                        ([i.due_on, i.kind_label, i.title, i.detail, i.at_risk] for i in items))
    return render_template("placements/recruiting.html", pagination=paginate_list(items), kinds=KINDS, kind=kind,
                           as_of=as_of)


# ----------------------------------------------------------------------------- compliance watch


@bp.get("/placements/watch")
@requires("placements.watch")
def watch():
    """Onboarding and active placements that are, or will become before they end, not ready."""
    code = request.args.get("code") if request.args.get("code") in CODE_LABELS else None
    as_of = today()
    found = Watch(as_of, code=code)
    if wants_csv():
        return list_csv("compliance-watch.csv", [
            "bites_on", "placement_id", "therapist", "facility", "status", "code", "message", "fix_url"],
            ([i.bites_on, i.placement_id, i.placement.therapist.full_name, i.placement.facility.name, i.status,
              i.code, i.message, request.host_url.rstrip("/") + i.fix_url] for i in found[:]))
    return render_template("placements/watch.html", pagination=paginate_list(found, page_args()[1]), watch=found,
                           codes=CODE_LABELS, code=code, as_of=as_of)


# ----------------------------------------------------------------------------- revenue at risk


@bp.get("/placements/at-risk")
@requires("revenue_at_risk.view")
def at_risk():
    """Placements that stop being ready before they end, ranked by what the rate card says they would earn."""
    as_of = today()
    if request.args.get("as_of"):
        try:
            as_of = parse_iso_date(request.args["as_of"])
        except ValueError:
            flash("Ignored the day asked for: not a date (YYYY-MM-DD); showing today.", "warning")
    found = revenue_at_risk(as_of)
    code = request.args.get("code") if request.args.get("code") in CODE_LABELS else None
    shown = found.filtered(facility_id=id_arg("facility_id"), code=code)
    if wants_csv():
        return list_csv(f"revenue-at-risk-{as_of.isoformat()}.csv", [
            "placement_id", "therapist", "facility", "status", "billing_basis", "hours_per_week", "at_risk_on",
            "code", "counted_to", "weekly_revenue", "revenue_at_risk", "note"],
            ([i.placement_id, i.placement.therapist.full_name, i.placement.facility.name, i.placement.status,
              i.placement.billing_basis, i.placement.hours_per_week, i.at_risk_on, i.code, i.counted_to,
              i.weekly_revenue, i.revenue_at_risk, _at_risk_note(i)] for i in shown.items))
    pagination = paginate_list(shown.items, page_args()[1])
    facilities = sorted({(i.facility_id, i.placement.facility.name) for i in found.items}, key=lambda f: f[1])
    return render_template("placements/at_risk.html", found=shown, pagination=pagination,
                           rows=list(zip(pagination.items, watch_items(pagination.items), strict=True)),
                           codes=CODE_LABELS, code=code, facilities=facilities, facility_id=id_arg("facility_id"),
                           as_of=as_of)


def _at_risk_note(item) -> str:
    """Why the figure is what it is: unpriced, or counted to the horizon for want of an end."""
    notes = [item.unpriced] if item.unpriced else []
    if item.open_ended:
        notes.append(f"no end date: counted to {item.counted_to.isoformat()}")
    return "; ".join(notes)


# ----------------------------------------------------------------------------- assignments


@bp.get("/assignments")
@requires("assignments.view")
def assignments():
    status = request.args.get("status", "open")
    status = status if status in ASSIGNMENT_STATUSES else None
    discipline = request.args.get("discipline") if request.args.get("discipline") in DISCIPLINES else None
    query = queries.assignments_query(status=status, discipline=discipline).order_by(Assignment.start_on)
    if wants_csv():
        return csv_response("assignments.csv", [
            "id", "title", "facility", "discipline", "service_states", "start_on", "length_weeks",
            "hours_per_week", "telehealth", "status"], query, lambda a: [
            a.id, a.title, a.facility.name, a.discipline, " ".join(a.service_states), a.start_on,
            a.length_weeks, a.hours_per_week, a.telehealth, a.status])
    pagination = paginate(query)
    return render_template("placements/assignments.html", pagination=pagination, status=status,
                           discipline=discipline, statuses=ASSIGNMENT_STATUSES, disciplines=DISCIPLINES)


def _assignment_values(form: AssignmentForm) -> dict:
    values = form_values(form, AssignmentForm.FIELDS)
    values["telehealth"] = bool(form.telehealth.data)
    if form.service_states.data:
        values["service_states"] = form.service_states.data
    return values


@bp.route("/assignments/new", methods=["GET", "POST"])
@bp.route("/assignments/<int:assignment_id>/edit", methods=["GET", "POST"])
@requires("assignments.edit")
def edit_assignment(assignment_id: int | None = None):
    assignment = db.get_or_404(Assignment, assignment_id) if assignment_id else None
    form = AssignmentForm(obj=assignment)
    if request.method == "GET" and assignment is None and id_arg("facility_id"):
        form.facility_id.data = id_arg("facility_id")
    if form.validate_on_submit():
        try:
            saved = services.save_assignment(assignment, _assignment_values(form), current_actor())
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash(f"Assignment “{saved.title}” saved.", "success")
            return redirect(url_for(".assignment", assignment_id=saved.id))
    return render_template("placements/assignment_form.html", form=form, assignment=assignment)


@bp.get("/assignments/<int:assignment_id>")
@requires("assignments.view")
def assignment(assignment_id: int):
    job = db.one_or_404(sa.select(Assignment).where(Assignment.id == assignment_id).options(
        joinedload(Assignment.facility), selectinload(Assignment.alerts).joinedload(AssignmentAlert.therapist)))
    candidates = paginate_list(match_assignment(job, today()))
    alert_form = AlertForm()
    return render_template("placements/assignment.html", assignment=job, candidates=candidates,
                           alert_form=alert_form, propose_form=ProposeForm())


@bp.post("/assignments/<int:assignment_id>/alerts")
@requires("assignments.edit")
def send_alerts(assignment_id: int):
    job = db.get_or_404(Assignment, assignment_id)
    form = AlertForm()
    if form.validate_on_submit():
        try:
            sent, told = services.send_assignment_alert(job, form.therapist_ids.data or [], current_actor())
        except DomainError as exc:
            flash(exc.sentence, "error")
        else:
            flash(f"Queued for {sent} therapist(s); the email goes out from the outbox"
                  + (f"; {told} had already been told." if told else "."),
                  "success")
    else:
        flash("The form expired; please try again.", "error")
    return redirect(url_for(".assignment", assignment_id=job.id))


@bp.post("/assignments/<int:assignment_id>/propose")
@requires("placements.edit")
def propose(assignment_id: int):
    job = db.get_or_404(Assignment, assignment_id)
    form = ProposeForm()
    therapist_id = id_or_none(form.therapist_id.data) if form.validate_on_submit() else None
    if therapist_id is None:
        flash("Choose a therapist to propose.", "error")
        return redirect(url_for(".assignment", assignment_id=job.id))
    try:
        placement = services.create_placement(
            {"assignment_id": job.id, "therapist_id": therapist_id}, current_actor())
    except DomainError as exc:
        flash(exc.sentence, "error")
        return redirect(url_for(".assignment", assignment_id=job.id))
    flash(f"{placement.therapist.full_name} proposed for {job.title}.", "success")
    return redirect(url_for(".placement", placement_id=placement.id))


# ----------------------------------------------------------------------------- placements


@bp.get("/placements")
@requires("placements.view")
def placements():
    status = request.args.get("status") if request.args.get("status") in PLACEMENT_STATUSES else None
    q = search_arg()
    query, sort = sort_by(queries.placements_query(current_actor(), status=status, q=q), {
        "start": Placement.start_on, "end": Placement.end_on, "status": Placement.status,
        "basis": Placement.billing_basis}, "-start")
    if wants_csv():
        return csv_response("placements.csv", [
            "id", "therapist_id", "therapist", "facility_id", "facility", "start_on", "end_on", "service_states",
            "billing_basis", "hours_per_week", "telehealth", "status"], query, lambda p: [
            p.id, p.therapist_id, p.therapist.full_name, p.facility_id, p.facility.name, p.start_on, p.end_on,
            " ".join(p.service_states), p.billing_basis, p.hours_per_week, p.telehealth, p.status])
    pagination = paginate(query)
    return render_template("placements/placements.html", pagination=pagination, status=status, q=q, sort=sort,
                           statuses=PLACEMENT_STATUSES)


def _placement_values(form: PlacementForm, fixed: tuple = ()) -> dict:
    values = form_values(form, [name for name in PlacementForm.FIELDS if name not in fixed])
    values["telehealth"] = bool(form.telehealth.data)
    values["service_states"] = form.service_states.data or None
    return values


@bp.route("/placements/new", methods=["GET", "POST"])
@requires("placements.edit")
def new_placement():
    form = PlacementForm()
    if request.method == "GET" and id_arg("therapist_id"):
        form.therapist_id.data = id_arg("therapist_id")
    if form.validate_on_submit():
        try:
            placement = services.create_placement(_placement_values(form), current_actor())
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash("Placement proposed; its onboarding checklist and check-ins are scheduled.", "success")
            return redirect(url_for(".placement", placement_id=placement.id))
    return render_template("placements/placement_form.html", form=form, placement=None)


@bp.route("/placements/<int:placement_id>/edit", methods=["GET", "POST"])
@requires("placements.edit")
def edit_placement(placement_id: int):
    placement = queries.visible_placement(current_actor(), placement_id)
    form = PlacementForm(obj=placement)
    # Who and where are fixed once proposed: a different therapist is a different placement.
    del form.therapist_id, form.facility_id
    if form.validate_on_submit():
        values = _placement_values(form, fixed=("therapist_id", "facility_id"))
        if values["service_states"] is None:
            values.pop("service_states")
        try:
            services.update_placement(placement, values, current_actor())
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash("Placement saved.", "success")
            return redirect(url_for(".placement", placement_id=placement.id))
    return render_template("placements/placement_form.html", form=form, placement=placement)


@bp.get("/placements/<int:placement_id>")
@requires("placements.view")
def placement(placement_id: int):
    actor = current_actor()
    found = queries.visible_placement(actor, placement_id)
    as_of = today()
    status_form = StatusForm()
    status_form.status.choices = choices((s, s.capitalize()) for s in found.allowed_next)
    documents = []
    if can(actor, "credentials.view"):
        documents = db.session.scalars(
            credential_queries.documents_query(therapist_id=found.therapist_id)
            .order_by(Document.doc_type, Document.id.desc())
        ).all()
    return render_template(
        "placements/placement.html", placement=found, as_of=as_of,
        readiness=readiness(found, as_of).as_seen_by(actor), documents=documents,
        status_form=status_form, toggle_form=ChecklistToggleForm(), held=holds.held_summary(found.id),
    )


@bp.post("/placements/<int:placement_id>/status")
@requires("placements.edit")
def change_status(placement_id: int):
    found = queries.visible_placement(current_actor(), placement_id)
    form = StatusForm()
    form.status.choices = choices((s, s) for s in found.allowed_next)
    if form.validate_on_submit():
        override = (form.override_reason.data or "").strip() or None
        try:
            services.change_status(found, form.status.data, current_actor(),
                                   reason=(form.reason.data or "").strip() or None, override_reason=override)
        except DomainError as exc:
            flash(f"Status not changed. {exc.sentence}", "error")
        else:
            flash(f"The placement is now {found.status}.", "success")
    else:
        flash("Choose a status this placement can move to.", "error")
    return redirect(url_for(".placement", placement_id=found.id))


@bp.post("/checklist-items/<int:item_id>")
@requires("checklist.edit")
def toggle_checklist_item(item_id: int):
    item = queries.checklist_item(current_actor(), item_id)
    form = ChecklistToggleForm()
    if form.validate_on_submit():
        try:
            services.set_checklist_item(item, form.done.data == "1", current_actor())
        except DomainError as exc:
            flash(exc.sentence, "error")
        else:
            flash(f"“{item.title}” {'done' if item.done else 'reopened'}.", "success")
    return redirect(url_for(".placement", placement_id=item.placement_id) + "#checklist")


@bp.route("/checkins/<int:checkin_id>", methods=["GET", "POST"])
@requires("checkins.edit")
def checkin(checkin_id: int):
    found = queries.checkin(current_actor(), checkin_id)
    form = CheckInForm(obj=found)
    if request.method == "GET" and found.completed_on is None:
        form.completed_on.data = today()
    if form.validate_on_submit():
        try:
            services.record_checkin(found, {
                "completed_on": form.completed_on.data, "satisfaction": form.satisfaction.data,
                "notes": (form.notes.data or "").strip() or None, "concern": form.concern.data,
            }, current_actor())
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash(f"{found.day}-day check-in recorded" + (
                "; an email about the concern is queued for the admins." if found.concern else "."), "success")
            return redirect(url_for(".placement", placement_id=found.placement_id) + "#checkins")
    return render_template("placements/checkin_form.html", form=form, checkin=found)
