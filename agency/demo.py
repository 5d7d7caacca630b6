"""`flask seed-demo`: a realistic demo agency, built through the same services staff use.

The agency's recent past is replayed: placements are proposed, onboarded and
activated on their start dates, hours are recorded and approved week by week,
invoices issued on the first of each month and reminders sent day by day, each
with "today" set to that day. Nothing is dated after the day the demo is seeded.

Every active placement is compliant (licensed in the facility's state before
its start, the facility's documents and payer panels in place), and most open
assignments have ready candidates, so matching has someone to offer. What is
wrong is wrong on purpose: the few problems in PROBLEMS, each of which a
worklist or a dashboard catches. The rest of the roster, the bench, carries the
ordinary clutter of a credentialing team's week.
"""

import csv
import random
import struct
import zlib
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from io import BytesIO, StringIO

import click
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from flask import current_app
from flask.cli import with_appcontext

from agency.auth.models import User
from agency.auth.services import create_user
from agency.billing import approvals, disputes, invoicing, promises, receivables, statements, timesheets
from agency.billing.models import OPEN_INVOICE_STATUSES, Invoice, TimesheetEntry
from agency.core.dates import start_of, today, utcnow
from agency.core.outbox import OutboxMessage
from agency.core.persistence import empty_every_table
from agency.core.states import npi_is_valid
from agency.credentials import requests as doc_requests
from agency.credentials import services as creds
from agency.credentials.documents import path_of, store_document
from agency.credentials.models import Document, DocumentRequestItem, ExclusionScreening, Therapist, disciplines_for
from agency.credentials.rules import load_reference
from agency.credentials.screening import COLUMNS as LEIE_COLUMNS
from agency.credentials.screening import screen_file
from agency.extensions import db
from agency.facilities import services as facilities
from agency.facilities.models import Facility
from agency.placements import services as placements
from agency.placements.models import Placement

PASSWORD = "demo-password"
STAFF = [
    ("admin@demo.agency", "admin", "Avery Morgan"),
    ("recruiter@demo.agency", "recruiter", "Jordan Lee"),
    ("credentialing@demo.agency", "credentialing", "Priya Shah"),
    ("billing@demo.agency", "billing", "Marcus Webb"),
]

FIRST = ["Maria", "James", "Aisha", "Daniel", "Sofia", "Kevin", "Grace", "Luis", "Hannah", "Omar", "Emily",
         "Marcus", "Naomi", "Ethan", "Leah", "Andre", "Chloe", "Victor", "Priya", "Samuel", "Elena", "Tyrone",
         "Isabel", "Noah", "Fatima", "Caleb", "Rosa", "Julian", "Amara", "Wesley", "Lena", "Derek", "Keiko",
         "Malik", "Tessa", "Rafael", "Ingrid", "Darnell", "Yara", "Gavin"]
LAST = ["Alvarez", "Bennett", "Chen", "Diallo", "Esposito", "Fischer", "Goldberg", "Haddad", "Ibrahim",
        "Jensen", "Kowalski", "Lopez", "Mensah", "Nguyen", "Okafor", "Patel", "Quinn", "Rossi", "Sato",
        "Thompson", "Usman", "Vargas", "Washington", "Xu", "Young", "Zimmerman", "Abbott", "Brooks", "Castillo",
        "Dubois", "Ellis", "Farouk", "Garcia", "Holm", "Iyer", "Jones", "Kim", "Larsen", "Murphy", "Novak"]
SPECIALTIES = ["trauma", "adolescents", "substance use", "eating disorders", "serious mental illness",
               "couples", "crisis", "geriatric", "perinatal", "LGBTQ+ affirming", "DBT", "EMDR"]

# discipline -> (license type by state, default license type)
COUNSELOR_TYPE = {"NY": "LMHC", "FL": "LMHC", "MA": "LMHC", "IL": "LCPC", "CA": "LPCC"}
STATES = ["NY", "NJ", "PA", "TX", "CA", "FL", "IL", "GA", "MA", "OH"]
VERIFY_SOURCE = "{state} licensing board online verification"
STREETS = ["Main", "Lake", "Market", "Oak", "River", "Bay", "Pacific", "Peachtree"]
# The demo's deliberate problems: (what, who, the screen that catches it). Nothing else on an active
# placement is wrong; tests/test_demo.py checks each of these is there and that nothing else is.
PROBLEMS = [
    ("license_expiring", "James Bennett", "His Illinois license lapses next month, during his placement at "
                                          "Lakeshore: the credentialing worklist."),
    ("caqh_due", "Maria Alvarez", "Her CAQH attestation is overdue: the credentialing worklist."),
    ("document_expiring", "Daniel Diallo", "His HIPAA training expires within three weeks: the worklist."),
    ("stalled_approval", "Emily Kowalski", "Riverside has not approved a week of her hours for over a week: "
                                           "the facility portal and the billing dashboard."),
    ("overdue_invoice", "Lakeshore Behavioral Hospital", "An invoice more than 30 days past due, its "
                                                         "reminders sent level by level: receivables."),
    ("escalated_invoice", "Peachtree Community Services Board", "An invoice more than 60 days past due that "
                                                                "climbed every level of the ladder: the "
                                                                "recruiter's call, then leadership's summary "
                                                                "and call; its CFO then agreed a payment plan "
                                                                "and its reminders are paused: receivables, "
                                                                "the dunning ladder, the dashboards."),
    ("license_lapsed", "Maria Alvarez", "Her New York license lapsed last week and was reissued three days "
                                        "later: the days between are held hours (timesheets, her placement, "
                                        "the portal, the compliance watch)."),
]
PROBLEM_OF = {kind: who for kind, who, _ in PROBLEMS}

# Placements: (therapist index among the active, facility index, start offset days, weeks, basis, hours, status).
PLAN = [
    (0, 0, -150, 52, "hourly", 40, "active"), (1, 1, -120, 40, "hourly", 40, "active"),
    (2, 2, -100, 26, "per_diem", 32, "active"), (3, 3, -90, 30, "hourly", 40, "active"),
    (4, 6, -80, 40, "hourly", 20, "active"), (5, 7, -140, 26, "hourly", 40, "active"),
    (6, 4, -130, 30, "weekly", 37, "active"), (8, 5, -160, 16, "hourly", 40, "completed"),
    (9, 0, -60, 40, "hourly", 24, "active"), (10, 3, 12, 20, "hourly", 40, "onboarding"),
    (11, 6, 20, 26, "hourly", 20, "onboarding"), (12, 1, 30, 26, "hourly", 40, "proposed"),
    (14, 7, 9, 12, "hourly", 30, "cancelled"), (15, 2, 5, 20, "per_diem", 32, "onboarding"),
]
# Open assignments: (facility index, title, discipline, service states, start offset, weeks, hours, telehealth,
# basis, ready candidates). The telehealth opening needs two licenses nobody on the bench holds: recruiting.
OPENINGS = [
    (0, "Adult outpatient therapist, evening clinic", "LCSW", ["NY"], 21, 26, 40, False, "hourly", 2),
    (2, "PHP group and individual therapist", "LPC", ["NJ"], 14, 12, 32, False, "per_diem", 1),
    (6, "Telehealth therapist for adolescents", "LMFT", ["CA", "TX"], 28, 24, 20, True, "hourly", 0),
    (3, "IOP psychologist, testing and groups", "PSYCHOLOGIST", ["TX"], 35, 16, 24, False, "hourly", 1),
    (4, "School-based counselor, spring term", "LPC", ["PA"], 45, 20, 37, False, "weekly", 2),
]
# Documents: kind, days valid (None: no expiry), file type.
DOC_KINDS = [("bls_card", 730, "png"), ("malpractice_coi", 365, "pdf"), ("tb_test", 365, "pdf"),
             ("background_check", None, "pdf"), ("hipaa_training", 365, "pdf"), ("license_copy", None, "pdf"),
             ("exclusion_check", 30, "pdf"), ("drug_screen", None, "pdf")]

# Overtime as the contracts write it, by kind of facility; the others pay it after 40 direct-care hours in a
# Monday-to-Sunday week. The hospital is on the 8-and-80 system of hospitals and residential care
# (29 CFR 778.601) over its two-week pay periods, which start on a Monday; the IOP's contract counts each day
# too, as its day and evening tracks make long days.
OVERTIME_TERMS = {
    "inpatient": {"overtime_rule": "eight_and_eighty",
                  "notes": "8-and-80: overtime after 8 direct-care hours a day or 80 in the hospital's 14-day pay "
                           "period, whichever gives more."},
    "iop": {"overtime_rule": "daily", "daily_threshold_hours": Decimal("8"), "overtime_threshold_hours": Decimal("40"),
            "notes": "Overtime after 8 direct-care hours in a day or 40 in a Monday-to-Sunday week."},
}
WEEKLY_OVERTIME = {"overtime_threshold_hours": Decimal("40"),
                   "notes": "Overtime after 40 direct-care hours in a Monday-to-Sunday week."}

PAYERS = ["Aetna", "Cigna", "UnitedHealthcare/Optum", "Magellan", "Empire BCBS", "Highmark BCBS",
          "Fidelis Care (Medicaid MCO)", "Superior HealthPlan (Medicaid MCO)"]


def _license_type(discipline: str, state: str) -> str:
    if discipline in ("LPC", "LMHC", "LCPC", "LPCC"):
        return COUNSELOR_TYPE.get(state, "LPC")
    return {"PMHNP": "APRN"}.get(discipline, discipline)


def _npi(rng: random.Random) -> str:
    while True:
        base = "1" + "".join(str(rng.randint(0, 9)) for _ in range(8))
        for digit in "0123456789":
            if npi_is_valid(base + digit):
                return base + digit


def _pdf(title: str) -> bytes:
    """A one-page PDF with a line of text, built by hand so the demo needs nothing else."""
    text = title.replace("(", "[").replace(")", "]")
    stream = f"BT /F1 14 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def _png(seed: int) -> bytes:
    """A small solid-colour PNG (a scanned card stand-in)."""
    width, height = 64, 40
    colour = bytes([(seed * 40) % 256, (seed * 90) % 256, 160])
    raw = b"".join(b"\x00" + colour * width for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@contextmanager
def _as_if(day: date):
    """Run services as if today were `day`: the demo replays the agency's recent past."""
    saved = current_app.config.get("PINNED_TODAY")
    current_app.config["PINNED_TODAY"] = day.isoformat()
    try:
        yield
    finally:
        current_app.config["PINNED_TODAY"] = saved


class DemoAgency:
    def __init__(self, as_of: date):
        self.rng = random.Random(2026)
        self.as_of = as_of
        self.admin = None
        self.collected = 0
        # PROBLEMS' escalated invoice, once money() has picked it.
        self.escalated: int | None = None

    def days(self, n: int) -> date:
        return self.as_of + timedelta(days=n)

    # ------------------------------------------------------------------ people
    def users(self):
        made = {}
        for email, role, name in STAFF:
            made[role] = create_user(email, role, PASSWORD, name=name)
        self.admin = made["admin"]
        return made

    def therapists(self) -> list[Therapist]:
        rng = self.rng
        disciplines = (["LCSW"] * 12 + ["LPC"] * 9 + ["LMFT"] * 6 + ["PSYCHOLOGIST"] * 6 + ["PMHNP"] * 4
                       + ["LMHC", "LCPC", "LPCC"])
        people = []
        for i in range(40):
            home = STATES[i % len(STATES)]
            discipline = disciplines[i]
            status = "do_not_place" if i in (7, 29) else "inactive" if i in (13, 33) else "active"
            attested = None if i % 11 == 5 else self.days(-rng.choice([10, 40, 80, 105, 115, 125, 150]))
            t = creds.create_therapist({
                "first_name": FIRST[i], "last_name": LAST[i],
                "email": f"{FIRST[i].lower()}.{LAST[i].lower()}@clinician.example.com",
                "phone": f"(555) {200 + i:03d}-{1000 + i * 37 % 9000:04d}",
                "discipline": discipline, "npi": _npi(rng), "home_state": home,
                "caqh_id": f"{10400000 + i * 7919}" if attested else None, "caqh_attested_on": attested,
                "status": status, "specialties": rng.sample(SPECIALTIES, 2),
                "availability": rng.choice(["available", "available", "limited", "unavailable"]),
                "available_from": self.days(rng.choice([0, 7, 30])) if i % 4 == 0 else None,
                "hours_per_week": rng.choice([20, 32, 40, 40]),
                "notes": "Prefers telehealth." if i % 6 == 0 else None,
            }, self.admin)
            people.append(t)
        return people

    def licenses(self, people: list[Therapist]):
        # Expiry offsets in days, spread so the worklist shows every urgency.
        spread = [600, 420, 88, 55, 25, 6, -12, 300, 700, 45, 150, 500, 20, 365, 80, 230]
        for i, t in enumerate(people):
            home_type = _license_type(t.discipline, t.home_state)
            expires = self.days(spread[i % len(spread)])
            home = creds.add_license(t, {
                "state": t.home_state, "license_type": home_type, "number": f"{t.home_state}-{100200 + i * 131}",
                "kind": "state_license", "issued_on": expires - relativedelta(years=2, days=-1),
                "expires_on": expires,
            }, self.admin)
            if i % 3 != 2 and home.expires_on >= self.as_of:
                creds.verify_license(home, self.days(-self.rng.randint(5, 200)),
                                     VERIFY_SOURCE.format(state=t.home_state), self.admin)
            if i == 6:
                # Renewed after lapsing: the expired row stays as history, the new one replaces it.
                creds.add_license(t, {
                    "state": t.home_state, "license_type": home_type, "number": f"{t.home_state}-{100200 + i * 131}R",
                    "kind": "state_license", "issued_on": self.days(-3), "expires_on": self.days(727),
                }, self.admin)
            if t.discipline == "PSYCHOLOGIST" and i % 2 == 0:
                for state in ("PA", "TX", "GA", "OH"):
                    if state != t.home_state:
                        creds.add_license(t, {
                            "state": state, "license_type": "PSYCHOLOGIST", "number": f"PSY-APIT-{i:03d}{state}",
                            "kind": "compact_privilege", "home_license_id": home.id,
                            "issued_on": self.days(-200), "expires_on": self.days(520),
                        }, self.admin)
            if t.discipline == "LPC" and i % 3 == 0:
                for state in ("GA", "OH", "NJ"):
                    if state != t.home_state:
                        creds.add_license(t, {
                            "state": state, "license_type": "LPC", "number": f"CC-{i:03d}-{state}",
                            "kind": "compact_privilege", "home_license_id": home.id,
                            "issued_on": self.days(-100), "expires_on": self.days(640),
                        }, self.admin)
            if i % 5 == 1:
                # A second full license: NY therapists often hold NJ, Texans hold a second southern state.
                second = {"NY": "NJ", "NJ": "NY", "PA": "NJ", "TX": "FL", "CA": "TX", "FL": "GA", "IL": "OH",
                          "GA": "FL", "MA": "NY", "OH": "PA"}[t.home_state]
                creds.add_license(t, {
                    "state": second, "license_type": _license_type(t.discipline, second),
                    "number": f"{second}-{500000 + i * 17}", "kind": "state_license",
                    "issued_on": self.days(-400), "expires_on": self.days(40 if i % 10 == 1 else 480),
                }, self.admin)
            if i == 17:
                creds.add_license(t, {
                    "state": "MA", "license_type": _license_type(t.discipline, "MA"), "number": "TMP-MA-2291",
                    "kind": "temporary", "issued_on": self.days(-30), "expires_on": self.days(60),
                }, self.admin)

    def ce(self, people: list[Therapist]):
        topics = ["ethics", "suicide_prevention", "implicit_bias", "cultural_competence", "general", "general",
                  "human_trafficking", "domestic_violence", "laws_and_rules"]
        providers = ["NASW", "PESI", "American Counseling Association", "APA Continuing Education",
                     "Relias", "CE4Less"]
        for i, t in enumerate(people):
            # Every fourth therapist is behind on CE: the worklist flags the shortfall before renewal.
            courses = 2 if i % 4 == 3 else 7
            for n in range(courses):
                topic = topics[(i + n) % len(topics)]
                creds.add_ce_record(t, {
                    "title": f"{topic.replace('_', ' ').title()} in clinical practice",
                    "provider": providers[(i + n) % len(providers)], "hours": Decimal(self.rng.choice(["3", "4", "6"])),
                    "topic": topic, "completed_on": self.days(-self.rng.randint(10, 600)),
                }, self.admin)

    def panels(self, people: list[Therapist]):
        statuses = ["approved", "approved", "submitted", "in_review", "not_started", "denied", "terminated",
                    "approved"]
        for i, t in enumerate(people):
            if t.status == "inactive":
                continue
            for n in range(1 + i % 3):
                status = statuses[(i + n) % len(statuses)]
                submitted = self.days(-self.rng.randint(20, 400)) if status != "not_started" else None
                values = {"payer": PAYERS[(i * 3 + n) % len(PAYERS)], "status": status, "submitted_on": submitted}
                if status in ("approved", "terminated"):
                    values["submitted_on"], values["effective_on"] = self.decided(submitted, self.rng.randint(60, 150))
                    if i % 9 == 0 and status == "approved":
                        # Approved almost three years ago: the payer's 36 months fall due in 50 days.
                        values["effective_on"] = self.days(50) - relativedelta(months=36)
                        values["submitted_on"] = values["effective_on"] - timedelta(days=120)
                if status in ("submitted", "in_review", "not_started"):
                    values["next_follow_up_on"] = self.days(self.rng.choice([-6, -1, 0, 3, 12]))
                creds.add_panel(t, values, self.admin)

    def decided(self, submitted: date, cycle: int) -> tuple[date, date]:
        """(submitted, effective) of an enrollment approved `cycle` days after submission, both in the past.

        Initial credentialing takes 60 to 180 days: a submission too recent to be decided by now moves
        back by as much as its approval would overrun today, so the panel matrix shows true cycle times.
        """
        overrun = max(0, (submitted + timedelta(days=cycle) - self.as_of).days)
        submitted -= timedelta(days=2 * overrun)
        return submitted, submitted + timedelta(days=cycle)

    def documents(self, people: list[Therapist], skip: set[tuple[int, str]]):
        """The roster's files, with gaps and lapses; `skip` (therapist id, kind) are filed by credential()."""
        for i, t in enumerate(people):
            if t.status == "inactive":
                continue
            for n, (doc_type, valid_days, _) in enumerate(DOC_KINDS):
                if (i + n) % 5 == 4 or (t.id, doc_type) in skip:
                    continue  # some gaps, so readiness finds missing documents
                # Renewed on time, so current unless picked below to be expiring or lapsed.
                issued = self.days(-self.rng.randint(5, valid_days - 10 if valid_days else 300))
                expires = None
                if valid_days:
                    expires = issued + timedelta(days=valid_days)
                    if (i + n) % 7 == 0:
                        expires = self.days(self.rng.choice([9, 24, 58, -4]))
                        issued = min(issued, expires - timedelta(days=1))
                self._file(t, doc_type, issued, expires)

    def _file(self, t: Therapist, doc_type: str, issued: date, expires: date | None):
        ext = dict((kind, ext) for kind, _, ext in DOC_KINDS).get(doc_type, "pdf")
        body = _png(t.id) if ext == "png" else _pdf(f"{doc_type.replace('_', ' ').title()}: {t.full_name}")
        store_document(t, BytesIO(body), f"{t.last_name.lower()}_{doc_type}.{ext}", doc_type, issued, expires,
                       self.admin)

    # ------------------------------------------------------------------ facilities and placements
    def facilities(self):
        specs = [
            ("Riverside Community Mental Health Center", "cmhc", "NY", "Poughkeepsie", "medicaid", 45, "monthly",
             True, ["Fidelis Care (Medicaid MCO)", "Empire BCBS"], ["license_copy", "background_check", "tb_test"]),
            ("Lakeshore Behavioral Hospital", "inpatient", "IL", "Chicago", "commercial", 30, "biweekly", False, [],
             ["license_copy", "bls_card", "tb_test", "background_check", "drug_screen"]),
            ("Harborview Partial Hospitalization Program", "php", "NJ", "Newark", "commercial", 30, "monthly",
             True, ["Aetna", "Cigna"], ["license_copy", "malpractice_coi"]),
            ("Sunbelt Recovery IOP", "iop", "TX", "Austin", "commercial", 30, "weekly", True,
             ["UnitedHealthcare/Optum", "Magellan"], ["license_copy", "hipaa_training"]),
            ("Maple Grove Unified School District", "school", "PA", "Harrisburg", "medicaid", 60, "monthly", False,
             [], ["background_check", "tb_test"]),
            ("Gulf Coast Correctional Health", "correctional", "FL", "Tallahassee", "medicaid", 60, "monthly",
             False, [], ["background_check", "drug_screen", "tb_test"]),
            ("CalmPath Telehealth", "telehealth", "CA", "San Diego", "commercial", 30, "monthly", True,
             ["Aetna", "UnitedHealthcare/Optum", "Cigna"], ["license_copy", "malpractice_coi", "hipaa_training"]),
            ("Peachtree Community Services Board", "cmhc", "GA", "Atlanta", "medicaid", 45, "monthly", False, [],
             ["license_copy", "background_check"]),
        ]
        made = []
        for n, (name, kind, state, city, funding, terms, schedule, bills, payers, docs) in enumerate(specs):
            f = facilities.create_facility({
                "name": name, "facility_type": kind, "state": state, "city": city,
                "address_line1": f"{100 + n * 25} {STREETS[n]} Street",
                "postal_code": f"{10000 + n * 11111}"[:5], "funding": funding, "payment_terms_days": terms,
                "invoice_schedule": schedule, "bills_insurance": bills, "payers": payers,
                "billing_email": f"ap@{name.split()[0].lower()}.example.org", "required_documents": docs,
                "orientation_requirements": "Half-day orientation on site; EHR training before first shift."
                if kind != "telehealth" else "Platform training video and a supervised first session.",
            }, self.admin)
            for role, person in (("clinical_director", "Dr. Renee Holt"), ("hr", "Sam Ortiz"),
                                 ("billing", "Accounts Payable"), ("compliance", "Lee Park")):
                facilities.add_contact(f, {"role": role, "name": person,
                                           "email": f"{role}@{name.split()[0].lower()}.example.org",
                                           "phone": f"(555) 01{n}-{4000 + len(role)}"}, self.admin)
            rates = []
            for discipline, base in (("LCSW", 92), ("LPC", 88), ("LMHC", 88), ("LCPC", 88), ("LPCC", 88),
                                     ("LMFT", 90), ("PSYCHOLOGIST", 145), ("PMHNP", 175)):
                bump = n * 2
                rates += [
                    {"item": "direct_care_hour", "discipline": discipline, "amount": Decimal(base + bump)},
                    {"item": "supervision_hour", "discipline": discipline, "amount": Decimal(55 + n)},
                    {"item": "per_diem_day", "discipline": discipline, "amount": Decimal((base + bump) * 8)},
                    {"item": "contract_week", "discipline": discipline, "amount": Decimal((base + bump) * 38)},
                    {"item": "travel_mile", "discipline": discipline, "amount": Decimal("0.67")},
                ]
                if kind == "telehealth":
                    rates.append({"item": "telehealth_platform_month", "discipline": discipline,
                                  "amount": Decimal("149.00")})
            start = self.as_of - relativedelta(months=14)
            # Two facilities' contracts run out within 60 days: renewal inquiries for the recruiter.
            end = self.days(35 + n) if n in (1, 5) else None
            terms = OVERTIME_TERMS.get(kind, WEEKLY_OVERTIME)
            if terms.get("overtime_rule") == "eight_and_eighty":
                terms = {**terms, "period_anchor": start - timedelta(days=start.weekday())}
            facilities.save_rate_card(f, None, {
                "effective_from": start, "effective_to": end, "overtime_multiplier": Decimal("1.5"), **terms,
            }, rates, self.admin)
            made.append(f)
        return made

    def assignments(self, places):
        made = []
        for index, title, discipline, states, start, weeks, hours, tele, basis, _ in OPENINGS:
            made.append(placements.save_assignment(None, {
                "facility_id": places[index].id, "title": title, "discipline": discipline,
                "service_states": states, "start_on": self.days(start), "length_weeks": weeks,
                "hours_per_week": hours, "telehealth": tele, "billing_basis": basis,
            }, self.admin))
        return made

    # ------------------------------------------------------------------ who works where
    def cast(self, people: list[Therapist], places: list[Facility], openings) -> list[tuple]:
        """Who is placed or offered where: (therapist, facility, service states, start, end, plan row or None).

        Placed therapists are those of PLAN; each opening gets the ready candidates OPENINGS asks for,
        taken from the bench of its discipline and made available for its hours.
        """
        active = [t for t in people if t.status == "active"]
        cast = []
        for row in PLAN:
            idx, fac, start, weeks = row[:4]
            facility = places[fac]
            cast.append((active[idx], facility, [facility.state], self.days(start),
                         self.days(start + weeks * 7 - 1), row))
        taken = {t.id for t, *_ in cast}
        for spec, opening in zip(OPENINGS, openings, strict=True):
            wanted = spec[-1]
            bench = [t for t in active if t.id not in taken and t.discipline in disciplines_for(opening.discipline)]
            for t in bench[:wanted]:
                creds.update_therapist(t, {"availability": "available", "available_from": None,
                                           "hours_per_week": max(opening.hours_per_week, t.hours_per_week or 0)},
                                       self.admin)
                cast.append((t, opening.facility, opening.service_states, opening.start_on, opening.end_on, None))
                taken.add(t.id)
        return cast

    def credential(self, t: Therapist, facility: Facility, states: list[str], start: date, end: date | None):
        """Make t fit to work at the facility from start to end, as a credentialing team would have by then:
        a license in each state issued well before the start, the facility's documents filed before it,
        an approved panel with one of its payers and a recent CAQH attestation. PROBLEMS are left in."""
        covered_until = max(end or start, self.as_of) + timedelta(days=400)
        issued = start - timedelta(days=400)
        for state in states:
            until = covered_until
            if PROBLEM_OF["license_expiring"] == t.full_name:
                until = self.as_of.replace(day=1) + relativedelta(months=1, days=14)
            if any(lic.state == state and lic.covers(start) and lic.effective_expires_on >= until
                   for lic in t.licenses):
                continue
            lic = creds.add_license(t, {
                "state": state, "license_type": _license_type(t.discipline, state),
                "number": f"{state}-{800000 + t.id * 97}", "kind": "state_license",
                "issued_on": issued, "expires_on": until}, self.admin)
            creds.verify_license(lic, min(start, self.as_of) - timedelta(days=30),
                                 VERIFY_SOURCE.format(state=state), self.admin)
        valid = {kind: days for kind, days, _ in DOC_KINDS}
        for doc_type in facility.required_documents or []:
            filed = min(start, self.as_of) - timedelta(days=20)
            expires = filed + timedelta(days=valid[doc_type]) if valid.get(doc_type) else None
            if PROBLEM_OF["document_expiring"] == t.full_name and doc_type == "hipaa_training":
                expires = self.days(18)
                filed = min(filed, expires - timedelta(days=valid[doc_type]))
            self._file(t, doc_type, filed, expires)
        payers = facility.payers or []
        if facility.bills_insurance and not any(p.in_effect_on(start) and p.payer in payers for p in t.panels):
            values = {"status": "approved", "submitted_on": start - timedelta(days=200),
                      "effective_on": start - timedelta(days=90)}
            held = {p.payer: p for p in t.panels}
            if payers[0] in held:
                creds.update_panel(held[payers[0]], values, self.admin)
            else:
                creds.add_panel(t, {"payer": payers[0], **values}, self.admin)
        overdue = PROBLEM_OF["caqh_due"] == t.full_name
        attested = self.days(-130 if overdue else -30)
        creds.update_therapist(t, {"caqh_id": t.caqh_id or f"{10900000 + t.id * 7919}",
                                   "caqh_attested_on": attested}, self.admin)

    def caqh_in_illinois(self, people: list[Therapist], placed: set[int]) -> Therapist:
        """An Illinois therapist who attested 160 days ago: due in 20 days on Illinois' 180-day CAQH rule,
        where the 120 days of every other state would have made her 40 days overdue."""
        person = next(t for t in people if t.home_state == "IL" and t.status == "active" and t.id not in placed)
        creds.update_therapist(person, {"caqh_id": person.caqh_id or f"{10800000 + person.id * 7919}",
                                        "caqh_attested_on": self.days(-160)}, self.admin)
        return person

    def _ready(self, placement, upto: int | None = None):
        for item in placement.checklist[:upto]:
            placements.set_checklist_item(item, True, self.admin)

    def placements(self, cast, assignments, recruiter):
        """Placements in every state of the pipeline, each step taken on its day; returns those that bill hours.

        A placement is proposed 25 days before its start, onboarded 21 days before, its checklist done by
        three days before and activated on its start date, which readiness allows only because the
        therapist is credentialed; a check-in is recorded the day after its window opens.
        """
        billing = []
        for t, facility, states, start, end, row in cast:
            if row is None:
                continue
            idx, _, _, _, basis, hours, status = row
            values = {"therapist_id": t.id, "facility_id": facility.id, "start_on": start, "end_on": end,
                      "billing_basis": basis, "hours_per_week": hours, "service_states": states,
                      "telehealth": facility.facility_type == "telehealth"}
            with _as_if(min(self.as_of, start - timedelta(days=25))):
                p = placements.create_placement(values, recruiter)
            if status == "proposed":
                continue
            with _as_if(min(self.as_of, start - timedelta(days=21))):
                if status == "cancelled":
                    placements.change_status(p, "cancelled", recruiter, reason="Therapist accepted a permanent role")
                    continue
                placements.change_status(p, "onboarding", recruiter)
            if status == "onboarding":
                self._ready(p, upto=3)
                continue
            with _as_if(start - timedelta(days=3)):
                self._ready(p)
            with _as_if(start):
                placements.change_status(p, "active", recruiter)
            last = min(end, self.as_of - timedelta(days=2))
            for checkin in p.checkins:
                done = checkin.due_on + timedelta(days=1)
                if done > last:
                    continue
                concern = idx == 5 and checkin.day == 60
                with _as_if(done):
                    placements.record_checkin(checkin, {
                        "completed_on": done, "satisfaction": 2 if concern else self.rng.choice([4, 5]),
                        "notes": "Caseload has doubled since the unit lost a clinician." if concern
                        else "Settled in well; good rapport with the clinical director.",
                        "concern": concern}, recruiter)
            if status == "completed":
                with _as_if(end):
                    placements.change_status(p, "completed", recruiter)
            billing.append(p)
        # One proposal straight from an open assignment, for the first of its ready candidates.
        first = next(t for t, facility, *_, row in cast if row is None and facility.id == assignments[0].facility_id)
        placements.create_placement({"assignment_id": assignments[0].id, "therapist_id": first.id}, recruiter)
        return billing

    # ------------------------------------------------------------------ money
    def money(self, billed: list[Placement], billing_user, overdue_facility: Facility, escalated_facility: Facility):
        """Replay five months: hours each week, approvals, invoices on the first, payments and reminders."""
        first_month = (self.as_of - relativedelta(months=5)).replace(day=1)
        overdue_month = self.as_of.replace(day=1) - relativedelta(months=3)
        stalled = next(p for p in billed if p.therapist.full_name == PROBLEM_OF["stalled_approval"])
        month = first_month
        week = first_month - timedelta(days=first_month.weekday())
        while week + timedelta(days=6) < self.as_of:
            sunday = week + timedelta(days=6)
            # A month is invoiced on the first of the next, before the hours approved after that day.
            while month + relativedelta(months=1) <= sunday:
                self._invoice(month, billing_user, overdue_facility, overdue_month, escalated_facility)
                month += relativedelta(months=1)
            with _as_if(sunday):
                entries = []
                for p in billed:
                    for offset in range(5):
                        day = week + timedelta(days=offset)
                        if day < p.start_on or (p.end_on and day > p.end_on):
                            continue
                        direct = Decimal(self.rng.choice(["8", "8", "8.5", "7.5", "9", "10"]))
                        if (p.hours_per_week or 40) < 30:
                            direct = Decimal(self.rng.choice(["4", "5", "6"]))
                        entries.append(timesheets.record_entry({
                            "placement_id": p.id, "work_date": day, "direct_care_hours": direct,
                            "supervision_hours": Decimal("1") if offset == 2 else Decimal("0"),
                            "travel_miles": Decimal(self.rng.choice(["0", "0", "12.5", "23"])),
                        }, billing_user))
                # The week's hours went to the facilities on its Sunday evening, as the replay has it.
                for entry in entries:
                    entry.submitted_at = start_of(sunday) + timedelta(hours=20)
                db.session.commit()
                # Most weeks are approved by the facility right away; the latest week waits, and one
                # facility sits on a week of the stalled placement's hours.
                if sunday < self.as_of - timedelta(days=7):
                    if sunday >= self.as_of - timedelta(days=14):
                        entries = [e for e in entries if e.placement_id != stalled.id]
                    rejected = entries[:1] if week.day <= 7 else []
                    if rejected:
                        timesheets.decide(rejected, False, billing_user,
                                          reason="Hours do not match the unit sign-in sheet")
                    timesheets.decide(entries[len(rejected):], True, billing_user)
            week += timedelta(days=7)
        while month + relativedelta(months=1) <= self.as_of:
            self._invoice(month, billing_user, overdue_facility, overdue_month, escalated_facility)
            month += relativedelta(months=1)
        self.chase_stalled(stalled)
        # The dunning run, weekly: every level's window is longer than a week, so an unpaid invoice
        # climbs its ladder one level at a time.
        for weeks_ago in range(22, -1, -1):
            day = self.days(-7 * weeks_ago)
            with _as_if(day):
                receivables.run_dunning(day)
        # Each facility's statement of account of its last two closed periods, as the daily job sent them.
        for day in (self.as_of - relativedelta(months=1), self.as_of):
            with _as_if(day):
                statements.send_scheduled(day)
        # Leadership's call after the escalation reached the CFO, who agreed a payment plan: billing paused the
        # facility's reminders.
        facilities.update_facility(escalated_facility, {
            "dunning_paused": True, "dunning_pause_reason": "CFO agreed a payment plan by phone; billing follows up"},
            billing_user)

    def chase_stalled(self, stalled: Placement):
        """The stalled week's facility names its primary and alternate approvers; the daily chase of the last
        two weeks reminds each of them, then the recruiter, of the hours it sits on."""
        for contact in stalled.facility.contacts:
            if contact.role in ("clinical_director", "compliance"):
                facilities.update_contact(contact, {"approver": "primary" if contact.role == "clinical_director"
                                                    else "alternate"}, self.admin)
        for n in range(14, -1, -1):
            day = self.days(-n)
            with _as_if(day):
                approvals.run_chase(day)

    def _invoice(self, month: date, billing_user, overdue_facility: Facility, overdue_month: date,
                 escalated_facility: Facility):
        end = month + relativedelta(months=1) - timedelta(days=1)
        # The last level's days past due: the escalated invoice has reached them today.
        top = receivables.dunning_levels()[-1]["days"]
        if month == self.as_of.replace(day=1) - relativedelta(months=1):
            self._invoicing_modes(billing_user)
        with _as_if(end + timedelta(days=1)):
            result = invoicing.run_invoices(month, end, actor=billing_user)
        for invoice_id in result.invoice_ids:
            invoice = db.session.get(Invoice, invoice_id)
            if invoice.facility_id == overdue_facility.id and month == overdue_month:
                continue  # PROBLEMS' overdue invoice: never paid, chased level by level
            if (self.escalated is None and invoice.facility_id == escalated_facility.id
                    and invoice.status != "draft" and invoice.due_on <= self.days(-top)):
                # PROBLEMS' escalated invoice, its oldest that is that late today: never paid. It takes its
                # turn in _collect's rotation all the same, so the other invoices are paid or voided as before.
                self.escalated = invoice.id
                self.collected += 1
                continue
            self._collect(invoice, billing_user)

    def _invoicing_modes(self, billing_user):
        """Before the last closed month is invoiced: one facility's invoices are reviewed (its draft waits
        since the month closed), one is not invoiced at all, and one's safety stop is set so tight that
        its month's total, unlike its usual ones, is parked for review."""
        by_name = {f.name: f for f in db.session.scalars(sa.select(Facility))}
        for name, values in (("Harborview Partial Hospitalization Program", {"invoicing": "review"}),
                             ("Gulf Coast Correctional Health", {"invoicing": "off"}),
                             ("Peachtree Community Services Board", {"safety_factor": Decimal("1.01")})):
            facilities.update_facility(by_name[name], values, billing_user)

    def _collect(self, invoice: Invoice, billing_user):
        if invoice.status == "draft":
            return  # waiting for billing's review: nothing is owed on it yet
        # Invoices take turns at being voided, paid, half paid or left to age.
        self.collected += 1
        pattern = self.collected % 6
        if pattern == 0 and invoice.issued_on + timedelta(days=2) <= self.as_of:
            with _as_if(invoice.issued_on + timedelta(days=2)):
                receivables.void_invoice(invoice, "Issued against the superseded rate card", billing_user)
            return
        pay_on = invoice.due_on + timedelta(days=self.rng.choice([-5, 3, 12]))
        if pattern in (1, 2, 3) and pay_on <= self.as_of:
            with _as_if(pay_on):
                receivables.record_payment(invoice, invoice.total, pay_on, f"ACH {700000 + invoice.id}",
                                           billing_user)
        elif pattern == 4 and pay_on <= self.as_of:
            with _as_if(pay_on):
                receivables.record_payment(invoice, (invoice.total / 2).quantize(Decimal("0.01")), pay_on,
                                           f"Check {4100 + invoice.id}", billing_user)
        # Otherwise it stays unpaid: it ages and gets chased.

    def collections(self, billing_user, contact, overdue_facility_name: str):
        """Disputes and promises to pay on open invoices: the contact's own dispute from the portal, one
        billing opened that is past its due day (with its task), one credited; an open promise, a kept one
        and a broken one (its task and email to billing). PROBLEMS' overdue and escalated invoices are left
        to the ladder."""
        chosen = db.session.scalars(
            sa.select(Invoice).join(Invoice.facility)
            .where(Invoice.status.in_(OPEN_INVOICE_STATUSES), Invoice.issued_on <= self.days(-26),
                   Facility.name != overdue_facility_name, Invoice.facility_id != contact.facility_id,
                   Invoice.id != self.escalated)
            .order_by(Invoice.issued_on, Invoice.id)).all()
        own = db.session.scalar(
            sa.select(Invoice).where(Invoice.status.in_(OPEN_INVOICE_STATUSES), Invoice.facility_id ==
                                     contact.facility_id).order_by(Invoice.issued_on.desc(), Invoice.id.desc()))
        if own is not None:
            with _as_if(self.days(-2)):
                disputes.open_dispute(own, "Two sessions on the 14th are billed twice; our sign-in sheet shows one.",
                                      line_id=own.lines[0].id if own.lines else None, actor=contact)
        late, credited, promised, kept, broken = chosen[:5]
        with _as_if(self.days(-20)):
            disputes.open_dispute(late, "The supervision hours were not part of the contract.", actor=billing_user)
        with _as_if(self.days(-15)):
            dispute = disputes.open_dispute(credited, "Mileage billed above the agreed cap.", actor=billing_user)
        with _as_if(self.days(-5)):
            disputes.resolve(dispute, "credited", "Mileage capped at 40 miles a week per the contract.",
                             amount=(credited.balance / 10).quantize(Decimal("0.01")), actor=billing_user)
        promises.record_promise(promised, self.days(7), promised.balance, "Accounts Payable, by phone", billing_user)
        with _as_if(self.days(-20)):
            promise = promises.record_promise(kept, self.days(-10), kept.balance, "Accounts Payable, by email",
                                              billing_user)
        with _as_if(self.days(-12)):
            receivables.record_payment(kept, promise.amount, self.days(-12), f"ACH {800000 + kept.id}", billing_user)
        with _as_if(self.days(-25)):
            promises.record_promise(broken, self.days(-15), broken.balance, "The controller, by phone", billing_user)
        with _as_if(self.days(-14)):
            promises.check_promises(self.days(-14))
        disputes.add_overdue_tasks(self.as_of)

    def document_requests(self, people: list[Therapist], cast, reviewer):
        """Three therapists on the bench asked for documents by upload link: one upload accepted (it renewed
        the TB test on file), one rejected with a message and a fresh link, one waiting in the review queue."""
        placed = {t.id for t, *_ in cast}
        accepted, rejected, waiting = [t for t in people if t.status == "active" and t.id not in placed][:3]
        with _as_if(self.days(-6)):
            first = doc_requests.send_request(accepted, ["tb_test"], reviewer, source="worklist")
        with _as_if(self.days(-4)):
            self._answer(first, "tb_test", "pdf", self.days(-5), self.days(363))
        with _as_if(self.days(-3)):
            doc_requests.accept(first.items[0].id, reviewer)
        with _as_if(self.days(-5)):
            second = doc_requests.send_request(rejected, ["bls_card"], reviewer)
        with _as_if(self.days(-3)):
            self._answer(second, "bls_card", "png", self.days(-4), self.days(726))
        with _as_if(self.days(-2)):
            doc_requests.reject(second.items[0].id, reviewer, "Only the front of the card came through; please "
                                                              "upload both sides, with the expiry date readable.")
        with _as_if(self.days(-3)):
            third = doc_requests.send_request(waiting, ["malpractice_coi"], reviewer,
                                              message="Your carrier's renewal certificate, please.")
        with _as_if(self.days(-1)):
            self._answer(third, "malpractice_coi", "pdf", self.days(-1), self.days(364))

    def _answer(self, request, doc_type: str, ext: str, issued: date, expires: date):
        """The therapist's upload through the link, a real small file."""
        t = request.therapist
        body = _png(t.id) if ext == "png" else _pdf(f"{doc_type.replace('_', ' ').title()}: {t.full_name}")
        doc_requests.submit(request.fresh_token, {doc_type: (BytesIO(body), f"{doc_type}.{ext}")},
                            {doc_type: (issued, expires)})

    # ------------------------------------------------------------------ held hours
    def lapsed_license(self, billed: list[Placement], credentialing_user) -> Placement:
        """Held hours with a true reason: PROBLEMS' therapist's New York license lapsed on last week's Monday
        (the renewal fee bounced) and the board reissued it on Thursday, so her Tuesday and Wednesday are held
        (no license in force), visible on the timesheets, her placement, the portal and the watch.

        The reissued license is recorded unverified at first (Thursday and Friday stay held too), then
        verified at the board, which releases those two days: a hold lifts only on a verified license.
        """
        p = next(p for p in billed if p.therapist.full_name == PROBLEM_OF["license_lapsed"])
        riverside = p.facility
        sunday = self.as_of - timedelta(days=1)
        sunday -= timedelta(days=(sunday.weekday() + 1) % 7)  # the last week's hours, still awaiting approval
        monday = sunday - timedelta(days=6)
        lapsed = [lic for lic in p.therapist.licenses if lic.state == riverside.state and lic.covers(monday)]
        old = lapsed[0]
        with _as_if(monday + timedelta(days=3)):
            for lic in lapsed:  # every record of her license there: none was in force after that Monday
                creds.update_license(lic, {"expires_on": monday}, credentialing_user)
            new = creds.add_license(p.therapist, {
                "state": old.state, "license_type": old.license_type, "number": f"{old.number}-R",
                "kind": "state_license", "issued_on": monday + timedelta(days=3),
                "expires_on": monday + relativedelta(years=2, days=3)}, credentialing_user)
        with _as_if(monday + timedelta(days=4)):
            creds.verify_license(new, monday + timedelta(days=4), VERIFY_SOURCE.format(state=new.state),
                                 credentialing_user)
        return p

    def delivered_mail(self):
        """Mark the mail of the replayed months as delivered, as the sender would have by now.

        The latest invoice run's emails stay queued, so the billing dashboard
        and the outbox show mail still to go out.
        """
        latest = sa.select(sa.func.max(Invoice.issued_on)).scalar_subquery()
        # A draft has no number: a NULL in NOT IN would match no message at all.
        recent = sa.select(sa.literal("invoice:") + Invoice.number).where(Invoice.issued_on == latest,
                                                                           Invoice.number.is_not(None))
        db.session.execute(
            sa.update(OutboxMessage).where(OutboxMessage.sent_at.is_(None),
                                           sa.or_(OutboxMessage.dedupe_key.is_(None),
                                                  OutboxMessage.dedupe_key.not_in(recent)))
            .values(sent_at=utcnow(), attempts=1))
        db.session.commit()


    # ------------------------------------------------------------------ exclusion screening
    def screening(self, credentialing_user) -> ExclusionScreening:
        """Last week's screening against a small, made-up list in the LEIE layout: strangers, a business,
        and one name that is a bench therapist's in their home state, waiting for credentialing to decide.

        The name match is on a therapist with no live placement, so nothing the demo places is blocked.
        """
        placed = sa.select(Placement.therapist_id).where(Placement.status.in_(Placement.LIVE))
        bench = db.session.scalar(sa.select(Therapist).where(Therapist.status == "active", Therapist.id.not_in(placed))
                                  .order_by(Therapist.id))
        listed = [
            {"LASTNAME": "HALVORSEN", "FIRSTNAME": "BRYCE", "MIDNAME": "T", "GENERAL": "IND- LIC HC SERV PRO",
             "SPECIALTY": "COUNSELOR", "DOB": "19640312", "STATE": "OH", "EXCLTYPE": "1128a1", "EXCLDATE": "20190521"},
            {"BUSNAME": "SUNRISE WELLNESS HOME CARE LLC", "GENERAL": "OTHER BUSINESS",
             "SPECIALTY": "HOME HEALTH AGENCY", "STATE": "FL", "EXCLTYPE": "1128b4", "EXCLDATE": "20211118"},
            {"LASTNAME": bench.last_name.upper(), "FIRSTNAME": bench.first_name.upper(), "MIDNAME": "R",
             "GENERAL": "IND- LIC HC SERV PRO", "SPECIALTY": "SOCIAL WORKER", "DOB": "19580704",
             "STATE": bench.home_state, "EXCLTYPE": "1128b4", "EXCLDATE": "20220915"},
            {"LASTNAME": "QUARLES", "FIRSTNAME": "DENISE", "GENERAL": "NURSING PROFESSION",
             "SPECIALTY": "NURSE/NURSES AIDE", "DOB": "19711030", "STATE": "TX", "EXCLTYPE": "1128a4",
             "EXCLDATE": "20230207", "REINDATE": "20250610"},
        ]
        out = StringIO()
        writer = csv.writer(out)
        writer.writerow(LEIE_COLUMNS)
        for row in listed:
            full = {"NPI": "0000000000", "DOB": "00000000", "REINDATE": "00000000", "WAIVERDATE": "00000000"} | row
            writer.writerow([full.get(column, "") for column in LEIE_COLUMNS])
        return screen_file(BytesIO(out.getvalue().encode()), "UPDATED.csv", "oig_leie", None, credentialing_user,
                           screened_on=self.days(-6))


class SeedRefused(Exception):
    """seed-demo may not run here."""


class DatabaseHoldsData(SeedRefused):
    """The database is not empty: the demo would mix made-up people into real records."""


def report_revenue_at_risk(as_of: date, log) -> None:
    """Say what the demo's problems put at risk: James Bennett's lapsing license, the overdue CAQH, the
    expiring HIPAA training and the onboarding still open, priced by their facilities' rate cards."""
    from agency.placements.at_risk import revenue_at_risk

    found = revenue_at_risk(as_of)
    log(f"Revenue at risk: ${found.total:,} on {len(found.items)} placement(s), largest first on /placements/at-risk.")


def refuse_production() -> None:
    if current_app.config["ENV"] == "production":
        raise SeedRefused(
            "seed-demo does not run in production mode: it makes sign-ins such as admin@demo.agency "
            "whose password is printed in the README.")


def refuse_unless_allowed() -> None:
    """Raise SeedRefused in production mode, DatabaseHoldsData when the database already holds data."""
    refuse_production()
    if any(db.session.scalar(sa.select(sa.exists().select_from(model))) for model in (User, Therapist, Facility)):
        raise DatabaseHoldsData("The database already has users, therapists or facilities; "
                                "seed-demo only fills an empty one.")


def wipe() -> None:
    """Delete every row of every table and the files of the uploaded documents (seed-demo --reset).

    Never in production mode. The schema and its migration version stay.
    """
    refuse_production()
    files = [path_of(document) for document in db.session.scalars(sa.select(Document))]
    files += [path_of(upload) for upload in db.session.scalars(  # uploads never filed: rejected or in review
        sa.select(DocumentRequestItem).where(DocumentRequestItem.storage_name.is_not(None)))]
    empty_every_table()
    for path in files:
        path.unlink(missing_ok=True)


def seed(as_of: date | None = None, log=click.echo) -> dict:
    """Build the demo agency; returns counts of what was made. Refused as refuse_unless_allowed() says."""
    refuse_unless_allowed()
    agency = DemoAgency(as_of or today())
    log("Loading the reference rules (CAQH per state, re-credentialing per payer, CE), with their sources…")
    load_reference()
    log("Creating staff users…")
    staff = agency.users()
    log("Adding 40 therapists, 8 facilities and their rate cards, and 5 open assignments…")
    people = agency.therapists()
    places = agency.facilities()
    contact = create_user("facility@demo.agency", "facility", PASSWORD, facility_id=places[0].id, name="Dana Reyes")
    jobs = agency.assignments(places)
    cast = agency.cast(people, places, jobs)
    log("Recording licenses, CE, panels and documents…")
    agency.licenses(people)
    agency.ce(people)
    agency.panels(people)
    agency.documents(people, skip={(t.id, kind) for t, facility, *_ in cast
                                   for kind in facility.required_documents or []})
    for t, facility, states, start, end, _ in cast:
        agency.credential(t, facility, states, start, end)
    agency.caqh_in_illinois(people, {t.id for t, *_ in cast})
    log("Placing therapists and working their checklists…")
    billed = agency.placements(cast, jobs, staff["recruiter"])
    log("Replaying five months of timesheets, invoices, payments and reminders…")
    by_name = {f.name: f for f in places}
    agency.money(billed, staff["billing"], by_name[PROBLEM_OF["overdue_invoice"]],
                 by_name[PROBLEM_OF["escalated_invoice"]])
    # The replayed months' reminders went out long before the last weeks' promises and payments: a payment
    # then takes back no reminder still waiting in the outbox.
    agency.delivered_mail()
    log("Opening disputes and recording promises to pay…")
    agency.collections(staff["billing"], contact, PROBLEM_OF["overdue_invoice"])
    log("Asking therapists for documents by upload link…")
    agency.document_requests(people, cast, staff["credentialing"])
    log("Screening every therapist against an exclusion list…")
    agency.screening(staff["credentialing"])
    log("Holding the hours worked while a license had lapsed…")
    agency.lapsed_license(billed, staff["credentialing"])
    agency.delivered_mail()
    report_revenue_at_risk(agency.as_of, log)
    return {
        "therapists": len(people), "facilities": len(places),
        "entries": db.session.scalar(sa.select(sa.func.count()).select_from(TimesheetEntry)),
    }


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing (and say so) when the database already has data.")
@click.option("--reset", is_flag=True, help="Delete everything in the database, and its uploaded files, first.")
@with_appcontext
def seed_demo_command(if_empty, reset):
    """Fill an empty database with a realistic demo agency (never in production mode)."""
    try:
        if reset:
            wipe()
        counts = seed()
    except DatabaseHoldsData as exc:
        if not if_empty:
            raise click.ClickException(f"{exc} Add --reset to delete everything and start over.") from None
        click.echo("The database already has data; the demo agency was not added.")
        return
    except SeedRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Demo agency ready: {counts['therapists']} therapists, {counts['facilities']} facilities, "
               f"{counts['entries']} timesheet entries.")
    click.echo("Sign in at /login with any of these (password: demo-password):")
    for email, role, _ in STAFF:
        click.echo(f"  {email:<28} {role}")
    click.echo(f"  {'facility@demo.agency':<28} facility contact (Riverside Community Mental Health Center)")
