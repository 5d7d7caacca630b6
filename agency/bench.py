"""`flask bench`: build a large agency in a scratch database and measure the pages and jobs that must scale.

It prints, for each measured page or job, the wall time and the number of SQL
statements; the statement counts must not grow with the data, which is what
"fast at scale" rests on. Timings are for people; tests never assert them.
"""

import random
import time
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

PAGES = ["/therapists", "/licenses", "/worklist", "/facilities", "/placements", "/recruiting", "/timesheets",
         "/invoices", "/receivables", "/dashboard", "/api/v1/therapists?limit=500",
         "/api/v1/receivables/aging"]


@contextmanager
def _measure(engine):
    statements = []

    def listen(*_args):
        statements.append(1)

    sa.event.listen(engine, "before_cursor_execute", listen)
    started = time.perf_counter()
    result = {}
    try:
        yield result
    finally:
        result["seconds"] = time.perf_counter() - started
        result["statements"] = len(statements)
        sa.event.remove(engine, "before_cursor_execute", listen)


def _populate(therapists: int, facilities: int, weeks: int, progress) -> dict:
    """Insert the synthetic agency set-based: a few bulk statements per table, not one per row."""
    from agency.auth.services import create_user
    from agency.billing.models import TimesheetEntry
    from agency.core.dates import today
    from agency.core.states import npi_is_valid
    from agency.credentials.models import DISCIPLINES, License, Therapist
    from agency.extensions import db
    from agency.facilities.models import Facility, Rate, RateCard
    from agency.placements.models import Placement

    rng = random.Random(7)
    as_of = today()
    states = ["NY", "NJ", "PA", "TX", "CA", "FL", "IL", "GA", "MA", "OH"]
    create_user("bench-admin@agency.example", "admin", "bench-password-1")

    def npi(n):
        base = f"1{n:08d}"
        return next(base + d for d in "0123456789" if npi_is_valid(base + d))

    db.session.execute(sa.insert(Therapist), [{
        "first_name": f"First{n}", "last_name": f"Last{n}", "email": f"t{n}@bench.example",
        "discipline": DISCIPLINES[n % 5], "npi": npi(n), "home_state": states[n % 10], "status": "active",
        "specialties": [], "availability": "available", "caqh_id": str(10_000 + n),
        "caqh_attested_on": as_of - timedelta(days=rng.randint(0, 150)),
    } for n in range(therapists)])
    ids = db.session.scalars(sa.select(Therapist.id).order_by(Therapist.id)).all()
    progress("therapists")
    db.session.execute(sa.insert(License), [{
        "therapist_id": tid, "state": states[n % 10], "license_type": "LCSW", "number": f"B{n}",
        "kind": "state_license", "issued_on": as_of - timedelta(days=500),
        "expires_on": as_of + timedelta(days=rng.randint(-30, 700)),
    } for n, tid in enumerate(ids)])
    progress("licenses")
    db.session.execute(sa.insert(Facility), [{
        "name": f"Bench Facility {n}", "facility_type": "cmhc", "state": states[n % 10], "payment_terms_days": 30,
        "bills_insurance": False, "payers": [], "required_documents": [], "invoice_schedule": "monthly",
        "funding": "commercial", "active": True, "billing_email": None,
    } for n in range(facilities)])
    facility_ids = db.session.scalars(sa.select(Facility.id).order_by(Facility.id)).all()
    db.session.execute(sa.insert(RateCard), [{
        "facility_id": fid, "effective_from": as_of - timedelta(days=400), "effective_to": None,
        "overtime_threshold_hours": Decimal(40), "overtime_multiplier": Decimal("1.5"),
    } for fid in facility_ids])
    card_ids = db.session.scalars(sa.select(RateCard.id).order_by(RateCard.id)).all()
    db.session.execute(sa.insert(Rate), [{"rate_card_id": cid, "item": item, "discipline": d, "amount": amount}
                                         for cid in card_ids for d in DISCIPLINES[:5]
                                         for item, amount in (("direct_care_hour", Decimal(90)),
                                                              ("supervision_hour", Decimal(55)))])
    progress("facilities")
    start = as_of - timedelta(weeks=weeks)
    placed = ids[: min(len(ids), facilities * 3)]
    db.session.execute(sa.insert(Placement), [{
        "therapist_id": tid, "facility_id": facility_ids[n % len(facility_ids)], "start_on": start,
        "end_on": None, "service_states": [states[n % 10]], "billing_basis": "hourly", "hours_per_week": 40,
        "telehealth": False, "status": "active",
    } for n, tid in enumerate(placed)])
    placement_ids = db.session.scalars(sa.select(Placement.id).order_by(Placement.id)).all()
    progress("placements")
    days = [start + timedelta(days=d) for d in range(weeks * 7) if (start + timedelta(days=d)).weekday() < 5]
    batch = []
    for pid in placement_ids:
        for day in days:
            batch.append({"placement_id": pid, "work_date": day, "direct_care_hours": Decimal("8.5"),
                          "supervision_hours": Decimal("0.5"), "travel_miles": Decimal(0), "status": "approved"})
            if len(batch) >= 5000:
                db.session.execute(sa.insert(TimesheetEntry), batch)
                batch = []
    if batch:
        db.session.execute(sa.insert(TimesheetEntry), batch)
    db.session.commit()
    progress("timesheets")
    return {"therapists": len(ids), "facilities": len(facility_ids), "placements": len(placement_ids),
            "entries": len(placement_ids) * len(days)}


@click.command("bench")
@click.option("--therapists", default=2000, show_default=True, help="Therapists to create.")
@click.option("--facilities", default=100, show_default=True, help="Facilities to create.")
@click.option("--weeks", default=4, show_default=True, help="Weeks of approved hours per placement.")
@click.option("--database-url", default=None,
              help="An empty scratch database (default: a fresh SQLite file under instance/).")
@with_appcontext
def bench_command(therapists, facilities, weeks, database_url):
    """Fill a scratch database with a large agency, then time the main pages and an invoice run."""
    from agency import create_app
    from agency.auth.services import issue_token, user_by_email
    from agency.billing.invoicing import run_invoices
    from agency.extensions import db

    if not database_url:
        path = Path(current_app.instance_path) / "bench.db"
        path.unlink(missing_ok=True)
        database_url = f"sqlite:///{path}"
    app = create_app({"DATABASE_URL": database_url, "REDIS_URL": "", "MAIL_SERVER": "",
                      "WTF_CSRF_ENABLED": False, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(directory=str(Path(app.root_path).parent / "migrations"))
        from agency.credentials.models import Therapist

        if db.session.scalar(sa.select(sa.func.count()).select_from(Therapist)):
            raise click.ClickException("bench needs an empty scratch database; it fills it with synthetic data")
        click.echo(f"Building {therapists} therapists, {facilities} facilities, {weeks} weeks of hours…")
        with _measure(db.engine) as build:
            sizes = _populate(therapists, facilities, weeks, lambda step: click.echo(f"  {step} done"))
        click.echo(f"Built {sizes} in {build['seconds']:.1f} s ({build['statements']} statements)")

        client = app.test_client()
        client.post("/login", data={"email": "bench-admin@agency.example", "password": "bench-password-1"})
        token = issue_token(user_by_email("bench-admin@agency.example"))
        click.echo(f"\n{'page or job':<40}{'seconds':>10}{'statements':>12}")
        for url in PAGES:
            headers = {"Authorization": f"Bearer {token}"} if url.startswith("/api/") else {}
            with _measure(db.engine) as m:
                status = client.get(url, headers=headers).status_code
            flag = "" if status == 200 else f"  (HTTP {status})"
            click.echo(f"{url:<40}{m['seconds']:>10.3f}{m['statements']:>12}{flag}")
        from agency.core.dates import today

        end = today()
        with _measure(db.engine) as m:
            result = run_invoices(end - timedelta(weeks=weeks + 1), end)
        click.echo(f"{'invoice run, all facilities':<40}{m['seconds']:>10.3f}{m['statements']:>12}")
        click.echo(f"\n{len(result.invoice_ids)} invoices for {sizes['entries']} entries; "
                   f"{m['statements'] / max(len(result.invoice_ids), 1):.1f} statements per facility invoice.")
