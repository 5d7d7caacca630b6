"""Pricing: approved timesheet entries and a facility's rate cards in, invoice lines out.

A pure function of its inputs: the invoice job, the preview page and the tests
all call price(). Each line's amount is rounded half-up to cents; the invoice
total is the exact sum of the lines.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from agency.billing.models import TimesheetEntry
from agency.core.money import to_cents
from agency.facilities.models import RateCard

ZERO = Decimal("0")


def week_start(day: date) -> date:
    """The Monday of the day's week: overtime is counted per Monday-to-Sunday week (FLSA workweek)."""
    return day - timedelta(days=day.weekday())


def month_start(day: date) -> date:
    return day.replace(day=1)


@dataclass
class PricedLine:
    placement_id: int
    item: str
    description: str
    unit_price: Decimal
    overtime: bool = False
    period_key: date | None = None
    sources: dict[int, Decimal] = field(default_factory=dict)  # entry id -> quantity it contributes

    @property
    def quantity(self) -> Decimal:
        return sum(self.sources.values(), ZERO)

    @property
    def amount(self) -> Decimal:
        return to_cents(self.quantity * self.unit_price)


@dataclass
class Unpriced:
    entry: TimesheetEntry
    reason: str


@dataclass
class Pricing:
    lines: list[PricedLine]
    unpriced: list[Unpriced]
    # Entries whose whole charge is a contract week an earlier invoice line already billed:
    # entry id -> that line's id. They are billed by it, not left waiting forever.
    covered: dict[int, int] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def priced_entries(self) -> set[int]:
        return {entry_id for line in self.lines for entry_id in line.sources}


@dataclass
class BillingHistory:
    """What live invoices already billed, so late approvals are priced with it."""

    direct_hours: dict[tuple[int, date], Decimal] = field(default_factory=dict)  # (placement, Monday)
    weeks: dict[tuple[int, date], int] = field(default_factory=dict)  # contract week -> the line billing it
    months: set[tuple[int, date]] = field(default_factory=set)  # platform months billed


def card_on(cards: list[RateCard], day: date) -> RateCard | None:
    return next((card for card in cards if card.covers(day)), None)


def _fmt(value: Decimal) -> str:
    return f"{value.normalize():f}"


class _Lines:
    """Accumulates entry quantities into lines keyed by what makes them one line on the invoice."""

    def __init__(self):
        self.by_key: dict[tuple, PricedLine] = {}

    def add(self, key: tuple, entry_id: int, quantity: Decimal, template: PricedLine) -> None:
        line = self.by_key.setdefault(key, template)
        line.sources[entry_id] = line.sources.get(entry_id, ZERO) + quantity


def price(entries: list[TimesheetEntry], cards: list[RateCard], history: BillingHistory) -> Pricing:
    """Price approved entries of one facility.

    An entry is priced whole or not at all: if any part of it has no rate in
    the card in effect on its date, it stays unbilled and is reported, so the
    agency can fix the contract and bill it later, never losing it.
    """
    lines = _Lines()
    unpriced: list[Unpriced] = []
    covered: dict[int, int] = {}
    week_hours = dict(history.direct_hours)

    for entry in sorted(entries, key=lambda e: (e.placement_id, e.work_date, e.id)):
        placement = entry.placement
        therapist = placement.therapist
        who = f"{therapist.full_name} ({therapist.discipline})"
        card = card_on(cards, entry.work_date)
        if card is None:
            unpriced.append(Unpriced(entry, f"no rate card in effect on {entry.work_date.isoformat()}"))
            continue

        def line(item, description, unit, **kw):
            return PricedLine(placement.id, item, f"{description}, {who}", unit, **kw)  # noqa: B023

        parts: list[tuple[tuple, Decimal, PricedLine]] = []
        missing = []
        billed_week_line = None
        monday = week_start(entry.work_date)
        month = month_start(entry.work_date)
        hours = entry.direct_care_hours
        if placement.billing_basis == "hourly" and hours > 0:
            unit = card.rate("direct_care_hour", therapist.discipline)
            if unit is None:
                missing.append("direct_care_hour")
            else:
                threshold = card.overtime_threshold_hours
                already = week_hours.get((placement.id, monday), ZERO)
                regular = hours if threshold is None else max(min(hours, threshold - already), ZERO)
                if regular:
                    parts.append((("direct", placement.id, unit), regular,
                                  line("direct_care_hour", "Direct care hours", unit)))
                if hours - regular:
                    # The overtime rate is a price printed on the invoice like any other, so it is
                    # quoted in cents; the facility can then check quantity x rate = amount by hand.
                    ot_unit = to_cents(unit * card.overtime_multiplier)
                    parts.append((("ot", placement.id, monday, ot_unit), hours - regular, line(
                        "direct_care_hour",
                        f"Direct care overtime (over {_fmt(threshold)} h, week of {monday:%b %d, %Y}, "
                        f"{_fmt(card.overtime_multiplier)}x)", ot_unit, overtime=True, period_key=monday)))
        elif placement.billing_basis == "per_diem" and entry.total_hours > 0:
            unit = card.rate("per_diem_day", therapist.discipline)
            if unit is None:
                missing.append("per_diem_day")
            else:
                parts.append((("per_diem", placement.id, unit), Decimal(1),
                              line("per_diem_day", "Per-diem days", unit)))
        elif placement.billing_basis == "weekly" and (placement.id, monday) in history.weeks:
            billed_week_line = history.weeks[(placement.id, monday)]
        elif placement.billing_basis == "weekly":
            unit = card.rate("contract_week", therapist.discipline)
            if unit is None:
                missing.append("contract_week")
            else:
                parts.append((("week", placement.id, monday), Decimal(1),
                              line("contract_week", f"Contract week of {monday:%b %d, %Y}", unit,
                                   period_key=monday)))

        if entry.supervision_hours > 0:
            unit = card.rate("supervision_hour", therapist.discipline)
            if unit is None:
                missing.append("supervision_hour")
            else:
                parts.append((("supervision", placement.id, unit), entry.supervision_hours,
                              line("supervision_hour", "Supervision hours", unit)))
        if entry.travel_miles > 0:
            per_mile = card.rate("travel_mile", therapist.discipline)
            flat = card.rate("travel_flat", therapist.discipline)
            if per_mile is not None:
                parts.append((("miles", placement.id, per_mile), entry.travel_miles,
                              line("travel_mile", "Travel miles", per_mile)))
            elif flat is not None:
                parts.append((("travel_flat", placement.id, flat), Decimal(1),
                              line("travel_flat", "Travel days (flat)", flat)))
            else:
                missing.append("travel_mile or travel_flat")

        if placement.telehealth and (placement.id, month) not in history.months:
            # Not every contract charges the platform fee: no rate means no line, not an error.
            unit = card.rate("telehealth_platform_month", therapist.discipline)
            if unit is not None:
                parts.append((("platform", placement.id, month), Decimal(1),
                              line("telehealth_platform_month", f"Telehealth platform, {month:%B %Y}", unit,
                                   period_key=month)))

        if missing:
            unpriced.append(Unpriced(entry, f"the rate card has no {', '.join(missing)} rate for "
                                            f"{therapist.discipline}"))
            continue
        if not parts:
            if billed_week_line is not None:
                covered[entry.id] = billed_week_line
            else:
                unpriced.append(Unpriced(entry, "nothing billable on this entry"))
            continue
        for key, quantity, template in parts:
            if key[0] in ("week", "platform") and key in lines.by_key:
                # One charge per week or month: later entries only trace back to it.
                quantity = ZERO
            lines.add(key, entry.id, quantity, template)
        if placement.billing_basis == "hourly":
            week_hours[(placement.id, monday)] = week_hours.get((placement.id, monday), ZERO) + hours

    ordered = sorted(
        lines.by_key.values(),
        key=lambda line: (line.placement_id, line.item, line.overtime, line.period_key or date.min),
    )
    return Pricing([line for line in ordered if line.quantity > 0], unpriced, covered)
