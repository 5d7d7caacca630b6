"""`flask bench` builds a scratch agency of any scale and measures every page, endpoint and job."""

import json

import pytest

from agency.bench import bench_app, build, measure
from agency.billing.ledger import ledger_problems
from agency.extensions import db
from tests import workers


def test_the_bench_measures_every_page_and_job_of_a_tiny_agency_and_writes_its_figures(app, tmp_path):
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    out = tmp_path / "bench.json"
    result = app.test_cli_runner().invoke(args=["bench", "--scale", "0.01", "--samples", "2",
                                                "--database-url", url, "--json", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["scale"] == 0.01 and figures["database"] in ("sqlite", "postgresql")
    rules = {page["rule"] for page in figures["pages"]}
    assert {"/therapists/<int:therapist_id>", "/invoices/<int:invoice_id>/pdf", "/calendar/<token>.ics",
            "/api/v1/receivables/aging", "/portal"} <= rules
    for page in figures["pages"]:
        assert page["status"] == page["expected_status"], page
        assert "<" not in page["path"] and page["statements"] >= 0
        assert 0 < page["median_ms"] <= page["p95_ms"]
    assert figures["scan_s"] > 0 and figures["matching_ms"] > 0 and figures["aging_ms"] > 0
    invoicing = figures["invoicing"]
    assert invoicing["entries"] > 0 and invoicing["second_month_entries"] > 0
    for key in ("entries_per_s", "loop_entries_per_s", "loop_ratio", "pdf_ratio"):
        assert invoicing[key] > 0, key
    assert invoicing["loop_ratio"] == pytest.approx(invoicing["loop_entries_per_s"] / invoicing["entries_per_s"],
                                                    rel=0.02)
    assert "workers" not in figures  # no --workers-compare
    assert "(HTTP" not in result.output and "entries/s" in result.output
    with bench_app(url, tmp_path / "documents").app_context():
        assert ledger_problems(db.session) == []  # after the measured invoice runs too

    again = app.test_cli_runner().invoke(args=["bench", "--scale", "0.01", "--database-url", url])
    assert again.exit_code != 0 and "empty scratch database" in again.output


def test_the_built_agency_keeps_every_promise_of_the_ledger(tmp_path):
    bench, sizes = build(0.01, f"sqlite:///{tmp_path / 'bench.db'}", tmp_path / "documents")
    assert sizes["invoices"] > 0 and sizes["billed_entries"] > 0 and sizes["payments"] > 0
    with bench.app_context():
        assert ledger_problems(db.session) == []


def test_no_page_or_endpoint_makes_more_statements_at_a_larger_scale_or_more_than_fifteen(tmp_path):
    counts = {}
    for scale in (0.01, 0.05):
        bench, _ = build(scale, f"sqlite:///{tmp_path / f'bench-{scale}.db'}", tmp_path / f"documents-{scale}")
        counts[scale] = {page["path"]: page["statements"] for page in measure.measure_pages(bench, samples=1)}
    assert counts[0.01].keys() == counts[0.05].keys()
    grown = {path: (counts[0.01][path], counts[0.05][path]) for path in counts[0.01]
             if counts[0.05][path] > counts[0.01][path]}
    assert grown == {}, f"statements per request grow with the data: {grown}"
    # The admin's dashboard puts every team's panels on one page: bounded like every page, its own ceiling.
    crowded = {path: n for path, n in counts[0.05].items() if n > (20 if path == "/dashboard" else 15)}
    assert crowded == {}, f"more than 15 statements per request: {crowded}"


def test_the_bench_times_a_month_through_one_worker_and_then_two(app, tmp_path, redis_url):
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    out = tmp_path / "bench.json"
    with workers.jobs_on_redis(app, redis_url):
        result = app.test_cli_runner().invoke(args=["bench", "--scale", "0.01", "--samples", "1", "--pdf-sample",
                                                    "1", "--workers-compare", "--database-url", url, "--json",
                                                    str(out)])
    assert result.exit_code == 0, result.output
    compared = json.loads(out.read_text())["workers"]
    assert compared["one_per_s"] > 0 and compared["two_per_s"] > 0
    assert compared["worker_ratio"] == pytest.approx(compared["two_per_s"] / compared["one_per_s"], rel=0.02)
    with bench_app(url, tmp_path / "documents").app_context():
        assert ledger_problems(db.session) == []  # the month voided and billed again twice
