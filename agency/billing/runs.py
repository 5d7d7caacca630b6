"""Invoice runs that fit any size: a period's facilities in parts of a few, one job per part.

A run is one job record (GET /jobs/{id} answers for it) with a row per facility. Each part's job
reads what its facilities bill at once and writes each facility's invoice in its own commit, so a
facility that fails stops no other; then it writes the facilities' outcomes on their rows under
the rows' locks: workers finishing parts at the same moment never update one counter, and a part
run twice (a retry, two workers) bills nothing twice (the facility lock sees to that) and records
each outcome once. A part a stopped worker left, or one that failed, is queued again by
retry_invoice_run; a part is the unit of progress the run's page shows.
"""

import traceback
import uuid
from collections import Counter, defaultdict
from datetime import date

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import joinedload

from agency.billing import holds, invoicing
from agency.billing.models import Invoice, InvoiceRun, InvoiceRunFacility
from agency.core.dates import utcnow
from agency.core.errors import Conflict, NotFound, ServiceUnavailable, ValidationError
from agency.core.jobs import JobHandle, JobRecord, composite_job, enqueue_many, record_job
from agency.core.persistence import lock_all, write_transaction
from agency.extensions import db
from agency.facilities.models import Facility

RUN_JOB = "invoice_run"
NOT_DONE = ("queued", "started")


def start_invoice_run(period_start: date, period_end: date, facility_id: int | None = None, actor=None, *,
                      facility_ids: list[int] | None = None) -> JobHandle:
    """Start a run (see create_invoice_run) and queue its parts; with no Redis they run now, in turn.

    With Redis unreachable the run is withdrawn and this refuses (503): nothing is left behind.
    """
    run = create_invoice_run(period_start, period_end, facility_id, actor, facility_ids=facility_ids)
    run_id = run.id
    try:
        _queue_parts(run_id, part_numbers(run_id))
    except ServiceUnavailable:
        _withdraw(run_id)
        raise
    body = run_statuses([run_id])[run_id]
    return JobHandle(id=run_id, status=body["status"], result=body.get("result"))


def create_invoice_run(period_start: date, period_end: date, facility_id: int | None = None, actor=None, *,
                       facility_ids: list[int] | None = None) -> InvoiceRun:
    """Record a run of the facilities with approved, unbilled hours up to period_end (the one asked
    for, or facility_ids as the schedule found them), in parts of INVOICE_RUN_BATCH; nothing billed yet."""
    invoicing.check_period(period_start, period_end)
    if facility_id is not None and db.session.get(Facility, facility_id) is None:
        raise ValidationError.on("facility_id", f"no facility with id {facility_id}")
    if facility_ids is None:
        # Facilities with held hours only are in the run too, so that its outcome reports them.
        facility_ids = invoicing.facilities_with_unbilled(period_end, facility_id) + sorted(
            holds.held_by_facility(period_end, None if facility_id is None else [facility_id]))
    size = int(current_app.config["INVOICE_RUN_BATCH"])
    run = InvoiceRun(record=record_job(f"run-{uuid.uuid4().hex}", RUN_JOB, actor), period_start=period_start,
                     period_end=period_end, facility_id=facility_id)
    db.session.add(run)
    db.session.flush()
    if facility_ids:
        db.session.execute(sa.insert(InvoiceRunFacility), [
            {"run_id": run.id, "facility_id": fid, "part": n // size + 1, "status": "queued", "invoice_ids": [],
             "unpriced": [], "held": [], "parked": []}
            for n, fid in enumerate(sorted(set(facility_ids)))
        ])
    db.session.commit()
    return run


def part_numbers(run_id: str, *, not_done: bool = False) -> list[int]:
    """The run's parts, or only those with a facility not invoiced yet."""
    query = sa.select(InvoiceRunFacility.part).distinct().where(InvoiceRunFacility.run_id == run_id)
    if not_done:
        query = query.where(InvoiceRunFacility.status != "finished")
    return sorted(db.session.scalars(query))


def _queue_parts(run_id: str, parts: list[int]) -> None:
    from agency.billing.jobs import invoice_run_part

    enqueue_many(invoice_run_part, [(run_id, part) for part in parts],
                 job_timeout=int(current_app.config["INVOICE_RUN_PART_TIMEOUT_SECONDS"]))


def _withdraw(run_id: str) -> None:
    """Forget a run none of whose parts has started (its jobs could not be queued)."""
    db.session.rollback()
    started = sa.select(InvoiceRunFacility.id).where(InvoiceRunFacility.run_id == run_id,
                                                     InvoiceRunFacility.status != "queued")
    if db.session.scalar(started.limit(1)) is None:
        db.session.execute(sa.delete(InvoiceRunFacility).where(InvoiceRunFacility.run_id == run_id))
        db.session.execute(sa.delete(InvoiceRun).where(InvoiceRun.id == run_id))
        db.session.execute(sa.delete(JobRecord).where(JobRecord.id == run_id))
    db.session.commit()


def run_part(run_id: str, part: int) -> dict:
    """Invoice the facilities of one part that are not invoiced yet, each on its own, recording each outcome."""
    run = db.session.get(InvoiceRun, run_id)
    if run is None:
        return {"run_id": run_id, "part": part, "facilities": 0, "failed": 0}  # withdrawn before it began
    period_start, period_end = run.period_start, run.period_end
    actor = _user(run.record.started_by_id)
    todo = db.session.execute(
        sa.select(InvoiceRunFacility.id, InvoiceRunFacility.facility_id)
        .where(InvoiceRunFacility.run_id == run_id, InvoiceRunFacility.part == part,
               InvoiceRunFacility.status != "finished")
        .order_by(InvoiceRunFacility.facility_id)
    ).all()
    db.session.execute(sa.update(InvoiceRunFacility).where(
        InvoiceRunFacility.id.in_([row_id for row_id, _ in todo]), InvoiceRunFacility.status == "queued",
    ).values(status="started"))
    db.session.commit()
    try:
        result = invoicing.run_invoices(period_start, period_end, [facility_id for _, facility_id in todo], actor,
                                        isolate=True)
        outcomes = {facility_id: result.facilities.get(facility_id, invoicing.FacilityOutcome())
                    for _, facility_id in todo}
    except Exception as exc:  # noqa: BLE001 - the part's read failed: each of its facilities is told why
        db.session.rollback()
        outcomes = {facility_id: invoicing.FacilityOutcome(error=exc) for _, facility_id in todo}
    for facility_id, outcome in outcomes.items():
        if outcome.error is not None:
            current_app.logger.error("invoice run %s: facility %s was not invoiced: %s", run_id, facility_id,
                                     _reason(outcome.error))
    _record({row_id: outcomes[facility_id] for row_id, facility_id in todo})
    failed = sum(outcome.error is not None for outcome in outcomes.values())
    return {"run_id": run_id, "part": part, "facilities": len(todo), "failed": failed}


def _record(outcomes: dict[int, "invoicing.FacilityOutcome"]) -> None:
    """Write each facility's outcome on its row, in one transaction; what another run of the same part
    recorded is kept."""
    for row in lock_all(InvoiceRunFacility, sorted(outcomes)):
        outcome = outcomes[row.id]
        if outcome.error is None:
            # A second run of the part finds nothing left to bill: the first one's invoices stay listed.
            made = [] if outcome.invoice_id is None else [outcome.invoice_id]
            row.invoice_ids = sorted(set(row.invoice_ids) | set(made))
            row.unpriced, row.held = outcome.unpriced, outcome.held
            # A second run finds the parked draft billed already: the first one's report stays.
            row.parked = outcome.parked or row.parked or []
            row.skipped = outcome.skipped
            row.status, row.error, row.finished_at = "finished", None, utcnow()
        elif row.status != "finished":
            row.status, row.error, row.finished_at = "failed", _reason(outcome.error), utcnow()
    db.session.commit()


def _reason(exc: Exception) -> str:
    """What went wrong, in a line: the exception's, or for a database error the database's own words."""
    shown = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = "".join(traceback.format_exception_only(shown)).strip()
    return (text.splitlines() or [type(shown).__name__])[0][:500]


def _user(user_id: int | None):
    if user_id is None:
        return None
    from agency.auth.models import User

    return db.session.get(User, user_id)


def retry_invoice_run(run_id: str) -> list[int]:
    """Queue again each part of a run with a facility not invoiced: one that failed, or one a stopped
    worker left started. Safe even if that part is still running: nothing is billed twice."""
    if db.session.get(InvoiceRun, run_id) is None:
        raise NotFound(f"no invoice run with id {run_id}")
    write_transaction()
    parts = part_numbers(run_id, not_done=True)
    if not parts:
        raise Conflict("every facility of this run is invoiced; there is nothing to retry")
    db.session.execute(
        sa.update(InvoiceRunFacility)
        .where(InvoiceRunFacility.run_id == run_id, InvoiceRunFacility.status != "finished")
        .values(status="queued", error=None, finished_at=None)
    )
    db.session.commit()
    _queue_parts(run_id, parts)
    return parts


def _rows(run_ids: list[str]):
    return db.session.execute(
        sa.select(InvoiceRunFacility.run_id, InvoiceRunFacility.part, InvoiceRunFacility.facility_id,
                  InvoiceRunFacility.status, InvoiceRunFacility.invoice_ids, InvoiceRunFacility.unpriced,
                  InvoiceRunFacility.held, InvoiceRunFacility.parked, InvoiceRunFacility.skipped,
                  InvoiceRunFacility.error, Facility.name)
        .join(Facility, Facility.id == InvoiceRunFacility.facility_id)
        .where(InvoiceRunFacility.run_id.in_(run_ids))
        .order_by(InvoiceRunFacility.part, InvoiceRunFacility.facility_id)
    ).all()


def run_statuses(run_ids: list[str]) -> dict[str, dict]:
    """Each run's job status, as GET /jobs/{id} gives it, from one query however many runs and parts.

    queued until a part starts, started while any facility is not done, then finished, or failed
    when a facility failed. Once done, result has the invoice ids of every part (failed or not) and
    the entries left unpriced; error names the facilities that failed and why.
    """
    by_run = defaultdict(list)
    for row in _rows(run_ids):
        by_run[row.run_id].append(row)
    return {run_id: _status(run_id, by_run[run_id]) for run_id in run_ids}


def _status(run_id: str, rows: list) -> dict:
    counts = Counter(row.status for row in rows)
    done = counts["finished"] + counts["failed"]
    parts = {row.part for row in rows}
    progress = {
        "facilities": len(rows), "facilities_done": done, "facilities_failed": counts["failed"],
        "parts": len(parts), "parts_done": len(parts - {row.part for row in rows if row.status in NOT_DONE}),
        "invoices": sum(len(row.invoice_ids) for row in rows),
    }
    body = {"id": run_id, "progress": progress}
    if done < len(rows):
        return {**body, "status": "queued" if counts["queued"] == len(rows) else "started"}
    body["result"] = {"invoice_ids": [i for row in rows for i in row.invoice_ids],
                      "unpriced": [problem for row in rows for problem in row.unpriced],
                      "held": [problem for row in rows for problem in row.held or []],
                      "parked": [draft for row in rows for draft in row.parked or []],
                      "skipped": _skipped(rows)}
    failures = [row for row in rows if row.status == "failed"]
    if not failures:
        return {**body, "status": "finished"}
    reasons = "; ".join(f"{row.name}: {row.error}" for row in failures)
    return {**body, "status": "failed",
            "error": f"{len(failures)} of {len(rows)} facilities not invoiced: {reasons}"[:500]}


def describe_run(run_id: str) -> dict:
    """A run for its page: what and who, its status and progress, the facilities that failed so far
    and why, and the invoices made so far."""
    run = db.session.get(InvoiceRun, run_id, options=[joinedload(InvoiceRun.record),
                                                      joinedload(InvoiceRun.facility)])
    if run is None:
        raise NotFound(f"no invoice run with id {run_id}")
    rows = _rows([run_id])
    invoice_ids = [i for row in rows for i in row.invoice_ids]
    invoices = db.session.scalars(
        sa.select(Invoice).where(Invoice.id.in_(invoice_ids)).options(joinedload(Invoice.facility))
        .order_by(Invoice.id)
    ).all() if invoice_ids else []
    return {**_status(run_id, rows), "run": run, "started_by": _user(run.record.started_by_id),
            "failures": [row for row in rows if row.status == "failed"], "invoices": invoices,
            "unpriced": [problem for row in rows for problem in row.unpriced],
            "held": [problem for row in rows for problem in row.held or []],
            "parked": [draft for row in rows for draft in row.parked or []], "skipped": _skipped(rows)}


def _skipped(rows) -> list[dict]:
    return [{"facility_id": row.facility_id, "name": row.name, "reason": row.skipped}
            for row in rows if row.skipped]


composite_job(RUN_JOB, statuses=run_statuses, page="billing.invoice_run")
