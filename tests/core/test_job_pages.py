"""A run someone started has a page that says how it ended; GET /jobs/<id> leads there (a failed run's page is
tests/billing/test_invoice_runs.py's)."""

from datetime import date

import pytest

from agency.billing.runs import start_invoice_run
from agency.core.jobs import record_job
from agency.extensions import db
from tests import factories, workers

pytestmark = pytest.mark.usefixtures("users")


def test_a_queued_invoice_run_leads_to_its_page_which_shows_how_it_ended(app, browser, redis_url):
    place = factories.facility()
    factories.rate_card(place)
    factories.entry(factories.active_placement(place), date(2026, 11, 2))
    billing = browser("billing")
    with workers.jobs_on_redis(app, redis_url):
        queued = billing.post("/invoices/run", {"period_start": "2026-11-01", "period_end": "2026-11-30",
                                                "facility_id": ""}, follow_redirects=True)
        assert b"Invoice run queued; this page shows how it ends." in queued.data
        assert b"Not finished yet." in queued.data
        job_url = queued.request.path
        workers.wait(workers.start_worker(redis_url))
        page = billing.get(job_url).data.decode()
        assert "<h1>Invoice run</h1>" in page
        assert "badge-finished" in page and "1 invoice(s)" in page
        run_page = billing.get("/invoices/run").data.decode()
    assert "Recent runs" in run_page and f'href="{job_url}"' in run_page
    assert "1 invoice(s)" in run_page


def test_an_inline_run_has_a_page_too_and_an_unknown_job_is_not_found(browser, users):
    handle = start_invoice_run(date(2026, 11, 1), date(2026, 11, 30), actor=users["billing"])
    staff = browser("billing")
    job_page = staff.get(f"/jobs/{handle.id}", follow_redirects=True)
    assert job_page.request.path == f"/invoices/runs/{handle.id}"
    assert "Nothing new to bill." in job_page.data.decode()
    assert staff.get("/jobs/no-such-job").status_code == 404
    assert staff.get("/invoices/runs/no-such-run").status_code == 404
    assert browser("facility").get(f"/jobs/{handle.id}").status_code == 403


def test_a_plain_job_recorded_before_runs_came_in_parts_is_not_found(api, browser, users):
    # Its outcome lived in RQ, long expired: there is nothing to show, and no 500.
    record_job("3f1c0b6e-0000-4000-8000-000000000000", "generate_invoices", users["billing"])
    db.session.commit()
    assert browser("billing").get("/jobs/3f1c0b6e-0000-4000-8000-000000000000").status_code == 404
    assert api("billing").get("/api/v1/jobs/3f1c0b6e-0000-4000-8000-000000000000").status_code == 404
