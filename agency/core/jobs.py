"""Background jobs on RQ, or inline when no Redis is configured.

Job functions take ids, never objects, and are wrapped with @job so that a
worker process gets an app context of its own.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import wraps

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Mapped, mapped_column

from agency.core.dates import utcnow
from agency.core.errors import NotFound, ServiceUnavailable
from agency.extensions import db

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


class JobRecord(db.Model):
    """A job someone started, so its status can be asked for later; inline jobs keep their result here."""

    __tablename__ = "job_records"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    started_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    inline_status: Mapped[str | None] = mapped_column(sa.String(20))
    inline_result: Mapped[dict | None] = mapped_column(sa.JSON)


def start_job(func, *args, actor=None, **kwargs) -> JobHandle:
    """Enqueue a job on behalf of a user and remember it for GET /jobs/{id}."""
    handle = enqueue(func, *args, **kwargs)
    db.session.add(JobRecord(
        id=handle.id, name=func.__name__, started_by_id=getattr(actor, "id", None),
        inline_status=handle.status if handle.id.startswith("inline-") else None,
        inline_result=handle.result if handle.id.startswith("inline-") else None,
    ))
    db.session.commit()
    return handle


def job_status(job_id: str) -> dict:
    """{"status": queued|started|finished|failed, "result"?} of a job started with start_job."""
    record = db.session.get(JobRecord, job_id)
    if record is None:
        raise NotFound(f"no job with id {job_id}")
    if record.inline_status is not None:
        body = {"id": job_id, "status": record.inline_status}
        if record.inline_result is not None:
            body["result"] = record.inline_result
        return body
    from redis.exceptions import RedisError
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        rq_job = Job.fetch(job_id, connection=redis_connection())
        status = rq_job.get_status(refresh=True)
    except NoSuchJobError:
        raise NotFound(f"job {job_id} has expired from the queue") from None
    except RedisError as exc:
        raise ServiceUnavailable("Job status is unavailable: the Redis server cannot be reached.") from exc
    status = getattr(status, "value", status)
    status = {"deferred": "queued", "scheduled": "queued", "stopped": "failed",
              "canceled": "failed"}.get(status, status)
    body = {"id": job_id, "status": status}
    if status == "finished":
        body["result"] = rq_job.return_value()
    elif status == "failed":
        body["error"] = "the job failed; see the worker log"
    return body


def init_jobs(app) -> None:
    """Nothing to bind yet; kept so create_app reads the same for every extension."""
