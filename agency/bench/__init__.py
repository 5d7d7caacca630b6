"""`flask bench`: build a synthetic agency of a given scale in a scratch database and measure it.

It measures every GET route of the app (median and p95 server time, SQL
statements per request), the daily credential scan, matching, aging, a
month's invoicing with PDFs off and on against a plain pricing loop, the
PDF renderer against xhtml2pdf alone, and with Redis one worker against two.
Statement counts must not grow with the scale; timings are for people, and
tests never assert them.
"""

import json
import shutil
import time
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext

from agency.bench import measure
from agency.bench.data import Calendar, counts
from agency.bench.data import build as build_data
from agency.extensions import db


def bench_app(database_url: str, documents: Path) -> Flask:
    """The app over the scratch database, with jobs inline, no mail and a documents directory of its own."""
    from agency import create_app

    # PDFs are timed apart from invoicing: the bench's runs queue none, and it renders them itself.
    return create_app({"DATABASE_URL": database_url, "REDIS_URL": "", "MAIL_SERVER": "", "INVOICE_PDF_JOBS": False,
                       "UPLOAD_DIR": str(documents), "WTF_CSRF_ENABLED": False,
                       "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})


def build(scale: float, database_url: str, documents: Path, echo: bool = False) -> tuple[Flask, dict]:
    """Migrate the empty scratch database and fill it; refuses a database that holds an agency already."""
    from flask_migrate import upgrade

    from agency.core.dates import today
    from agency.credentials.models import Therapist

    app = bench_app(database_url, documents)
    with app.app_context():
        upgrade(directory=str(Path(app.root_path).parent / "migrations"))
        if db.session.scalar(sa.select(sa.func.count()).select_from(Therapist)):
            raise click.ClickException("bench needs an empty scratch database; it fills it with synthetic data")
        shutil.rmtree(documents, ignore_errors=True)
        started = time.perf_counter()
        sizes = build_data(scale, today(), echo=echo)
        sizes["build_s"] = round(time.perf_counter() - started, 1)
    return app, sizes


def run(app: Flask, samples: int = 5, pdf_sample: int = 100, redis_url: str = "",
        database_url: str = "") -> dict:
    """Every measurement on a built app; the workers only with a reachable redis_url."""
    from agency.core.dates import today

    figures = {"pages": measure.measure_pages(app, samples)}
    with app.app_context():
        cal = Calendar(today())
        figures.update(measure.measure_scan(cal))
        figures["matching_ms"] = measure.measure_matching(cal, samples)
        figures["aging_ms"] = measure.measure_aging(cal, samples)
        figures["invoicing"] = measure.measure_invoicing(cal, pdf_sample)
        if redis_url:
            figures["workers"] = measure.measure_workers(app, cal, redis_url, database_url)
    return figures


def _print(figures: dict) -> None:
    click.echo(f"\n{'path':<58}{'median ms':>10}{'p95 ms':>9}{'stmts':>7}")
    for page in figures["pages"]:
        flag = "" if page["status"] == page["expected_status"] else f"  (HTTP {page['status']})"
        click.echo(f"{page['path']:<58}{page['median_ms']:>10.1f}{page['p95_ms']:>9.1f}{page['statements']:>7}"
                   f"{flag}")
    inv = figures["invoicing"]
    click.echo(f"\ndaily credential scan, normal day (the day before scanned first): {figures['scan_s']:.3f} s, "
               f"{figures['scan_reminders']} reminders")
    click.echo(f"matching assignment #0: {figures['matching_ms']:.1f} ms; aging: {figures['aging_ms']:.1f} ms")
    click.echo(f"invoicing the month of {inv['month']}, PDFs off: {inv['entries']} entries, {inv['invoices']} "
               f"invoices in {inv['seconds']:.2f} s = {inv['entries_per_s']:.0f} entries/s; a plain loop pricing "
               f"the same rows: {inv['loop_entries_per_s']:.0f} entries/s (loop_ratio {inv['loop_ratio']})")
    click.echo(f"the next month ({inv['second_month']}), PDFs off: {inv['second_month_entries']} entries at "
               f"{inv['second_month_entries_per_s']:.0f} entries/s; with its PDFs ({inv['pdf_invoices_rendered']} "
               f"of {inv['pdf_invoices_made']} rendered, the rest counted at their mean "
               f"{inv['pdf_s_per_invoice']:.3f} s): {inv['pdf_entries_per_s']:.0f} entries/s; "
               f"PDF time / xhtml2pdf alone: {inv['pdf_ratio']}")
    if "workers" in figures:
        w = figures["workers"]
        click.echo(f"that month voided and billed again through an invoice run: one worker "
                   f"{w['one_per_s']:.0f} entries/s, two workers {w['two_per_s']:.0f} entries/s "
                   f"(worker_ratio {w['worker_ratio']})")


@click.command("bench")
@click.option("--scale", default=1.0, show_default=True, type=float,
              help="Size of the agency: 1 is 500 therapists, 80 facilities, 600 placements, ~30,000 entries.")
@click.option("--database-url", default=None,
              help="An empty scratch database (default: a fresh SQLite file under instance/).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the figures to this file as JSON.")
@click.option("--samples", default=5, show_default=True, type=click.IntRange(1), help="Requests per page timed.")
@click.option("--pdf-sample", default=100, show_default=True, type=click.IntRange(1),
              help="Invoices of the month whose PDFs are rendered; the others are counted at their mean time.")
@click.option("--workers-compare", is_flag=True,
              help="Also bill a month through one and two worker processes (needs REDIS_URL reachable).")
@with_appcontext
def bench_command(scale, database_url, json_path, samples, pdf_sample, workers_compare):
    """Fill a scratch database with a synthetic agency, then measure every page and the jobs."""
    if scale <= 0:
        raise click.BadParameter("must be more than 0", param_hint="--scale")
    instance = Path(current_app.instance_path)
    if not database_url:
        path = instance / "bench.db"
        path.unlink(missing_ok=True)
        database_url = f"sqlite:///{path}"
    redis_url = ""
    if workers_compare:
        redis_url = current_app.config["REDIS_URL"]
        if not redis_url or not measure.redis_reachable(redis_url):
            raise click.ClickException("--workers-compare needs REDIS_URL (AGENCY_REDIS_URL) pointing at a "
                                       "reachable Redis")
    click.echo(f"Building an agency of scale {scale}: {counts(scale)}")
    app, sizes = build(scale, database_url, instance / "bench-documents", echo=True)
    click.echo(f"Built in {sizes['build_s']} s. Measuring (a warm-up request, then {samples} samples per page)…")
    figures = run(app, samples, pdf_sample, redis_url, database_url)
    with app.app_context():
        dialect = db.engine.dialect.name
    report = {"scale": scale, "database": dialect, **figures, "sizes": sizes}
    _print(report)
    if json_path:
        Path(json_path).write_text(json.dumps(report, indent=2, default=str))
        click.echo(f"\nFigures written to {json_path}")
