"""What the benchmark measures: every GET route of the app, and the jobs that must scale."""

import math
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from agency.bench.data import ADMIN_EMAIL, PASSWORD, Calendar
from agency.extensions import db

# Routes that are not measured, each with the reason.
SKIPPED = {
    "static": "serves a file of static/ without touching the application or the database",
    "document_upload.upload": "a therapist's private upload link: its token is only in the email it was sent in",
}

# Routes whose right answer is not 200, and why.
EXPECTED_STATUS = {
    "dashboard.home": (302, "the home page sends each role to its own start page"),
    "dashboard.job": (302, "a job page sends an invoice run to the run's own page"),
}

# How each path parameter is filled: a query for the id of the object the bench's detail pages show,
# object #0 of its kind, which has the same shape at every scale.
PARAMS = {
    "therapist_id": "SELECT min(id) FROM therapists",
    "license_id": "SELECT min(id) FROM licenses",
    "panel_id": "SELECT min(id) FROM panel_enrollments",
    "document_id": "SELECT min(id) FROM documents",
    "facility_id": "SELECT min(id) FROM facilities",
    "card_id": "SELECT min(id) FROM rate_cards",
    "assignment_id": "SELECT min(id) FROM assignments",
    "placement_id": "SELECT min(id) FROM placements",
    "checkin_id": "SELECT min(id) FROM checkins",
    "entry_id": "SELECT min(id) FROM timesheet_entries",
    "invoice_id": "SELECT min(id) FROM invoices",
    "rule_id": "SELECT min(id) FROM ce_rules",
    "caqh_rule_id": "SELECT min(id) FROM caqh_rules",
    "payer_rule_id": "SELECT min(id) FROM payer_rules",
    "job_id": "SELECT min(id) FROM job_records",
    "request_id": "SELECT min(id) FROM document_requests",
    "upload_id": "SELECT min(id) FROM document_request_items WHERE status = 'uploaded'",
    "screening_id": "SELECT min(id) FROM exclusion_screenings",
    "hit_id": "SELECT min(id) FROM exclusion_hits",
    "user_id": "SELECT min(id) FROM users",
    "token": "SELECT calendar_token FROM users WHERE role = 'admin' ORDER BY id LIMIT 1",
}


class UnknownParameter(RuntimeError):
    """A route has a path parameter the bench does not know how to fill: add it to PARAMS."""


@contextmanager
def counting(engine):
    """Counts the SQL statements sent while inside."""
    counter = {"statements": 0}

    def listen(*_args):
        counter["statements"] += 1

    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        yield counter
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def routes(app: Flask) -> list:
    """Every GET route but those SKIPPED, in path order."""
    return sorted((r for r in app.url_map.iter_rules() if "GET" in r.methods and r.endpoint not in SKIPPED),
                  key=lambda r: r.rule)


def fill(app: Flask, rule) -> str:
    """The URL of the rule with each parameter the id of a real object."""
    values = {}
    for name in rule.arguments:
        if name not in PARAMS:
            raise UnknownParameter(f"{rule.rule}: the bench has no way to fill <{name}>; add it to PARAMS")
        values[name] = db.session.execute(sa.text(PARAMS[name])).scalar()
        if values[name] is None:
            raise UnknownParameter(f"{rule.rule}: the bench data has no object for <{name}>")
    with app.test_request_context():
        return app.url_map.bind("localhost").build(rule.endpoint, values, force_external=False)


def _clients(app: Flask) -> dict:
    """A signed-in admin, a signed-in contact of facility #0, an API caller and someone signed out."""
    from agency.auth.services import issue_token, user_by_email

    with app.app_context():
        contact_email = db.session.execute(sa.text(
            "SELECT email FROM users WHERE role = 'facility' ORDER BY facility_id LIMIT 1")).scalar()
        token = issue_token(user_by_email(ADMIN_EMAIL))
        db.session.commit()
    clients = {"api": (app.test_client(), {"Authorization": f"Bearer {token}"}), "public": (app.test_client(), {})}
    for name, email in (("admin", ADMIN_EMAIL), ("facility", contact_email)):
        client = app.test_client()
        signed_in = client.post("/login", data={"email": email, "password": PASSWORD})
        if signed_in.status_code != 302:
            raise RuntimeError(f"the bench could not sign in as {email}")
        clients[name] = (client, {})
    return clients


def caller(rule) -> str:
    """Who asks for the page: the portal (and its statement) is a facility contact's, the feed and sign-in
    need nobody."""
    if rule.endpoint in ("api.openapi_document", "dashboard.calendar_feed", "auth.login"):
        return "public"
    if rule.rule.startswith("/api/"):
        return "api"
    if rule.endpoint in ("billing.portal", "billing.portal_statement"):
        return "facility"
    return "admin"


def measure_pages(app: Flask, samples: int = 5) -> list[dict]:
    """For each GET route: after a warm-up request, the median and p95 server time of the samples and the
    largest number of SQL statements one request made.

    Called outside an app context: each request then has its own, as in a server, so no signed-in user
    lingers in `g` from one client's request to the next.
    """
    clients = _clients(app)
    with app.app_context():
        targets = [(rule, fill(app, rule)) for rule in routes(app)]
        engine = db.engine
    results = []
    for rule, path in targets:
        client, headers = clients[caller(rule)]
        client.get(path, headers=headers).close()
        times, statements, status = [], 0, None
        for _ in range(samples):
            with counting(engine) as counter:
                started = time.perf_counter()
                response = client.get(path, headers=headers)
                times.append(time.perf_counter() - started)
            response.close()
            statements = max(statements, counter["statements"])
            status = response.status_code
        results.append({"path": path, "rule": rule.rule, "as": caller(rule), "status": status,
                        "expected_status": EXPECTED_STATUS.get(rule.endpoint, (200,))[0],
                        "median_ms": round(statistics.median(times) * 1000, 2),
                        "p95_ms": round(_p95(times) * 1000, 2), "statements": statements})
    return results


def _timed(func, *args):
    started = time.perf_counter()
    result = func(*args)
    return result, time.perf_counter() - started


def measure_scan(cal: Calendar) -> dict:
    """The daily scan on a normal day: the day before is scanned first, so the catch-up is done."""
    from agency.credentials.scan import daily_credential_scan

    daily_credential_scan((cal.as_of - timedelta(days=1)).isoformat())
    result, seconds = _timed(daily_credential_scan, cal.as_of.isoformat())
    return {"scan_s": round(seconds, 3), "scan_reminders": result["reminders"]}


def measure_matching(cal: Calendar, samples: int) -> float:
    """Matching assignment #0 (open, at facility #0), in milliseconds, the median of the samples."""
    from agency.placements.matching import match_assignment
    from agency.placements.models import Assignment

    assignment = db.session.get(Assignment, db.session.execute(sa.text(PARAMS["assignment_id"])).scalar())
    times = [_timed(match_assignment, assignment, cal.as_of)[1] for _ in range(samples)]
    db.session.rollback()
    return round(statistics.median(times) * 1000, 2)


def measure_aging(cal: Calendar, samples: int) -> float:
    from agency.billing.receivables import aging

    times = [_timed(aging, cal.as_of)[1] for _ in range(samples)]
    db.session.rollback()
    return round(statistics.median(times) * 1000, 2)


def _billed_count() -> int:
    from agency.billing.models import BilledEntry

    return db.session.scalar(sa.select(sa.func.count()).select_from(BilledEntry).where(BilledEntry.live))


def _invoice_month(month) -> tuple[list[int], int, float]:
    """run_invoices for the month, PDFs off: the invoices made, the entries they bill, the seconds."""
    from agency.billing.invoicing import run_invoices

    before = _billed_count()
    result, seconds = _timed(run_invoices, *month)
    return result.invoice_ids, _billed_count() - before, seconds


def loop_pricing(month) -> tuple[int, float]:
    """A plain Python loop pricing the month's approved entries, regular and overtime per week, from tuples:
    the floor the product's pricing is compared with. (rows, seconds, the query included)."""
    from agency.billing.models import TimesheetEntry
    from agency.billing.pricing import week_start
    from agency.credentials.models import Therapist
    from agency.facilities.models import Rate, RateCard
    from agency.placements.models import Placement

    started = time.perf_counter()
    rows = db.session.execute(
        sa.select(TimesheetEntry.placement_id, TimesheetEntry.work_date, TimesheetEntry.direct_care_hours,
                  Rate.amount, RateCard.overtime_threshold_hours, RateCard.overtime_multiplier)
        .join(Placement, Placement.id == TimesheetEntry.placement_id)
        .join(Therapist, Therapist.id == Placement.therapist_id)
        .join(RateCard, sa.and_(RateCard.facility_id == Placement.facility_id,
                                RateCard.effective_from <= TimesheetEntry.work_date,
                                sa.or_(RateCard.effective_to.is_(None),
                                       RateCard.effective_to >= TimesheetEntry.work_date)))
        .join(Rate, sa.and_(Rate.rate_card_id == RateCard.id, Rate.item == "direct_care_hour",
                            Rate.discipline == Therapist.discipline))
        .where(TimesheetEntry.status == "approved", TimesheetEntry.work_date.between(*month))
        .order_by(TimesheetEntry.placement_id, TimesheetEntry.work_date)
    ).all()
    week_hours: dict = defaultdict(Decimal)
    total = Decimal(0)
    for placement_id, work_date, hours, rate, threshold, multiplier in rows:
        key = (placement_id, week_start(work_date))
        so_far = week_hours[key]
        regular = hours if threshold is None else max(min(hours, threshold - so_far), Decimal(0))
        week_hours[key] = so_far + hours
        total += (regular * rate).quantize(Decimal("0.01")) + ((hours - regular) * rate * multiplier).quantize(
            Decimal("0.01"))
    seconds = time.perf_counter() - started
    db.session.rollback()
    return len(rows), seconds


def _pdf_html(invoice) -> str:
    """The invoice's HTML as the product renders it for xhtml2pdf."""
    from itertools import groupby

    from flask import current_app, render_template

    from agency.billing import pdf

    if hasattr(pdf, "invoice_html"):
        return pdf.invoice_html(invoice)
    groups = [(placement, list(lines)) for placement, lines in groupby(invoice.lines, key=lambda ln: ln.placement)]
    return render_template("pdf/invoice.html", invoice=invoice, groups=groups, config=current_app.config)


def measure_pdfs(invoice_ids: list[int], sample: int) -> dict:
    """store_invoice_pdf for each invoice (or the first `sample` of them), against xhtml2pdf alone on the
    same HTML."""
    import io

    from xhtml2pdf import pisa

    from agency.billing.models import Invoice
    from agency.billing.pdf import store_invoice_pdf

    chosen = invoice_ids[:sample]
    product = bare = 0.0
    for invoice_id in chosen:
        product += _timed(store_invoice_pdf, invoice_id)[1]
        html = _pdf_html(db.session.get(Invoice, invoice_id))
        bare += _timed(pisa.CreatePDF, html, io.BytesIO())[1]
        db.session.rollback()
    per_invoice = product / max(len(chosen), 1)
    return {"pdf_invoices": len(chosen), "pdf_s_per_invoice": round(per_invoice, 4),
            "pdf_s_all": per_invoice * len(invoice_ids), "pdf_ratio": round(product / bare, 3) if bare else None}


def measure_invoicing(cal: Calendar, pdf_sample: int) -> dict:
    """The first unbilled month with PDFs off; the second month the same (is it as fast as the first?),
    then its PDFs, each by store_invoice_pdf; and the loop floor on the first month's rows."""
    first, second = cal.unbilled_months()
    loop_rows, loop_seconds = loop_pricing(first)
    ids, entries, seconds = _invoice_month(first)
    ids2, entries2, seconds2 = _invoice_month(second)
    pdfs = measure_pdfs(ids2, pdf_sample)
    rate = entries / seconds if seconds else 0.0
    loop_rate = loop_rows / loop_seconds if loop_seconds else 0.0
    return {
        "entries": entries, "invoices": len(ids), "seconds": round(seconds, 3),
        "entries_per_s": round(rate, 1), "loop_entries_per_s": round(loop_rate, 1),
        "loop_ratio": round(loop_rate / rate, 2) if rate else None, "pdf_ratio": pdfs["pdf_ratio"],
        "month": first[0].isoformat(), "second_month": second[0].isoformat(), "second_month_entries": entries2,
        "second_month_entries_per_s": round(entries2 / seconds2, 1) if seconds2 else 0.0,
        "pdf_entries_per_s": round(entries2 / (seconds2 + pdfs["pdf_s_all"]), 1),
        "pdf_invoices_rendered": pdfs["pdf_invoices"], "pdf_invoices_made": len(ids2),
        "pdf_s_per_invoice": pdfs["pdf_s_per_invoice"],
    }


def redis_reachable(url: str) -> bool:
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        return bool(Redis.from_url(url, socket_connect_timeout=2).ping())
    except RedisError:
        return False


def _void_month(month) -> None:
    """Void the month's invoices through the product, so the month can be billed again."""
    from agency.billing.invoicing import discard_invoice
    from agency.billing.models import Invoice
    from agency.billing.receivables import void_invoice

    for invoice in db.session.scalars(sa.select(Invoice).where(Invoice.period_start == month[0],
                                                               Invoice.status != "void")).all():
        (discard_invoice if invoice.status == "draft" else void_invoice)(
            invoice, "benchmark: billed again to time the workers")


def _run_with_workers(app: Flask, month, workers: int, redis_url: str, database_url: str) -> tuple[int, float]:
    """The month's invoice run as the product starts it (its parts queued, their invoices' PDF jobs queued
    by the workers in turn) on `workers` worker processes: (entries billed, seconds from the start until
    the queue has stayed empty and idle)."""
    from rq import Queue, Worker
    from rq.registry import StartedJobRegistry

    from agency.billing.runs import start_invoice_run
    from agency.core.jobs import redis_connection

    queue_name = f"agency-bench-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "AGENCY_DATABASE_URL": database_url, "AGENCY_REDIS_URL": redis_url,
           "AGENCY_RQ_QUEUE": queue_name, "AGENCY_UPLOAD_DIR": str(app.config["UPLOAD_PATH"]),
           "AGENCY_MAIL_SERVER": ""}
    root = Path(app.root_path).parent
    # The product's warm worker, which loads the app once and forks a work horse per job.
    command = [str(Path(sys.executable).with_name("flask")), "--app", "wsgi", "worker"]
    processes = [subprocess.Popen(command, cwd=root, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
                 for _ in range(workers)]
    app.config.update(REDIS_URL=redis_url, RQ_QUEUE=queue_name)
    try:
        connection = redis_connection()
        queue = Queue(queue_name, connection=connection)
        deadline = time.monotonic() + 120
        while len(Worker.all(queue=queue)) < workers:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError("the workers did not start")
            time.sleep(0.1)
        before = _billed_count()
        db.session.rollback()
        started = time.perf_counter()
        start_invoice_run(*month)
        idle = 0
        while idle < 3:
            time.sleep(0.05)
            busy = queue.count + StartedJobRegistry(queue=queue).count
            idle = idle + 1 if busy == 0 else 0
        seconds = time.perf_counter() - started
        return _billed_count() - before, seconds
    finally:
        app.config.update(REDIS_URL="", RQ_QUEUE="agency")
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)
        db.session.rollback()


def measure_workers(app: Flask, cal: Calendar, redis_url: str, database_url: str) -> dict:
    """The second unbilled month billed again (its invoices voided first) by one worker, then by two."""
    month = cal.unbilled_months()[1]
    rates = {}
    for workers in (1, 2):
        _void_month(month)
        entries, seconds = _run_with_workers(app, month, workers, redis_url, database_url)
        rates[workers] = entries / seconds if seconds else 0.0
    return {"one_per_s": round(rates[1], 1), "two_per_s": round(rates[2], 1),
            "worker_ratio": round(rates[2] / rates[1], 2) if rates[1] else None}
