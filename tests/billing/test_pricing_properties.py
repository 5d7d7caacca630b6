"""However a fortnight's hours are approved, split into invoices, voided and rebilled, each week's live
lines bill exactly what one invoice of the whole week would: the same regular and overtime hours at
the same prices, so the same money to the cent.

Each example runs real invoicing against the real database. The database is cleaned after the test,
not after each example, so every example bills a facility of its own.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from agency.billing import timesheets
from agency.billing.invoicing import invoice_facility
from agency.billing.ledger import ledger_problems
from agency.billing.models import BilledEntry, Invoice, InvoiceLine
from agency.billing.pricing import week_start
from agency.billing.receivables import void_invoice
from agency.core.money import to_cents
from agency.extensions import db
from agency.placements.models import Placement
from tests import factories
from tests.billing.ledger import week_bills

FIRST_MONDAY = date(2026, 11, 2)
LAST_SUNDAY = FIRST_MONDAY + timedelta(days=13)
SWEEP_DAYS = (date(2026, 11, 16), date(2026, 11, 17))  # a third week, per diem, that outweighs any credit


@dataclass(frozen=True)
class Terms:
    rate: Decimal
    threshold: Decimal | None
    multiplier: Decimal


terms = st.builds(
    Terms,
    rate=st.sampled_from([Decimal("90.00"), Decimal("87.35"), Decimal("45.55"), Decimal("120.00")]),
    threshold=st.sampled_from([None, Decimal("8"), Decimal("12.5"), Decimal("20"), Decimal("40")]),
    multiplier=st.sampled_from([Decimal("1"), Decimal("1.25"), Decimal("1.5"), Decimal("2")]),
)
quarter_hours = st.integers(min_value=1, max_value=40).map(lambda n: Decimal(n) / 4)  # 0.25 to 10 h
# Day of the fortnight (0 is Monday Nov 2, 2026) -> (hours, the round before whose run the day is approved).
worked = st.dictionaries(st.integers(min_value=0, max_value=13), st.tuples(quarter_hours, st.integers(0, 3)),
                         min_size=1, max_size=10)
# Each round approves its days, runs invoicing up to a day of the fortnight, then may void one live
# invoice and reject one approved day not invoiced (as the void left it, or one the run did not reach).
rounds = st.lists(st.tuples(st.integers(min_value=0, max_value=13), st.none() | st.integers(0, 5),
                            st.none() | st.integers(0, 9)), min_size=2, max_size=3)


def one_invoice_of_the_week(days: list, card_of) -> dict:
    """The oracle: (overtime, unit price) -> hours, pricing the week's days in date order as written down
    in the contract, independently of the pricing module."""
    owed: dict = defaultdict(Decimal)
    so_far = Decimal(0)
    for day, hours in sorted(days):
        card = card_of(day)
        regular = hours if card.threshold is None else max(min(hours, card.threshold - so_far), Decimal(0))
        owed[(False, card.rate)] += regular
        owed[(True, to_cents(card.rate * card.multiplier))] += hours - regular
        so_far += hours
    return {key: value for key, value in owed.items() if value}


def owed_weeks(placement, entries, card_of) -> dict:
    """What one invoice of each whole week would bill for the week's invoiced days."""
    invoiced = defaultdict(list)
    for entry in entries:
        db.session.refresh(entry)
        if entry.status == "invoiced":
            invoiced[week_start(entry.work_date)].append((entry.work_date, entry.direct_care_hours))
    owed = {(placement.id, monday): one_invoice_of_the_week(days, card_of) for monday, days in invoiced.items()}
    return {week: kinds for week, kinds in owed.items() if kinds}


def live_weeks(placement_ids) -> dict:
    return {week: kinds for week, kinds in week_bills(placement_ids).items() if kinds}


def rejectable(entries) -> list:
    """Approved days not invoiced, those a void released first: rejecting one shrinks a billed week."""
    released = set(db.session.scalars(sa.select(BilledEntry.entry_id).where(
        BilledEntry.entry_id.in_([e.id for e in entries]))))
    approved = [e for e in entries if e.status == "approved"]
    return [e for e in approved if e.id in released] or approved


def play(place, placement, worked: dict, rounds: list, first: date, period_start: date) -> list:
    """Record the worked days (offset from first -> (hours, the round it is approved in)) unapproved, then
    play the rounds: each approves its days, invoices from period_start up to a day, then may void one live
    invoice and reject one approved day not invoiced; the days still waiting are approved at the end.
    The entries, in the days' order."""
    days = sorted(worked.items())
    entries = [factories.entry(placement, first + timedelta(days=offset), direct=str(hours), approve=False)
               for offset, (hours, _) in days]
    for number, (period_end, void, reject) in enumerate(rounds):
        timesheets.decide([e for e, (_, (_, when)) in zip(entries, days, strict=True)
                           if when == number and e.status == "submitted"], True, None)
        invoice_facility(place.id, period_start, first + timedelta(days=period_end))
        live = db.session.scalars(sa.select(Invoice).where(Invoice.facility_id == place.id,
                                                           Invoice.status != "void").order_by(Invoice.id)).all()
        if void is not None and live:
            void_invoice(live[void % len(live)], "billed in error", None)
        if reject is not None and (approved := rejectable(entries)):
            timesheets.decide([approved[reject % len(approved)]], False, None, reason="not worked")
    timesheets.decide([e for e in entries if e.status == "submitted"], True, None)
    return entries


def active_placement(place, **values) -> Placement:
    """A placement as activation leaves it: how it got there (readiness, checklist) is tested elsewhere,
    and going through it would make each example several times slower."""
    therapist = factories.licensed_therapist(state=place.state)
    placement = Placement(therapist=therapist, facility=place, start_on=date(2026, 9, 1), status="active",
                          service_states=[place.state], **values)
    db.session.add(placement)
    db.session.commit()
    return placement


D = Decimal
T40 = Terms(D("90.00"), D("40"), D("1.5"))


# Besides what Hypothesis draws, the three ways a week ends up owing less than a live line billed:
# hours a void released are rejected after a later day was billed as overtime (the credit fits in the
# rebill, or is bigger and waits), and a late day before a rate change turns the new rate's hours into
# overtime.
@example(first=Terms(D("90.00"), D("20"), D("1.5")), second=None, change=1,
         worked={0: (D(10), 0), 1: (D(10), 0), 2: (D(10), 1), 3: (D(10), 1)}, rounds=[(1, None, None), (6, 0, 0)])
@example(first=Terms(D("87.35"), D("8"), D("2")), second=None, change=1,
         worked={0: (D(8), 0), 1: (D(8), 1), 2: (D(8), 1)}, rounds=[(0, None, None), (6, 0, 0)])
@example(first=T40, second=Terms(D("100.00"), D("40"), D("1.5")), change=3,
         worked={day: (D(10), 0 if day else 1) for day in range(5)}, rounds=[(6, None, None), (6, None, None)])
@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(first=terms, second=st.none() | terms, change=st.integers(min_value=1, max_value=13), worked=worked,
       rounds=rounds)
def test_each_weeks_live_lines_bill_what_one_invoice_of_the_whole_week_would(app, first, second, change,
                                                                               worked, rounds):
    changes_on = FIRST_MONDAY + timedelta(days=change)

    def card_of(day):
        return second if second is not None and day >= changes_on else first

    place = factories.facility(billing_email=None)
    for card, start, end in ((first, date(2026, 1, 1), changes_on - timedelta(days=1) if second else None),
                             (second, changes_on, None)):
        if card is not None:
            factories.rate_card(place, start=start, end=end, threshold=card.threshold and str(card.threshold),
                               multiplier=str(card.multiplier), direct_care_hour=str(card.rate),
                               per_diem_day="20000.00")
    placement = active_placement(place)
    entries = play(place, placement, worked, rounds, FIRST_MONDAY, date(2026, 11, 1))
    invoice_facility(place.id, date(2026, 11, 1), LAST_SUNDAY)
    placements = [placement.id]
    if live_weeks(placements) != owed_weeks(placement, entries, card_of):
        # A credit bigger than its invoice waits for the next one: a third week of per-diem days is such an
        # invoice, and once it is out the weeks must be right.
        sweeper = active_placement(place, billing_basis="per_diem")
        for day in SWEEP_DAYS:
            factories.entry(sweeper, day)
        invoice_facility(place.id, date(2026, 11, 1), SWEEP_DAYS[-1])
        placements.append(sweeper.id)

    credits = db.session.scalar(sa.select(sa.func.count()).select_from(InvoiceLine).where(
        InvoiceLine.placement_id == placement.id, InvoiceLine.corrects_invoice_id.is_not(None)))
    event("credit lines issued" if credits else "no credit line")
    event("a credit waited for a later invoice" if len(placements) > 1 else "no credit waited")
    expected = owed_weeks(placement, entries, card_of)
    assert {e.status for e in entries} <= {"invoiced", "rejected"}, "no day is left behind"
    billed = live_weeks([placement.id])
    assert billed == expected
    for week, kinds in expected.items():  # hence the same money, before each line rounds to cents
        assert sum(h * unit for (_, unit), h in billed[week].items()) == sum(h * unit for (_, unit), h in kinds.items())
    for invoice in db.session.scalars(db.select(Invoice).where(Invoice.facility_id == place.id)):
        assert all(line.amount == to_cents(line.quantity * line.unit_price) for line in invoice.lines)
    assert ledger_problems(db.session) == []
