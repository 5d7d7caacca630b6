"""`flask --app wsgi worker`: an RQ worker that loads the app once, before it forks.

`rq worker` forks a work horse per job and each horse builds the app afresh
(about 1.8 s of CPU a job). Here the worker process builds it, imports every
job module and compiles the templates up front, as RQ's performance notes
advise, so a horse only runs its job: in an app context of its own, on database
connections of its own.
"""

import contextvars
import importlib
import os

import click
from flask import current_app

from agency.extensions import db

# Every module holding @job functions: imported before the first fork, so no horse imports one.
JOB_MODULES = (
    "agency.billing.jobs",
    "agency.core.outbox",
    "agency.credentials.scan",
    "agency.credentials.screening",
)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Quit once the queues are empty instead of waiting for more jobs.")
@click.option("--queue", "queues", multiple=True, metavar="NAME",
              help="A queue to take jobs from; may be repeated. Default: RQ_QUEUE.")
@click.option("--name", default=None, help="The worker's name in Redis. Default: one RQ makes up.")
@click.option("--max-jobs", type=click.IntRange(min=1), default=None,
              help="Quit after this many jobs, leaving the rest queued.")
def worker_command(burst: bool, queues: tuple[str, ...], name: str | None, max_jobs: int | None) -> None:
    """Run background jobs from Redis, the app loaded once for all of them."""
    from redis.exceptions import RedisError
    from rq import Queue, Worker

    from agency.core import jobs

    app = current_app._get_current_object()
    if not app.config["REDIS_URL"]:
        raise click.ClickException("REDIS_URL is not set: without Redis, jobs run inline and need no worker.")
    connection = jobs.redis_connection()
    try:
        connection.ping()
    except RedisError as exc:
        raise click.ClickException(f"cannot reach Redis at REDIS_URL: {exc}") from None
    for module in JOB_MODULES:
        importlib.import_module(module)
    # Invoice PDFs and emails compiled once here, not again in every horse.
    for template in app.jinja_env.list_templates():
        app.jinja_env.get_template(template)
    jobs.use_worker_app(app)

    # A connection pooled before the fork would be one socket shared by every horse and this
    # process: each horse forgets the pool it inherited (without closing the parent's sockets).
    engines = list(db.engines.values())
    for engine in engines:
        engine.dispose()
    os.register_at_fork(after_in_child=lambda: [engine.dispose(close=False) for engine in engines])

    worker = Worker([Queue(queue, connection=connection) for queue in queues or [app.config["RQ_QUEUE"]]],
                    name=name, connection=connection)
    # Flask runs CLI commands inside an app context; a horse forked from it would run every job
    # in that one inherited context. An empty context here lets each job push its own.
    contextvars.Context().run(worker.work, burst=burst, max_jobs=max_jobs)
