"""JSON API for facilities, their contacts and rate cards."""

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from agency.core.api import (
    Bool,
    Choice,
    Date,
    Dec,
    Email,
    Int,
    ListOf,
    Money,
    Nested,
    Schema,
    State,
    Str,
    api_blueprint,
    created,
    json_body,
    page,
    parse_args,
    reply,
)
from agency.core.errors import NotFound, ValidationError
from agency.core.openapi import documented
from agency.core.permissions import current_actor, facility_scope, requires, withheld
from agency.credentials.models import DISCIPLINES, DOC_TYPES
from agency.extensions import db
from agency.facilities import queries, services
from agency.facilities.models import (
    APPROVERS,
    CONTACT_ROLES,
    FACILITY_TYPES,
    FUNDING,
    INVOICE_SCHEDULES,
    INVOICING_MODES,
    OVERTIME_RULES,
    RATE_ITEMS,
    STATEMENT_SCHEDULES,
    Facility,
    FacilityContact,
    RateCard,
)

bp = api_blueprint("facilities_api", __name__)

CONTACT = Schema(
    "FacilityContact",
    id=Int(read_only=True),
    role=Choice(required=True, choices=CONTACT_ROLES),
    name=Str(required=True, max_length=120),
    email=Email(required=True),
    phone=Str(max_length=30),
    approver=Choice(choices=APPROVERS, description="primary: asked to approve the facility's hours (with none "
                    "marked, the clinical director is); alternate: reminded next when they wait; null: neither"),
)
FACILITY = Schema(
    "Facility",
    id=Int(read_only=True),
    name=Str(required=True, max_length=200),
    facility_type=Choice(required=True, choices=FACILITY_TYPES),
    address_line1=Str(max_length=200),
    address_line2=Str(max_length=200),
    city=Str(max_length=100),
    state=State(required=True),
    postal_code=Str(max_length=10),
    funding=Choice(choices=FUNDING, nullable=False),
    payment_terms_days=Int(minimum=0, maximum=365, nullable=False),
    bills_insurance=Bool(nullable=False),
    payers=ListOf(item=Str(max_length=120), nullable=False),
    invoice_schedule=Choice(choices=INVOICE_SCHEDULES, nullable=False),
    billing_email=Email(),
    invoicing=Choice(choices=INVOICING_MODES, nullable=False, withheld=True, description="automatic (default): "
                     "runs issue invoices; review: runs make drafts billing issues; off: runs skip the facility; "
                     "billing changes it; null for a facility contact"),
    safety_factor=Dec(minimum=Decimal("1.01"), maximum=Decimal("100"),
                      description="the safety stop's factor for this facility; null: the agency's default (and "
                      "for a facility contact)"),
    required_documents=ListOf(item=Choice(choices=DOC_TYPES), nullable=False),
    orientation_requirements=Str(max_length=5000, multiline=True),
    active=Bool(nullable=False),
    dunning_paused=Bool(nullable=False, description="no payment reminders go to the facility while true; "
                        "billing and admin change it"),
    approval_window_days=Int(minimum=1, maximum=30, nullable=False, description="business days the facility has "
                             "to approve submitted hours before its approver is reminded (default 3)"),
    dunning_pause_reason=Str(max_length=500, description="why payment reminders are paused; required to "
                             "pause, cleared on resume; null for a facility contact"),
    statement_schedule=Choice(choices=STATEMENT_SCHEDULES, nullable=False,
                              description="when a statement of account goes to the billing email"),
    contacts=ListOf(read_only=True, item=Nested(schema=CONTACT)),
)
FACILITY_FILTERS = Schema("FacilityFilters", q=Str(max_length=100), facility_type=Choice(choices=FACILITY_TYPES),
                          state=State())
RATE = Schema("Rate", item=Choice(required=True, choices=RATE_ITEMS),
              discipline=Choice(required=True, choices=DISCIPLINES), amount=Money(required=True))
RATE_CARD = Schema(
    "RateCard",
    id=Int(read_only=True),
    facility_id=Int(read_only=True),
    effective_from=Date(required=True),
    effective_to=Date(),
    overtime_threshold_hours=Dec(),
    overtime_multiplier=Dec(nullable=False),
    overtime_rule=Choice(choices=OVERTIME_RULES, nullable=False,
                         description="weekly: over overtime_threshold_hours in a Monday-to-Sunday week; daily: over "
                         "daily_threshold_hours a day, and over overtime_threshold_hours a week if set; "
                         "eight_and_eighty: over 8 h a day or 80 h in the 14 days from period_anchor, whichever "
                         "gives more overtime"),
    daily_threshold_hours=Dec(description="daily only: regular hours a day at most (more than 0, at most 24)"),
    period_anchor=Date(description="eight_and_eighty only: the first day of a 14-day period; periods repeat "
                       "every 14 days from it; effective_from when not given"),
    notes=Str(max_length=5000, multiline=True, description="the agency's notes; null for a facility contact"),
    rates=ListOf(required=True, item=Nested(schema=RATE), max_items=500),
)


def _rates(body: dict) -> list[dict] | None:
    """The rates list of a request, each checked by the Rate schema; errors name the row."""
    if "rates" not in body:
        return None
    if not isinstance(body["rates"], list):
        raise ValidationError.on("rates", "must be a list of {item, discipline, amount}")
    rates = []
    for n, raw in enumerate(body["rates"], start=1):
        try:
            rates.append(RATE.load(raw))
        except ValidationError as exc:
            raise ValidationError.on("rates", f"rate {n}: {exc.message}") from None
    return rates


def _card_values(body: dict, partial: bool) -> dict:
    """The card's own fields; its rates are read by _rates, row by row."""
    return RATE_CARD.without("RateCardValues", "rates").load({k: v for k, v in body.items() if k != "rates"},
                                                             partial=partial)


def _visible(facility_id: int) -> Facility:
    return queries.visible_facility(current_actor(), facility_id)


@bp.get("/facilities")
@requires("facilities.view")
@documented("List facilities (a facility contact sees only its own)", response=FACILITY, many=True,
            query=FACILITY_FILTERS)
def list_facilities():
    return page(queries.facilities_query(current_actor(), **parse_args())
                .options(selectinload(Facility.contacts)), Facility.id,
                lambda rows: [withheld(Facility, current_actor())] * len(rows))


@bp.post("/facilities")
@requires("facilities.edit")
@documented("Add a facility", request=FACILITY, response=FACILITY, status=201, errors=(400, 409))
def create_facility():
    facility = services.create_facility(FACILITY.load(json_body()), current_actor())
    return created(facility, "facilities_api.get_facility", {"facility_id": facility.id})


@bp.get("/facilities/<int:facility_id>")
@requires("facilities.view")
@documented("A facility", response=FACILITY, errors=(404,))
def get_facility(facility_id: int):
    return reply(_visible(facility_id), **withheld(Facility, current_actor()))


@bp.patch("/facilities/<int:facility_id>")
@requires("facilities.edit")
@documented("Change a facility", request=FACILITY, response=FACILITY, errors=(400, 404, 409))
def update_facility(facility_id: int):
    facility = _visible(facility_id)
    values = FACILITY.load(json_body(), partial=True)
    return reply(services.update_facility(facility, values, current_actor()))


@bp.post("/facilities/<int:facility_id>/contacts")
@requires("facilities.edit")
@documented("Add a contact by role", request=CONTACT, response=CONTACT, status=201, errors=(400, 404, 409))
def add_contact(facility_id: int):
    contact = services.add_contact(_visible(facility_id), CONTACT.load(json_body()), current_actor())
    return created(contact, "facilities_api.get_facility", {"facility_id": facility_id})


@bp.patch("/facility-contacts/<int:contact_id>")
@requires("facilities.edit")
@documented("Change a contact (e.g. mark them the primary or alternate approver); a second primary or "
            "alternate of the facility is a conflict", request=CONTACT, response=CONTACT, errors=(400, 404, 409))
def update_contact(contact_id: int):
    contact = db.session.get(FacilityContact, contact_id)
    if contact is None:
        raise NotFound(f"no contact with id {contact_id}")
    return reply(services.update_contact(contact, CONTACT.load(json_body(), partial=True), current_actor()))


@bp.delete("/facility-contacts/<int:contact_id>")
@requires("facilities.edit")
@documented("Remove a contact", status=204, errors=(404,))
def remove_contact(contact_id: int):
    contact = db.session.get(FacilityContact, contact_id)
    if contact is None:
        raise NotFound(f"no contact with id {contact_id}")
    services.remove_contact(contact, current_actor())
    return "", 204


@bp.get("/facilities/<int:facility_id>/rate-cards")
@requires("rate_cards.view")
@documented("A facility's rate cards", response=RATE_CARD, many=True, errors=(400, 404))
def list_rate_cards(facility_id: int):
    _visible(facility_id)
    return page(sa.select(RateCard).where(RateCard.facility_id == facility_id)
                .options(selectinload(RateCard.rates)), RateCard.id,
                lambda rows: [withheld(RateCard, current_actor())] * len(rows))


@bp.post("/facilities/<int:facility_id>/rate-cards")
@requires("rate_cards.edit")
@documented("Add a rate card; an overlapping date range is a conflict", request=RATE_CARD,
            response=RATE_CARD, status=201, errors=(400, 404, 409))
def create_rate_card(facility_id: int):
    body = json_body()
    facility = _visible(facility_id)
    rates = _rates(body)
    if rates is None:
        raise ValidationError.on("rates", "is required")
    card = services.save_rate_card(facility, None, _card_values(body, partial=False), rates, current_actor())
    return created(card, "facilities_api.get_rate_card", {"card_id": card.id}, **withheld(RateCard, current_actor()))


def _card(card_id: int) -> RateCard:
    card = db.session.get(RateCard, card_id)
    # Another facility's card is as unknown as a missing one: the message must not tell them apart.
    if card is None or facility_scope(current_actor()) not in (None, card.facility_id):
        raise NotFound(f"no rate card with id {card_id}")
    return card


@bp.get("/rate-cards/<int:card_id>")
@requires("rate_cards.view")
@documented("A rate card", response=RATE_CARD, errors=(404,))
def get_rate_card(card_id: int):
    return reply(_card(card_id), **withheld(RateCard, current_actor()))


@bp.patch("/rate-cards/<int:card_id>")
@requires("rate_cards.edit")
@documented("Change a rate card (e.g. set its end date)", request=RATE_CARD, response=RATE_CARD,
            errors=(400, 404, 409))
def update_rate_card(card_id: int):
    card = _card(card_id)
    body = json_body()
    saved = services.save_rate_card(card.facility, card, _card_values(body, partial=True), _rates(body),
                                    current_actor())
    return reply(saved, **withheld(RateCard, current_actor()))
