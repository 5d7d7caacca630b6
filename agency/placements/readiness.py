"""Readiness: may this therapist start at this facility? One function answers for every caller.

The placement page, the readiness endpoint, matching and activation all call
readiness(). Matching checks many therapists at once, so the credentials it
needs are loaded in bulk into a CredentialSnapshot first.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from agency.core.dates import human_day
from agency.core.permissions import can
from agency.credentials.ce import CEProgress, ce_progress_for
from agency.credentials.models import Document, ExclusionHit, License, PanelEnrollment, Therapist, doc_type_label
from agency.credentials.screening import confirmed_exclusions, source_label
from agency.extensions import db

# CAQH must be re-attested within this many days of the check, or payers see a stale profile.
CAQH_WARNING_DAYS = 30

CODES = {
    "no_license_in_state": "No active license or compact privilege in {state} on {day}",
    "license_expired": "The {state} {license_type} license {number} lapsed on {expired}, before {day}",
    "do_not_place": "The therapist is marked do not place",
    "excluded": "Excluded since {excluded}: listed on the {list} screened {screened}",
    "therapist_inactive": "The therapist is inactive",
    "document_missing": "{doc} is missing or expired on {day}",
    "panel_not_approved": "Not approved with any of the facility's payers ({payers})",
    "onboarding_incomplete": "{count} onboarding item(s) still open: {titles}",
    "license_expires_during_placement": "The {state} {license_type} license {number} lapses on "
                                        "{expires}, before the placement ends on {end}",
    "ce_shortfall": "CE short for the {state} {license_type} renewal on {expires}: {detail}",
    "caqh_attestation_due": "{detail}",
    "in_progress": "Credentialing in progress",
}

# panel_not_approved, when it is a missed re-credentialing that ended the approval.
RECREDENTIAL_MISSED = ("Re-credentialing with {payer} was due on {due}: not approved with any of the facility's "
                       "payers ({payers}) on {day}")


@dataclass
class Finding:
    code: str
    message: str
    # The document type a document_missing blocker is about, for the page's "Request from therapist".
    doc_type: str | None = None

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

    def as_seen_by(self, actor) -> "Readiness":
        """What this viewer may know: every finding with readiness.details; otherwise (a facility
        contact) only ready or not, with one neutral reason and none of the credentials behind it."""
        if can(actor, "readiness.details"):
            return self
        return Readiness(self.checked_on, blockers=[] if self.ready else [finding("in_progress")])

    def as_dict(self) -> dict:
        return {
            "ready": self.ready,
            "checked_on": self.checked_on.isoformat(),
            "blockers": [b.as_dict() for b in self.blockers],
            "warnings": [w.as_dict() for w in self.warnings],
        }


@dataclass
class CredentialSnapshot:
    """What readiness reads of a set of therapists (licenses, panels, documents, CE progress, confirmed
    exclusions), by therapist id."""

    licenses: dict[int, list[License]]
    panels: dict[int, list[PanelEnrollment]]
    documents: dict[int, list[Document]]
    ce: dict[int, CEProgress]
    exclusions: dict[int, list[ExclusionHit]]

    @classmethod
    def of(cls, therapist: Therapist, facility) -> "CredentialSnapshot":
        """One therapist's credentials, through the therapist's own (often already loaded) collections."""
        return cls(licenses={therapist.id: therapist.licenses}, panels={therapist.id: therapist.panels},
                   documents=_documents(Document.owner_id == therapist.id, facility.required_documents or []),
                   ce=ce_progress_for(therapist.licenses), exclusions=confirmed_exclusions([therapist.id]))

    @classmethod
    def for_opening(cls, therapist_ids, facility, service_states: list[str]) -> "CredentialSnapshot":
        """The credentials of many therapists that can matter for one opening, in a fixed number of queries.

        therapist_ids may be a subquery. Only what assess() looks at is loaded: licenses in the service
        states (with the home licenses compact privileges rest on), panels if the facility bills
        insurance, documents of the kinds it requires, and CE for the licenses loaded.
        """
        licenses: dict[int, list[License]] = defaultdict(list)
        panels: dict[int, list[PanelEnrollment]] = defaultdict(list)
        if service_states:
            for lic in db.session.scalars(sa.select(License).where(
                    License.therapist_id.in_(therapist_ids), License.state.in_(service_states))
                    .order_by(License.state, License.id).options(joinedload(License.home_license))):
                licenses[lic.therapist_id].append(lic)
        if facility.bills_insurance:
            # Only an approved enrollment can be in effect (PanelEnrollment.in_effect_on decides the rest).
            for panel in db.session.scalars(sa.select(PanelEnrollment).where(
                    PanelEnrollment.therapist_id.in_(therapist_ids), PanelEnrollment.status == "approved")
                    .order_by(PanelEnrollment.payer)):
                panels[panel.therapist_id].append(panel)
        documents = _documents(Document.owner_id.in_(therapist_ids), facility.required_documents or [])
        return cls(licenses=licenses, panels=panels, documents=documents,
                   ce=ce_progress_for([lic for held in licenses.values() for lic in held]),
                   exclusions=confirmed_exclusions(therapist_ids))


def _documents(owners, doc_types: list[str]) -> dict[int, list[Document]]:
    """Therapists' documents of the kinds a facility requires, by owner (none asked, no query)."""
    docs: dict[int, list[Document]] = defaultdict(list)
    if doc_types:
        for doc in db.session.scalars(sa.select(Document).where(
                Document.owner_type == "therapist", owners, Document.doc_type.in_(doc_types))):
            docs[doc.owner_id].append(doc)
    return docs


def _license_findings(therapist: Therapist, state: str, day: date, end: date | None, result: Readiness,
                      snapshot: CredentialSnapshot) -> None:
    in_state = [lic for lic in snapshot.licenses.get(therapist.id, []) if lic.state == state]
    covering = [lic for lic in in_state if lic.covers(day)]
    if not covering:
        lapsed = sorted((lic for lic in in_state if lic.status_on(day) == "expired"),
                        key=lambda lic: lic.effective_expires_on)
        if lapsed:
            lic = lapsed[-1]
            result.blockers.append(finding(
                "license_expired", state=state, license_type=lic.license_type, number=lic.number,
                expired=human_day(lic.effective_expires_on), day=human_day(day)))
        else:
            result.blockers.append(finding("no_license_in_state", state=state, day=human_day(day)))
        return
    best = max(covering, key=lambda lic: lic.effective_expires_on)
    if end is not None and best.effective_expires_on < end:
        result.warnings.append(finding(
            "license_expires_during_placement", state=state, license_type=best.license_type,
            number=best.number, expires=human_day(best.effective_expires_on), end=human_day(end)))
    progress = snapshot.ce.get(best.id)
    if progress is not None and progress.has_shortfall:
        parts = []
        if progress.hours_short:
            parts.append(f"{progress.hours_short} h")
        parts += [f"{t.topic.replace('_', ' ')} {t.shortfall} h" for t in progress.topic_shortfalls]
        result.warnings.append(finding(
            "ce_shortfall", state=state, license_type=best.license_type,
            expires=human_day(best.expires_on), detail=", ".join(parts)))


def panel_finding(facility, panels: list[PanelEnrollment], day: date) -> Finding | None:
    """None when an approval with one of the facility's payers is in effect on the day; else why not, naming
    the re-credentialing that was missed when that is what ended the last approval."""
    payers = {p.lower() for p in facility.payers or []}
    of_payers = [p for p in panels if p.payer.lower() in payers]
    if any(p.in_effect_on(day) for p in of_payers):
        return None
    listed = ", ".join(facility.payers or [])
    overdue = [p for p in of_payers if p.status == "approved" and p.recredential_due_on is not None
               and p.recredential_due_on < day]
    if overdue:
        lapsed = max(overdue, key=lambda p: p.recredential_due_on)
        return Finding("panel_not_approved", RECREDENTIAL_MISSED.format(
            payer=lapsed.payer, due=human_day(lapsed.recredential_due_on), day=human_day(day), payers=listed))
    return finding("panel_not_approved", payers=listed)


def assess(therapist: Therapist, facility, service_states: list[str], start_on: date,
           end_on: date | None, as_of: date, *, checklist=None,
           snapshot: CredentialSnapshot | None = None) -> Readiness:
    """Blockers and warnings for this therapist working at this facility from start_on.

    Credentials are checked on the start date, or on as_of once the placement
    has started: a license that lapsed since still blocks.
    """
    snapshot = snapshot or CredentialSnapshot.of(therapist, facility)
    day = max(start_on, as_of)
    result = Readiness(checked_on=day)
    if therapist.status == "do_not_place":
        result.blockers.append(finding("do_not_place"))
    elif therapist.status == "inactive":
        result.blockers.append(finding("therapist_inactive"))

    # An excluded person's services are not payable by federal health care programs from the exclusion
    # date (42 CFR 1001.1901), whatever the facility bills.
    exclusion = next((hit for hit in snapshot.exclusions.get(therapist.id, []) if hit.excludes_on(day)), None)
    if exclusion is not None:
        result.blockers.append(finding(
            "excluded", excluded=human_day(exclusion.excluded_on),
            list=source_label(exclusion.screening.source, exclusion.screening.list_state),
            screened=human_day(exclusion.screening.screened_on)))

    for state in service_states:
        _license_findings(therapist, state, day, end_on, result, snapshot)

    docs = snapshot.documents.get(therapist.id, [])
    for doc_type in facility.required_documents or []:
        if not any(d.doc_type == doc_type and d.is_current_on(day) for d in docs):
            missing = finding("document_missing", doc=doc_type_label(doc_type), day=human_day(day))
            missing.doc_type = doc_type
            result.blockers.append(missing)

    if facility.bills_insurance:
        panel = panel_finding(facility, snapshot.panels.get(therapist.id, []), day)
        if panel is not None:
            result.blockers.append(panel)

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
        result.warnings.append(finding("caqh_attestation_due", detail=f"CAQH attestation due {human_day(due)}"))
    return result


def readiness(placement, as_of: date, *, snapshot: CredentialSnapshot | None = None) -> Readiness:
    """Readiness of a placement, including its onboarding checklist."""
    return assess(
        placement.therapist, placement.facility, placement.service_states, placement.start_on,
        placement.end_on, as_of, checklist=placement.checklist, snapshot=snapshot,
    )
