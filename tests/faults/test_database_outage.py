"""PostgreSQL backends killed under a burst of writes: each request is a clean 503 or a success.

The app runs in a real threaded server process on the test database. While
threads record hours, approve hours and record payments through the API (and
read pages), another thread keeps terminating every other backend. A request
whose connection died answers 503 and wrote nothing (or, when only the reload
after its commit died, says that it was saved); a success wrote exactly once;
and once the killing stops, the same server answers every request.
"""

import itertools
import os
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from agency.auth.services import issue_token
from agency.billing.invoicing import invoice_facility
from agency.billing.ledger import ledger_problems
from agency.billing.models import Payment, TimesheetEntry
from agency.core.audit import AuditEvent
from agency.core.errors import DATABASE_LOST, SAVED_THEN_LOST
from agency.extensions import db
from agency.loadtest import Client, running_server
from tests import factories
from tests.conftest import PASSWORD

pytestmark = [
    pytest.mark.skipif(not os.environ["AGENCY_DATABASE_URL"].startswith("postgresql"),
                       reason="pg_terminate_backend is PostgreSQL's; SQLite has no server backends to terminate"),
    pytest.mark.usefixtures("users"),
]

START = date(2026, 9, 1)
# The burst goes on until this many requests died with their connection and this many got through
# (or the prepared work runs out).
LOST_WANTED, SAVED_WANTED = 10, 10
TERMINATE = sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")


class Killer(threading.Thread):
    """Terminates every other backend of the test database, again and again, until stopped."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stopped = threading.Event()
        self.terminated = 0
        self.engine = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")

    def run(self):
        with self.engine.connect() as conn:
            while not self.stopped.wait(self.pause()):
                self.terminated += conn.execute(TERMINATE).scalar_one()

    @staticmethod
    def pause() -> float:
        # Now shorter, now longer than a request, so that requests both die and get through.
        return random.uniform(0.01, 0.25)

    def stop(self):
        self.stopped.set()
        self.join(timeout=30)
        self.engine.dispose()


def world():
    """Placements with free days to record, submitted entries to approve, an invoice to pay a dollar at a time."""
    place = factories.facility()
    factories.rate_card(place)
    placements = [factories.active_placement(place, start=START) for _ in range(4)]
    days = [START + timedelta(days=n) for n in range((factories.TODAY - START).days + 1)]
    to_approve = [factories.entry(placements[0], day, direct="2", approve=False).id for day in days[:60]]
    billed = [factories.entry(placements[1], day) for day in days[:20]]
    invoice, _ = invoice_facility(place.id, START, billed[-1].work_date)
    free_days = [(p.id, day) for p in placements[2:] for day in days]
    return to_approve, invoice.id, free_days


def lost(answer) -> bool:
    """A 503 of a lost connection: with nothing saved, or (the reload after commit died) saved."""
    return answer.status == 503 and (DATABASE_LOST.encode() in answer.body or saved_then_lost(answer))


def saved_then_lost(answer) -> bool:
    return answer.status == 503 and SAVED_THEN_LOST.encode() in answer.body


def tally(outcomes) -> tuple[int, int]:
    """(requests that died with their connection, requests that got through)"""
    died = sum(1 for *_, answer in outcomes if lost(answer))
    return died, len(outcomes) - died


def enough(outcomes) -> bool:
    died, saved = tally(outcomes)
    return died >= LOST_WANTED and saved >= SAVED_WANTED


def check_answer(answer, server):
    """A success, or the one clean 503 of a lost connection (the JSON error shape for the API)."""
    assert answer.status in (200, 201) or lost(answer), (answer.status, answer.body[:300], server.log()[-4000:])


def count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_killed_backends_during_a_write_burst_answer_503_and_write_nothing_half(app, users):
    to_approve, invoice_id, free_days = world()
    token, email = issue_token(users["billing"]), users["billing"].email
    db.session.commit()  # and hold no connection of ours while backends are killed
    references = (f"burst-{n}" for n in itertools.count())

    def record(api):
        placement_id, day = free_days.pop()
        answer = api.request("POST", "/api/v1/timesheets", json_body={
            "placement_id": placement_id, "work_date": day.isoformat(), "direct_care_hours": "3"})
        return "record", (placement_id, day), answer

    def approve(api):
        entry_id = to_approve.pop()
        return "approve", entry_id, api.request("POST", f"/api/v1/timesheets/{entry_id}/approve")

    def pay(api):
        reference = next(references)
        return "pay", reference, api.request("POST", f"/api/v1/invoices/{invoice_id}/payments", json_body={
            "amount": "1.00", "received_on": factories.TODAY.isoformat(), "reference": reference})

    with running_server({"DATABASE_URL": os.environ["AGENCY_DATABASE_URL"]}) as server:
        page = Client(server.url)
        assert page.login(email, PASSWORD).status == 200
        api = Client(server.url, token)
        outcomes = []
        killer = Killer()
        killer.start()
        try:
            with ThreadPoolExecutor(max_workers=6) as pool:
                while not enough(outcomes) and len(to_approve) > 6 and len(free_days) > 30:
                    batch = [pool.submit(step, api) for step in (record, record, approve, approve, pay)]
                    pages = [pool.submit(page.request, "GET", url) for url in ("/timesheets", "/invoices")]
                    outcomes += [f.result() for f in batch]
                    for *_, answer in outcomes[-len(batch):]:
                        check_answer(answer, server)
                        if answer.status == 503:
                            message = SAVED_THEN_LOST if saved_then_lost(answer) else DATABASE_LOST
                            assert answer.json() == {"error": {"code": "service_unavailable", "message": message}}
                    for answer in (f.result() for f in pages):
                        check_answer(answer, server)
        finally:
            killer.stop()
        assert killer.terminated > 0
        died, saved = tally(outcomes)
        assert died >= 1 and saved >= 1, f"{died} requests met a terminated backend, {saved} got through"

        # The same server, its pool refilled, answers every request again.
        after = [step(api) for step in (record, approve, pay) for _ in range(5)]
        assert all(a.status in (200, 201) for *_, a in after), [(k, a.status, a.body[:200]) for k, _, a in after]
        assert page.request("GET", "/timesheets").status == 200

    db.session.rollback()  # what the burst wrote, read afresh
    for kind, key, answer in outcomes + after:
        expected = 0 if answer.status == 503 and not saved_then_lost(answer) else 1
        if kind == "record":
            placement_id, day = key
            rows = db.session.scalars(sa.select(TimesheetEntry.id).where(
                TimesheetEntry.placement_id == placement_id, TimesheetEntry.work_date == day)).all()
            assert len(rows) == expected, (key, answer.status)
            if rows:
                assert count(AuditEvent, AuditEvent.object_type == "timesheet_entry",
                             AuditEvent.object_id == rows[0], AuditEvent.action == "create") == 1
        elif kind == "approve":
            entry = db.session.get(TimesheetEntry, key)
            assert (entry.status == "approved") == bool(expected), (key, answer.status, entry.status)
            assert (entry.decided_by_id is not None) == bool(expected)
        else:
            assert count(Payment, Payment.reference == key) == expected, (key, answer.status)
    paid = sum(1 for kind, _, a in outcomes + after if kind == "pay" and (a.status == 201 or saved_then_lost(a)))
    assert db.session.scalar(sa.select(sa.func.sum(Payment.amount))) == Decimal(paid)
    assert ledger_problems(db.session) == []
