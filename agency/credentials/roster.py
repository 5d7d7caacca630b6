"""Importing a therapist roster with their licenses from CSV: check every row, then all or nothing."""

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from agency.core import audit
from agency.core.constraints import check_lengths
from agency.core.dates import parse_iso_date
from agency.core.errors import DomainError, ValidationError
from agency.core.states import is_state, npi_is_valid
from agency.credentials.models import DISCIPLINES, LICENSE_KINDS, LICENSE_TYPES, License, Therapist
from agency.extensions import db

COLUMNS = ("first_name", "last_name", "email", "phone", "discipline", "npi", "home_state", "caqh_id",
           "caqh_attested_on", "license_state", "license_type", "license_number", "license_kind",
           "license_issued_on", "license_expires_on")
REQUIRED = ("first_name", "last_name", "email", "discipline", "home_state")
LICENSE_COLUMNS = ("license_state", "license_type", "license_number", "license_issued_on", "license_expires_on")


@dataclass
class RosterReport:
    rows: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    therapists: int = 0
    licenses: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


def _date(row: dict, key: str):
    raw = (row.get(key) or "").strip()
    if not raw:
        return None
    try:
        return parse_iso_date(raw)
    except ValueError:
        raise ValidationError(f"{key} must be a date as YYYY-MM-DD") from None


def _parse(row: dict) -> tuple[dict, dict | None]:
    clean = {k: (v or "").strip() for k, v in row.items() if k}
    for key in REQUIRED:
        if not clean.get(key):
            raise ValidationError(f"{key} is required")
    if clean["discipline"].upper() not in DISCIPLINES:
        raise ValidationError(f"discipline {clean['discipline']!r} is not one of {', '.join(DISCIPLINES)}")
    if not is_state(clean["home_state"].upper()):
        raise ValidationError(f"home_state {clean['home_state']!r} is not a USPS state code")
    if clean.get("npi") and not npi_is_valid(clean["npi"]):
        raise ValidationError(f"npi {clean['npi']} fails the check digit")
    if "@" not in clean["email"]:
        raise ValidationError("email is not an email address")
    therapist = {
        "first_name": clean["first_name"], "last_name": clean["last_name"], "email": clean["email"].lower(),
        "phone": clean.get("phone") or None, "discipline": clean["discipline"].upper(),
        "npi": clean.get("npi") or None, "home_state": clean["home_state"].upper(),
        "caqh_id": clean.get("caqh_id") or None, "caqh_attested_on": _date(clean, "caqh_attested_on"),
    }
    check_lengths(Therapist, therapist)
    if not any(clean.get(k) for k in LICENSE_COLUMNS):
        return therapist, None
    missing = [k for k in LICENSE_COLUMNS if not clean.get(k)]
    if missing:
        raise ValidationError(f"a license needs {', '.join(missing)}")
    kind = clean.get("license_kind") or "state_license"
    if kind not in LICENSE_KINDS or kind == "compact_privilege":
        raise ValidationError("license_kind must be state_license or temporary (add compact privileges on the "
                              "therapist's page, where their home license can be chosen)")
    if not is_state(clean["license_state"].upper()):
        raise ValidationError(f"license_state {clean['license_state']!r} is not a USPS state code")
    if clean["license_type"].upper() not in LICENSE_TYPES:
        raise ValidationError(f"license_type {clean['license_type']!r} is not one of {', '.join(LICENSE_TYPES)}")
    license = {"state": clean["license_state"].upper(), "license_type": clean["license_type"].upper(),
               "number": clean["license_number"], "kind": kind, "issued_on": _date(clean, "license_issued_on"),
               "expires_on": _date(clean, "license_expires_on")}
    check_lengths(License, license, label=lambda key: f"license_{key}")
    if license["expires_on"] <= license["issued_on"]:
        raise ValidationError("license_expires_on must be after license_issued_on")
    return therapist, license


def import_roster(text: str, actor=None, *, dry_run: bool = True,
                  progress: Callable[[int], None] | None = None) -> RosterReport:
    """Check a roster CSV row by row (one row per license; a therapist may span rows) and, when
    every row is good and this is no dry run, add them all in one transaction."""
    report = RosterReport()
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        report.errors.append((1, f"missing column(s): {', '.join(missing)}; columns are {', '.join(COLUMNS)}"))
        return report
    rows = []
    for line, row in enumerate(reader, start=2):
        report.rows += 1
        try:
            rows.append((line, *_parse(row)))
        except ValidationError as exc:
            report.errors.append((line, exc.message))
        if progress:
            progress(1)
    if not report.rows:
        report.errors.append((1, "the file has no rows"))
    emails = {t["email"] for _, t, _ in rows}
    existing = set(db.session.scalars(sa.select(Therapist.email).where(Therapist.email.in_(emails))))
    npis = {t["npi"] for _, t, _ in rows if t["npi"]}
    taken_npis = dict(db.session.execute(
        sa.select(Therapist.npi, Therapist.email).where(Therapist.npi.in_(npis))).all())
    keys = {(lic["state"], lic["license_type"], lic["number"]) for _, _, lic in rows if lic}
    taken_licenses = set()
    if keys:
        taken_licenses = set(db.session.execute(
            sa.select(License.state, License.license_type, License.number)
            .where(License.number.in_({k[2] for k in keys}))).all())
    first_seen: dict[str, tuple[int, dict]] = {}
    license_seen: dict[tuple, int] = {}
    npi_seen: dict[str, str] = {}
    for line, therapist, license in rows:
        email = therapist["email"]
        if email in existing:
            report.errors.append((line, f"{email} is already on the roster"))
            continue
        if email in first_seen and first_seen[email][1] != therapist:
            report.errors.append((line, f"{email} appears on line {first_seen[email][0]} with other details"))
        first_seen.setdefault(email, (line, therapist))
        npi = therapist["npi"]
        if npi and (taken_npis.get(npi) or npi_seen.get(npi, email)) != email:
            report.errors.append((line, f"NPI {npi} belongs to another therapist"))
        if npi:
            npi_seen.setdefault(npi, email)
        if license:
            key = (license["state"], license["license_type"], license["number"])
            if tuple(key) in taken_licenses:
                report.errors.append((line, f"{' '.join(key)} is already on file"))
            elif key in license_seen:
                report.errors.append((line, f"the same license as line {license_seen[key]}"))
            license_seen.setdefault(key, line)
    report.errors.sort()
    if dry_run or report.errors:
        return report
    try:
        made: dict[str, Therapist] = {}
        for _, therapist, license in rows:
            person = made.get(therapist["email"])
            if person is None:
                person = made[therapist["email"]] = Therapist(**therapist)
                db.session.add(person)
                report.therapists += 1
            if license:
                db.session.add(License(therapist=person, **license))
                report.licenses += 1
        db.session.flush()
        audit.record("create", None, f"imported a roster of {report.therapists} therapists and "
                     f"{report.licenses} licenses", actor=actor, object_type="roster_import")
        db.session.commit()
    except (DomainError, sa.exc.IntegrityError):
        db.session.rollback()
        raise
    return report
