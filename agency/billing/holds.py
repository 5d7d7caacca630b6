"""Held hours: an entry for a day the therapist could not bill is recorded, but held.

One rule, judge(), for every path that records or changes an entry (the form, the
API, the CSV import, decisions) and for reassess(), which credential writes call:
a day is held when the therapist had no license or compact privilege in force in
a service state of the placement (License.covers: a privilege never outlives its
home license), was excluded that day (a confirmed exclusion hit in force), or,
where the facility bills insurance, was approved with none of its payers in
effect that day (PanelEnrollment.in_effect_on). A held entry is never approved
nor invoiced until its gap is resolved (a license back-dated and verified at the
primary source) or an admin releases it with a reason. A release covers the reasons it was given
for (their codes, kept with it): a reason of another code found later (an exclusion confirmed after a
license gap was released) holds the entry again, the release still standing for the codes it covered.

Who reads the reasons: staff with readiness.details see them as found; a facility contact sees only a
neutral sentence per code (reasons_seen_by), as readiness tells them only "Credentialing in progress".
"""

from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from agency.billing import approvals
from agency.billing.models import LIVE, BilledEntry, TimesheetEntry
from agency.core import audit
from agency.core.dates import human_day, utcnow
from agency.core.errors import Conflict, ValidationError
from agency.core.permissions import can
from agency.core.persistence import lock_all
from agency.credentials.models import ExclusionHit, License, PanelEnrollment
from agency.credentials.screening import confirmed_exclusions
from agency.extensions import db
from agency.facilities.models import Facility
from agency.placements.models import Placement
from agency.placements.readiness import finding, panel_finding

HOLD_CODES = ("no_license_in_state", "excluded", "panel_not_approved")
# Statuses whose hold is judged again: what has not been decided for good or billed.
OPEN_STATUSES = ("submitted", "held", "approved")
# The OIG: no federal health care program pays for items or services furnished by an excluded person.
EXCLUDED = ("Excluded from federal health care programs from {excluded_on}{until}: hours worked while excluded "
            "are not billable")
UNVERIFIED = " (the license recorded for the day is not yet verified at the primary source)"
# What a viewer without readiness.details reads of a hold: why, without the credentials behind it.
NEUTRAL = {
    "no_license_in_state": "Held until the therapist's license in this state is confirmed",
    "excluded": "Held for a compliance review",
    "panel_not_approved": "Held until the therapist's payer enrollment is confirmed",
}


def reasons_seen_by(reasons: list[dict] | None, actor) -> list[dict]:
    """The hold reasons this viewer may read: as found with readiness.details, otherwise one neutral
    sentence per code (the API, the portal, the pages and the CSV all ask here)."""
    reasons = list(reasons or [])
    if can(actor, "readiness.details"):
        return reasons
    codes = list(dict.fromkeys(r["code"] for r in reasons))
    return [{"code": code, "message": NEUTRAL[code]} for code in codes]


@dataclass
class Credentials:
    """What the rule reads of the therapists of some placements (their facilities, licenses in the service
    states, confirmed exclusions and approved panels), in four queries whatever their number."""

    licenses: dict[int, list[License]]
    exclusions: dict[int, list[ExclusionHit]]
    panels: dict[int, list[PanelEnrollment]]

    @classmethod
    def of(cls, placements) -> "Credentials":
        placements = list(placements)
        therapist_ids = sorted({p.therapist_id for p in placements})
        states = sorted({state for p in placements for state in p.service_states})
        licenses: dict[int, list[License]] = defaultdict(list)
        panels: dict[int, list[PanelEnrollment]] = defaultdict(list)
        if not therapist_ids:
            return cls(licenses, {}, panels)
        # The facilities in one query, so each placement then finds its own in the session.
        db.session.scalars(sa.select(Facility).where(Facility.id.in_({p.facility_id for p in placements}))).all()
        if states:
            for lic in db.session.scalars(sa.select(License).where(
                    License.therapist_id.in_(therapist_ids), License.state.in_(states))
                    .options(joinedload(License.home_license))):
                licenses[lic.therapist_id].append(lic)
        insured = sorted({p.therapist_id for p in placements if p.facility.bills_insurance})
        if insured:
            for panel in db.session.scalars(sa.select(PanelEnrollment).where(
                    PanelEnrollment.therapist_id.in_(insured), PanelEnrollment.status == "approved")):
                panels[panel.therapist_id].append(panel)
        return cls(licenses, confirmed_exclusions(therapist_ids), panels)


def _license_gaps(entry: TimesheetEntry, placement: Placement, creds: Credentials) -> list[dict]:
    # A day held for want of a license is freed only by one verified at the primary source: a license
    # back-dated after the fact is believed once the board's record says so.
    verified_only = any(r["code"] == "no_license_in_state" for r in entry.hold_reasons or [])
    found = []
    for state in placement.service_states:
        covering = [lic for lic in creds.licenses.get(placement.therapist_id, [])
                    if lic.state == state and lic.covers(entry.work_date)]
        if covering and (not verified_only or any(lic.verified_on for lic in covering)):
            continue
        message = finding("no_license_in_state", state=state, day=human_day(entry.work_date)).message
        found.append({"code": "no_license_in_state", "message": message + (UNVERIFIED if covering else "")})
    return found


def _excluded(entry: TimesheetEntry, placement: Placement, creds: Credentials) -> list[dict]:
    for hit in creds.exclusions.get(placement.therapist_id, []):
        if hit.excludes_on(entry.work_date):
            until = f" until {human_day(hit.reinstated_on)}" if hit.reinstated_on else ""
            return [{"code": "excluded",
                     "message": EXCLUDED.format(excluded_on=human_day(hit.excluded_on), until=until)}]
    return []


def _panel_gap(entry: TimesheetEntry, placement: Placement, creds: Credentials) -> list[dict]:
    facility = placement.facility
    if not facility.bills_insurance:
        return []
    found = panel_finding(facility, creds.panels.get(placement.therapist_id, []), entry.work_date)
    return [] if found is None else [found.as_dict()]


def judge(entries: list[TimesheetEntry], creds: Credentials | None = None) -> list[list[dict]]:
    """Why each entry must be held ([] when it need not), in the entries' order: the one rule."""
    placements = {e.placement_id: e.placement for e in entries}
    creds = creds or Credentials.of(placements.values())
    return [_license_gaps(e, placements[e.placement_id], creds) + _excluded(e, placements[e.placement_id], creds)
            + _panel_gap(e, placements[e.placement_id], creds) for e in entries]


def _uncovered(entry: TimesheetEntry, reasons: list[dict]) -> list[dict]:
    """The reasons an admin's release of the entry does not cover (all of them when it was not released)."""
    if entry.released_at is None:
        return reasons
    covered = set(entry.released_codes or [])
    return [r for r in reasons if r["code"] not in covered]


def settle(entries: list[TimesheetEntry], actor=None, creds: Credentials | None = None) -> list[TimesheetEntry]:
    """Hold the open entries that fall in a gap and send back to submitted the held ones whose gap is
    resolved; what changed. The caller holds the entries' locks (as decisions do) and commits.

    A released entry is held again only for a reason of a code its release did not cover (its release
    stands for the codes it covered, so once that new gap is resolved it is submitted again, still
    released); decided or billed entries are left as they are.
    """
    open_entries = [e for e in entries if e.status in OPEN_STATUSES]
    changed, events = [], []
    for entry, found in zip(open_entries, judge(open_entries, creds), strict=True):
        reasons = _uncovered(entry, found)
        if reasons and (entry.status != "held" or entry.hold_reasons != reasons):
            old = entry.status
            entry.status, entry.hold_reasons = "held", reasons
            entry.decided_at = entry.decided_by_id = None
            changed.append(entry)
            if entry.id is not None:  # a new entry's own creation says it is held
                events.append((entry, f"{human_day(entry.work_date)} held: "
                               + "; ".join(r["message"] for r in reasons),
                               {"status": [old, "held"], "hold_reasons": reasons}))
        elif not reasons and entry.status == "held":
            entry.hold_reasons = None
            approvals.send_for_approval(entry)
            changed.append(entry)
            events.append((entry, f"{human_day(entry.work_date)} no longer held: the gap is resolved",
                           {"status": ["held", "submitted"]}))
    audit.record_all("update", events, actor=actor)
    return changed


def settle_ids(entry_ids, actor=None) -> list[TimesheetEntry]:
    """Lock these entries and settle them, their placements and credentials read in a fixed number of
    queries; the caller holds their facilities' locks and commits."""
    entries = lock_all(TimesheetEntry, entry_ids)
    if not entries:
        return []
    placements = db.session.scalars(sa.select(Placement).where(
        Placement.id.in_({e.placement_id for e in entries}))
        .options(joinedload(Placement.facility), joinedload(Placement.therapist))).all()
    return settle(entries, actor, Credentials.of(placements))


def reassess(therapist_ids, actor=None) -> int:
    """Judge again the entries of these therapists not yet invoiced, after a credential changed; commits.

    Held entries whose gap is resolved go back to submitted; submitted or approved ones now in a gap
    are held. Locks as decisions do (the facilities, then the entries), so an approval at the same
    moment sees the hold. A fixed number of queries, whatever the number of entries.
    """
    ids = sorted(set(therapist_ids))
    if not ids:
        return 0
    billed = sa.select(BilledEntry.entry_id).where(BilledEntry.entry_id == TimesheetEntry.id, LIVE).exists()
    rows = db.session.execute(
        sa.select(TimesheetEntry.id, Placement.facility_id).join(TimesheetEntry.placement)
        .where(Placement.therapist_id.in_(ids), TimesheetEntry.status.in_(OPEN_STATUSES), ~billed)
    ).all()
    if not rows:
        return 0
    lock_all(Facility, {facility_id for _, facility_id in rows})
    changed = settle_ids([entry_id for entry_id, _ in rows], actor)
    db.session.commit()
    return len(changed)


def release(entry: TimesheetEntry, reason: str | None, actor) -> TimesheetEntry:
    """An admin releases a held entry to submitted with a reason; audited. The release covers the codes
    of the reasons it was held for (and of any earlier release of the entry): only a reason of another
    code holds it again."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError.on("reason", "say why the held hours are released")
    if len(reason) > 500:
        raise ValidationError.on("reason", "must be at most 500 characters")
    lock_all(Facility, [entry.placement.facility_id])
    entry = lock_all(TimesheetEntry, [entry.id])[0]
    if entry.status != "held":
        raise Conflict(f"the entry of {human_day(entry.work_date)} is {entry.status}, not held; "
                       "only held hours are released")
    reasons = entry.hold_reasons
    codes = sorted(set(entry.released_codes or []) | {r["code"] for r in reasons or []})
    actor_id = getattr(actor, "id", None)
    entry.hold_reasons = None
    approvals.send_for_approval(entry)
    entry.released_at, entry.released_by_id, entry.release_reason, entry.released_codes = (
        utcnow(), actor_id, reason, codes)
    audit.record("override", entry, f"{human_day(entry.work_date)} released from hold: {reason}", actor=actor,
                 changes={"status": ["held", "submitted"], "hold_reasons": reasons, "reason": reason,
                          "released_codes": entry.released_codes})
    db.session.commit()
    return entry


def held_query(placement_ids=None, facility_ids=None, through=None):
    """Held entries (of these placements or facilities, up to a day), oldest first, placement loaded."""
    query = (sa.select(TimesheetEntry).join(TimesheetEntry.placement)
             .where(TimesheetEntry.status == "held")
             .options(joinedload(TimesheetEntry.placement).joinedload(Placement.therapist))
             .order_by(TimesheetEntry.work_date, TimesheetEntry.id))
    if placement_ids is not None:
        query = query.where(TimesheetEntry.placement_id.in_(sorted(set(placement_ids))))
    if facility_ids is not None:
        query = query.where(Placement.facility_id.in_(sorted(set(facility_ids))))
    if through is not None:
        query = query.where(TimesheetEntry.work_date <= through)
    return query


def held_by_facility(period_end, facility_ids=None) -> dict[int, list[dict]]:
    """What an invoice run reports of held entries up to period_end, by facility: [{"entry_id", "reason"}]."""
    rows = db.session.execute(
        sa.select(TimesheetEntry.id, TimesheetEntry.hold_reasons, Placement.facility_id)
        .join(TimesheetEntry.placement)
        .where(TimesheetEntry.status == "held", TimesheetEntry.work_date <= period_end,
               *([Placement.facility_id.in_(sorted(set(facility_ids)))] if facility_ids is not None else []))
        .order_by(TimesheetEntry.id))
    held: dict[int, list[dict]] = defaultdict(list)
    for entry_id, reasons, facility_id in rows:
        held[facility_id].append({"entry_id": entry_id,
                                  "reason": "held: " + "; ".join(r["message"] for r in reasons or [])})
    return held


@dataclass
class HeldSummary:
    """A placement's held hours: how many entries and hours in all, and the oldest few with their reasons."""

    entries: int
    hours: object
    shown: list[TimesheetEntry]


def held_summary(placement_id: int, shown: int = 20) -> HeldSummary:
    """What the placement page says of its held hours, in two queries."""
    count, hours = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(
            TimesheetEntry.direct_care_hours + TimesheetEntry.supervision_hours), 0))
        .where(TimesheetEntry.placement_id == placement_id, TimesheetEntry.status == "held")).one()
    rows = db.session.scalars(held_query(placement_ids=[placement_id]).limit(shown)).all() if count else []
    return HeldSummary(count, hours, rows)
