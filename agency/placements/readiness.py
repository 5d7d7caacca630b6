"""Readiness: may this therapist start at this facility? One function answers for every caller.

The placement page, the readiness endpoint, matching and activation all call
readiness(). Matching checks many therapists at once, so the credentials it
needs are loaded in bulk into a CredentialSnapshot first.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa

from agency.credentials.ce import CEProgress, ce_progress_for
from agency.credentials.models import Document, License, Therapist
from agency.extensions import db

# CAQH must be re-attested within this many days of the check, or payers see a stale profile.
CAQH_WARNING_DAYS = 30

CODES = {
    "no_license_in_state": "No active license or compact privilege in {state} on {day}",
    "license_expired": "The {state} {license_type} license {number} lapsed on {expired}, before {day}",
    "do_not_place": "The therapist is marked do not place",
    "therapist_inactive": "The therapist is inactive",
    "document_missing": "{doc} is missing or expired on {day}",
    "panel_not_approved": "Not approved with any of the facility's payers ({payers})",
    "onboarding_incomplete": "{count} onboarding item(s) still open: {titles}",
    "license_expires_during_placement": "The {state} {license_type} license {number} lapses on "
                                        "{expires}, before the placement ends on {end}",
    "ce_shortfall": "CE short for the {state} {license_type} renewal on {expires}: {detail}",
    "caqh_attestation_due": "{detail}",
}


@dataclass
class Finding:
    code: str
    message: str

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


def finding(code: str, **values) -> Finding:
    return Finding(code, CODES[code].format(**values))


@dataclass
class Readiness:
    checked_on: date
    blockers: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.blockers

    def as_dict(self) -> dict:
        return {
            "ready": self.ready,
            "checked_on": self.checked_on.isoformat(),
            "blockers": [b.as_dict() for b in self.blockers],
            "warnings": [w.as_dict() for w in self.warnings],
        }


@dataclass
class CredentialSnapshot:
    """Documents and CE progress of a set of therapists, loaded in a fixed number of queries."""

    documents: dict[int, list[Document]]
    ce: dict[int, CEProgress]

    @classmethod
    def load(cls, therapists: list[Therapist]) -> "CredentialSnapshot":
        ids = [t.id for t in therapists]
        docs: dict[int, list[Document]] = defaultdict(list)
        if ids:
            for doc in db.session.scalars(
                sa.select(Document).where(Document.owner_type == "therapist", Document.owner_id.in_(ids))
            ):
                docs[doc.owner_id].append(doc)
        licenses = [lic for t in therapists for lic in t.licenses]
        return cls(documents=docs, ce=ce_progress_for(licenses))


def _iso(day: date) -> str:
    return day.isoformat()


def _license_findings(therapist: Therapist, state: str, day: date, end: date | None, result: Readiness,
                      snapshot: CredentialSnapshot) -> None:
    in_state = [lic for lic in therapist.licenses if lic.state == state]
    covering = [lic for lic in in_state if lic.covers(day)]
    if not covering:
        lapsed = sorted((lic for lic in in_state if lic.effective_expires_on < day),
                        key=lambda lic: lic.effective_expires_on)
        if lapsed:
            lic = lapsed[-1]
            result.blockers.append(finding(
                "license_expired", state=state, license_type=lic.license_type, number=lic.number,
                expired=_iso(lic.effective_expires_on), day=_iso(day)))
        else:
            result.blockers.append(finding("no_license_in_state", state=state, day=_iso(day)))
        return
    best = max(covering, key=License.effective_expires_on.fget)
    if end is not None and best.effective_expires_on < end:
        result.warnings.append(finding(
            "license_expires_during_placement", state=state, license_type=best.license_type,
            number=best.number, expires=_iso(best.effective_expires_on), end=_iso(end)))
    progress = snapshot.ce.get(best.id)
    if progress is not None and progress.has_shortfall:
        parts = []
        if progress.hours_short:
            parts.append(f"{progress.hours_short} h")
        parts += [f"{t.topic.replace('_', ' ')} {t.shortfall} h" for t in progress.topic_shortfalls]
        result.warnings.append(finding(
            "ce_shortfall", state=state, license_type=best.license_type,
            expires=_iso(best.expires_on), detail=", ".join(parts)))


def assess(therapist: Therapist, facility, service_states: list[str], start_on: date,
           end_on: date | None, as_of: date, *, checklist=None,
           snapshot: CredentialSnapshot | None = None) -> Readiness:
    """Blockers and warnings for this therapist working at this facility from start_on.

    Credentials are checked on the start date, or on as_of once the placement
    has started: a license that lapsed since still blocks.
    """
    snapshot = snapshot or CredentialSnapshot.load([therapist])
    day = max(start_on, as_of)
    result = Readiness(checked_on=day)
    if therapist.status == "do_not_place":
        result.blockers.append(finding("do_not_place"))
    elif therapist.status == "inactive":
        result.blockers.append(finding("therapist_inactive"))

    for state in service_states:
        _license_findings(therapist, state, day, end_on, result, snapshot)

    docs = snapshot.documents.get(therapist.id, [])
    for doc_type in facility.required_documents or []:
        if not any(d.doc_type == doc_type and d.is_current_on(day) for d in docs):
            result.blockers.append(finding("document_missing", doc=doc_type.replace("_", " ").capitalize(),
                                           day=_iso(day)))

    if facility.bills_insurance:
        payers = {p.lower() for p in facility.payers or []}
        approved = any(p.in_effect_on(day) and p.payer.lower() in payers for p in therapist.panels)
        if not approved:
            result.blockers.append(finding("panel_not_approved", payers=", ".join(facility.payers or [])))

    if checklist is not None:
        open_items = [item for item in checklist if not item.done]
        if open_items:
            result.blockers.append(finding(
                "onboarding_incomplete", count=len(open_items),
                titles="; ".join(item.title for item in open_items[:3])
                + ("…" if len(open_items) > 3 else "")))

    due = therapist.caqh_attestation_due_on
    if due is None:
        if facility.bills_insurance:
            result.warnings.append(finding("caqh_attestation_due", detail="No CAQH attestation on file"))
    elif due <= day + timedelta(days=CAQH_WARNING_DAYS):
        result.warnings.append(finding("caqh_attestation_due", detail=f"CAQH attestation due {_iso(due)}"))
    return result


def readiness(placement, as_of: date, *, snapshot: CredentialSnapshot | None = None) -> Readiness:
    """Readiness of a placement, including its onboarding checklist."""
    return assess(
        placement.therapist, placement.facility, placement.service_states, placement.start_on,
        placement.end_on, as_of, checklist=placement.checklist, snapshot=snapshot,
    )
