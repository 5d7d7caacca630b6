"""Timesheet entries: recorded per placement and day, approved or rejected, then invoiced."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from agency.billing import approvals, holds
from agency.billing.models import TimesheetEntry
from agency.core import audit, csvimport
from agency.core.bounds import parse_id
from agency.core.csvimport import CsvLayout, run_import
from agency.core.dates import human_day, parse_iso_date, today, utcnow
from agency.core.errors import Conflict, NotFound, ValidationError
from agency.core.integrity import refuse_taken
from agency.core.money import parse_decimal
from agency.core.permissions import facility_scope
from agency.core.persistence import lock, lock_all
from agency.credentials.models import Therapist
from agency.extensions import db
from agency.facilities.models import Facility
from agency.placements.models import Placement

DAY_LIMIT = Decimal("24")
# Travel billed for one day: beyond this it is a typo, not a trip.
DAY_MILES_LIMIT = Decimal("2000")


def get_entry(entry_id: int, actor=None) -> TimesheetEntry:
    """An entry, or NotFound when it is missing or outside a facility contact's facility."""
    entry = db.session.get(TimesheetEntry, entry_id)
    scope = facility_scope(actor)
    if entry is None or (scope is not None and entry.placement.facility_id != scope):
        raise NotFound(f"no timesheet entry with id {entry_id}")
    return entry


def recorded_hours(therapist_id: int, day: date, excluding: TimesheetEntry | None = None) -> Decimal:
    """Hours already recorded for the therapist on the day, across every placement.

    "At most 24 hours a day in all" counts them all; rejected entries do not count.
    """
    query = sa.select(sa.func.coalesce(sa.func.sum(
        TimesheetEntry.direct_care_hours + TimesheetEntry.supervision_hours), 0)).join(
        TimesheetEntry.placement).where(
        Placement.therapist_id == therapist_id, TimesheetEntry.work_date == day,
        TimesheetEntry.status != "rejected")
    if excluding is not None:
        query = query.where(TimesheetEntry.id != excluding.id)
    return Decimal(db.session.scalar(query))


def _check(values: dict, entry: TimesheetEntry | None) -> Placement:
    placement_id = values.get("placement_id", entry.placement_id if entry else None)
    placement = lock(Placement, placement_id or 0)  # its status as committed, not as loaded
    if placement is None:
        raise ValidationError.on("placement_id", "is not a placement")
    if placement.status not in Placement.STARTED:
        raise ValidationError.on("placement_id", f"the placement is {placement.status}; time is recorded "
                                 "only for active or completed placements")
    work_date = values.get("work_date", entry.work_date if entry else None)
    if work_date is None:
        raise ValidationError.on("work_date", "is required")
    if work_date < placement.start_on or (placement.end_on and work_date > placement.end_on):
        raise ValidationError.on("work_date", "is outside the placement's dates "
                                 f"({human_day(placement.start_on)} to "
                                 f"{human_day(placement.end_on) if placement.end_on else 'open'})")
    if work_date > today():
        raise ValidationError.on("work_date", "cannot be in the future")
    hours = {}
    for key in ("direct_care_hours", "supervision_hours", "travel_miles"):
        value = values.get(key, getattr(entry, key) if entry else Decimal(0))
        value = Decimal(0) if value is None else value
        if value < 0:
            raise ValidationError.on(key, "must not be negative")
        if key in values:
            values[key] = value  # a blank box is none of it
        hours[key] = value
    if hours["travel_miles"] > DAY_MILES_LIMIT:
        raise ValidationError.on("travel_miles", f"a day's travel is at most {DAY_MILES_LIMIT:,} miles")
    if hours["direct_care_hours"] + hours["supervision_hours"] > DAY_LIMIT:
        raise ValidationError.on("direct_care_hours", "a day has at most 24 hours in all")
    day_total = hours["direct_care_hours"] + hours["supervision_hours"]
    # One writer at a time per therapist, so two entries on two placements cannot both fit the same day.
    lock(Therapist, placement.therapist_id)
    if recorded_hours(placement.therapist_id, work_date, excluding=entry) + day_total > DAY_LIMIT:
        raise ValidationError.on("direct_care_hours",
                                 f"{placement.therapist.full_name} would have more than 24 hours on "
                                 f"{human_day(work_date)} across all placements")
    return placement


def record_entry(values: dict, actor=None) -> TimesheetEntry:
    """Record a day of work; a second entry for the same placement and day is a conflict."""
    placement = _check(values, None)
    duplicate = sa.select(TimesheetEntry.id).where(
        TimesheetEntry.placement_id == placement.id, TimesheetEntry.work_date == values["work_date"])
    if db.session.scalar(duplicate):
        raise Conflict(f"{placement.therapist.full_name} already has an entry on "
                       f"{human_day(values['work_date'])} for this placement; edit it instead",
                       {"work_date": ["already has an entry"]})
    entry = TimesheetEntry(**{k: v for k, v in values.items() if v is not None}, placement=placement,
                           created_by_id=getattr(actor, "id", None))
    entry.status = "submitted"
    holds.settle([entry], actor)
    db.session.add(entry)
    audit.record("create", entry, f"{human_day(entry.work_date)}: {entry.direct_care_hours} h direct care "
                 f"for {placement.therapist.full_name}" + _held_note(entry), actor=actor)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("an entry for this placement and day already exists") from None
    return entry


def _held_note(entry: TimesheetEntry) -> str:
    if entry.status != "held":
        return ""
    return "; held: " + "; ".join(reason["message"] for reason in entry.hold_reasons)


def update_entry(entry: TimesheetEntry, values: dict, actor=None) -> TimesheetEntry:
    """Correct an entry; invoiced entries are locked, and a correction goes back for approval (or stays
    held, judged again on its day)."""
    lock(Facility, entry.placement.facility_id)  # as invoice runs do: an entry is not corrected while billed
    entry = lock(TimesheetEntry, entry.id)
    if entry.status == "invoiced":
        raise Conflict("the entry is invoiced and locked; void the invoice to correct it")
    if values.get("placement_id", entry.placement_id) != entry.placement_id:
        raise ValidationError.on("placement_id", "an entry stays with its placement; record the day on the "
                                 "other placement instead")
    values = {k: v for k, v in values.items() if k not in ("placement_id", "status")}
    _check(values, entry)
    changes = audit.diff(entry, values)
    for key, value in values.items():
        setattr(entry, key, value)
    # A held entry keeps its reasons until judged again below, so a day held for want of a license
    # still needs a verified one.
    if changes and entry.status not in ("submitted", "held"):
        changes["status"] = [entry.status, "submitted"]
        entry.rejection_reason, entry.decided_at, entry.decided_by_id = None, None, None
        approvals.send_for_approval(entry)
    if "work_date" in changes and entry.released_at is not None:
        # An admin released the hours of one day; another day is judged afresh.
        changes["release_reason"] = [entry.release_reason, None]
        entry.released_at = entry.released_by_id = entry.release_reason = entry.released_codes = None
    if changes:
        audit.record("update", entry, f"timesheet entry {human_day(entry.work_date)}", actor=actor,
                     changes=changes)
        holds.settle([entry], actor)
    db.session.commit()
    return entry


@dataclass
class Decision:
    """What a decision changed, and the held entries an approval left as they are (never approved)."""

    changed: int = 0
    held: list[TimesheetEntry] = field(default_factory=list)


def held_sentence(entries: list[TimesheetEntry], actor=None) -> str:
    """Why held entries cannot be approved, in one sentence for a flash or a 409, in words the actor may read."""
    first = entries[0]
    reasons = "; ".join(r["message"] for r in holds.reasons_seen_by(first.hold_reasons, actor))
    more = f" (and {len(entries) - 1} more held entr{'y' if len(entries) == 2 else 'ies'})" if len(entries) > 1 else ""
    return (f"the entry of {human_day(first.work_date)} is held and cannot be approved: {reasons}{more}. "
            "Resolve the gap (a verified license, an approval with a payer) or have an admin release it")


def decide(entries: list[TimesheetEntry], approve: bool, actor, reason: str | None = None) -> Decision:
    """Approve or reject entries together; returns what changed.

    An approval never approves a held entry: the entries' locks are taken first, so an entry held by a
    credential change at the same moment is seen as held; entries to approve are judged again on their
    day (holds.judge). Held entries among others are left as they are and reported; an approval of
    held entries alone is refused (409). Rejection applies to held entries too.
    """
    if not approve and not (reason or "").strip():
        raise ValidationError.on("reason", "say why the hours are rejected")
    # As invoice runs do, so an entry is not rejected while a run bills it.
    lock_all(Facility, {entry.placement.facility_id for entry in entries})
    entries = lock_all(TimesheetEntry, [entry.id for entry in entries])
    for entry in entries:
        if entry.status == "invoiced":
            raise Conflict(f"the entry of {human_day(entry.work_date)} is already invoiced")
    outcome = Decision()
    if approve:
        # Hours returning from a rejection count again, held or not: checked while still rejected.
        _check_returning_hours([entry for entry in entries if entry.status == "rejected"])
        _hold_returning(entries, actor)
        outcome.held = [entry for entry in entries if entry.status == "held"]
        entries = [entry for entry in entries if entry.status != "held"]
        if outcome.held and not entries:
            raise Conflict(held_sentence(outcome.held, actor))
    target = "approved" if approve else "rejected"
    for entry in entries:
        if entry.status == target:
            continue
        old = entry.status
        entry.status, entry.hold_reasons = target, None
        entry.rejection_reason = None if approve else reason.strip()
        entry.decided_at = utcnow()
        entry.decided_by_id = getattr(actor, "id", None)
        audit.record("update", entry, f"{human_day(entry.work_date)} {target}", actor=actor,
                     changes={"status": [old, target]} | ({} if approve else {"reason": reason.strip()}))
        outcome.changed += 1
    db.session.commit()
    return outcome


def _hold_returning(entries: list[TimesheetEntry], actor) -> None:
    """Before an approval: the entries about to be approved judged on their day, those in a gap held.

    Rejected hours approved after all are judged as if recorded anew; a released one is held again only
    for a reason its release did not cover (holds.settle).
    """
    for entry in entries:
        if entry.status == "rejected":
            entry.status, entry.rejection_reason = "submitted", None
    holds.settle([entry for entry in entries if entry.status == "submitted"], actor)


def _check_returning_hours(entries: list[TimesheetEntry]) -> None:
    """Rejected hours approved after all count again: refuse them if their day would pass 24 hours."""
    returning = defaultdict(Decimal)
    for entry in entries:
        returning[(entry.placement.therapist, entry.work_date)] += entry.total_hours
    lock_all(Therapist, {therapist.id for therapist, _ in returning})
    for (therapist, day), hours in returning.items():
        if recorded_hours(therapist.id, day) + hours > DAY_LIMIT:
            raise ValidationError.on("status", f"{therapist.full_name} would have more than 24 hours on "
                                     f"{human_day(day)} across all placements")


# ----------------------------------------------------------------------------- CSV import

# A row names its placement by placement_id, or by therapist (name or NPI) and facility (name): the one
# billable placement of that therapist at that facility whose dates hold the work date.
CSV_COLUMNS = ("placement_id", "therapist", "facility", "work_date", "direct_care_hours", "supervision_hours",
               "travel_miles")
CSV_LAYOUT = CsvLayout(CSV_COLUMNS, ("work_date",))
CSV_COLUMN_HELP = {
    "placement_id": "the placement's number, as on its page; or leave it blank and give therapist and facility",
    "therapist": "the therapist's full name (First Last) or 10-digit NPI",
    "facility": "the facility's name, as on its page",
    "work_date": "the day worked, YYYY-MM-DD",
    "direct_care_hours": "hours of direct care (blank is 0)",
    "supervision_hours": "hours of supervision (blank is 0)",
    "travel_miles": "miles travelled (blank is 0)",
}


@dataclass
class ImportReport(csvimport.ImportReport):
    imported: int = 0
    # Of the imported entries, how many are held (billing/holds.py): recorded, not approvable yet.
    held: int = 0


def _therapist_matches(text: str):
    """The therapists a cell names: by NPI when it is ten digits, else by full name, case aside."""
    if text.isdigit() and len(text) == 10:
        return Therapist.npi == text
    name = " ".join(text.lower().split())
    return sa.func.lower(Therapist.first_name + " " + Therapist.last_name) == name


def _facility_named(text: str):
    return sa.func.lower(Facility.name) == " ".join(text.lower().split())


def placement_named(therapist: str, facility: str, work_date: date) -> int:
    """The id of the one billable placement of the therapist at the facility covering the work date.

    None or several is a refusal that says which, so a person can fix the row.
    """
    if not therapist or not facility:
        raise ValidationError.on("placement_id", "give placement_id, or both therapist and facility")
    query = (
        sa.select(Placement.id)
        .join(Therapist, Therapist.id == Placement.therapist_id)
        .join(Facility, Facility.id == Placement.facility_id)
        .where(_therapist_matches(therapist), _facility_named(facility),
               Placement.status.in_(Placement.STARTED), Placement.start_on <= work_date,
               sa.or_(Placement.end_on.is_(None), Placement.end_on >= work_date))
        .order_by(Placement.id).limit(2)
    )
    found = db.session.scalars(query).all()
    if len(found) == 1:
        return found[0]
    if found:
        raise ValidationError.on("therapist", f"{therapist} has more than one active placement at {facility} "
                                 f"on {work_date.isoformat()}; give the placement_id instead")
    known = db.session.scalar(sa.select(sa.func.count()).select_from(Therapist).where(_therapist_matches(therapist)))
    if not known:
        raise ValidationError.on("therapist", f"nobody on the roster is named {therapist} "
                                 "(give the full name, First Last, or the 10-digit NPI)")
    if not db.session.scalar(sa.select(Facility.id).where(_facility_named(facility)).limit(1)):
        raise ValidationError.on("facility", f"no facility is named {facility} (give its name as on its page)")
    raise ValidationError.on("placement_id", f"{therapist} has no active or completed placement at {facility} "
                             f"on {work_date.isoformat()}")


def _parse_row(row: dict) -> dict:
    values = {}
    try:
        values["work_date"] = parse_iso_date((row.get("work_date") or "").strip())
    except ValueError as exc:
        raise ValidationError.on("work_date", str(exc)) from None
    if raw_id := (row.get("placement_id") or "").strip():
        try:
            values["placement_id"] = parse_id(raw_id)
        except ValueError as exc:
            raise ValidationError.on("placement_id", str(exc)) from None
    else:
        values["placement_id"] = placement_named((row.get("therapist") or "").strip(),
                                                 (row.get("facility") or "").strip(), values["work_date"])
    for key in ("direct_care_hours", "supervision_hours", "travel_miles"):
        raw = (row.get(key) or "").strip() or "0"
        try:
            values[key] = parse_decimal(raw, places=2, minimum=None)
        except ValueError as exc:
            raise ValidationError.on(key, str(exc)) from None
    return values


def import_csv(text: str, actor=None, *, dry_run: bool = True) -> ImportReport:
    """Check every row of a timesheet CSV; import them all only if every row is good.

    Each row is checked as one entry typed on the page, with the file's earlier rows
    already recorded (so a day cannot appear twice, nor pass 24 hours), and all are
    written in one transaction.
    """
    report = ImportReport()
    entries = []

    def row(cells: dict) -> None:
        values = _parse_row(cells)
        _check(values, None)
        entry = TimesheetEntry(**values, created_by_id=getattr(actor, "id", None), status="submitted")
        refuse_taken(entry)
        db.session.add(entry)
        db.session.flush()
        entries.append(entry)

    def finish():
        # Every row's day judged at once: the credentials of all the file's therapists in a few queries.
        report.held = len(holds.settle(entries, actor))
        report.imported = len(entries)
        audit.record("create", None, f"imported {report.imported} timesheet entries from CSV", actor=actor,
                     object_type="timesheet_import")

    return run_import(text, CSV_LAYOUT, report, row, finish=finish, dry_run=dry_run)
