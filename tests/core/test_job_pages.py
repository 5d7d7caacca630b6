"""A background run someone started has a page that says how it ended: finished with what, or failed and why."""

from datetime import date

import pytest

from agency.billing.jobs import daily_dunning
from agency.billing.runs import start_invoice_run
from agency.core.jobs import start_job
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


def test_a_failed_job_shows_the_exceptions_last_line_on_its_page_and_in_the_api(app, browser, api, users,
                                                                                redis_url):
    with workers.jobs_on_redis(app, redis_url):
        handle = start_job(daily_dunning, "the first of November", actor=users["billing"])
        workers.wait(workers.start_worker(redis_url))
        body = api("billing").get(f"/api/v1/jobs/{handle.id}").json
        page = browser("billing").get(f"/jobs/{handle.id}").data.decode()
    reason = "ValueError: Invalid isoformat string: 'the first of November'"
    assert (body["status"], body["error"]) == ("failed", reason)
    assert "<h1>Daily dunning</h1>" in page
    assert "Failed: ValueError: Invalid isoformat string: &#39;the first of November&#39;" in page


def test_an_inline_run_has_a_page_too_and_an_unknown_job_is_not_found(browser, users):
    handle = start_invoice_run(date(2026, 11, 1), date(2026, 11, 30), actor=users["billing"])
    staff = browser("billing")
    job_page = staff.get(f"/jobs/{handle.id}", follow_redirects=True)
    assert job_page.request.path == f"/invoices/runs/{handle.id}"
    assert "Nothing new to bill." in job_page.data.decode()
    assert staff.get("/jobs/no-such-job").status_code == 404
    assert staff.get("/invoices/runs/no-such-run").status_code == 404
    assert browser("facility").get(f"/jobs/{handle.id}").status_code == 403
