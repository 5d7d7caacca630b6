"""Importing a therapist roster with their licenses from CSV: check every row, then all or nothing.

A row is checked by the same service checks as the therapist and license
pages (email, NPI, text, duplicates on file or earlier in the file); this
module only reads the cells.
"""

from collections.abc import Callable
from dataclasses import dataclass

from agency.core import audit
from agency.core.csvimport import CsvLayout, ImportReport, as_column, run_import
from agency.core.dates import parse_iso_date
from agency.core.errors import ValidationError
from agency.core.states import is_state
from agency.core.text import email_address
from agency.credentials import services
from agency.credentials.models import DISCIPLINES, LICENSE_KINDS, LICENSE_TYPES, License, Therapist
from agency.extensions import db

COLUMNS = ("first_name", "last_name", "email", "phone", "discipline", "npi", "home_state", "caqh_id",
           "caqh_attested_on", "license_state", "license_type", "license_number", "license_kind",
           "license_issued_on", "license_expires_on")
REQUIRED = ("first_name", "last_name", "email", "discipline", "home_state")
LAYOUT = CsvLayout(COLUMNS, REQUIRED)
LICENSE_COLUMNS = ("license_state", "license_type", "license_number", "license_issued_on", "license_expires_on")
# The license service's fields, named as the CSV's columns in its refusals.
LICENSE_FIELDS = {"state": "license_state", "license_type": "license_type", "number": "license_number",
                  "kind": "license_kind", "issued_on": "license_issued_on", "expires_on": "license_expires_on"}


@dataclass
class RosterReport(ImportReport):
    therapists: int = 0
    licenses: int = 0


def _date(row: dict, key: str):
    if not row.get(key):
        return None
    try:
        return parse_iso_date(row[key])
    except ValueError:
        raise ValidationError.on(key, "must be a date as YYYY-MM-DD") from None


def _therapist_values(row: dict) -> dict:
    for key in REQUIRED:
        if not row.get(key):
            raise ValidationError.on(key, "is required")
    if row["discipline"].upper() not in DISCIPLINES:
        raise ValidationError.on("discipline", f"{row['discipline']!r} is not one of {', '.join(DISCIPLINES)}")
    if not is_state(row["home_state"].upper()):
        raise ValidationError.on("home_state", f"{row['home_state']!r} is not a USPS state code")
    return {
        "first_name": row["first_name"], "last_name": row["last_name"], "email": row["email"],
        "phone": row.get("phone") or None, "discipline": row["discipline"].upper(),
        "npi": row.get("npi") or None, "home_state": row["home_state"].upper(),
        "caqh_id": row.get("caqh_id") or None, "caqh_attested_on": _date(row, "caqh_attested_on"),
    }


def _license_values(row: dict) -> dict | None:
    if not any(row.get(k) for k in LICENSE_COLUMNS):
        return None
    missing = [k for k in LICENSE_COLUMNS if not row.get(k)]
    if missing:
        raise ValidationError(f"a license needs {', '.join(missing)}")
    kind = row.get("license_kind") or "state_license"
    if kind not in LICENSE_KINDS or kind == "compact_privilege":
        raise ValidationError.on("license_kind", "must be state_license or temporary (add compact privileges "
                                 "on the therapist's page, where their home license can be chosen)")
    if not is_state(row["license_state"].upper()):
        raise ValidationError.on("license_state", f"{row['license_state']!r} is not a USPS state code")
    if row["license_type"].upper() not in LICENSE_TYPES:
        raise ValidationError.on("license_type", f"{row['license_type']!r} is not one of "
                                 f"{', '.join(LICENSE_TYPES)}")
    return {"state": row["license_state"].upper(), "license_type": row["license_type"].upper(),
            "number": row["license_number"], "kind": kind, "issued_on": _date(row, "license_issued_on"),
            "expires_on": _date(row, "license_expires_on")}


class _Roster:
    """The rows read so far: a therapist spans one row per license, with the same details on each."""

    def __init__(self):
        self.people: dict[str, tuple[dict, Therapist]] = {}
        self.licenses = 0

    def row(self, row: dict) -> None:
        values = _therapist_values(row)
        license = _license_values(row)
        person = self._person(values)
        if license is not None:
            with as_column(LICENSE_FIELDS):
                services.check_license(license, person, None)
            db.session.add(License(therapist=person, **license))
            self.licenses += 1
        db.session.flush()  # so the next rows are checked against this one as against the roster

    def _person(self, values: dict) -> Therapist:
        try:
            key = email_address(values["email"])
        except ValueError:
            key = None  # the service check says what is wrong with it
        if key in self.people:
            first, person = self.people[key]
            if {**values, "email": key} != first:
                raise ValidationError.on("email", f"{key} appears on an earlier line with other details")
            return person
        values = services.check_therapist(values, None)
        person = Therapist(**values)
        db.session.add(person)
        self.people[values["email"]] = (values, person)
        return person


def import_roster(text: bytes | str, actor=None, *, dry_run: bool = True,
                  progress: Callable[[int], None] | None = None) -> RosterReport:
    """Check a roster CSV row by row (one row per license; a therapist may span rows) and, when
    every row is good and this is no dry run, add them all in one transaction."""
    report = RosterReport()
    roster = _Roster()

    def finish():
        report.therapists, report.licenses = len(roster.people), roster.licenses
        audit.record("create", None, f"imported a roster of {report.therapists} therapists and "
                     f"{report.licenses} licenses", actor=actor, object_type="roster_import")

    return run_import(text, LAYOUT, report, roster.row, finish=finish, dry_run=dry_run, progress=progress)
