"""Background jobs on RQ, or inline when no Redis is configured, and the runs people start with them.

Job functions take ids, never objects, and are wrapped with @job so that each
job a worker runs gets an app context of its own. What someone starts and may
ask about later (an invoice run) is a kind of job made of parts, registered with
composite_job: its JobRecord is what GET /jobs/{id} finds, and its status comes
from what its parts recorded in the database, never from RQ, whose jobs expire.
"""

import uuid
from collections.abc import Callable
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
# Kinds of job made of parts (an invoice run and its batches), by JobRecord.name: they answer for
# their own status, from what their parts recorded, and have a page of their own.
_COMPOSITES: dict[str, "Composite"] = {}


@dataclass
class Composite:
    statuses: Callable[[list[str]], dict[str, dict]]
    page: str


def composite_job(name: str, *, statuses: Callable[[list[str]], dict[str, dict]], page: str) -> None:
    """Register a kind of job made of parts: statuses(ids) gives each one's body as job_status does
    (one call for many, so a list of runs asks once); page is the endpoint that shows one (job_id=...)."""
    _COMPOSITES[name] = Composite(statuses, page)


def job(func):
    """Run the function inside an app context: the caller's, or a new one of the worker's app."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        if has_app_context():
            return func(*args, **kwargs)
        if _worker_app is None:
            # A plain `rq worker` horse: build the app here (`flask worker` has built it before the fork).
            from agency import create_app

            use_worker_app(create_app())
        with _worker_app.app_context():
            return func(*args, **kwargs)

    return wrapper


def use_worker_app(app) -> None:
    """The app jobs run with in this process when no app context is active."""
    global _worker_app
    _worker_app = app


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


def enqueue_many(func, arg_lists: list[tuple], *, job_timeout: int = 600) -> list[JobHandle]:
    """Queue func once per argument tuple, all in one Redis transaction: all are queued or none is.

    With no REDIS_URL each runs now, in turn; with Redis unreachable this refuses (503), as enqueue
    does, even with nothing to queue: whether a request works without Redis never depends on the data.
    """
    if not current_app.config["REDIS_URL"]:
        return [JobHandle(id=f"inline-{uuid.uuid4().hex}", status="finished", result=func(*args))
                for args in arg_lists]
    from redis.exceptions import RedisError
    from rq import Queue

    queue = get_queue()
    try:
        if not arg_lists:
            queue.connection.ping()
        rq_jobs = queue.enqueue_many([Queue.prepare_data(func, args, timeout=job_timeout) for args in arg_lists])
    except RedisError as exc:
        raise ServiceUnavailable(
            "Background jobs are unavailable: the Redis server cannot be reached. "
            "Nothing was started; try again when it is back."
        ) from exc
    return [JobHandle(id=rq_job.id, status="queued") for rq_job in rq_jobs]


class JobRecord(db.Model):
    """A run someone started (a kind of job made of parts, see composite_job), so its status can be asked for later."""

    __tablename__ = "job_records"
    # The run pages list the newest runs of one kind.
    __table_args__ = (sa.Index("ix_job_records_name_created_at", "name", "created_at"),)

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    started_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


def record_job(job_id: str, name: str, actor=None) -> JobRecord:
    """Remember, in the caller's transaction, a run someone started, for GET /jobs/{id} and its page."""
    record = JobRecord(id=job_id, name=name, started_by_id=getattr(actor, "id", None))
    db.session.add(record)
    return record


def _kind(job_id: str) -> Composite:
    record = db.session.get(JobRecord, job_id)
    # A record of a kind no longer registered (a plain job started before runs came in parts) has
    # nothing left to answer with: its outcome lived in RQ, long expired, or in the columns 0010 dropped.
    if record is None or record.name not in _COMPOSITES:
        raise NotFound(f"no job with id {job_id}")
    return _COMPOSITES[record.name]


def job_status(job_id: str) -> dict:
    """{"id", "status": queued|started|finished|failed, "result"?, "error"?, ...} of a run someone
    started, as its parts recorded it (see composite_job)."""
    return _kind(job_id).statuses([job_id])[job_id]


def job_page(job_id: str) -> str:
    """The endpoint of the page that shows a run someone started (it takes job_id=...)."""
    return _kind(job_id).page


def recent_jobs(name: str, limit: int = 10) -> list[dict]:
    """The newest runs of one kind, newest first: each one's status body, when it began, and its page."""
    records = db.session.scalars(
        sa.select(JobRecord).where(JobRecord.name == name)
        .order_by(JobRecord.created_at.desc()).limit(limit)
    ).all()
    kind = _COMPOSITES[name]
    bodies = kind.statuses([record.id for record in records])
    return [{**bodies[record.id], "created_at": record.created_at, "page": kind.page} for record in records]


def init_jobs(app) -> None:
    """Nothing to bind yet; kept so create_app reads the same for every extension."""
