"""Revenue at risk: onboarding and active placements that stop being ready before they end, from the first
day they do, and what the rate card says each earns a week from then to its end.

The day and its cause are the compliance watch's (watch.py holds every rule): the soonest of its rows for
each placement, whatever codes it knows. It is computed live from the credentials, so a renewal recorded
takes a placement off the list, or on to its next cause, at once. The list costs one
statement however many placements there are: the watch's rows with their placements and rate cards.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from agency.billing.pricing import WeekPrice, card_on, week_price
from agency.core.money import to_cents
from agency.extensions import db
from agency.facilities.models import Facility, RateCard
from agency.placements.models import Placement
from agency.placements.watch import watch_horizon, watch_order, watch_rows

ZERO = Decimal("0")


@dataclass
class AtRisk:
    placement: Placement
    at_risk_on: date
    code: str  # the watch code of the cause that bites first
    detail: str | None  # the state or document type it concerns, if any
    counted_to: date  # the placement's end, or the horizon for an open-ended one
    week: WeekPrice
    revenue_at_risk: Decimal

    placement_id = property(lambda self: self.placement.id)
    therapist_id = property(lambda self: self.placement.therapist_id)
    facility_id = property(lambda self: self.placement.facility_id)
    weekly_revenue = property(lambda self: self.week.amount)
    unpriced = property(lambda self: self.week.unpriced)
    open_ended = property(lambda self: self.placement.end_on is None)
    # Read as a watch row by watch_items(), for the cause's words and the link that fixes it.
    bites_on = property(lambda self: self.at_risk_on)


def prorated(weekly: Decimal, first: date, last: date) -> Decimal:
    """The weekly revenue for the days from first to last, both counted, at a seventh of it a day."""
    days = (last - first).days + 1
    return to_cents(weekly * days / 7) if days > 0 else ZERO


@dataclass
class RevenueAtRisk:
    as_of: date
    horizon: date  # where an open-ended placement's revenue stops being counted
    items: list[AtRisk]  # largest revenue at risk first

    @property
    def total(self) -> Decimal:
        return sum((item.revenue_at_risk for item in self.items), ZERO)

    def within(self, days: int) -> list[AtRisk]:
        """The items at risk within so many days of as_of."""
        until = self.as_of + timedelta(days=days)
        return [item for item in self.items if item.at_risk_on <= until]

    def filtered(self, *, facility_id: int | None = None, code: str | None = None) -> "RevenueAtRisk":
        return RevenueAtRisk(self.as_of, self.horizon, [
            item for item in self.items
            if facility_id in (None, item.facility_id) and code in (None, item.code)])


def watched_rows(as_of: date) -> list:
    """Every row of the compliance watch in its order, each with its placement (therapist, facility and the
    facility's rate cards and rates loaded with it): one statement, which the dashboard's watch reuses."""
    rows = watch_rows(as_of)
    return db.session.execute(
        sa.select(rows, Placement).join(Placement, Placement.id == rows.c.placement_id)
        .order_by(*watch_order(rows))
        .options(joinedload(Placement.therapist),
                 joinedload(Placement.facility).joinedload(Facility.rate_cards).joinedload(RateCard.rates))
    ).unique().all()


# What stops a placement being ready before its end (the therapist's standing, an exclusion, a license, a
# privilege's home license, a panel's re-credentialing, a required document, CAQH), in the order a cause is
# named when several bite on the same day: an exclusion ends billing outright, CAQH only stalls payers.
CAUSES = ("do_not_place", "therapist_inactive", "excluded", "license_expired", "no_license_in_state",
          "panel_not_approved", "document_missing", "caqh_attestation_due")


def revenue_at_risk(as_of: date, rows: list | None = None) -> RevenueAtRisk:
    """Every onboarding and active placement that is not ready, or stops being ready before its end, with
    the day it does (as_of if already), its cause and its revenue from then to its end, largest first.

    The cause is the placement's soonest row of the watch among CAUSES (watched_rows, read here unless
    given), the first of CAUSES on a tie; onboarding items and hours already held are the watch's, not risks
    to revenue ahead. The weekly revenue is what the rate card in effect on that day bills for a full week of
    the placement's basis (billing.pricing.week_price), or today's card where the contract has not yet been
    renewed that far. An open-ended placement is counted as far as the watch looks.
    """
    horizon = watch_horizon(as_of)
    soonest = {}
    for row in watched_rows(as_of) if rows is None else rows:
        if row.code in CAUSES:
            held = soonest.get(row.placement_id)
            if held is None or (row.bites_on, CAUSES.index(row.code)) < (held.bites_on, CAUSES.index(held.code)):
                soonest[row.placement_id] = row
    items = []
    for row in soonest.values():
        placement = row.Placement
        cards = placement.facility.rate_cards
        week = week_price(card_on(cards, row.bites_on) or card_on(cards, as_of), placement.billing_basis,
                          placement.therapist.discipline, placement.hours_per_week)
        counted_to = placement.end_on or horizon
        items.append(AtRisk(placement, row.bites_on, row.code, row.detail, counted_to, week,
                            prorated(week.amount, row.bites_on, counted_to)))
    items.sort(key=lambda item: (-item.revenue_at_risk, item.at_risk_on, item.placement_id))
    return RevenueAtRisk(as_of, horizon, items)
