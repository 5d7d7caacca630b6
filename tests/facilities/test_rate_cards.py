"""Rate cards: one contract price list in force per facility on any day, and renewals on time."""

import threading
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from agency.core.errors import Conflict
from agency.extensions import db
from agency.facilities.models import Facility, RateCard
from agency.facilities.services import rate_card_on, rate_cards_ending, save_rate_card
from tests import factories
from tests.factories import TODAY


def cards_of(place) -> int:
    return db.session.scalar(sa.select(sa.func.count()).where(RateCard.facility_id == place.id))


def test_an_open_ended_card_overlapping_a_later_card_is_refused_and_nothing_is_saved():
    place = factories.facility()
    factories.rate_card(place, date(2027, 1, 1), date(2027, 12, 31))
    with pytest.raises(Conflict, match="overlaps the rate card effective Jan 1, 2027 to Dec 31, 2027"):
        factories.rate_card(place, date(2026, 1, 1), None)
    db.session.rollback()
    assert cards_of(place) == 1


def test_a_card_starting_inside_an_open_ended_card_is_refused():
    place = factories.facility()
    factories.rate_card(place, date(2026, 1, 1), None)
    with pytest.raises(Conflict, match="open-ended"):
        factories.rate_card(place, date(2027, 1, 1), date(2027, 12, 31))
    db.session.rollback()
    assert cards_of(place) == 1


def test_a_card_sharing_a_single_day_with_another_is_refused():
    place = factories.facility()
    factories.rate_card(place, date(2026, 1, 1), date(2026, 6, 30))
    with pytest.raises(Conflict):
        factories.rate_card(place, date(2026, 6, 30), date(2026, 12, 31))
    db.session.rollback()
    assert cards_of(place) == 1


def test_moving_a_card_onto_its_neighbours_dates_is_refused_and_the_card_keeps_its_dates():
    place = factories.facility()
    factories.rate_card(place, date(2026, 1, 1), date(2026, 6, 30))
    later = factories.rate_card(place, date(2026, 7, 1), date(2026, 12, 31))
    with pytest.raises(Conflict):
        save_rate_card(place, later, {"effective_from": date(2026, 6, 1)}, None)
    db.session.rollback()
    assert db.session.get(RateCard, later.id).effective_from == date(2026, 7, 1)


def test_a_card_may_change_its_own_dates_and_rates_without_clashing_with_itself():
    place = factories.facility()
    card = factories.rate_card(place, date(2026, 1, 1), date(2026, 12, 31))
    save_rate_card(place, card, {"effective_to": date(2027, 6, 30)},
                   [{"item": "direct_care_hour", "discipline": "LCSW", "amount": Decimal("99.00")}])
    assert (card.effective_to, card.rate("direct_care_hour", "LCSW")) == (date(2027, 6, 30), Decimal("99.00"))


def test_adjacent_cards_are_allowed():
    place = factories.facility()
    factories.rate_card(place, date(2026, 1, 1), date(2026, 6, 30))
    factories.rate_card(place, date(2026, 7, 1), None)
    assert cards_of(place) == 2


def test_cards_of_different_facilities_may_share_dates():
    first, second = factories.facility(), factories.facility()
    factories.rate_card(first, date(2026, 1, 1), None)
    factories.rate_card(second, date(2026, 1, 1), None)
    assert cards_of(first) == cards_of(second) == 1


def test_the_card_in_effect_on_a_day_prices_that_day():
    place = factories.facility()
    old = factories.rate_card(place, date(2026, 1, 1), date(2026, 6, 30), direct_care_hour="90.00")
    new = factories.rate_card(place, date(2026, 7, 1), None, direct_care_hour="97.50")
    assert rate_card_on(place.id, date(2025, 12, 31)) is None
    assert rate_card_on(place.id, date(2026, 1, 1)) == old
    assert rate_card_on(place.id, date(2026, 6, 30)) == old
    assert rate_card_on(place.id, date(2026, 7, 1)) == new
    assert rate_card_on(place.id, date(2030, 1, 1)).rate("direct_care_hour", "LCSW") == Decimal("97.50")


def test_a_card_ending_within_sixty_days_without_a_successor_needs_renewal():
    place = factories.facility()
    card = factories.rate_card(place, date(2026, 1, 1), date(2027, 1, 15))
    # Sixty days out is the last day that counts.
    last_day = factories.rate_card(factories.facility(), date(2026, 1, 1), factories.days_from_today(60))
    assert rate_cards_ending(TODAY) == [card, last_day]


def test_a_card_with_a_successor_needs_no_renewal():
    place = factories.facility()
    factories.rate_card(place, date(2026, 1, 1), date(2027, 1, 15))
    factories.rate_card(place, date(2027, 1, 16), date(2027, 12, 31))
    assert rate_cards_ending(TODAY) == []


def test_a_card_ending_beyond_sixty_days_or_at_an_inactive_facility_needs_no_renewal_yet():
    factories.rate_card(factories.facility(), date(2026, 1, 1), factories.days_from_today(61))  # a day too far
    factories.rate_card(factories.facility(active=False), date(2026, 1, 1), date(2027, 1, 10))
    factories.rate_card(factories.facility(), date(2026, 1, 1), None)
    assert rate_cards_ending(TODAY) == []


def test_two_clerks_saving_overlapping_cards_at_once_leave_exactly_one(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no row locks; concurrent writers need PostgreSQL (AGENCY_DATABASE_URL)")
    facility_id = factories.facility().id
    db.session.commit()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def save(start: date):
        with app.app_context():
            place = db.session.get(Facility, facility_id)
            db.session.commit()
            barrier.wait(timeout=10)
            try:
                factories.rate_card(place, start, None)
                outcomes.append("saved")
            except Conflict:
                db.session.rollback()
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=save, args=(day,))
               for day in (date(2027, 1, 1), date(2027, 2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(outcomes) == ["refused", "saved"]
    assert db.session.scalar(
        sa.select(sa.func.count()).where(RateCard.facility_id == facility_id)) == 1
