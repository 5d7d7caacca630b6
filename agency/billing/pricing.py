"""Pricing: approved timesheet entries and a facility's rate cards in, invoice lines out.

A pure function of its inputs: the invoice job, the preview page and the tests
all call price(). Each line's amount is rounded half-up to cents; the invoice
total is the exact sum of the lines.

Direct-care hours are priced per overtime period, as one invoice of the whole
period would price them: what the period owes, less what live lines already
bill for it. The period is the one of the rate card in effect on the day: the
Monday-to-Sunday week under the weekly and daily rules, the fixed 14 days from
the card's anchor under 8-and-80. So a late approval, a void and a rebill all
land on the same regular and overtime hours, and where a live line billed more
than the period now owes, the next invoice carries a credit line naming the
period and that invoice.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from agency.billing.models import TimesheetEntry
from agency.core.dates import human_day
from agency.core.money import to_cents
from agency.facilities.models import RateCard
from agency.placements.models import Placement

ZERO = Decimal("0")
ONE = Decimal("1")
CREDIT_WAITS = ("its overtime period's correction credits more than this invoice bills; it waits for the next "
                "invoice, which bills it with the credit")


def week_start(day: date) -> date:
    """The Monday of the day's Monday-to-Sunday week (FLSA workweek)."""
    return day - timedelta(days=day.weekday())


# A placement's overtime period: (placement id, first day, length in days). The length is part of the key:
# a week and a 14-day period of two cards may start on the same Monday and are still two periods.
PeriodKey = tuple[int, date, int]


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
    # A credit line gives back hours a live line of this invoice billed: its quantity is negative.
    corrects_invoice_id: int | None = None
    # entry id -> quantity it contributes; a correction can take hours back from a billed entry (negative).
    sources: dict[int, Decimal] = field(default_factory=dict)

    @property
    def quantity(self) -> Decimal:
        return sum(self.sources.values(), ZERO)

    @property
    def amount(self) -> Decimal:
        return to_cents(self.quantity * self.unit_price)

    @property
    def is_credit(self) -> bool:
        return self.corrects_invoice_id is not None


@dataclass
class Unpriced:
    entry: TimesheetEntry
    reason: str


@dataclass
class Pricing:
    lines: list[PricedLine]
    unpriced: list[Unpriced]
    # Entries whose whole charge an earlier invoice line already bills (a contract week, or direct-care
    # hours other days of the week gave up to them): entry id -> that line's id. They are billed by it,
    # not left waiting forever.
    covered: dict[int, int] = field(default_factory=dict)
    # The entries this pricing bills (corrections may also trace hours of entries billed before).
    billed_entries: set[int] = field(default_factory=set)
    # The overtime periods that carry a credit line.
    credit_weeks: set[PeriodKey] = field(default_factory=set)

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


@dataclass(frozen=True)
class WorkedDay:
    """An entry's direct-care hours, as its overtime period's pricing needs them."""

    entry_id: int
    work_date: date
    hours: Decimal


# How a direct-care hour is billed: (overtime, unit price).
HourKey = tuple[bool, Decimal]


@dataclass
class WeekLedger:
    """One placement's overtime period as live invoices bill it: the days they bill and the hours of each
    line kind."""

    days: list[WorkedDay] = field(default_factory=list)  # entries billed on a live invoice
    # entry id -> (overtime, unit price) -> hours live lines bill for it, credits included
    billed: dict[int, dict[HourKey, Decimal]] = field(default_factory=dict)
    # (overtime, unit price) -> invoices (id, number) with live lines billing such hours, oldest first
    invoices: dict[HourKey, list[tuple[int, str]]] = field(default_factory=dict)
    lines: list[int] = field(default_factory=list)  # ids of the live lines charging the period's hours


@dataclass
class BillingHistory:
    """What live invoices already billed, so late approvals and rebills are priced with it."""

    hours: dict[PeriodKey, WeekLedger] = field(default_factory=dict)
    weeks: dict[tuple[int, date], int] = field(default_factory=dict)  # contract week -> the line billing it
    months: set[tuple[int, date]] = field(default_factory=set)  # platform months billed
    # Overtime periods a void released hours of that are not approved again: they are priced again without
    # new hours, so what live lines billed with those hours counted is corrected on the next invoice.
    released: dict[PeriodKey, Placement] = field(default_factory=dict)


def card_on(cards: list[RateCard], day: date) -> RateCard | None:
    return next((card for card in cards if card.covers(day)), None)


def overtime_period(card: RateCard | None, day: date) -> tuple[date, int]:
    """(first day, days) of the day's overtime period under the card in effect on it; a day no card covers
    keeps what it was billed and is counted in its Monday-to-Sunday week."""
    return card.overtime_period(day) if card else (week_start(day), 7)


def _fmt(value: Decimal) -> str:
    return f"{value.normalize():f}"


class _Lines:
    """Accumulates entry quantities into lines keyed by what makes them one line on the invoice."""

    def __init__(self):
        self.by_key: dict[tuple, PricedLine] = {}

    def add(self, key: tuple, entry_id: int, quantity: Decimal, make: Callable[[], PricedLine]) -> None:
        """Add to the line of key, made (described) only when the key is first met, not per entry."""
        line = self.by_key.get(key)
        if line is None:
            line = self.by_key[key] = make()
        line.sources[entry_id] = line.sources.get(entry_id, ZERO) + quantity


def _line(placement: Placement, item: str, description: str, unit: Decimal, **kw) -> PricedLine:
    therapist = placement.therapist
    return PricedLine(placement.id, item, f"{description}, {therapist.full_name} ({therapist.discipline})",
                      unit, **kw)


class _RateBook:
    """The facility's cards: the one in effect on a day and its rate per (item, discipline), each looked
    up once per pricing rather than once per entry."""

    def __init__(self, cards: list[RateCard]):
        self.cards = cards
        self.on_day: dict[date, RateCard | None] = {}
        self.rates: dict[tuple[int, str, str], Decimal | None] = {}

    def card_on(self, day: date) -> RateCard | None:
        if day not in self.on_day:
            self.on_day[day] = card_on(self.cards, day)
        return self.on_day[day]

    def period(self, placement_id: int, day: date) -> PeriodKey:
        return (placement_id, *overtime_period(self.card_on(day), day))

    def rate(self, card: RateCard, item: str, discipline: str) -> Decimal | None:
        key = (id(card), item, discipline)
        if key not in self.rates:
            self.rates[key] = card.rate(item, discipline)
        return self.rates[key]


def _ready(line: PricedLine) -> Callable[[], PricedLine]:
    return lambda: line


@dataclass
class _Charges:
    """What one entry is billed for, besides its direct-care hours, which are priced with their period."""

    entry: TimesheetEntry
    card: RateCard
    book: _RateBook
    parts: list[tuple[tuple, Decimal, Callable[[], PricedLine]]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    hourly_week: PeriodKey | None = None
    covered_by: int | None = None

    @property
    def discipline(self) -> str:
        return self.entry.placement.therapist.discipline

    def rate(self, item: str, required: bool = True) -> Decimal | None:
        unit = self.book.rate(self.card, item, self.discipline)
        if unit is None and required:
            self.missing.append(item)
        return unit


# Billing bases: how a day of the placement is charged.

def _direct_care(charges: _Charges, history: BillingHistory) -> None:
    entry = charges.entry
    if entry.direct_care_hours > 0 and charges.rate("direct_care_hour") is not None:
        charges.hourly_week = charges.book.period(entry.placement_id, entry.work_date)


def _per_diem(charges: _Charges, history: BillingHistory) -> None:
    entry = charges.entry
    if entry.total_hours > 0 and (unit := charges.rate("per_diem_day")) is not None:
        charges.parts.append((("per_diem", entry.placement_id, unit), ONE,
                              lambda: _line(entry.placement, "per_diem_day", "Per-diem days", unit)))


def _contract_week(charges: _Charges, history: BillingHistory) -> None:
    entry = charges.entry
    monday = week_start(entry.work_date)
    if (entry.placement_id, monday) in history.weeks:
        charges.covered_by = history.weeks[(entry.placement_id, monday)]
    elif (unit := charges.rate("contract_week")) is not None:
        charges.parts.append((("week", entry.placement_id, monday), ONE, lambda: _line(
            entry.placement, "contract_week", f"Contract week of {human_day(monday)}", unit, period_key=monday)))


BASES = {"hourly": _direct_care, "per_diem": _per_diem, "weekly": _contract_week}


# Items any day can carry on top of its basis.

def _supervision(charges: _Charges, history: BillingHistory) -> None:
    entry = charges.entry
    if entry.supervision_hours > 0 and (unit := charges.rate("supervision_hour")) is not None:
        charges.parts.append((("supervision", entry.placement_id, unit), entry.supervision_hours,
                              lambda: _line(entry.placement, "supervision_hour", "Supervision hours", unit)))


def _travel(charges: _Charges, history: BillingHistory) -> None:
    """Per mile where the contract has a mileage rate, else a flat charge per day travelled."""
    entry = charges.entry
    if entry.travel_miles <= 0:
        return
    per_mile = charges.rate("travel_mile", required=False)
    flat = charges.rate("travel_flat", required=False)
    if per_mile is not None:
        charges.parts.append((("miles", entry.placement_id, per_mile), entry.travel_miles,
                              lambda: _line(entry.placement, "travel_mile", "Travel miles", per_mile)))
    elif flat is not None:
        charges.parts.append((("travel_flat", entry.placement_id, flat), ONE,
                              lambda: _line(entry.placement, "travel_flat", "Travel days (flat)", flat)))
    else:
        charges.missing.append("travel_mile or travel_flat")


def _platform(charges: _Charges, history: BillingHistory) -> None:
    entry = charges.entry
    month = month_start(entry.work_date)
    if not entry.placement.telehealth or (entry.placement_id, month) in history.months:
        return
    # Not every contract charges the platform fee: no rate means no line, not an error.
    unit = charges.rate("telehealth_platform_month", required=False)
    if unit is not None:
        charges.parts.append((("platform", entry.placement_id, month), ONE, lambda: _line(
            entry.placement, "telehealth_platform_month", f"Telehealth platform, {month:%B %Y}", unit,
            period_key=month)))


ITEMS = (_supervision, _travel, _platform)
ONCE_PER_PERIOD = ("week", "platform")  # one charge per contract week or platform month


def overtime_rate(unit: Decimal, card: RateCard) -> Decimal:
    """The overtime rate is a price printed on the invoice like any other, so it is quoted in cents; the
    facility can then check quantity x rate = amount by hand."""
    return to_cents(unit * card.overtime_multiplier)


# Direct-care hours, one placement's overtime period at a time.

Caps = tuple[Decimal | None, Decimal | None]  # regular hours a day, regular hours a period; None: no limit


def regular_hours(hours: Decimal, caps: Caps, day_regular: Decimal, period_regular: Decimal) -> Decimal:
    """The regular part of a day's hours, the day's and the period's regular hours before it given:
    max(0, min(hours, day cap - day's regular so far, period cap - period's regular so far)).

    One walk in date order gives every rule. Weekly: no day cap, the period cap is the weekly threshold.
    Daily: hours over the day cap are overtime and, with a weekly threshold too, regular hours over it;
    an hour is overtime once, as daily overtime is not counted again towards the week's threshold.
    8-and-80 (caps 8 and 80) then bills exactly max(D, T - 80) overtime hours, D the sum of each day's
    hours over 8 and T the period's hours, which is what 29 CFR 778.601 asks (whichever is more). Why:
    a day can add at most min(day, 8) regular hours, and the walk takes them greedily until the period's
    80 are used up, so the regular hours are min(sum of min(day, 8), 80) = min(T - D, 80), and the
    overtime T - min(T - D, 80) = max(D, T - 80).
    """
    day_cap, period_cap = caps
    room = hours
    if day_cap is not None:
        room = min(room, day_cap - day_regular)
    if period_cap is not None:
        room = min(room, period_cap - period_regular)
    return max(room, ZERO)


def _owed(days: list[WorkedDay], book: _RateBook, discipline: str,
          ledger: WeekLedger) -> tuple[dict[int, dict[HourKey, Decimal]], dict[HourKey, RateCard]]:
    """What one invoice of the whole period would bill each day, in date order, with the card of its date.

    A billed day the cards no longer price keeps what it was billed, and its regular hours still count.
    """
    owed: dict[int, dict[HourKey, Decimal]] = {}
    card_of: dict[HourKey, RateCard] = {}
    day_regular: dict[date, Decimal] = defaultdict(lambda: ZERO)
    period_regular = period_worked = ZERO
    for day in sorted(days, key=lambda d: (d.work_date, d.entry_id)):
        card = book.card_on(day.work_date)
        unit = book.rate(card, "direct_care_hour", discipline) if card else None
        if unit is None:
            owed[day.entry_id] = dict(ledger.billed.get(day.entry_id, {}))
            regular = sum((hours for (overtime, _), hours in owed[day.entry_id].items() if not overtime), ZERO)
        else:
            # The weekly threshold counts every hour worked in the week so far (its overtime too, which tells
            # only when a card of another threshold takes over mid-week); the daily rule's and 8-and-80's
            # count the regular hours, so that no hour is overtime twice.
            so_far = period_worked if card.overtime_rule == "weekly" else period_regular
            regular = regular_hours(day.hours, card.overtime_caps(), day_regular[day.work_date], so_far)
            over = (True, overtime_rate(unit, card))
            owed[day.entry_id] = {key: hours for key, hours in (((False, unit), regular), (over, day.hours - regular))
                                  if hours}
            card_of.update({(False, unit): card, over: card})
        day_regular[day.work_date] += regular
        period_regular += regular
        period_worked += sum(owed[day.entry_id].values(), ZERO)
    return owed, card_of


def _differences(owed: dict[int, dict[HourKey, Decimal]],
                 billed: dict[int, dict[HourKey, Decimal]]) -> dict[HourKey, dict[int, Decimal]]:
    """(overtime, unit price) -> entry id -> hours owed beyond (or, negative, short of) what live lines bill."""
    differences: dict[HourKey, dict[int, Decimal]] = defaultdict(dict)
    for entry_id in owed.keys() | billed.keys():
        owes, bills = owed.get(entry_id, {}), billed.get(entry_id, {})
        for key in owes.keys() | bills.keys():
            if difference := owes.get(key, ZERO) - bills.get(key, ZERO):
                differences[key][entry_id] = difference
    return differences


def period_words(start: date, days: int) -> str:
    """The overtime period as a line names it."""
    return f"week of {human_day(start)}" if days == 7 else f"{days} days from {human_day(start)}"


def overtime_terms(card: RateCard, start: date, days: int) -> str:
    """The card's overtime rule as the invoice line states it, for the period from start."""
    multiplier = f"{_fmt(card.overtime_multiplier)}x"
    if card.overtime_rule == "eight_and_eighty":
        day_cap, period_cap = card.overtime_caps()
        return f"over {_fmt(day_cap)} h a day or {_fmt(period_cap)} h in the {period_words(start, days)}, {multiplier}"
    limits = [f"{_fmt(card.overtime_threshold_hours)} h"] if card.overtime_threshold_hours is not None else []
    if card.overtime_rule == "daily":
        limits.insert(0, f"{_fmt(card.daily_threshold_hours)} h a day")
    return f"over {' or '.join(limits)}, {period_words(start, days)}, {multiplier}"


def _charge_line(placement: Placement, key: HourKey, card: RateCard | None,
                 period: PeriodKey) -> tuple[tuple, PricedLine]:
    """The line for hours the period owes beyond what live lines bill (card None: owed again after a credit)."""
    overtime, unit = key
    if not overtime:
        return ("direct", placement.id, unit), _line(placement, "direct_care_hour", "Direct care hours", unit)
    _, start, days = period
    terms = overtime_terms(card, start, days) if card else f"{period_words(start, days)}, credited before"
    return ("ot", *period, unit), _line(
        placement, "direct_care_hour", f"Direct care overtime ({terms})", unit, overtime=True, period_key=start)


def _credit_line(placement: Placement, key: HourKey, period: PeriodKey,
                 invoices: list[tuple[int, str]]) -> tuple[tuple, PricedLine]:
    """A credit for hours a live line billed as this kind beyond what the period owes as such."""
    overtime, unit = key
    kind = "overtime hours" if overtime else "hours"
    billed_on = ", ".join(number for _, number in invoices)
    _, start, days = period
    return ("credit", *period, overtime, unit), _line(
        placement, "direct_care_hour", f"Credit: direct care {kind} of the {period_words(start, days)} "
        f"billed on {billed_on}", unit, overtime=overtime, period_key=start, corrects_invoice_id=invoices[-1][0])


def _bill_week(placement: Placement, period: PeriodKey, new: list[TimesheetEntry], book: _RateBook,
               ledger: WeekLedger, lines: _Lines) -> tuple[bool, set[int]]:
    """Bill an overtime period's direct-care hours: what the period owes less what live lines bill.

    Returns whether the period carries a credit, and the new entries whose hours live lines bill already
    (the period's other days gave theirs up to them): no line of this invoice traces those.
    """
    days = ledger.days + [WorkedDay(e.id, e.work_date, e.direct_care_hours) for e in new]
    owed, card_of = _owed(days, book, placement.therapist.discipline, ledger)
    credit, week_line, moves = False, None, {}
    for key, by_entry in _differences(owed, ledger.billed).items():
        net = sum(by_entry.values(), ZERO)
        if net == 0:
            # Hours of one kind moved between days: the period bills the same; the trace follows below.
            for entry_id, hours in by_entry.items():
                moves[entry_id] = moves.get(entry_id, ZERO) + hours
            continue
        if net > 0:
            week_line = _charge_line(placement, key, card_of.get(key), period)
        else:
            week_line = _credit_line(placement, key, period, ledger.invoices[key])
            credit = True
        for entry_id, hours in by_entry.items():
            lines.add(week_line[0], entry_id, hours, _ready(week_line[1]))
    if week_line is None:
        return credit, set(moves) & {e.id for e in new}
    for entry_id, hours in moves.items():  # they add up to nothing, so the line's quantity stands
        lines.add(week_line[0], entry_id, hours, _ready(week_line[1]))
    return credit, set()


def _charges_of(entry: TimesheetEntry, card: RateCard, book: _RateBook, history: BillingHistory) -> _Charges:
    charges = _Charges(entry, card, book)
    BASES[entry.placement.billing_basis](charges, history)
    for item in ITEMS:
        item(charges, history)
    return charges


def _price_entries(entries: list[TimesheetEntry], book: _RateBook, history: BillingHistory,
                   skip_weeks: set[PeriodKey]) -> Pricing:
    lines = _Lines()
    pricing = Pricing([], [])
    weeks: dict[PeriodKey, list[TimesheetEntry]] = defaultdict(list)
    traced: set[int] = set()  # entries with a charge of their own on this invoice
    for entry in sorted(entries, key=lambda e: (e.placement_id, e.work_date, e.id)):
        charges = _priced_entry(entry, book, history, pricing)
        if charges is None:
            continue
        if charges.parts:
            traced.add(entry.id)
        for key, quantity, template in charges.parts:
            # One charge per week or month: later entries only trace back to it.
            lines.add(key, entry.id, ZERO if key[0] in ONCE_PER_PERIOD and key in lines.by_key else quantity,
                      template)
        if charges.hourly_week:
            weeks[charges.hourly_week].append(entry)
    _bill_weeks(weeks, book, history, skip_weeks, lines, pricing, traced)
    pricing.lines = sorted(
        (line for line in lines.by_key.values() if line.quantity != 0),
        key=lambda line: (line.placement_id, line.item, line.is_credit, line.overtime, line.period_key or date.min),
    )
    return pricing


def _bill_weeks(weeks: dict[PeriodKey, list[TimesheetEntry]], book: _RateBook,
                history: BillingHistory, skip_weeks: set[PeriodKey], lines: _Lines, pricing: Pricing,
                traced: set[int]) -> None:
    """Bill the direct-care hours of each overtime period with new hours, or that a void released, but
    those waiting."""
    placements = {**history.released, **{week: new[0].placement for week, new in weeks.items()}}
    for week, placement in placements.items():
        if week in skip_weeks:
            continue
        ledger = history.hours.get(week, WeekLedger())
        credit, billed_already = _bill_week(placement, week, weeks.get(week, []), book, ledger, lines)
        if credit:
            pricing.credit_weeks.add(week)
        for entry_id in billed_already - traced:
            pricing.billed_entries.discard(entry_id)
            pricing.covered[entry_id] = ledger.lines[-1]


def _priced_entry(entry: TimesheetEntry, book: _RateBook, history: BillingHistory,
                  pricing: Pricing) -> _Charges | None:
    """The entry's charges if it can be billed whole, noting it billed or covered; else None, noting why not."""
    card = book.card_on(entry.work_date)
    if card is None:
        pricing.unpriced.append(Unpriced(entry, f"no rate card in effect on {human_day(entry.work_date)}"))
        return None
    charges = _charges_of(entry, card, book, history)
    if charges.missing:
        pricing.unpriced.append(Unpriced(entry, f"the rate card has no {', '.join(charges.missing)} rate for "
                                                f"{charges.discipline}"))
    elif charges.parts or charges.hourly_week:
        pricing.billed_entries.add(entry.id)
        return charges
    elif charges.covered_by is not None:
        pricing.covered[entry.id] = charges.covered_by
    else:
        pricing.unpriced.append(Unpriced(entry, "nothing billable on this entry"))
    return None


def price(entries: list[TimesheetEntry], cards: list[RateCard], history: BillingHistory) -> Pricing:
    """Price approved entries of one facility.

    An entry is priced whole or not at all: if any part of it has no rate in
    the card in effect on its date, it stays unbilled and is reported, so the
    agency can fix the contract and bill it later, never losing it.

    An invoice never goes to zero or below: if its credits would take it there,
    the overtime periods carrying them wait, whole, for the next invoice (their entries are
    reported like unpriced ones), which prices them again with what is billed by then.
    """
    book = _RateBook(cards)
    pricing = _price_entries(entries, book, history, set())
    if pricing.total > 0 or not pricing.credit_weeks:
        return pricing
    waiting = pricing.credit_weeks
    kept = _price_entries([e for e in entries if book.period(e.placement_id, e.work_date) not in waiting],
                          book, history, waiting)
    kept.unpriced += [Unpriced(e, CREDIT_WAITS) for e in entries
                      if book.period(e.placement_id, e.work_date) in waiting]
    return kept


# ----------------------------------------------------------------------------- a planned week

# A per-diem contract bills each day worked; a week's agreed hours are counted as days of this length
# (a part day is a day billed).
PER_DIEM_DAY_HOURS = 8
NOT_PRICED = Decimal("0.00")


@dataclass(frozen=True)
class WeekPrice:
    """What a full week of a placement bills on its basis, or (amount 0) why it cannot be priced."""

    amount: Decimal
    unpriced: str | None = None


def _hourly_week(card: RateCard, discipline: str, hours: int | None) -> WeekPrice:
    unit = card.rate("direct_care_hour", discipline)
    if unit is None or hours is None:
        return WeekPrice(NOT_PRICED, f"no direct_care_hour rate for {discipline}" if unit is None
                         else "no hours per week agreed")
    regular = planned_regular_hours(card, Decimal(hours))
    # Two lines, as an invoice of the week bills them: regular hours, and those over the card's thresholds.
    return WeekPrice(to_cents(regular * unit) + to_cents((hours - regular) * overtime_rate(unit, card)))


PLANNED_DAYS = 5


def planned_regular_hours(card: RateCard, hours: Decimal) -> Decimal:
    """The regular part of a planned week's hours under the card's overtime rule.

    A plan agrees hours a week, not a week's days; a daily or 8-and-80 threshold needs days, so the week is
    taken as five equal days, the usual full-time week (a four-day plan of long days then prices low, never
    high). 8-and-80's period is two weeks: a planned week is its half, with 40 of its 80 hours.
    """
    day_cap, period_cap = card.overtime_caps()
    if period_cap is not None:
        period_cap = period_cap * 7 / card.overtime_period(card.effective_from)[1]
    day = hours / PLANNED_DAYS
    regular = ZERO
    for _ in range(PLANNED_DAYS):
        regular += regular_hours(day, (day_cap, period_cap), ZERO, regular)
    return regular


def _per_diem_week(card: RateCard, discipline: str, hours: int | None) -> WeekPrice:
    unit = card.rate("per_diem_day", discipline)
    if unit is None or hours is None:
        return WeekPrice(NOT_PRICED, f"no per_diem_day rate for {discipline}" if unit is None
                         else "no hours per week agreed")
    days = min(7, -(-hours // PER_DIEM_DAY_HOURS))
    return WeekPrice(to_cents(days * unit))


def _contract_week_price(card: RateCard, discipline: str, hours: int | None) -> WeekPrice:
    unit = card.rate("contract_week", discipline)
    return WeekPrice(NOT_PRICED, f"no contract_week rate for {discipline}") if unit is None else WeekPrice(unit)


WEEK_PRICES = {"hourly": _hourly_week, "per_diem": _per_diem_week, "weekly": _contract_week_price}


def week_price(card: RateCard | None, basis: str, discipline: str, hours_per_week: int | None) -> WeekPrice:
    """What one full week of a placement bills under the card, priced as its invoices price it: the charge of
    its billing basis only (supervision, travel and platform fees depend on the week's timesheets)."""
    if card is None:
        return WeekPrice(NOT_PRICED, "no rate card")
    return WEEK_PRICES[basis](card, discipline, hours_per_week)
