"""Two requests at the same moment, against a real server process, for every check on money and limits.

Each race is run for many rounds so that the two requests overlap in most of
them; afterwards the ledger must be sound and every answer a success or a clean
refusal, never a 500. The suite runs on PostgreSQL and on SQLite, so this file
proves both.
"""

import sqlite3
import threading
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from agency.billing import timesheets
from agency.billing.invoicing import invoice_facility
from agency.billing.ledger import ledger_problems
from agency.billing.models import Invoice
from agency.core.audit import AuditEvent
from agency.core.errors import Conflict
from agency.core.persistence import contention
from agency.extensions import db
from agency.facilities.models import Facility
from agency.placements.models import Placement, PlacementEvent
from agency.placements.services import create_placement
from tests import factories, live
from tests.faults.conftest import FIRST_DAY, days

ROUNDS = 15



def refused_cleanly(response, *codes) -> bool:
    return response.status_code in codes and "error" in response.json()


def assert_no_server_error(rounds: list, site: live.Site) -> None:
    errors = [r for pair in rounds for r in pair if r.status_code >= 500]
    assert not errors, f"{len(errors)} server errors: {errors[0].text}\n{site.log_text()[-3000:]}"


def assert_sound() -> None:
    db.session.rollback()
    assert ledger_problems(db.session) == []


def invoices(count: int) -> list[Invoice]:
    """One facility's invoices of one approved day each, all open."""
    place = factories.facility()
    factories.rate_card(place, threshold=None)
    placement = factories.active_placement(place)
    made = []
    for day in days(count):
        factories.entry(placement, day)
        made.append(invoice_facility(place.id, day, day)[0])
    return made


def second_placement(first: Placement) -> Placement:
    """The same therapist at another facility, active over the same dates."""
    return factories.active_placement(factories.facility(), first.therapist, first.start_on, hours_per_week=20)


def test_two_payments_of_the_whole_balance_at_once_record_one(site, token):
    rounds = []
    for invoice in invoices(ROUNDS):
        body = {"amount": str(invoice.total), "received_on": factories.TODAY.isoformat(), "reference": "ACH"}
        path = f"/api/v1/invoices/{invoice.id}/payments"
        rounds.append(site.at_once(token, ("POST", path, body), ("POST", path, body)))
    assert_no_server_error(rounds, site)
    assert_sound()
    outcomes = [sorted(r.status_code for r in pair) for pair in rounds]
    assert outcomes == [[201, 409]] * ROUNDS
    assert all(refused_cleanly(max(pair, key=lambda r: r.status_code), 409) for pair in rounds)


def test_one_check_sent_twice_at_once_is_recorded_once_and_again_later_is_refused(site, token):
    # A $10.00 part payment by check 4417, well within the balance: only its reference tells the second apart.
    rounds = []
    for invoice in invoices(ROUNDS):
        body = {"amount": "10.00", "received_on": factories.TODAY.isoformat(), "reference": "Check 4417"}
        path = f"/api/v1/invoices/{invoice.id}/payments"
        rounds.append(site.at_once(token, ("POST", path, body), ("POST", path, body)))
    assert_no_server_error(rounds, site)
    assert_sound()
    assert [sorted(r.status_code for r in pair) for pair in rounds] == [[201, 409]] * ROUNDS
    refused = max(rounds[0], key=lambda r: r.status_code).json()["error"]
    assert "Check 4417" in refused["message"] and "reference" in refused["fields"]
    again = site.call("POST", path, token, {**body, "reference": "check 4417 "})
    assert again.status_code == 409
    other = site.call("POST", path, token, {**body, "reference": "Check 4418"})
    assert other.status_code == 201
    db.session.rollback()
    assert db.session.get(Invoice, invoice.id).amount_paid == Decimal("20.00")


def test_a_void_and_a_payment_at_once_leave_a_void_invoice_or_a_paid_one(site, token):
    rounds = []
    for invoice in invoices(ROUNDS):
        base = f"/api/v1/invoices/{invoice.id}"
        payment = {"amount": str(invoice.total), "received_on": factories.TODAY.isoformat()}
        rounds.append(site.at_once(token, ("POST", f"{base}/void", {"reason": "issued to the wrong facility"}),
                                   ("POST", f"{base}/payments", payment)))
    assert_no_server_error(rounds, site)
    assert_sound()
    for void, payment in rounds:
        assert sorted((void.status_code, payment.status_code)) in ([200, 409], [201, 409]), (void.text, payment.text)
    statuses = db.session.scalars(sa.select(Invoice.status).order_by(Invoice.id)).all()
    assert set(statuses) <= {"void", "paid"}


def test_two_entries_for_one_therapist_on_two_placements_at_once_stay_within_24_hours(site, token):
    first = factories.active_placement(factories.facility(), start=FIRST_DAY)
    placement_ids = (first.id, second_placement(first).id)
    rounds = []
    for day in days(ROUNDS):
        first_body, second_body = ({"placement_id": placement_id, "work_date": day.isoformat(),
                                    "direct_care_hours": "14"} for placement_id in placement_ids)
        rounds.append(site.at_once(token, ("POST", "/api/v1/timesheets", first_body),
                                   ("POST", "/api/v1/timesheets", second_body)))
    assert_no_server_error(rounds, site)
    assert_sound()
    for pair in rounds:
        assert sorted(r.status_code for r in pair) == [201, 400], [r.text for r in pair]
        refused = max(pair, key=lambda r: r.status_code)
        assert "more than 24 hours" in refused.json()["error"]["message"]


def test_a_correction_and_a_new_entry_at_once_stay_within_24_hours(site, token):
    first = factories.active_placement(factories.facility(), start=FIRST_DAY)
    second_id = second_placement(first).id
    entries = [(timesheets.record_entry({"placement_id": first.id, "work_date": day,
                                         "direct_care_hours": Decimal("4")}).id, day) for day in days(ROUNDS)]
    rounds = []
    for entry_id, day in entries:
        new = {"placement_id": second_id, "work_date": day.isoformat(), "direct_care_hours": "14"}
        rounds.append(site.at_once(token, ("PATCH", f"/api/v1/timesheets/{entry_id}", {"direct_care_hours": "14"}),
                                   ("POST", "/api/v1/timesheets", new)))
    assert_no_server_error(rounds, site)
    assert_sound()
    for correction, new in rounds:
        assert sorted((correction.status_code, new.status_code)) in ([200, 400], [201, 400])


def test_two_invoice_runs_at_once_bill_each_entry_once_under_gapless_numbers(site, token):
    places = [factories.facility() for _ in range(2)]
    placements = []
    for place in places:
        factories.rate_card(place, threshold=None)
        placements.append(factories.active_placement(place))
    rounds = []
    for n, day in enumerate(days(ROUNDS), start=1):
        for placement in placements:
            factories.entry(placement, day)
        run = {"period_start": day.isoformat(), "period_end": day.isoformat()}
        rounds.append(site.at_once(token, ("POST", "/api/v1/invoices/generate", run),
                                   ("POST", "/api/v1/invoices/generate", run)))
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == n * len(places)
    assert_no_server_error(rounds, site)
    assert_sound()
    assert all(r.status_code == 202 for pair in rounds for r in pair)


def test_two_status_changes_of_one_placement_at_once_make_one_story(site, token):
    place = factories.facility()
    therapist_placement = factories.active_placement(place)
    rounds, placements = [], []
    for _ in range(ROUNDS):
        placement = create_placement({"therapist_id": therapist_placement.therapist_id, "facility_id": place.id,
                                      "start_on": date(2026, 12, 14), "hours_per_week": 10})
        placements.append(placement.id)
        path = f"/api/v1/placements/{placement.id}"
        rounds.append(site.at_once(token, ("PATCH", path, {"status": "onboarding"}),
                                   ("PATCH", path, {"status": "cancelled", "reason": "the facility withdrew"})))
    assert_no_server_error(rounds, site)
    for pair in rounds:
        assert all(r.status_code in (200, 409) for r in pair), [r.text for r in pair]
        assert any(r.status_code == 200 for r in pair)
    db.session.rollback()
    for placement_id in placements:
        story = db.session.execute(sa.select(PlacementEvent.from_status, PlacementEvent.to_status)
                                   .where(PlacementEvent.placement_id == placement_id)
                                   .order_by(PlacementEvent.id)).all()
        steps = [None] + [to for _, to in story]
        assert [came for came, _ in story] == steps[:-1], f"placement {placement_id}: {story}"
        assert db.session.get(Placement, placement_id).status == steps[-1]


def test_two_ticks_of_one_checklist_item_at_once_record_one(site, token):
    place = factories.facility()
    therapist_placement = factories.active_placement(place)
    items = []
    while len(items) < ROUNDS:
        placement = create_placement({"therapist_id": therapist_placement.therapist_id, "facility_id": place.id,
                                      "start_on": date(2026, 12, 14), "hours_per_week": 10})
        items += [item.id for item in placement.checklist]
    rounds = []
    for item_id in items[:ROUNDS]:
        path = f"/api/v1/checklist-items/{item_id}"
        rounds.append(site.at_once(token, ("PATCH", path, {"done": True}), ("PATCH", path, {"done": True})))
    assert_no_server_error(rounds, site)
    assert all(r.status_code == 200 for pair in rounds for r in pair)
    db.session.rollback()
    ticks = dict(db.session.execute(
        sa.select(AuditEvent.object_id, sa.func.count()).where(AuditEvent.object_type == "checklist_item")
        .group_by(AuditEvent.object_id)).all())
    assert ticks == dict.fromkeys(items[:ROUNDS], 1)


def test_an_import_and_an_entry_at_once_stay_within_24_hours(site, token):
    first = factories.active_placement(factories.facility(), start=FIRST_DAY)
    second_id = second_placement(first).id
    rounds = []
    for day in days(ROUNDS):
        csv = f"placement_id,work_date,direct_care_hours\n{first.id},{day.isoformat()},14\n"
        new = {"placement_id": second_id, "work_date": day.isoformat(), "direct_care_hours": "14"}
        rounds.append(site.at_once(token, ("POST", "/api/v1/timesheets/import", {"csv": csv, "dry_run": False}),
                                   ("POST", "/api/v1/timesheets", new)))
    assert_no_server_error(rounds, site)
    assert_sound()
    for imported, recorded in rounds:
        assert sorted((imported.status_code, recorded.status_code)) in ([200, 400], [201, 400])


def test_a_writer_that_cannot_get_sqlite_s_write_lock_is_told_to_retry_and_changes_nothing(app, token):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL locks rows, not the database; a writer waits for the row")
    invoice = invoices(1)[0]
    path = f"/api/v1/invoices/{invoice.id}/payments"
    payment = {"amount": str(invoice.total), "received_on": factories.TODAY.isoformat()}
    holder = sqlite3.connect(db.engine.url.database)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer holding the lock, e.g. a long invoice run
        with live.server(DATABASE_BUSY_TIMEOUT="0.2") as impatient:
            (refused,) = impatient.at_once(token, ("POST", path, payment))
            holder.rollback()
            (accepted,) = impatient.at_once(token, ("POST", path, payment))
    finally:
        holder.close()
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "service_unavailable"
    assert refused.headers["Retry-After"]
    assert accepted.status_code == 201, accepted.text
    assert_sound()


def test_a_deadlock_between_two_writers_is_a_conflict_not_a_server_error(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one write lock, so its writers never deadlock")
    places = [factories.facility() for _ in range(2)]
    db.session.commit()
    first, second = db.engine.connect(), db.engine.connect()
    errors = []

    def update(connection, facility_id):
        try:
            connection.execute(sa.update(Facility).where(Facility.id == facility_id).values(name=Facility.name))
        except OperationalError as exc:
            errors.append(exc)
            connection.rollback()

    try:
        first.begin(), second.begin()
        update(first, places[0].id)
        update(second, places[1].id)
        # Each now wants the row the other holds: PostgreSQL breaks the cycle by failing one of them.
        waiting = threading.Thread(target=update, args=(first, places[1].id))
        waiting.start()
        update(second, places[0].id)
        waiting.join()
    finally:
        first.close(), second.close()
    assert len(errors) == 1
    refusal = contention(errors[0])
    assert isinstance(refusal, Conflict) and refusal.status == 409


def test_approving_rejected_hours_and_a_new_entry_at_once_stay_within_24_hours(site, token):
    first = factories.active_placement(factories.facility(), start=FIRST_DAY)
    second_id = second_placement(first).id
    rejected = []
    for day in days(ROUNDS):
        entry = factories.entry(first, day, direct="14", approve=False)
        timesheets.decide([entry], False, None, reason="not signed by the supervisor")
        rejected.append((entry.id, day))
    rounds = []
    for entry_id, day in rejected:
        new = {"placement_id": second_id, "work_date": day.isoformat(), "direct_care_hours": "14"}
        rounds.append(site.at_once(token, ("POST", f"/api/v1/timesheets/{entry_id}/approve", None),
                                   ("POST", "/api/v1/timesheets", new)))
    assert_no_server_error(rounds, site)
    assert_sound()
    for approved, recorded in rounds:
        assert sorted((approved.status_code, recorded.status_code)) in ([200, 400], [201, 400])


def test_two_facilities_whose_names_differ_only_in_case_at_once_make_one(site, token):
    rounds = []
    for n in range(ROUNDS):
        first, second = ({"name": name, "facility_type": "php", "state": "NJ", "payment_terms_days": 30}
                         for name in (f"Bayside Partial Hospital {n}", f"BAYSIDE PARTIAL HOSPITAL {n}"))
        rounds.append(site.at_once(token, ("POST", "/api/v1/facilities", first),
                                   ("POST", "/api/v1/facilities", second)))
    assert_no_server_error(rounds, site)
    for pair in rounds:
        assert sorted(r.status_code for r in pair) == [201, 409], [r.text for r in pair]
        assert "a facility named" in max(pair, key=lambda r: r.status_code).json()["error"]["message"]
    db.session.rollback()
    names = db.session.scalars(sa.select(sa.func.lower(Facility.name)).where(Facility.name.ilike("bayside%")))
    assert len(list(names)) == ROUNDS


def test_two_licenses_whose_numbers_differ_only_in_case_at_once_make_one(site, token):
    first, second = factories.therapist(), factories.therapist()
    rounds = []
    for n in range(ROUNDS):
        bodies = ({"state": "NJ", "license_type": "LCSW", "number": number, "kind": "state_license",
                   "issued_on": "2025-01-01", "expires_on": "2027-12-31"}
                  for number in (f"lc-9{n:03d}", f"LC-9{n:03d}"))
        rounds.append(site.at_once(token, ("POST", f"/api/v1/therapists/{first.id}/licenses", next(bodies)),
                                   ("POST", f"/api/v1/therapists/{second.id}/licenses", next(bodies))))
    assert_no_server_error(rounds, site)
    for pair in rounds:
        assert sorted(r.status_code for r in pair) == [201, 409], [r.text for r in pair]
