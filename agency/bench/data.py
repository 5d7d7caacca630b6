"""The synthetic agency the benchmark measures, inserted in bulk with the ids chosen here.

Everything is linear in the scale, and each object is drawn from a random
generator seeded by its own index, so object #0 (the first therapist,
facility, placement, invoice...) has the same shape at every scale: a page
about it can only make more statements at a larger scale by querying per row.

Invoices of the past are written in the shape invoicing writes them (lines
grouped and ordered as pricing groups them, each entry traced by a line
source and guarded by a billed entry, overtime counted per Monday-to-Sunday
week, one contract-week or platform-month charge per period), so the ledger
check finds them sound and a later run prices on top of them as on real ones.
"""

import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import click
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from flask import current_app
from werkzeug.security import generate_password_hash

from agency.auth.models import User
from agency.billing.models import (
    BilledEntry,
    DunningNotice,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    InvoiceRun,
    InvoiceRunFacility,
    LineSource,
    Payment,
    TimesheetEntry,
)
from agency.billing.pricing import month_start, week_start
from agency.billing.runs import RUN_JOB
from agency.core.dates import human_day, utcnow
from agency.core.jobs import JobRecord
from agency.core.money import to_cents
from agency.core.states import npi_is_valid
from agency.credentials.documents import write_private
from agency.credentials.models import (
    CE_TOPICS,
    DOC_TYPES,
    PANEL_STATUSES,
    CERecord,
    Document,
    DocumentRequest,
    DocumentRequestItem,
    ExclusionHit,
    ExclusionScreening,
    License,
    PanelEnrollment,
    Therapist,
)
from agency.extensions import db
from agency.facilities.models import FACILITY_TYPES, RATE_ITEMS, Facility, FacilityContact, Rate, RateCard
from agency.placements.models import Assignment, CheckIn, ChecklistItem, Placement

SEED = 7
PASSWORD = "bench-password-1"
ADMIN_EMAIL = "bench-admin@agency.example"
BATCH = 5000
STATES = ["NY", "NJ", "PA", "TX", "CA", "FL", "IL", "GA", "MA", "OH", "CO", "WA"]
# Disciplines the synthetic staff have, with the license type a state board issues for each.
LICENSE_OF = {"LCSW": "LCSW", "LPC": "LPC", "LMFT": "LMFT", "PSYCHOLOGIST": "PSYCHOLOGIST", "PMHNP": "APRN",
              "LMHC": "LMHC"}
DISCIPLINES = list(LICENSE_OF)
PAYERS = ["Aetna", "Cigna", "Medicaid", "Optum", "BCBS"]
RATES = {"direct_care_hour": Decimal(95), "per_diem_day": Decimal(620), "contract_week": Decimal(3400),
         "supervision_hour": Decimal(55), "travel_mile": Decimal("0.67"), "travel_flat": Decimal(25),
         "telehealth_platform_month": Decimal(150)}
OVERTIME_THRESHOLD = Decimal(40)
OVERTIME_MULTIPLIER = Decimal("1.5")
CHECKLIST = [("license_verified", "Verify licenses", "credentialing"), ("background_check", "Background check",
             "credentialing"), ("agreement", "Placement agreement signed", "recruiter"),
             ("orientation", "Facility orientation", "facility")]
DOCUMENT_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
# Months of hours, the last UNBILLED of them approved but not invoiced (what the invoicing figures bill).
MONTHS = 12
UNBILLED = 2


def counts(scale: float) -> dict[str, int]:
    """At scale 1: 80 facilities, 600 placements, 500 therapists, 120 assignments."""
    facilities = max(2, round(80 * scale))
    return {"facilities": facilities, "placements": sum(_placements_of(f) for f in range(facilities)),
            "therapists": max(12, round(500 * scale)), "assignments": max(3, round(120 * scale))}


def _placements_of(facility: int) -> int:
    return 8 if facility % 2 else 7


def _schedule(facility: int) -> str:
    """Most facilities are invoiced weekly, one in ten monthly."""
    return "monthly" if facility % 10 == 9 else "weekly"


def _rng(kind: str, index: int) -> random.Random:
    return random.Random(f"{SEED}:{kind}:{index}")


def _npi(n: int) -> str:
    base = f"1{n:08d}"
    return next(base + d for d in "0123456789" if npi_is_valid(base + d))


@dataclass
class Calendar:
    """The days the data is laid on: twelve months of hours ending yesterday, the last closed months unbilled."""

    as_of: date
    first_day: date = field(init=False)
    unbilled_from: date = field(init=False)

    def __post_init__(self):
        this_month = self.as_of.replace(day=1)
        self.first_day = this_month - relativedelta(months=MONTHS)
        self.unbilled_from = this_month - relativedelta(months=UNBILLED)

    def unbilled_months(self) -> list[tuple[date, date]]:
        starts = [self.unbilled_from + relativedelta(months=k) for k in range(UNBILLED)]
        return [(s, s + relativedelta(months=1) - timedelta(days=1)) for s in starts]


class Inserter:
    """Bulk inserts in batches, counting rows per table for the progress lines."""

    def __init__(self, echo):
        self.echo = echo
        self.sizes: dict[str, int] = {}

    def __call__(self, model, rows: list[dict]) -> None:
        name = model.__tablename__
        with click.progressbar(length=len(rows), label=f"  {name:<20}", file=None if self.echo else _Null(),
                               show_pos=True) as bar:
            for start in range(0, len(rows), BATCH):
                batch = rows[start:start + BATCH]
                db.session.execute(sa.insert(model), batch)
                bar.update(len(batch))
        self.sizes[name] = self.sizes.get(name, 0) + len(rows)


class _Null:
    def write(self, _text):
        pass

    def flush(self):
        pass


def build(scale: float, as_of: date, echo: bool = True, document_files: bool = True) -> dict[str, int]:
    """Fill the (empty, migrated) database of the current app with an agency of the given scale; the
    documents' files go to the app's upload directory unless document_files is False (rows only)."""
    n = counts(scale)
    cal = Calendar(as_of)
    put = Inserter(echo)
    password = generate_password_hash(PASSWORD, method=current_app.config["PASSWORD_HASH_METHOD"])
    put(User, [{"id": 1, "email": ADMIN_EMAIL, "name": "Bench Admin", "password_hash": password, "role": "admin",
                "active": True, "calendar_token": "bench-calendar-token"}])
    _facilities(n["facilities"], cal, put, password)
    therapists = _therapists(n["therapists"], cal, put, document_files)
    _compliance(therapists, cal, put, document_files)
    _assignments(n["assignments"], n["facilities"], therapists, cal, put)
    placements = _placements(n["facilities"], therapists, cal, put)
    entries = _entries(placements, cal, put)
    _invoices(n["facilities"], placements, therapists, entries, cal, put)
    # A finished run of facility #0, for the run's page and the job pages.
    put(JobRecord, [{"id": "bench-run", "name": RUN_JOB, "started_by_id": 1}])
    put(InvoiceRun, [{"id": "bench-run", "period_start": as_of - timedelta(days=90),
                      "period_end": as_of - timedelta(days=61)}])
    put(InvoiceRunFacility, [{"id": 1, "run_id": "bench-run", "facility_id": 1, "part": 0, "status": "finished",
                              "invoice_ids": [1], "unpriced": [], "finished_at": utcnow()}])
    _reset_sequences(put.sizes)
    db.session.commit()
    from agency.credentials.rules import load_reference

    load_reference()
    # A database that has just taken a bulk load has no statistics until autovacuum (or SQLite's
    # ANALYZE) gathers them; the planner would guess, and the bench would time plans no running
    # agency gets.
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()
    return put.sizes


def _facilities(count: int, cal: Calendar, put: Inserter, password: str) -> None:
    facilities, contacts, users, cards, rates = [], [], [], [], []
    for f in range(count):
        rng = _rng("facility", f)
        fid = f + 1
        insurance = f % 4 == 3
        facilities.append({
            "id": fid, "name": f"Bench Facility {f:05d}", "facility_type": FACILITY_TYPES[f % len(FACILITY_TYPES)],
            "city": "Springfield", "state": STATES[f % len(STATES)], "payment_terms_days": rng.choice((15, 30, 45)),
            "bills_insurance": insurance, "payers": PAYERS[:2] if insurance else [],
            "required_documents": [] if f == 0 else rng.sample(["malpractice_coi", "bls_card", "tb_test"], 1),
            "invoice_schedule": _schedule(f), "funding": "commercial", "active": True,
            "billing_email": None if f % 10 == 9 else f"ap{f}@facility.example",
        })
        contacts += [{"facility_id": fid, "role": role, "name": f"{role.title()} {f}",
                      "email": f"{role}{f}@facility.example"} for role in ("billing", "clinical_director")]
        users.append({"id": fid + 1, "email": f"contact{f}@facility.example", "name": f"Contact {f}",
                      "password_hash": password, "role": "facility", "facility_id": fid, "active": True})
        cards.append({"id": fid, "facility_id": fid, "effective_from": cal.first_day - timedelta(days=60),
                      "effective_to": None, "overtime_threshold_hours": OVERTIME_THRESHOLD,
                      "overtime_multiplier": OVERTIME_MULTIPLIER})
        rates += [{"rate_card_id": fid, "item": item, "discipline": d, "amount": RATES[item]}
                  for item in RATE_ITEMS for d in DISCIPLINES]
    put(Facility, facilities)
    put(FacilityContact, contacts)
    put(User, users)
    put(RateCard, cards)
    put(Rate, rates)


def _therapists(count: int, cal: Calendar, put: Inserter, document_files: bool) -> list[dict]:
    therapists, licenses, ces, panels, documents = [], [], [], [], []
    license_id = doc_id = 0
    digest = hashlib.sha256(DOCUMENT_BYTES).hexdigest()
    for t in range(count):
        rng = _rng("therapist", t)
        tid = t + 1
        discipline = DISCIPLINES[t % len(DISCIPLINES)]
        home = STATES[t % len(STATES)]
        therapists.append({
            "id": tid, "first_name": f"First{t}", "last_name": f"Last{t:05d}", "email": f"t{t}@bench.example",
            "phone": "555-0100", "discipline": discipline, "npi": _npi(t), "home_state": home,
            "status": "do_not_place" if t % 97 == 96 else "active", "specialties": ["trauma"] if t % 3 else [],
            "availability": "available", "caqh_id": str(10_000 + t),
            "caqh_attested_on": cal.as_of - timedelta(days=rng.randint(0, 150)),
        })
        # Therapist #0: a home license, a compact privilege on it and a temporary license; others 1 to 5.
        kinds = ["state_license", "compact_privilege", "temporary"] if t == 0 else (
            ["state_license"] + [rng.choice(("state_license", "compact_privilege", "compact_privilege", "temporary"))
                                 for _ in range(rng.choice((0, 1, 2, 2, 3, 4)))])
        home_id = license_id + 1
        for k, kind in enumerate(kinds):
            license_id += 1
            state = home if k == 0 else STATES[(t + 3 * k) % len(STATES)]
            if kind == "temporary":
                expires = cal.as_of + timedelta(days=rng.randint(-20, 80))
            else:
                expires = cal.as_of + timedelta(days=rng.randint(-45, 700))
            licenses.append({
                "id": license_id, "therapist_id": tid, "state": state, "license_type": LICENSE_OF[discipline],
                "number": f"B{t}-{k}", "kind": kind, "issued_on": expires - timedelta(days=730),
                "expires_on": expires, "home_license_id": home_id if kind == "compact_privilege" else None,
                "verified_on": cal.as_of - timedelta(days=rng.randint(10, 300)),
                "verification_source": "state board lookup",
            })
        for c in range(2 if t == 0 else rng.randint(0, 4)):
            ces.append({"therapist_id": tid, "title": f"Course {c}", "provider": "CE Provider",
                        "hours": Decimal(rng.choice((2, 3, 6))), "topic": CE_TOPICS[(t + c) % len(CE_TOPICS)],
                        "completed_on": cal.as_of - timedelta(days=rng.randint(10, 600))})
        payers = PAYERS[:1] if t == 0 else rng.sample(PAYERS, rng.randint(0, 3))
        for payer in payers:
            status = "approved" if t == 0 else rng.choice(PANEL_STATUSES)
            submitted = cal.as_of - timedelta(days=rng.randint(30, 400)) if status != "not_started" else None
            effective = None
            if status == "approved":
                # Re-credentialing falls due 36 months (the default payer rule) after approval, spread
                # from just overdue to years ahead, so the worklist has its share.
                effective = cal.as_of + timedelta(days=rng.randint(-10, 900)) - relativedelta(months=36)
                submitted = min(submitted, effective - timedelta(days=45))
            panels.append({
                "therapist_id": tid, "payer": payer, "status": status, "submitted_on": submitted,
                "effective_on": effective,
                "next_follow_up_on": cal.as_of + timedelta(days=rng.randint(-5, 20))
                if status in ("submitted", "in_review") else None,
            })
        for d in range(2 if t == 0 else rng.randint(0, 3)):
            doc_id += 1
            storage = hashlib.sha256(f"bench-document-{doc_id}".encode()).hexdigest()
            issued = cal.as_of - timedelta(days=rng.randint(30, 700))
            doc_type = ("malpractice_coi", "bls_card", "tb_test", "background_check")[d] if t == 0 else (
                rng.choice(DOC_TYPES))
            documents.append({
                "id": doc_id, "owner_type": "therapist", "owner_id": tid, "doc_type": doc_type,
                "filename": f"{doc_type}.pdf", "content_type": "application/pdf", "size": len(DOCUMENT_BYTES),
                "sha256": digest, "storage_name": storage, "issued_on": issued,
                "expires_on": issued + timedelta(days=730), "uploaded_by_id": 1,
            })
            if document_files:
                write_private(storage, DOCUMENT_BYTES)
    put(Therapist, therapists)
    put(License, licenses)
    put(CERecord, ces)
    put(PanelEnrollment, panels)
    put(Document, documents)
    return therapists


def _compliance(therapists: list[dict], cal: Calendar, put: Inserter, document_files: bool) -> None:
    """Last month's exclusion screening, with a name match waiting for a person for one therapist in fifty,
    and a TB test asked of one in twenty by upload link: every other one answered and waiting for review."""
    put(ExclusionScreening, [{
        "id": 1, "source": "oig_leie", "filename": "UPDATED.csv", "sha256": hashlib.sha256(b"bench-leie").hexdigest(),
        "rows": 80_000, "therapists_screened": len(therapists), "screened_on": cal.as_of - timedelta(days=20),
        "screened_by_id": 1}])
    put(ExclusionHit, [{
        "id": n + 1, "screening_id": 1, "therapist_id": t["id"], "match": "name", "status": "pending",
        "excluded_on": cal.as_of - timedelta(days=400), "exclusion_type": "1128b4",
        "record": {"LASTNAME": t["last_name"].upper(), "FIRSTNAME": t["first_name"].upper(), "STATE": t["home_state"]},
    } for n, t in enumerate(therapists[::50])])
    requests, items = [], []
    digest = hashlib.sha256(DOCUMENT_BYTES).hexdigest()
    for n, t in enumerate(therapists[1::20]):
        answered = n % 2 == 0
        requests.append({
            "id": n + 1, "therapist_id": t["id"],
            "token_hash": hashlib.sha256(f"bench-request-{n}".encode()).hexdigest(),
            "status": "submitted" if answered else "open", "source": "staff", "sent_on": cal.as_of - timedelta(days=3),
            "expires_on": cal.as_of + timedelta(days=11), "requested_by_id": 1,
            "submitted_at": utcnow() if answered else None})
        item = {"id": n + 1, "request_id": n + 1, "therapist_id": t["id"], "doc_type": "tb_test",
                "status": "uploaded" if answered else "requested"}
        if answered:
            storage = hashlib.sha256(f"bench-upload-{n}".encode()).hexdigest()
            item |= {"filename": "tb_test.pdf", "content_type": "application/pdf", "size": len(DOCUMENT_BYTES),
                     "sha256": digest, "storage_name": storage, "upload_issued_on": cal.as_of - timedelta(days=2),
                     "upload_expires_on": cal.as_of + timedelta(days=363), "uploaded_at": utcnow()}
            if document_files:
                write_private(storage, DOCUMENT_BYTES)
        items.append(item)
    put(DocumentRequest, requests)
    put(DocumentRequestItem, items)


def _assignments(count: int, facilities: int, therapists: list[dict], cal: Calendar, put: Inserter) -> None:
    """Open job orders (assignment #0 open, at facility #0, for therapist #0's discipline and state)."""
    rows = []
    for a in range(count):
        rng = _rng("assignment", a)
        model = therapists[a % len(therapists)]
        rows.append({
            "id": a + 1, "facility_id": a % facilities + 1, "title": f"Bench job {a}",
            "discipline": model["discipline"], "service_states": [model["home_state"]],
            "start_on": cal.as_of + timedelta(days=rng.randint(7, 60)), "length_weeks": rng.choice((12, 26, 52)),
            "hours_per_week": rng.choice((20, 32, 40)), "telehealth": a % 5 == 4, "billing_basis": "hourly",
            "status": "open" if a == 0 else rng.choice(("open", "open", "filled", "cancelled")),
        })
    put(Assignment, rows)


def _placements(facilities: int, therapists: list[dict], cal: Calendar, put: Inserter) -> list[dict]:
    """Each facility's placements; the extra placements beyond one per therapist go to the last therapists."""
    placements, items, checkins = [], [], []
    total = len(therapists)
    now = utcnow()
    p = 0
    for f in range(facilities):
        for _ in range(_placements_of(f)):
            rng = _rng("placement", p)
            t = p if p < total else total - 1 - (p - total) % (total - 1)
            status = "active" if p == 0 else rng.choice(
                ("active",) * 9 + ("completed",) * 7 + ("proposed", "onboarding", "cancelled"))
            basis = "hourly" if p == 0 else rng.choice(("hourly",) * 7 + ("per_diem", "per_diem", "weekly"))
            weeks = MONTHS * 4 + 4 if p == 0 else rng.randint(12, 44)
            last = cal.as_of - timedelta(days=1)
            if status == "completed":
                last = cal.as_of - timedelta(days=rng.randint(20, 300))
            start = max(cal.first_day, last - timedelta(weeks=weeks))
            if status in ("proposed", "onboarding"):
                start = cal.as_of + timedelta(days=rng.randint(5, 40))
            placements.append({
                "id": p + 1, "therapist_id": t + 1, "facility_id": f + 1, "start_on": start,
                "end_on": last if status == "completed" else None,
                "service_states": [therapists[t]["home_state"]], "billing_basis": basis,
                "hours_per_week": 40 if p == 0 else rng.choice((20, 32, 40, 45)),
                "telehealth": p % 5 == 2, "status": status, "recruiter_id": 1,
                "_days": 5 if p == 0 else rng.choice((1, 2, 2, 3, 3)),
                "_hours": Decimal(9) if p == 0 else Decimal(rng.choice(("6", "7.5", "8", "8", "9"))),
                "_last": last, "_discipline": therapists[t]["discipline"],
                "_name": f"{therapists[t]['first_name']} {therapists[t]['last_name']}",
            })
            for position, (key, title, owner) in enumerate(CHECKLIST):
                done = status in ("active", "completed") or rng.random() < 0.4
                items.append({"placement_id": p + 1, "key": key, "title": title, "owner": owner,
                              "position": position, "due_on": start - timedelta(days=7 - position), "done": done,
                              "done_at": now if done else None, "done_by_id": 1 if done else None})
            if status in ("active", "completed"):
                for day in (30, 60):
                    due = start + timedelta(days=day)
                    checkins.append({"placement_id": p + 1, "day": day, "due_on": due,
                                     "completed_on": due if due < cal.as_of - timedelta(days=5) else None,
                                     "satisfaction": 4 if due < cal.as_of - timedelta(days=5) else None,
                                     "concern": False})
            p += 1
    put(Placement, [{k: v for k, v in row.items() if not k.startswith("_")} for row in placements])
    put(ChecklistItem, items)
    put(CheckIn, checkins)
    return placements


def _entries(placements: list[dict], cal: Calendar, put: Inserter) -> list[dict]:
    """Weekdays of work of each active or completed placement: invoiced before the unbilled months,
    approved in them, submitted in the current month; a few rejected."""
    rows = []
    for placement in placements:
        if placement["status"] not in ("active", "completed"):
            continue
        rng = _rng("entries", placement["id"])
        day = placement["start_on"]
        while day <= placement["_last"]:
            if day.weekday() < placement["_days"]:
                if day >= cal.as_of.replace(day=1):
                    status = "submitted"
                elif rng.random() < 0.01 and placement["id"] != 1:
                    status = "rejected"
                else:
                    status = "approved" if day >= cal.unbilled_from else "invoiced"
                rows.append({
                    "id": len(rows) + 1, "placement_id": placement["id"], "work_date": day,
                    "direct_care_hours": placement["_hours"],
                    "supervision_hours": Decimal("0.5") if day.weekday() == 0 else Decimal(0),
                    "travel_miles": Decimal(12) if placement["id"] % 3 == 0 else Decimal(0), "status": status,
                    "rejection_reason": "hours not worked" if status == "rejected" else None,
                    "created_by_id": 1, "decided_by_id": 1 if status != "submitted" else None,
                })
            day += timedelta(days=1)
    put(TimesheetEntry, rows)
    return rows


def _periods(schedule: str, cal: Calendar) -> list[tuple[date, date]]:
    """The invoice periods before the unbilled months: Monday-to-Sunday weeks or calendar months."""
    periods = []
    if schedule == "monthly":
        start = cal.first_day
        while start < cal.unbilled_from:
            periods.append((start, start + relativedelta(months=1) - timedelta(days=1)))
            start += relativedelta(months=1)
        return periods
    start = week_start(cal.first_day)
    while start < cal.unbilled_from:
        periods.append((start, min(start + timedelta(days=6), cal.unbilled_from - timedelta(days=1))))
        start += timedelta(days=7)
    return periods


def _fmt(value: Decimal) -> str:
    return f"{value.normalize():f}"


class _Draft:
    """One invoice being written: its lines by grouping key, each with its sources."""

    def __init__(self, facility: int, period: tuple[date, date]):
        self.facility, self.period = facility, period
        self.lines: dict[tuple, dict] = {}

    def add(self, key: tuple, entry_id: int, quantity: Decimal, line: dict) -> dict:
        line = self.lines.setdefault(key, {**line, "sources": {}})
        line["sources"][entry_id] = line["sources"].get(entry_id, Decimal(0)) + quantity
        return line


def _price_history(placement: dict, entries: list[dict], drafts: dict, week_line: dict, month_line: set,
                   billed_by: dict) -> None:
    """Bill a placement's invoiced entries onto the drafts of their periods, as pricing would."""
    pid, who = placement["id"], f"{placement['_name']} ({placement['_discipline']})"
    week_hours: dict[date, Decimal] = defaultdict(Decimal)
    for entry in entries:
        draft = drafts[entry["work_date"]]
        monday = week_start(entry["work_date"])

        def line(item, description, unit, key, quantity, overtime=False, period_key=None, draft=draft,
                 entry=entry):
            return draft.add(key, entry["id"], quantity, {
                "placement_id": pid, "item": item, "description": f"{description}, {who}", "unit_price": unit,
                "overtime": overtime, "period_key": period_key})

        billed_by[entry["id"]] = draft
        covered_by = None
        if placement["billing_basis"] == "hourly":
            so_far = week_hours[monday]
            regular = max(min(entry["direct_care_hours"], OVERTIME_THRESHOLD - so_far), Decimal(0))
            week_hours[monday] = so_far + entry["direct_care_hours"]
            unit = RATES["direct_care_hour"]
            if regular:
                line("direct_care_hour", "Direct care hours", unit, ("direct", pid, unit), regular)
            if over := entry["direct_care_hours"] - regular:
                ot = to_cents(unit * OVERTIME_MULTIPLIER)
                line("direct_care_hour", f"Direct care overtime (over {_fmt(OVERTIME_THRESHOLD)} h, week of "
                     f"{human_day(monday)}, {_fmt(OVERTIME_MULTIPLIER)}x)", ot, ("ot", pid, monday, ot), over,
                     overtime=True, period_key=monday)
        elif placement["billing_basis"] == "per_diem":
            unit = RATES["per_diem_day"]
            line("per_diem_day", "Per-diem days", unit, ("per_diem", pid, unit), Decimal(1))
        elif (pid, monday) not in week_line:
            week_line[(pid, monday)] = line("contract_week", f"Contract week of {human_day(monday)}",
                                            RATES["contract_week"], ("week", pid, monday), Decimal(1),
                                            period_key=monday)
            week_line[(pid, monday)]["draft"] = draft
        elif week_line[(pid, monday)]["draft"] is draft:
            line("contract_week", "", RATES["contract_week"], ("week", pid, monday), Decimal(0))
        else:
            covered_by = week_line[(pid, monday)]
        if entry["supervision_hours"]:
            unit = RATES["supervision_hour"]
            line("supervision_hour", "Supervision hours", unit, ("supervision", pid, unit),
                 entry["supervision_hours"])
        if entry["travel_miles"]:
            unit = RATES["travel_mile"]
            line("travel_mile", "Travel miles", unit, ("miles", pid, unit), entry["travel_miles"])
        month = month_start(entry["work_date"])
        if placement["telehealth"] and (pid, month) not in month_line:
            month_line.add((pid, month))
            line("telehealth_platform_month", f"Telehealth platform, {month:%B %Y}",
                 RATES["telehealth_platform_month"], ("platform", pid, month), Decimal(1), period_key=month)
        elif placement["telehealth"] and ("platform", pid, month) in draft.lines:
            draft.lines[("platform", pid, month)]["sources"][entry["id"]] = Decimal(0)
        if covered_by is not None and not any(entry["id"] in ln["sources"] for ln in draft.lines.values()):
            # A day of a contract week an earlier invoice charged, with nothing else to bill: that
            # invoice's line bills it, at no extra charge.
            covered_by["sources"][entry["id"]] = Decimal(0)
            billed_by[entry["id"]] = covered_by["draft"]


def _invoices(facilities: int, placements: list[dict], therapists: list[dict], entries: list[dict],
              cal: Calendar, put: Inserter) -> None:
    by_placement: dict[int, list[dict]] = defaultdict(list)
    for entry in entries:
        if entry["status"] == "invoiced":
            by_placement[entry["placement_id"]].append(entry)
    drafts_of: dict[int, list[_Draft]] = {}
    billed_by: dict[int, _Draft] = {}
    week_line: dict = {}
    month_line: set = set()
    for fid in range(1, facilities + 1):
        drafts_of[fid] = [_Draft(fid, period) for period in _periods(_schedule(fid - 1), cal)]
    for placement in placements:
        worked = by_placement.get(placement["id"])
        if not worked:
            continue
        day_draft = {}
        for draft in drafts_of[placement["facility_id"]]:
            start, end = draft.period
            for entry in worked:
                if start <= entry["work_date"] <= end:
                    day_draft[entry["work_date"]] = draft
        _price_history(placement, worked, day_draft, week_line, month_line, billed_by)
    drafts = [d for fid in sorted(drafts_of) for d in drafts_of[fid] if d.lines]
    invoices, lines, sources, billed, payments, notices = [], [], [], [], [], []
    numbers: dict[int, int] = defaultdict(int)
    order = sorted(range(len(drafts)), key=lambda i: (drafts[i].period[1], drafts[i].facility))
    number_of = {}
    for i in order:
        year = (drafts[i].period[1] + timedelta(days=1)).year
        numbers[year] += 1
        number_of[i] = f"INV-{year}-{numbers[year]:05d}"
    terms = {}
    line_id = 0
    levels = current_app.config["DUNNING_LEVELS"]
    for i, draft in enumerate(drafts):
        invoice_id = i + 1
        draft.id = invoice_id
        ordered = sorted(draft.lines.values(), key=lambda ln: (ln["placement_id"], ln["item"], False,
                                                               ln["overtime"], ln["period_key"] or date.min))
        total = Decimal(0)
        for position, ln in enumerate(ordered, start=1):
            line_id += 1
            ln["id"] = line_id
            quantity = sum(ln["sources"].values(), Decimal(0))
            amount = to_cents(quantity * ln["unit_price"])
            total += amount
            lines.append({"id": line_id, "invoice_id": invoice_id, "placement_id": ln["placement_id"],
                          "position": position, "item": ln["item"], "overtime": ln["overtime"],
                          "period_key": ln["period_key"], "description": ln["description"][:300],
                          "quantity": quantity, "unit_price": ln["unit_price"], "amount": amount})
        issued = draft.period[1] + timedelta(days=1)
        rng = _rng("invoice", invoice_id)
        terms.setdefault(draft.facility, _rng("facility", draft.facility - 1).choice((15, 30, 45)))
        due = issued + timedelta(days=terms[draft.facility])
        paid, status = Decimal(0), "issued"
        roll = rng.random()
        if due < cal.as_of - timedelta(days=10) and roll < 0.86:
            paid, status = total, "paid"
        elif issued < cal.as_of - timedelta(days=20) and roll < 0.93:
            paid, status = to_cents(total / 2), "partially_paid"
        if paid:
            payments.append({"invoice_id": invoice_id, "amount": paid, "reference": f"ACH {invoice_id}",
                             "received_on": min(due + timedelta(days=rng.randint(-10, 8)),
                                                cal.as_of - timedelta(days=1)), "recorded_by_id": 1})
        if status != "paid":
            for level in levels:
                sent = due + timedelta(days=level["days"])
                if sent < cal.as_of:
                    notices.append({"invoice_id": invoice_id, "level": level["key"], "sent_on": sent,
                                    "recipients": f"ap{draft.facility - 1}@facility.example"})
        invoices.append({"id": invoice_id, "number": number_of[i], "facility_id": draft.facility,
                         "period_start": draft.period[0], "period_end": draft.period[1], "issued_on": issued,
                         "due_on": due, "status": status, "total": total, "amount_paid": paid})
    for draft in drafts:
        for ln in draft.lines.values():
            sources += [{"line_id": ln["id"], "entry_id": eid, "quantity": q} for eid, q in ln["sources"].items()]
    billed = [{"invoice_id": draft.id, "entry_id": eid, "live": True} for eid, draft in sorted(billed_by.items())]
    put(Invoice, invoices)
    put(InvoiceCounter, [{"year": year, "last_number": last} for year, last in sorted(numbers.items())])
    put(InvoiceLine, lines)
    put(LineSource, sources)
    put(BilledEntry, billed)
    put(Payment, payments)
    put(DunningNotice, notices)


def _reset_sequences(sizes: dict[str, int]) -> None:
    """Rows were inserted with their ids: PostgreSQL's sequences must start after them."""
    if db.engine.dialect.name != "postgresql":
        return
    for table in sizes:
        column = db.metadata.tables[table].c.get("id")
        if column is not None and isinstance(column.type, sa.Integer):
            db.session.execute(sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"))
