"""Matching: the therapists who could take an open assignment, ranked, with the reasons.

Every candidate is judged by readiness.assess(), the same rule activation
uses, plus what only matters before an offer: discipline, availability and
other full-time work in the same weeks.
"""

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import load_only

from agency.core.dates import human_day
from agency.credentials.models import License, Therapist, disciplines_for
from agency.extensions import db
from agency.facilities.models import Facility
from agency.placements.models import Assignment, AssignmentAlert, Placement
from agency.placements.readiness import CredentialSnapshot, Readiness, assess


@dataclass
class Candidate:
    therapist: Therapist
    readiness: Readiness
    reasons_for: list[str] = field(default_factory=list)
    reasons_against: list[str] = field(default_factory=list)
    license_margin_days: int | None = None
    alerted: bool = False

    @property
    def eligible(self) -> bool:
        return not self.reasons_against

    def sort_key(self):
        # The agency will not place a do-not-place therapist at all, so however few other
        # reasons count against them they rank below everyone who could be placed.
        return (
            self.therapist.status == "do_not_place",
            len(self.reasons_against),
            len(self.readiness.warnings),
            -(self.license_margin_days or 0),
            self.therapist.last_name,
        )


def _license_reasons(candidate: Candidate, licenses: list[License], states: list[str], start: date) -> None:
    margins = []
    for state in states:
        covering = [lic for lic in licenses if lic.state == state and lic.covers(start)]
        if covering:
            best = max(covering, key=lambda lic: lic.effective_expires_on)
            margin = (best.effective_expires_on - start).days
            margins.append(margin)
            kind = "compact privilege" if best.kind == "compact_privilege" else best.kind.replace("_", " ")
            candidate.reasons_for.append(
                f"{state} {best.license_type} {kind} valid to {human_day(best.effective_expires_on)} "
                f"({margin} days past the start)"
            )
    candidate.license_margin_days = min(margins) if len(margins) == len(states) else None


def match_assignment(assignment: Assignment, as_of: date) -> list[Candidate]:
    """Every active or do-not-place therapist of the discipline, best first, in a fixed number of queries.

    Therapists of equal standing keep the roster's order (by id), so every page of the ranking is stable.
    """
    pool = sa.select(Therapist.id).where(Therapist.discipline.in_(disciplines_for(assignment.discipline)),
                                         Therapist.status != "inactive")
    # Only the columns ranking and the page read: the pool runs to thousands at a national agency.
    therapists = db.session.scalars(
        sa.select(Therapist).where(Therapist.id.in_(pool)).order_by(Therapist.id).options(load_only(
            Therapist.first_name, Therapist.last_name, Therapist.discipline, Therapist.status,
            Therapist.availability, Therapist.available_from, Therapist.hours_per_week,
            Therapist.caqh_attested_on, Therapist.caqh_rule_days))
    ).all()
    snapshot = CredentialSnapshot.for_opening(pool, assignment.facility, assignment.service_states)
    end = assignment.end_on
    # The other full-time work in the same weeks, as (facility name, start) of the earliest-made placement.
    busy = {}
    for therapist_id, facility_name, start_on in db.session.execute(
        sa.select(Placement.therapist_id, Facility.name, Placement.start_on).join(Placement.facility).where(
            Placement.therapist_id.in_(pool),
            Placement.status.in_(Placement.LIVE),
            Placement.start_on <= end,
            sa.or_(Placement.end_on.is_(None), Placement.end_on >= assignment.start_on),
            Placement.is_full_time,
            # A proposal for this very assignment is the match itself, not other work.
            sa.or_(Placement.assignment_id.is_(None), Placement.assignment_id != assignment.id),
        ).order_by(Placement.id)
    ):
        busy.setdefault(therapist_id, (facility_name, start_on))
    alerted = set(db.session.scalars(
        sa.select(AssignmentAlert.therapist_id).where(AssignmentAlert.assignment_id == assignment.id)
    ))

    candidates = []
    for therapist in therapists:
        result = assess(therapist, assignment.facility, assignment.service_states, assignment.start_on,
                        end, as_of, snapshot=snapshot)
        candidate = Candidate(therapist, result, alerted=therapist.id in alerted)
        candidate.reasons_for.append(f"{therapist.discipline} matches the {assignment.discipline} opening")
        _license_reasons(candidate, snapshot.licenses.get(therapist.id, []), assignment.service_states,
                         assignment.start_on)
        candidate.reasons_against += [b.message for b in result.blockers]
        if assignment.facility.bills_insurance and not any(b.code == "panel_not_approved"
                                                           for b in result.blockers):
            candidate.reasons_for.append("Approved with one of the facility's payers")
        if assignment.facility.required_documents and not any(b.code == "document_missing"
                                                              for b in result.blockers):
            candidate.reasons_for.append("Every required document on file and current")
        if therapist.availability == "unavailable":
            candidate.reasons_against.append("Marked unavailable")
        elif therapist.available_from and therapist.available_from > assignment.start_on:
            candidate.reasons_against.append(
                f"Available only from {human_day(therapist.available_from)}")
        else:
            candidate.reasons_for.append(f"Availability: {therapist.availability}")
        if therapist.hours_per_week and assignment.hours_per_week > therapist.hours_per_week:
            candidate.reasons_against.append(
                f"Wants {therapist.hours_per_week} h a week; the job is {assignment.hours_per_week}")
        if therapist.id in busy:
            facility_name, start_on = busy[therapist.id]
            candidate.reasons_against.append(
                f"Already placed full-time at {facility_name} from {human_day(start_on)}")
        candidates.append(candidate)
    candidates.sort(key=Candidate.sort_key)
    return candidates
