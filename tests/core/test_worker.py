"""`flask worker` loads the app once, before it forks: each job starts warm, yet on a clean slate."""

import re

from rq.job import Job

from agency import ROOT
from agency.core.jobs import enqueue, redis_connection
from agency.worker import JOB_MODULES
from tests import workers
from tests.smtp import free_port


def _outcomes(app, redis_url, *calls) -> list[Job]:
    """Queue the (func, *args) calls, run them in order on one burst worker, and fetch the jobs."""
    with workers.jobs_on_redis(app, redis_url):
        handles = [enqueue(func, *args) for func, *args in calls]
        log = workers.wait(workers.start_worker(redis_url))
        return [Job.fetch(handle.id, connection=redis_connection()) for handle in handles], log


def test_each_job_finds_the_app_its_job_modules_and_templates_already_loaded_by_the_worker(app, redis_url):
    (first, second), log = _outcomes(app, redis_url, (workers.arrival,), (workers.arrival,))
    one, two = first.return_value(), second.return_value()
    assert one and two, log
    # A horse of its own per job, both forked from a worker that had built the app: a plain
    # `rq worker` horse finds no app and no job module and builds them itself.
    assert one["pid"] != two["pid"]
    assert one["app"] is not None and one["app"] == two["app"]
    assert one["job_modules"] and two["job_modules"]
    assert one["templates_compiled"] and two["templates_compiled"]


def test_a_job_after_one_that_failed_midway_starts_on_a_clean_session_and_its_own_connection(app, redis_url):
    jobs, log = _outcomes(app, redis_url, (workers.database_view, "Nobody"),
                          (workers.half_written, "Left Halfway"), (workers.database_view, "Left Halfway"))
    before, failed, after = jobs
    assert failed.get_status() == "failed", log
    assert after.get_status() == "finished", log
    assert after.return_value()["found"] == 0
    if before.return_value()["backend"] is not None:
        assert before.return_value()["backend"] != after.return_value()["backend"]


def test_without_redis_the_worker_refuses_to_start_and_says_why(app, monkeypatch):
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code == 1
    assert "REDIS_URL is not set" in result.output
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code == 1
    assert "cannot reach Redis at REDIS_URL" in result.output


def test_every_module_with_jobs_is_loaded_before_the_fork():
    with_jobs = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in (ROOT / "agency").rglob("*.py")
        if re.search(r"^@job\b", path.read_text(), re.MULTILINE)
    }
    assert with_jobs == set(JOB_MODULES)
