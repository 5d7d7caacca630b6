"""Real worker processes for tests (`flask --app wsgi worker`): same database and Redis as the test app."""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import sqlalchemy as sa

from agency import ROOT
from agency.core.jobs import job
from agency.extensions import db

RQ = Path(sys.executable).with_name("rq")
FLASK = Path(sys.executable).with_name("flask")


def worker_env(redis_url: str, **settings: str) -> dict:
    env = dict(os.environ)
    env["AGENCY_REDIS_URL"] = redis_url
    env.update({f"AGENCY_{name}": value for name, value in settings.items()})
    return env


def start_worker(redis_url: str, *, burst: bool = True, name: str | None = None, max_jobs: int | None = None,
                 **settings: str) -> subprocess.Popen:
    """The product's worker on this test run's queue, in a session of its own, with extra AGENCY_ settings;
    with max_jobs it stops after that many jobs, leaving the rest queued."""
    args = [str(FLASK), "--app", "wsgi", "worker", "--queue", os.environ["AGENCY_RQ_QUEUE"]]
    if burst:
        args.append("--burst")
    if name:
        args += ["--name", name]
    if max_jobs is not None:
        args += ["--max-jobs", str(max_jobs)]
    return subprocess.Popen(args, cwd=ROOT, env=worker_env(redis_url, **settings), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)


def wait(process: subprocess.Popen, timeout: float = 60) -> str:
    output, _ = process.communicate(timeout=timeout)
    return output.decode(errors="replace")


def _descendants(pid: int) -> list[int]:
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill(process: subprocess.Popen) -> None:
    """SIGKILL the worker and its work horse, which rq starts in a session of its own."""
    for pid in [process.pid, *_descendants(process.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=10)


def poll(check, timeout: float = 30, interval: float = 0.1):
    """Call check() until it returns something truthy, or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"gave up waiting after {timeout} s")


@contextmanager
def jobs_on_redis(app, redis_url: str):
    """Make enqueue() send jobs to Redis for the duration of a test."""
    saved = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = redis_url
    try:
        yield
    finally:
        app.config["REDIS_URL"] = saved


# Jobs that report on the worker itself, for tests/core/test_worker.py.

def arrival() -> dict:
    """What a work horse found already loaded when this job began (deliberately not an @job)."""
    from agency.worker import JOB_MODULES

    jobs_module = sys.modules.get("agency.core.jobs")
    app = getattr(jobs_module, "_worker_app", None)
    return {"pid": os.getpid(), "app": id(app) if app is not None else None,
            "job_modules": all(module in sys.modules for module in JOB_MODULES),
            "templates_compiled": app is not None and len(app.jinja_env.cache) == len(app.jinja_env.list_templates())}


@job
def half_written(name: str) -> None:
    """Adds a facility and fails before committing it; on PostgreSQL its transaction is left aborted."""
    from agency.facilities.models import Facility

    db.session.add(Facility(name=name, facility_type="cmhc", state="NY", payment_terms_days=30))
    db.session.flush()
    if db.engine.dialect.name == "postgresql":
        with suppress(sa.exc.DBAPIError):
            db.session.execute(sa.text("SELECT 1 / 0"))
    raise RuntimeError("stopped halfway")


@job
def database_view(name: str) -> dict:
    """How many facilities of that name this job sees, and (PostgreSQL) which server process serves it."""
    from agency.facilities.models import Facility

    found = db.session.scalar(sa.select(sa.func.count()).select_from(Facility).where(Facility.name == name))
    backend = db.session.scalar(sa.text("SELECT pg_backend_pid()")) if db.engine.dialect.name == "postgresql" \
        else None
    return {"found": found, "backend": backend}
