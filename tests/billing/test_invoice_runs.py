"""A month's invoice run fits any size: parts of a few facilities, one job each, shared by the workers,
finished only when every part is; a facility that fails is named and can be retried, billing nothing twice."""

import json
from contextlib import contextmanager
from datetime import date

import pytest
import sqlalchemy as sa

from agency.billing.jobs import invoice_schedule
from agency.billing.ledger import ledger_problems
from agency.billing.models import BilledEntry, Invoice
from agency.billing.runs import start_invoice_run
from agency.core.jobs import job_status
from agency.extensions import db
from tests import factories, workers

pytestmark = pytest.mark.usefixtures("users")
NOVEMBER = {"period_start": "2026-11-01", "period_end": "2026-11-30"}
REFUSAL = "invoices of this facility are refused"


@pytest.fixture
def parts_of_two(setting):
    setting(INVOICE_RUN_BATCH=2)


def billable_facilities(n: int) -> list:
    """n facilities, each with two approved November days to bill."""
    places = []
    for _ in range(n):
        place = factories.facility()
        factories.rate_card(place)
        placement = factories.active_placement(place)
        for day in (2, 3):
            factories.entry(placement, date(2026, 11, day))
        places.append(place)
    return places


@contextmanager
def refused_invoices(place):
    """The database refuses any invoice of this facility (a trigger), as a broken row or a full disk would."""
    db.session.rollback()  # changing a table's triggers waits for every transaction that read it
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("CREATE FUNCTION refuse_invoices() RETURNS trigger LANGUAGE plpgsql AS "
                                 f"$$ BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$"))
            conn.execute(sa.text("CREATE TRIGGER refuse_invoices BEFORE INSERT ON invoices FOR EACH ROW "
                                 f"WHEN (NEW.facility_id = {int(place.id)}) EXECUTE FUNCTION refuse_invoices()"))
        else:
            conn.execute(sa.text(f"CREATE TRIGGER refuse_invoices BEFORE INSERT ON invoices WHEN NEW.facility_id = "
                                 f"{int(place.id)} BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"))
    try:
        yield
    finally:
        db.session.rollback()
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("DROP TRIGGER refuse_invoices ON invoices"))
                conn.execute(sa.text("DROP FUNCTION refuse_invoices()"))
            else:
                conn.execute(sa.text("DROP TRIGGER refuse_invoices"))


def invoices_by_facility() -> dict[int, int]:
    db.session.rollback()
    return dict(db.session.execute(sa.select(Invoice.facility_id, sa.func.count()).group_by(Invoice.facility_id)).all())


def progress_shown(page: str, facilities: str, parts: str, invoices: int, failed: int) -> bool:
    return all(shown in page for shown in (
        f'<span data-progress="facilities">{facilities}</span>', f'<dd data-progress="parts">{parts}</dd>',
        f'<dd data-progress="invoices">{invoices}</dd>', f'<dd data-progress="failed">{failed}</dd>'))


def test_a_run_is_split_into_parts_that_workers_share_and_it_is_finished_only_when_every_part_is(
        app, api, browser, redis_url, parts_of_two):
    places = billable_facilities(5)
    billing, staff = api("billing"), browser("billing")
    with workers.jobs_on_redis(app, redis_url):
        started = billing.post("/api/v1/invoices/generate", json=NOVEMBER)
        assert started.status_code == 202
        run_id = started.json["job_id"]
        queued = billing.get(f"/api/v1/jobs/{run_id}").json
        assert queued["status"] == "queued" and queued["result"] is None
        assert queued["progress"] == {"facilities": 5, "facilities_done": 0, "facilities_failed": 0, "parts": 3,
                                      "parts_done": 0, "invoices": 0}
        page = staff.get(f"/invoices/runs/{run_id}").data.decode()
        assert progress_shown(page, "0 of 5", "0 of 3", 0, 0) and 'http-equiv="refresh"' in page

        # One worker takes one part and stops: the run is under way, not finished, and says how far it got.
        workers.wait(workers.start_worker(redis_url, max_jobs=1))
        halfway = billing.get(f"/api/v1/jobs/{run_id}").json
        assert halfway["status"] == "started" and halfway["result"] is None
        assert (halfway["progress"]["facilities_done"], halfway["progress"]["parts_done"]) == (2, 1)
        page = staff.get(f"/invoices/runs/{run_id}").data.decode()
        assert progress_shown(page, "2 of 5", "1 of 3", 2, 0) and "Not finished yet." in page

        first, second = workers.start_worker(redis_url), workers.start_worker(redis_url)
        logs = workers.wait(first) + workers.wait(second)
    done = billing.get(f"/api/v1/jobs/{run_id}").json
    assert done["status"] == "finished", logs
    made = db.session.scalars(sa.select(Invoice.id)).all()
    assert sorted(done["result"]["invoice_ids"]) == sorted(made) and len(made) == 5
    assert invoices_by_facility() == {place.id: 1 for place in places}
    assert ledger_problems(db.session) == []
    page = staff.get(f"/invoices/runs/{run_id}").data.decode()
    assert progress_shown(page, "5 of 5", "3 of 3", 5, 0) and 'http-equiv="refresh"' not in page
    assert all(f'href="/invoices/{invoice_id}"' in page for invoice_id in made)
    assert "Retry unfinished parts" not in page


def test_a_facility_that_fails_is_named_with_its_error_while_the_other_parts_finish_and_a_retry_bills_it_once(
        app, api, browser, users, redis_url, parts_of_two):
    first, refused, third = billable_facilities(3)  # parts: [first, refused] and [third]
    staff = browser("billing")
    with refused_invoices(refused), workers.jobs_on_redis(app, redis_url):
        run_id = start_invoice_run(date(2026, 11, 1), date(2026, 11, 30), actor=users["billing"]).id
        logs = workers.wait(workers.start_worker(redis_url)) + workers.wait(workers.start_worker(redis_url))
        failed = api("billing").get(f"/api/v1/jobs/{run_id}").json
        page = staff.get(f"/invoices/runs/{run_id}").data.decode()
    assert failed["status"] == "failed", logs
    assert len(failed["result"]["invoice_ids"]) == 2  # the others' invoices, in the same part and the next
    assert failed["error"].startswith("1 of 3 facilities not invoiced: " + refused.name) and REFUSAL in failed["error"]
    assert invoices_by_facility() == {first.id: 1, third.id: 1}
    assert progress_shown(page, "3 of 3", "2 of 2", 2, 1)
    assert "<h2>Not invoiced</h2>" in page and refused.name in page and REFUSAL in page
    assert "Failed: 1 of 3 facilities not invoiced" in page
    assert "Retry unfinished parts" in page

    with workers.jobs_on_redis(app, redis_url):
        retried = staff.post(f"/invoices/runs/{run_id}/retry", {}, form_url=f"/invoices/runs/{run_id}",
                             follow_redirects=True)
        assert b"1 part(s) queued again" in retried.data
        pending = job_status(run_id)
        assert (pending["status"], pending["progress"]["facilities_done"]) == ("started", 2)  # not failed now
        workers.wait(workers.start_worker(redis_url))
    done = job_status(run_id)
    assert done["status"] == "finished" and len(done["result"]["invoice_ids"]) == 3
    assert invoices_by_facility() == {first.id: 1, refused.id: 1, third.id: 1}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BilledEntry)) == 6
    assert ledger_problems(db.session) == []
    again = staff.post(f"/invoices/runs/{run_id}/retry", {}, form_url="/invoices/run", follow_redirects=True)
    assert b"Nothing retried. Every facility of this run is invoiced" in again.data


def test_without_redis_a_run_finishes_in_the_request_with_every_parts_invoices(api, parts_of_two):
    places = billable_facilities(3)
    billing = api("billing")
    started = billing.post("/api/v1/invoices/generate", json=NOVEMBER)
    assert started.status_code == 202
    done = billing.get(f"/api/v1/jobs/{started.json['job_id']}").json
    assert done["status"] == "finished" and done["progress"]["parts"] == 2
    assert sorted(done["result"]["invoice_ids"]) == sorted(db.session.scalars(sa.select(Invoice.id)))
    assert invoices_by_facility() == {place.id: 1 for place in places}
    one = billing.post("/api/v1/invoices/generate", json={**NOVEMBER, "facility_id": places[0].id})
    assert billing.get(f"/api/v1/jobs/{one.json['job_id']}").json["result"]["invoice_ids"] == []
    unknown = billing.post("/api/v1/invoices/generate", json={**NOVEMBER, "facility_id": 99999})
    assert unknown.status_code == 400 and unknown.json["error"]["fields"] == {
        "facility_id": ["no facility with id 99999"]}


def test_the_cli_names_a_facility_it_could_not_invoice_and_its_retry_bills_the_rest_once(app, parts_of_two):
    refused, other, third = billable_facilities(3)
    runner = app.test_cli_runner()
    with refused_invoices(refused):
        ran = runner.invoke(args=["billing", "invoice", "--period-start", "2026-11-01", "--period-end", "2026-11-30"])
    assert ran.exit_code == 1 and refused.name in ran.output and REFUSAL in ran.output
    result = json.loads(ran.stdout)
    assert len(result["invoice_ids"]) == 2
    retried = runner.invoke(args=["billing", "retry", result["job_id"]])
    assert retried.exit_code == 0, retried.output
    assert len(json.loads(retried.stdout)["invoice_ids"]) == 3
    assert invoices_by_facility() == {refused.id: 1, other.id: 1, third.id: 1}
    assert ledger_problems(db.session) == []
    assert runner.invoke(args=["billing", "retry", result["job_id"]]).exit_code == 1


def test_the_schedule_starts_one_run_per_closed_period_of_the_facilities_it_closed_for(parts_of_two):
    monthly = [factories.facility(invoice_schedule="monthly") for _ in range(3)]
    weekly = factories.facility(invoice_schedule="weekly")
    for place in [*monthly, weekly]:
        factories.rate_card(place)
    for place in monthly:
        factories.entry(factories.active_placement(place), date(2026, 10, 6))
    factories.entry(factories.active_placement(weekly), date(2026, 11, 17))
    started = invoice_schedule(factories.TODAY.isoformat())  # Wednesday, November 25
    assert sorted(started["facilities"]) == sorted(place.id for place in [*monthly, weekly])
    statuses = [job_status(run_id) for run_id in started["runs"]]
    assert [(s["status"], s["progress"]["facilities"], s["progress"]["parts"]) for s in statuses] == [
        ("finished", 3, 2), ("finished", 1, 1)]  # October, then the week of November 16
    periods = db.session.execute(sa.select(Invoice.facility_id, Invoice.period_start, Invoice.period_end)).all()
    assert sorted(periods) == sorted([(place.id, date(2026, 10, 1), date(2026, 10, 31)) for place in monthly]
                                     + [(weekly.id, date(2026, 11, 16), date(2026, 11, 22))])


def test_only_the_roles_that_run_invoices_see_a_run_or_retry_it(browser, users):
    run_id = start_invoice_run(date(2026, 11, 1), date(2026, 11, 30), actor=users["billing"]).id
    for role, status in (("admin", 200), ("billing", 200), ("recruiter", 403), ("credentialing", 403),
                         ("facility", 403)):
        assert browser(role).get(f"/invoices/runs/{run_id}").status_code == status, role
    refused = browser("recruiter").post(f"/invoices/runs/{run_id}/retry", {}, form_url="/account")
    assert refused.status_code == 403


def test_a_runs_page_and_the_list_of_runs_query_as_much_for_six_facilities_as_for_two(browser, users,
                                                                                      parts_of_two):
    from tests.sql import counted

    staff = browser("billing")

    def statements(url: str) -> int:
        with counted() as seen:
            assert staff.get(url).status_code == 200
        return len(seen)

    counts = []
    for n in (2, 6):
        billable_facilities(n)
        run_id = start_invoice_run(date(2026, 11, 1), date(2026, 11, 30), actor=users["billing"]).id
        assert job_status(run_id)["progress"]["invoices"] == n
        counts.append((statements(f"/invoices/runs/{run_id}"), statements("/invoices/run")))
    assert counts[0] == counts[1]
