"""The recruiter's worklist: onboarding items and check-ins due, rate cards to renew, open jobs."""

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from agency.core.dates import human_day
from agency.extensions import db
from agency.facilities.services import rate_cards_ending
from agency.placements.models import Assignment, CheckIn, ChecklistItem, Placement

KINDS = {
    "onboarding_item": "Onboarding item",
    "checkin": "Check-in",
    "rate_card_renewal": "Rate card renewal",
    "open_assignment": "Open assignment",
}

# Items show up a week before they fall due.
LOOKAHEAD_DAYS = 7


@dataclass
class RecruiterItem:
    kind: str
    due_on: date
    title: str
    detail: str
    endpoint: str
    args: dict
    at_risk: bool = False

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]


def recruiter_worklist(as_of: date, *, kind: str | None = None, limit: int | None = None) -> list[RecruiterItem]:
    """Everything a recruiter should act on, most urgent first, in four queries; at most limit items.

    The most urgent limit items are among the most urgent limit of each source, so each query is
    cut down in SQL and only those are loaded.
    """
    until = as_of + timedelta(days=LOOKAHEAD_DAYS)
    items: list[RecruiterItem] = []
    onboarding = db.session.scalars(
        sa.select(ChecklistItem)
        .join(ChecklistItem.placement)
        .where(ChecklistItem.done.is_(False), ChecklistItem.due_on <= until,
               Placement.status.in_(Placement.BEFORE_START))
        .order_by(ChecklistItem.due_on, ChecklistItem.id).limit(limit)
        .options(joinedload(ChecklistItem.placement).joinedload(Placement.therapist),
                 joinedload(ChecklistItem.placement).joinedload(Placement.facility))
    ).all()
    for item in onboarding:
        p = item.placement
        items.append(RecruiterItem(
            "onboarding_item", item.due_on, item.title,
            f"{p.therapist.full_name} at {p.facility.name}, starts {human_day(p.start_on)} "
            f"(owner: {item.owner})",
            "placements.placement", {"placement_id": p.id}, item.threatens_start(as_of)))
    checkins = db.session.scalars(
        sa.select(CheckIn)
        .join(CheckIn.placement)
        .where(CheckIn.completed_on.is_(None), CheckIn.due_on <= until, Placement.status == "active")
        .order_by(CheckIn.due_on, CheckIn.id).limit(limit)
        .options(joinedload(CheckIn.placement).joinedload(Placement.therapist),
                 joinedload(CheckIn.placement).joinedload(Placement.facility))
    ).all()
    for checkin in checkins:
        p = checkin.placement
        items.append(RecruiterItem(
            "checkin", checkin.due_on, f"{checkin.day}-day check-in",
            f"{p.therapist.full_name} at {p.facility.name}", "placements.placement",
            {"placement_id": p.id}, checkin.due_on < as_of))
    for card in sorted(rate_cards_ending(as_of), key=lambda c: (c.effective_to, c.id))[:limit]:
        items.append(RecruiterItem(
            "rate_card_renewal", card.effective_to, f"Renew the rate card of {card.facility.name}",
            f"current card ends {human_day(card.effective_to)}; ask about renewal terms",
            "facilities.facility", {"facility_id": card.facility_id}))
    for assignment in db.session.scalars(
        sa.select(Assignment).where(Assignment.status == "open").options(joinedload(Assignment.facility))
        .order_by(Assignment.start_on, Assignment.id).limit(limit)
    ):
        items.append(RecruiterItem(
            "open_assignment", assignment.start_on, assignment.title,
            f"{assignment.discipline} at {assignment.facility.name}, {assignment.hours_per_week} h/week",
            "placements.assignment", {"assignment_id": assignment.id}, assignment.start_on < until))
    if kind:
        items = [i for i in items if i.kind == kind]
    items.sort(key=lambda i: (i.due_on, i.kind))
    return items[:limit]


def open_assignments() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Assignment).where(Assignment.status == "open"))
