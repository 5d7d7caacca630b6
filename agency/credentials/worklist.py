"""Everything due or overdue across the agency's credentials, in one list sorted by urgency.

The daily scan reminds about the same deadlines the worklist shows, so both
read them from deadlines() below.
"""

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased, joinedload

from agency.credentials.ce import ce_progress_for
from agency.credentials.models import Document, License, PanelEnrollment, Therapist
from agency.extensions import db

KINDS = {
    "license_expiring": "License expiring",
    "license_expired": "License expired",
    "caqh_due": "CAQH attestation",
    "ce_shortfall": "CE shortfall",
    "panel_follow_up": "Panel follow-up",
    "panel_recredential": "Panel re-credentialing",
    "document_expiring": "Document expiring",
}

# How far ahead a CE shortfall is worth chasing: a cycle's last six months.
CE_LOOKAHEAD_DAYS = 180
# Panel follow-ups show up a week before the day they are due.
FOLLOW_UP_LOOKAHEAD_DAYS = 7


@dataclass
class WorkItem:
    kind: str
    item_id: int
    due_on: date
    therapist: Therapist
    title: str
    detail: str
    state: str | None = None
    # Which object a reminder is about; license expiry and expired share "license".
    subject: str = ""

    def days_left(self, as_of: date) -> int:
        return (self.due_on - as_of).days

    def urgency(self, as_of: date) -> str:
        days = self.days_left(as_of)
        if days < 0:
            return "overdue"
        for bound in (7, 30, 60, 90):
            if days <= bound:
                return f"within_{bound}"
        return "later"

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]


def _working_therapists():
    # Inactive therapists are off the roster: nothing of theirs needs chasing.
    return Therapist.status != "inactive"


def _license_items(as_of: date, until: date) -> list[WorkItem]:
    newer = aliased(License)
    home = aliased(License)
    superseded = (
        sa.select(newer.id)
        .where(
            newer.therapist_id == License.therapist_id,
            newer.state == License.state,
            newer.license_type == License.license_type,
            newer.expires_on > License.expires_on,
        )
        .exists()
    )
    query = (
        sa.select(License)
        .join(License.therapist)
        .outerjoin(home, License.home_license_id == home.id)
        .where(
            _working_therapists(),
            sa.or_(License.expires_on <= until, home.expires_on <= until),
            ~superseded,
        )
        .options(joinedload(License.therapist))
    )
    items = []
    for lic in db.session.scalars(query).unique():
        expires = lic.effective_expires_on
        if expires > until:
            continue
        kind = "license_expired" if expires < as_of else "license_expiring"
        detail = f"{lic.kind.replace('_', ' ')} {lic.number}"
        if expires != lic.expires_on:
            detail += f" (home license {lic.home_license.state} lapses {expires.isoformat()})"
        items.append(WorkItem(kind, lic.id, expires, lic.therapist,
                              f"{lic.state} {lic.license_type}", detail, lic.state, "license"))
    return items


def _caqh_items(until: date) -> list[WorkItem]:
    window = timedelta(days=current_app.config["CAQH_ATTESTATION_DAYS"])
    query = sa.select(Therapist).where(
        _working_therapists(),
        Therapist.caqh_id.is_not(None),
        Therapist.caqh_attested_on <= until - window,
    )
    return [
        WorkItem("caqh_due", t.id, t.caqh_attestation_due_on, t, "CAQH re-attestation",
                 f"CAQH {t.caqh_id}, last attested {t.caqh_attested_on.isoformat()}",
                 t.home_state, "caqh")
        for t in db.session.scalars(query)
    ]


def _ce_items(as_of: date) -> list[WorkItem]:
    newer = aliased(License)
    superseded = (
        sa.select(newer.id)
        .where(newer.therapist_id == License.therapist_id, newer.state == License.state,
               newer.license_type == License.license_type,
               newer.expires_on > License.expires_on)
        .exists()
    )
    licenses = db.session.scalars(
        sa.select(License)
        .join(License.therapist)
        .where(
            _working_therapists(),
            License.kind == "state_license",
            License.expires_on >= as_of,
            License.expires_on <= as_of + timedelta(days=CE_LOOKAHEAD_DAYS),
            ~superseded,
        )
        .options(joinedload(License.therapist))
    ).unique().all()
    items = []
    for progress in ce_progress_for(licenses).values():
        if not progress.has_shortfall:
            continue
        lic = progress.license
        parts = []
        if progress.hours_short:
            parts.append(f"{progress.hours_short} of {progress.hours_required} h short")
        parts += [f"{t.topic.replace('_', ' ')} {t.shortfall} h short" for t in progress.topic_shortfalls]
        items.append(WorkItem("ce_shortfall", lic.id, lic.expires_on, lic.therapist,
                              f"CE for {lic.state} {lic.license_type}", "; ".join(parts),
                              lic.state, "ce"))
    return items


def _panel_items(as_of: date, until: date) -> list[WorkItem]:
    follow_until = as_of + timedelta(days=FOLLOW_UP_LOOKAHEAD_DAYS)
    query = (
        sa.select(PanelEnrollment)
        .join(PanelEnrollment.therapist)
        .where(
            _working_therapists(),
            sa.or_(
                sa.and_(PanelEnrollment.next_follow_up_on <= follow_until,
                        PanelEnrollment.status.in_(("not_started", "submitted", "in_review"))),
                sa.and_(PanelEnrollment.recredential_due_on <= until,
                        PanelEnrollment.status == "approved"),
            ),
        )
        .options(joinedload(PanelEnrollment.therapist))
    )
    items = []
    for panel in db.session.scalars(query).unique():
        t = panel.therapist
        if panel.status == "approved" and panel.recredential_due_on and panel.recredential_due_on <= until:
            items.append(WorkItem("panel_recredential", panel.id, panel.recredential_due_on, t,
                                  f"{panel.payer} re-credentialing", "approved panel",
                                  t.home_state, "panel"))
        elif panel.next_follow_up_on and panel.next_follow_up_on <= follow_until:
            items.append(WorkItem("panel_follow_up", panel.id, panel.next_follow_up_on, t,
                                  f"{panel.payer} follow-up",
                                  f"status {panel.status.replace('_', ' ')}", t.home_state,
                                  "panel_follow_up"))
    return items


# One per license or course: several are current at once, and none replaces another.
SIDE_BY_SIDE_DOCUMENTS = ("license_copy", "ce_certificate")


def _document_items(until: date) -> list[WorkItem]:
    newer = aliased(Document)
    # A renewal replaces the document before it: the same kind, filed later, issued no earlier,
    # and lasting longer. An old card filed without an expiry replaces nothing.
    superseded = (
        sa.select(newer.id)
        .where(newer.owner_type == Document.owner_type, newer.owner_id == Document.owner_id,
               newer.doc_type == Document.doc_type, Document.doc_type.not_in(SIDE_BY_SIDE_DOCUMENTS),
               newer.id > Document.id,
               sa.or_(newer.issued_on.is_(None), Document.issued_on.is_(None),
                      newer.issued_on >= Document.issued_on),
               sa.or_(newer.expires_on.is_(None), newer.expires_on > Document.expires_on))
        .exists()
    )
    rows = db.session.execute(
        sa.select(Document, Therapist)
        .join(Therapist, sa.and_(Document.owner_type == "therapist", Document.owner_id == Therapist.id))
        .where(_working_therapists(), Document.expires_on <= until, ~superseded)
    ).all()
    return [
        WorkItem("document_expiring", doc.id, doc.expires_on, t,
                 doc.doc_type.replace("_", " ").capitalize(), doc.filename, t.home_state,
                 "document")
        for doc, t in rows
    ]


def _all_items(as_of: date, until: date) -> list[WorkItem]:
    return (
        _license_items(as_of, until) + _caqh_items(until) + _document_items(until)
        + _panel_items(as_of, until)
    )


def deadlines(as_of: date, horizon_days: int) -> list[WorkItem]:
    """Expiry deadlines (licenses, CAQH, documents, panel re-credentialing) up to the horizon."""
    until = as_of + timedelta(days=horizon_days)
    return [i for i in _all_items(as_of, until) if i.kind != "panel_follow_up"]


def worklist(as_of: date, *, state: str | None = None, discipline: str | None = None,
             kind: str | None = None) -> list[WorkItem]:
    """The credentialing worklist: overdue first, then by due date; a bounded number of queries."""
    horizon = current_app.config["WORKLIST_HORIZON_DAYS"]
    until = as_of + timedelta(days=horizon)
    items = _all_items(as_of, until) + _ce_items(as_of)
    if state:
        items = [i for i in items if i.state == state]
    if discipline:
        items = [i for i in items if i.therapist.discipline == discipline]
    if kind:
        items = [i for i in items if i.kind == kind]
    items.sort(key=lambda i: (i.due_on, i.kind, i.therapist.last_name))
    return items
