"""Facility pages: facilities, their contacts and rate cards."""

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy.orm import joinedload

from agency.core.dates import human_day, today
from agency.core.errors import DomainError
from agency.core.exports import csv_response, wants_csv
from agency.core.forms import errors_sentence, form_values, show_errors
from agency.core.listing import paginate, search_arg, sort_by
from agency.core.permissions import current_actor, facility_scope, requires
from agency.core.pickers import options_response
from agency.core.states import STATE_CHOICES
from agency.extensions import db
from agency.facilities import queries, services
from agency.facilities.forms import (
    RATE_ROWS,
    ApproverForm,
    ContactForm,
    FacilityForm,
    IncompleteRow,
    RateCardForm,
)
from agency.facilities.models import FACILITY_TYPE_LABELS, Facility, FacilityContact, RateCard
from agency.placements.models import Placement

bp = Blueprint("facilities", __name__)

STATE_CODES = {code for code, _ in STATE_CHOICES}


@bp.get("/facilities/options")
@requires("facilities.view")
def facility_options():
    """The facility pickers' page of matches; ?active=1 for the facilities new work may go to."""
    picker = queries.ACTIVE_FACILITY_PICKER if request.args.get("active") == "1" else queries.FACILITY_PICKER
    return options_response(picker)


@bp.get("/facilities")
@requires("facilities.view")
def facilities():
    actor = current_actor()
    if (own := facility_scope(actor)) is not None:
        return redirect(url_for(".facility", facility_id=own))
    filters = {
        "q": search_arg(),
        "facility_type": request.args.get("facility_type") if request.args.get("facility_type")
        in FACILITY_TYPE_LABELS else None,
        "state": request.args.get("state") if request.args.get("state") in STATE_CODES else None,
    }
    query, sort = sort_by(queries.facilities_query(actor, **filters), {
        "name": Facility.name, "type": Facility.facility_type, "state": Facility.state,
        "terms": Facility.payment_terms_days, "schedule": Facility.invoice_schedule}, "name")
    if wants_csv():
        return csv_response("facilities.csv", [
            "id", "name", "facility_type", "city", "state", "funding", "payment_terms_days", "invoice_schedule",
            "bills_insurance", "payers", "billing_email", "required_documents", "active"], query, lambda f: [
            f.id, f.name, f.facility_type, f.city, f.state, f.funding, f.payment_terms_days, f.invoice_schedule,
            f.bills_insurance, "; ".join(f.payers or []), f.billing_email, "; ".join(f.required_documents or []),
            f.active])
    pagination = paginate(query)
    return render_template("facilities/facilities.html", pagination=pagination, filters=filters, sort=sort,
                           types=FACILITY_TYPE_LABELS, states=STATE_CHOICES)


def _facility_values(form: FacilityForm) -> dict:
    values = form_values(form, FacilityForm.FIELDS)
    values["payers"] = form.payer_list()
    values["required_documents"] = form.required_documents.data or []
    values["bills_insurance"] = bool(form.bills_insurance.data)
    values["active"] = bool(form.active.data)
    return values


@bp.route("/facilities/new", methods=["GET", "POST"])
@requires("facilities.edit")
def new_facility():
    form = FacilityForm()
    if form.validate_on_submit():
        try:
            facility = services.create_facility(_facility_values(form), current_actor())
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash(f"{facility.name} added.", "success")
            return redirect(url_for(".facility", facility_id=facility.id))
    return render_template("facilities/facility_form.html", form=form, facility=None)


@bp.get("/facilities/<int:facility_id>")
@requires("facilities.view")
def facility(facility_id: int):
    actor = current_actor()
    place = queries.visible_facility(actor, facility_id)
    placements = db.session.scalars(
        sa.select(Placement).where(Placement.facility_id == place.id)
        .options(joinedload(Placement.therapist))
        .order_by(Placement.start_on.desc()).limit(50)
    ).all()
    return render_template("facilities/facility.html", facility=place, placements=placements,
                           contact_form=ContactForm(), approver_form=ApproverForm, as_of=today())


@bp.route("/facilities/<int:facility_id>/edit", methods=["GET", "POST"])
@requires("facilities.edit")
def edit_facility(facility_id: int):
    place = db.get_or_404(Facility, facility_id)
    form = FacilityForm(obj=place)
    if form.validate_on_submit():
        try:
            services.update_facility(place, _facility_values(form), current_actor())
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash("Facility saved.", "success")
            return redirect(url_for(".facility", facility_id=place.id))
    return render_template("facilities/facility_form.html", form=form, facility=place)


@bp.post("/facilities/<int:facility_id>/contacts")
@requires("facilities.edit")
def add_contact(facility_id: int):
    place = db.get_or_404(Facility, facility_id)
    form = ContactForm()
    if form.validate_on_submit():
        try:
            contact = services.add_contact(place, form_values(form, ContactForm.FIELDS), current_actor())
        except DomainError as exc:
            flash(exc.sentence, "error")
        else:
            flash(f"{contact.name} added as {contact.role.replace('_', ' ')}.", "success")
    else:
        flash(f"The contact was not added. {errors_sentence(form)}", "error")
    return redirect(url_for(".facility", facility_id=place.id) + "#contacts")


@bp.post("/facility-contacts/<int:contact_id>/approver")
@requires("facilities.edit")
def set_approver(contact_id: int):
    contact = db.get_or_404(FacilityContact, contact_id)
    form = ApproverForm()
    if form.validate_on_submit():
        try:
            services.update_contact(contact, form_values(form, ("approver",)), current_actor())
        except DomainError as exc:
            flash(exc.sentence, "error")
        else:
            flash(f"{contact.name} is " + (f"the {contact.approver} approver." if contact.approver
                                           else "no longer an approver."), "success")
    else:
        flash(f"The contact was not changed. {errors_sentence(form)}", "error")
    return redirect(url_for(".facility", facility_id=contact.facility_id) + "#contacts")


@bp.post("/facility-contacts/<int:contact_id>/delete")
@requires("facilities.edit")
def remove_contact(contact_id: int):
    contact = db.get_or_404(FacilityContact, contact_id)
    facility_id = contact.facility_id
    services.remove_contact(contact, current_actor())
    flash("Contact removed.", "success")
    return redirect(url_for(".facility", facility_id=facility_id) + "#contacts")


@bp.route("/facilities/<int:facility_id>/rate-cards/new", methods=["GET", "POST"])
@bp.route("/rate-cards/<int:card_id>/edit", methods=["GET", "POST"])
@requires("rate_cards.edit")
def edit_rate_card(facility_id: int | None = None, card_id: int | None = None):
    card = db.get_or_404(RateCard, card_id) if card_id else None
    place = card.facility if card else db.get_or_404(Facility, facility_id)
    form = RateCardForm(obj=card)
    if request.method == "GET" and card is not None:
        # The card's own rates fill the first rows; leave a few blank ones for additions.
        while len(form.rates) < len(card.rates) + 4:
            form.rates.append_entry()
    if form.validate_on_submit():
        try:
            rates = form.rate_rows()
            saved = services.save_rate_card(place, card, form_values(form, RateCardForm.FIELDS), rates,
                                            current_actor())
        except IncompleteRow:
            pass  # the row's error is already beside it
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash(f"Rate card from {human_day(saved.effective_from)} saved.", "success")
            return redirect(url_for(".facility", facility_id=place.id) + "#rate-cards")
    return render_template("facilities/rate_card_form.html", form=form, facility=place, card=card,
                           rows=RATE_ROWS)
