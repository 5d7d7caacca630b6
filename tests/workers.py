"""Real `rq worker` processes for tests: same database and Redis as the test app."""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from agency import ROOT

RQ = Path(sys.executable).with_name("rq")


def worker_env(redis_url: str, **settings: str) -> dict:
    env = dict(os.environ)
    env["AGENCY_REDIS_URL"] = redis_url
    env.update({f"AGENCY_{name}": value for name, value in settings.items()})
    return env


def start_worker(redis_url: str, *, burst: bool = True, max_jobs: int | None = None,
                 **settings: str) -> subprocess.Popen:
    """An rq worker on this test run's queue, in a session of its own, with extra AGENCY_ settings;
    with max_jobs it stops after that many jobs, leaving the rest queued."""
    args = [str(RQ), "worker", "--url", redis_url, os.environ["AGENCY_RQ_QUEUE"]]
    if burst:
        args.insert(2, "--burst")
    if max_jobs is not None:
        args[2:2] = ["--max-jobs", str(max_jobs)]
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
