"""Background jobs on RQ, or inline when no Redis is configured.

Job functions take ids, never objects, and are wrapped with @job so that each
job a worker runs gets an app context of its own.
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
# What a person calls each kind of job, by function name, as @job(label=...) gives it.
_LABELS: dict[str, str] = {}
# Kinds of job made of parts (an invoice run and its batches), by JobRecord.name: they answer for
# their own status, from what their parts recorded, and may have a page of their own.
_COMPOSITES: dict[str, "Composite"] = {}


@dataclass
class Composite:
    statuses: Callable[[list[str]], dict[str, dict]]
    page: str | None


def composite_job(name: str, *, label: str, statuses: Callable[[list[str]], dict[str, dict]],
                  page: str | None = None) -> None:
    """Register a kind of job made of parts: statuses(ids) gives each one's body as job_status does
    (one call for many, so a list of runs asks once); page is the endpoint that shows one (job_id=...)."""
    _LABELS[name] = label
    _COMPOSITES[name] = Composite(statuses, page)


def job(func=None, *, label: str | None = None):
    """Run the function inside an app context: the caller's, or a new one of the worker's app.

    label is what the job's page calls it (default: its name in words).
    """
    if func is None:
        return lambda f: job(f, label=label)
    if label:
        _LABELS[func.__name__] = label

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


def enqueue(func, *args, job_timeout: int = 600, keep_outcome: bool = False, **kwargs) -> JobHandle:
    """Queue func on RQ; with no REDIS_URL run it now, in this process.

    With Redis configured but unreachable this refuses (503) rather than run
    the work inline behind the operator's back. keep_outcome keeps the result
    or the error for JOB_OUTCOME_TTL_SECONDS, for a person to look at.
    """
    if not current_app.config["REDIS_URL"]:
        result = func(*args, **kwargs)
        return JobHandle(id=f"inline-{uuid.uuid4().hex}", status="finished", result=result)
    from redis.exceptions import RedisError

    options = {"job_timeout": job_timeout}
    if keep_outcome:
        ttl = int(current_app.config["JOB_OUTCOME_TTL_SECONDS"])
        options.update(result_ttl=ttl, failure_ttl=ttl)
    try:
        rq_job = get_queue().enqueue(func, *args, **options, **kwargs)
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
    """A job someone started, so its status can be asked for later; inline jobs keep their result here."""

    __tablename__ = "job_records"
    # The run pages list the newest runs of one kind.
    __table_args__ = (sa.Index("ix_job_records_name_created_at", "name", "created_at"),)

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    started_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    inline_status: Mapped[str | None] = mapped_column(sa.String(20))
    inline_result: Mapped[dict | None] = mapped_column(sa.JSON)


def start_job(func, *args, actor=None, **kwargs) -> JobHandle:
    """Enqueue a job on behalf of a user and remember it for GET /jobs/{id}."""
    handle = enqueue(func, *args, keep_outcome=True, **kwargs)
    record = record_job(handle.id, func.__name__, actor)
    if handle.id.startswith("inline-"):
        record.inline_status, record.inline_result = handle.status, handle.result
    db.session.commit()
    return handle


def record_job(job_id: str, name: str, actor=None) -> JobRecord:
    """Remember, in the caller's transaction, a job someone started, for GET /jobs/{id} and its page."""
    record = JobRecord(id=job_id, name=name, started_by_id=getattr(actor, "id", None))
    db.session.add(record)
    return record


def job_status(job_id: str) -> dict:
    """{"status": queued|started|finished|failed, "result"?, "error"?} of a job started with start_job,
    or of a job made of parts (see composite_job), as its parts recorded it.

    A failed job's error is the last line of its exception (or why RQ stopped it).
    """
    record = db.session.get(JobRecord, job_id)
    if record is None:
        raise NotFound(f"no job with id {job_id}")
    return _statuses_of([record])[record.id]


def _statuses_of(records: list[JobRecord]) -> dict[str, dict]:
    """Each record's status body, a composite kind's asked for all its records at once."""
    bodies = {}
    for name in {record.name for record in records} & set(_COMPOSITES):
        bodies |= _COMPOSITES[name].statuses([record.id for record in records if record.name == name])
    return bodies | {record.id: _status_of(record) for record in records if record.id not in bodies}


def _status_of(record: JobRecord) -> dict:
    job_id = record.id
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
        outcome = rq_job.latest_result()
        body["error"] = _last_line(getattr(outcome, "exc_string", None)) or "the job was stopped before it finished"
    return body


def _last_line(exc_string: str | None) -> str | None:
    """The exception line of a traceback: what went wrong, without the stack."""
    lines = [line for line in (exc_string or "").splitlines() if line.strip()]
    return lines[-1].strip()[:500] if lines else None


def describe_job(job_id: str) -> dict:
    """A started job for its page: what it is, who started it and when, and how it ended if it has.

    With Redis down it still answers, the status of a job not run inline "unknown".
    """
    record = db.session.get(JobRecord, job_id)
    if record is None:
        raise NotFound(f"no job with id {job_id}")
    return _described(record)


def recent_jobs(name: str, limit: int = 10) -> list[dict]:
    """The newest jobs of one kind that someone started, each described as describe_job does."""
    records = db.session.scalars(
        sa.select(JobRecord).where(JobRecord.name == name)
        .order_by(JobRecord.created_at.desc()).limit(limit)
    ).all()
    bodies = _COMPOSITES[name].statuses([record.id for record in records]) if name in _COMPOSITES else {}
    return [_described(record, bodies.get(record.id)) for record in records]


def _described(record: JobRecord, body: dict | None = None) -> dict:
    if body is None:
        try:
            body = _statuses_of([record])[record.id]
        except (NotFound, ServiceUnavailable) as exc:
            body = {"id": record.id, "status": "unknown", "error": exc.message}
    label = _LABELS.get(record.name) or record.name.replace("_", " ").capitalize()
    composite = _COMPOSITES.get(record.name)
    return {**body, "name": record.name, "label": label, "created_at": record.created_at,
            "started_by_id": record.started_by_id, "page": composite.page if composite else None}


def init_jobs(app) -> None:
    """Nothing to bind yet; kept so create_app reads the same for every extension."""
