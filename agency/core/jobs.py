"""Background jobs on RQ, or inline when no Redis is configured.

Job functions take ids, never objects, and are wrapped with @job so that a
worker process gets an app context of its own.
"""

import uuid
from dataclasses import dataclass
from functools import wraps

from flask import current_app, has_app_context

from agency.core.errors import ServiceUnavailable

_worker_app = None


def job(func):
    """Run the function inside an app context, creating one in a worker process."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        if has_app_context():
            return func(*args, **kwargs)
        global _worker_app
        if _worker_app is None:
            from agency import create_app

            _worker_app = create_app()
        with _worker_app.app_context():
            return func(*args, **kwargs)

    return wrapper


@dataclass
class JobHandle:
    id: str
    status: str
    result: object = None


def redis_connection():
    from redis import Redis

    return Redis.from_url(current_app.config["REDIS_URL"])


def get_queue():
    from rq import Queue

    return Queue(current_app.config["RQ_QUEUE"], connection=redis_connection())


def enqueue(func, *args, job_timeout: int = 600, **kwargs) -> JobHandle:
    """Queue func on RQ; with no REDIS_URL run it now, in this process.

    With Redis configured but unreachable this refuses (503) rather than run
    the work inline behind the operator's back.
    """
    if not current_app.config["REDIS_URL"]:
        result = func(*args, **kwargs)
        return JobHandle(id=f"inline-{uuid.uuid4().hex}", status="finished", result=result)
    from redis.exceptions import RedisError

    try:
        rq_job = get_queue().enqueue(func, *args, job_timeout=job_timeout, **kwargs)
    except RedisError as exc:
        raise ServiceUnavailable(
            "Background jobs are unavailable: the Redis server cannot be reached. "
            "Nothing was started; try again when it is back."
        ) from exc
    return JobHandle(id=rq_job.id, status="queued")


def init_jobs(app) -> None:
    """Nothing to bind yet; kept so create_app reads the same for every extension."""
