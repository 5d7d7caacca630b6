"""The compliance watch: onboarding and active placements that are, or will become before they end, not ready.

Which placements, which rule, and the first day it bites are found in SQL, one
SELECT of the same columns per rule under UNION ALL (as the credentialing
worklist is built), whatever the number of placements. Each rule asks what
readiness (readiness.py) asks, on the first day it fails: for a license or a
document, that day is the placement's first day in view (its start, or today)
or the day after one expires, when nothing else covers it. The words of each
item are readiness's own, judged on that day for the rows shown only.
"""

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app, url_for
from sqlalchemy.orm import aliased, joinedload

from agency.core.sqldates import add_days
from agency.credentials.models import Document, ExclusionHit, License, PanelEnrollment, Therapist, doc_type_label
from agency.credentials.screening import confirmed_exclusions
from agency.extensions import db
from agency.facilities.models import Facility
from agency.placements.models import ChecklistItem, Placement
from agency.placements.readiness import CredentialSnapshot, assess

# The placements watched: those a facility counts on now or soon.
WATCHED_STATUSES = Placement.COMMITTED


def _text(value: str):
    # Inlined, not bound: the same constant in every branch of the union, typed alike on both databases.
    return sa.literal_column(f"'{value}'", sa.String)


def _json_items(column):
    """The elements of a JSON list column as rows of one text column, value (a state, a payer, a type)."""
    name = "json_array_elements_text" if db.session.get_bind().dialect.name == "postgresql" else "json_each"
    return getattr(sa.func, name)(column).table_valued("value")


def watch_horizon(as_of: date) -> date:
    """How far ahead an open-ended placement is watched: as far as the worklist looks."""
    return as_of + timedelta(days=current_app.config["WORKLIST_HORIZON_DAYS"])


def _watched(as_of: date):
    """The watched placements with the first day readiness judges (its start, or today once started) and
    the last day that matters (its end; an open-ended one is watched to watch_horizon)."""
    horizon = watch_horizon(as_of)
    first = sa.case((Placement.start_on > as_of, Placement.start_on), else_=as_of)
    last = sa.func.coalesce(Placement.end_on, horizon)
    return (sa.select(Placement.id.label("placement_id"), Placement.therapist_id, Placement.facility_id,
                      Placement.service_states, first.label("first_day"), last.label("last_day"))
            .where(Placement.status.in_(WATCHED_STATUSES), last >= as_of)
            .cte("watched"))


def _row(w, code, bites_on):
    """A blocker of the placement as a whole (no state or document type to name)."""
    return (w.c.placement_id.label("placement_id"), code.label("code"), bites_on.label("bites_on"),
            sa.cast(sa.null(), sa.String).label("detail"))


def _therapist_status(w):
    code = sa.case((Therapist.status == "do_not_place", _text("do_not_place")), else_=_text("therapist_inactive"))
    return (sa.select(*_row(w, code, w.c.first_day)).join(Therapist, Therapist.id == w.c.therapist_id)
            .where(Therapist.status.in_(("do_not_place", "inactive"))))


def _onboarding(w):
    open_item = sa.select(ChecklistItem.id).where(ChecklistItem.placement_id == w.c.placement_id,
                                                  ChecklistItem.done.is_(False)).exists()
    return sa.select(*_row(w, _text("onboarding_incomplete"), w.c.first_day)).where(open_item)


def _licenses(w):
    """A service state on a day no license or compact privilege in it is in force (License.covers)."""
    states = _json_items(w.c.service_states)
    pairs = (sa.select(w.c.placement_id, w.c.therapist_id, w.c.first_day, w.c.last_day,
                       states.c.value.label("state"))
             .select_from(w).join(states, sa.true()).cte("service_pairs"))
    # A compact privilege lapses with its home-state license: the effective expiry says so.
    lapse_days = (sa.select(pairs.c.placement_id, pairs.c.state.label("detail"),
                            add_days(License.effective_expires_on, 1).label("day"),
                            pairs.c.first_day, pairs.c.last_day, pairs.c.therapist_id)
                  .select_from(pairs).join(License, sa.and_(License.therapist_id == pairs.c.therapist_id,
                                                            License.state == pairs.c.state)))
    first_days = sa.select(pairs.c.placement_id, pairs.c.state.label("detail"), pairs.c.first_day.label("day"),
                           pairs.c.first_day, pairs.c.last_day, pairs.c.therapist_id)
    days = sa.union_all(first_days, lapse_days).subquery("license_days")
    covering = aliased(License)
    covered = (sa.select(covering.id)
               .where(covering.therapist_id == days.c.therapist_id, covering.state == days.c.detail,
                      covering.issued_on <= days.c.day, covering.effective_expires_on >= days.c.day).exists())
    gaps = (sa.select(days.c.placement_id, days.c.detail, sa.func.min(days.c.day).label("day"),
                      sa.func.min(days.c.first_day).label("first_day"),
                      sa.func.min(days.c.therapist_id).label("therapist_id"))
            .where(days.c.day >= days.c.first_day, days.c.day <= days.c.last_day, ~covered)
            .group_by(days.c.placement_id, days.c.detail).subquery("license_gaps"))
    lapsed_before = aliased(License)
    # As readiness words it: a license that lapsed before the day, or none ever held in the state.
    lapsed = (sa.select(lapsed_before.id)
              .where(lapsed_before.therapist_id == gaps.c.therapist_id, lapsed_before.state == gaps.c.detail,
                     lapsed_before.effective_expires_on < gaps.c.day).exists())
    code = sa.case((lapsed, _text("license_expired")), else_=_text("no_license_in_state"))
    return sa.select(gaps.c.placement_id, code.label("code"), gaps.c.day.label("bites_on"),
                     sa.cast(gaps.c.detail, sa.String).label("detail"))


def _documents(w):
    """A document the facility requires, on a day none of that kind is current (Document.is_current_on)."""
    kinds = _json_items(Facility.required_documents)
    pairs = (sa.select(w.c.placement_id, w.c.therapist_id, w.c.first_day, w.c.last_day,
                       kinds.c.value.label("doc_type"))
             .select_from(w).join(Facility, Facility.id == w.c.facility_id).join(kinds, sa.true())
             .cte("required_pairs"))
    first_days = sa.select(pairs.c.placement_id, pairs.c.doc_type.label("detail"), pairs.c.first_day.label("day"),
                           pairs.c.first_day, pairs.c.last_day, pairs.c.therapist_id)
    expiry_days = (sa.select(pairs.c.placement_id, pairs.c.doc_type.label("detail"),
                             add_days(Document.expires_on, 1).label("day"), pairs.c.first_day, pairs.c.last_day,
                             pairs.c.therapist_id)
                   .select_from(pairs)
                   .join(Document, sa.and_(Document.owner_type == "therapist",
                                           Document.owner_id == pairs.c.therapist_id,
                                           Document.doc_type == pairs.c.doc_type,
                                           Document.expires_on.is_not(None))))
    days = sa.union_all(first_days, expiry_days).subquery("document_days")
    current = aliased(Document)
    covered = (sa.select(current.id)
               .where(current.owner_type == "therapist", current.owner_id == days.c.therapist_id,
                      current.doc_type == days.c.detail,
                      sa.or_(current.issued_on.is_(None), current.issued_on <= days.c.day),
                      sa.or_(current.expires_on.is_(None), current.expires_on >= days.c.day)).exists())
    gaps = (sa.select(days.c.placement_id, days.c.detail, sa.func.min(days.c.day).label("day"))
            .where(days.c.day >= days.c.first_day, days.c.day <= days.c.last_day, ~covered)
            .group_by(days.c.placement_id, days.c.detail).subquery("document_gaps"))
    return sa.select(gaps.c.placement_id, _text("document_missing").label("code"), gaps.c.day.label("bites_on"),
                     sa.cast(gaps.c.detail, sa.String).label("detail"))


def _of_payers(facility_id, payer):
    """The enrollment's payer is one of the facility's payers (names compared case aside)."""
    payers = _json_items(Facility.payers)
    return (sa.select(Facility.id).select_from(Facility).join(payers, sa.true())
            .where(Facility.id == facility_id, sa.func.lower(payer) == sa.func.lower(payers.c.value))
            .exists())


def _panels(w):
    """A facility that bills insurance, on a day no approval with any of its payers is in effect
    (PanelEnrollment.in_effect_on): its first day in view, or the day after a re-credentialing falls due."""
    insured = (sa.select(w.c.placement_id, w.c.therapist_id, w.c.facility_id, w.c.first_day, w.c.last_day)
               .select_from(w).join(Facility, Facility.id == w.c.facility_id)
               .where(Facility.bills_insurance.is_(True)).cte("insured"))
    first_days = sa.select(insured.c.placement_id, insured.c.therapist_id, insured.c.facility_id,
                           insured.c.first_day.label("day"), insured.c.first_day, insured.c.last_day)
    # Each approval's re-credentialing date is derived once, here, and read as a column below.
    approvals = (sa.select(PanelEnrollment.therapist_id, PanelEnrollment.payer, PanelEnrollment.status,
                           PanelEnrollment.effective_on, PanelEnrollment.recredential_due_on.label("due_on"))
                 .where(PanelEnrollment.status == "approved",
                        PanelEnrollment.therapist_id.in_(sa.select(insured.c.therapist_id)))
                 .cte("approvals"))
    lapse_days = (sa.select(insured.c.placement_id, insured.c.therapist_id, insured.c.facility_id,
                            add_days(approvals.c.due_on, 1).label("day"), insured.c.first_day, insured.c.last_day)
                  .select_from(insured)
                  .join(approvals, sa.and_(approvals.c.therapist_id == insured.c.therapist_id,
                                           approvals.c.due_on.is_not(None)))
                  .where(_of_payers(insured.c.facility_id, approvals.c.payer)))
    days = sa.union_all(first_days, lapse_days).subquery("panel_days")
    covering = approvals.alias("covering")
    covered = (sa.select(covering.c.therapist_id)
               .where(covering.c.therapist_id == days.c.therapist_id,
                      PanelEnrollment.in_effect_where(covering.c.status, covering.c.effective_on, covering.c.due_on,
                                                      days.c.day),
                      _of_payers(days.c.facility_id, covering.c.payer)).exists())
    gaps = (sa.select(days.c.placement_id, sa.func.min(days.c.day).label("day"))
            .where(days.c.day >= days.c.first_day, days.c.day <= days.c.last_day, ~covered)
            .group_by(days.c.placement_id).subquery("panel_gaps"))
    return sa.select(gaps.c.placement_id, _text("panel_not_approved").label("code"), gaps.c.day.label("bites_on"),
                     sa.cast(sa.null(), sa.String).label("detail"))


def _exclusions(w):
    """A confirmed exclusion in force on a watched day (ExclusionHit.excludes_on): from its date, or the first
    day in view when it took effect before; the detail is the latest confirmed hit, where the fix link goes."""
    bites = sa.case((ExclusionHit.excluded_on > w.c.first_day, ExclusionHit.excluded_on), else_=w.c.first_day)
    in_force = (sa.select(w.c.placement_id, bites.label("day"), ExclusionHit.id.label("hit_id"))
                .join(ExclusionHit, ExclusionHit.therapist_id == w.c.therapist_id)
                .where(ExclusionHit.status == "confirmed", ExclusionHit.excluded_on <= w.c.last_day,
                       sa.or_(ExclusionHit.reinstated_on.is_(None), ExclusionHit.reinstated_on > bites))
                .subquery("exclusions_in_force"))
    return (sa.select(in_force.c.placement_id, _text("excluded").label("code"),
                      sa.func.min(in_force.c.day).label("bites_on"),
                      sa.cast(sa.func.max(in_force.c.hit_id), sa.String).label("detail"))
            .group_by(in_force.c.placement_id))


def _caqh(w):
    """A CAQH attestation that falls due before the end (readiness warns of it), or none on file where
    the facility bills insurance."""
    due = Therapist.caqh_attestation_due_on  # the home state's CAQH rule, as it stands now
    bites = sa.case((Therapist.caqh_attested_on.is_(None), w.c.first_day),
                    (due < w.c.first_day, w.c.first_day), else_=due)
    return (sa.select(*_row(w, _text("caqh_attestation_due"), bites))
            .join(Therapist, Therapist.id == w.c.therapist_id)
            .join(Facility, Facility.id == w.c.facility_id)
            .where(sa.or_(sa.and_(Therapist.caqh_attested_on.is_(None), Facility.bills_insurance.is_(True)),
                          due <= w.c.last_day)))


def _held_hours(w):
    """Hours already recorded and held (billing/holds.py): the money a gap holds up, from its first held day.
    The detail is how many entries are held."""
    from agency.billing.models import TimesheetEntry  # billing builds on placements, not the other way

    return (sa.select(w.c.placement_id.label("placement_id"), _text("hours_held").label("code"),
                      sa.func.min(TimesheetEntry.work_date).label("bites_on"),
                      sa.cast(sa.func.count(TimesheetEntry.id), sa.String).label("detail"))
            .select_from(w).join(TimesheetEntry, TimesheetEntry.placement_id == w.c.placement_id)
            .where(TimesheetEntry.status == "held").group_by(w.c.placement_id))


def watch_rows(as_of: date) -> sa.Subquery:
    """Every watched placement's blockers as rows (placement_id, code, bites_on, detail): one per rule and
    state or document type, on the first day it bites."""
    w = _watched(as_of)
    return sa.union_all(_therapist_status(w), _onboarding(w), _licenses(w), _documents(w), _panels(w),
                        _caqh(w), _exclusions(w), _held_hours(w)).subquery("watch")


def watch_order(rows: sa.Subquery) -> tuple:
    """The watch's order of its rows: soonest first."""
    return rows.c.bites_on, rows.c.code, rows.c.placement_id, rows.c.detail


def _ordered(as_of: date):
    rows = watch_rows(as_of)
    return sa.select(rows).order_by(*watch_order(rows))


# ----------------------------------------------------------------------------- the rows shown, as items


@dataclass
class WatchItem:
    placement: Placement
    code: str
    message: str
    bites_on: date
    fix_url: str
    fix_label: str

    placement_id = property(lambda self: self.placement.id)
    therapist_id = property(lambda self: self.placement.therapist_id)
    facility_id = property(lambda self: self.placement.facility_id)
    status = property(lambda self: self.placement.status)


def _fix(placement: Placement, code: str, detail: str | None, bites_on: date,
         licenses: list[License], panels: list[PanelEnrollment], exclusions: list[ExclusionHit]) -> tuple[str, str]:
    """Where the blocker is cleared, and what the link says."""
    therapist_id = placement.therapist_id
    if code == "license_expired":
        lapsing = [lic for lic in licenses if lic.state == detail and lic.effective_expires_on < bites_on]
        lic = max(lapsing, key=License.effective_expires_on.fget)
        # A privilege that lapses with its home license is renewed at home.
        if lic.home_license is not None and lic.home_license.expires_on < lic.expires_on:
            lic = lic.home_license
        return url_for("credentials.edit_license", license_id=lic.id), f"Renew the {lic.state} license"
    if code == "no_license_in_state":
        return url_for("credentials.new_license", therapist_id=therapist_id), f"Add a {detail} license"
    if code == "document_missing":
        return (url_for("credentials.upload_document", therapist_id=therapist_id, doc_type=detail),
                "Upload the document")
    if code == "panel_not_approved":
        # The approval that ended with a missed re-credentialing is renewed on its own form.
        lapsed = [p for p in panels if p.recredential_due_on is not None
                  and p.recredential_due_on + timedelta(days=1) == bites_on]
        if lapsed:
            return url_for("credentials.edit_panel", panel_id=lapsed[0].id), f"Re-credential with {lapsed[0].payer}"
        return url_for("credentials.new_panel", therapist_id=therapist_id), "Record a panel approval"
    if code == "caqh_attestation_due":
        return url_for("credentials.edit_therapist", therapist_id=therapist_id), "Record the CAQH attestation"
    if code == "excluded":
        hit = next(hit for hit in exclusions if str(hit.id) == detail)
        return (url_for("screenings.exclusion_hit", screening_id=hit.screening_id, hit_id=hit.id),
                "Review the exclusion")
    if code == "hours_held":
        return url_for("placements.placement", placement_id=placement.id, _anchor="held-hours"), "Review the held hours"
    if code == "onboarding_incomplete":
        return url_for("placements.placement", placement_id=placement.id, _anchor="checklist"), "Work the checklist"
    return url_for("credentials.edit_therapist", therapist_id=therapist_id), "Review the therapist"


def _message(code: str, detail: str | None, findings) -> str:
    """Readiness's own words for the blocker on the day it bites (the state's or document's, if several)."""
    if code == "hours_held":
        count = int(detail)
        return (f"{count} timesheet entr{'y' if count == 1 else 'ies'} held: recorded for days the therapist "
                "could not bill, not approved or invoiced until the gap is resolved or an admin releases them")
    for found in findings:
        if found.code != code:
            continue
        if (detail is None or code == "excluded"  # one exclusion blocker at most: its detail is the hit's id
                or f" {detail} " in found.message  # a state: "in NJ on", "The NJ LCSW license"
                or found.message.startswith(doc_type_label(detail) + " ")):  # a document type
            return found.message
    # The agreement tests keep this from happening; if it ever did, the row still reads sensibly.
    return next((found.message for found in findings if found.code == code), CODE_LABELS[code])


def watch_items(rows) -> list[WatchItem]:
    """WatchItems for rows of watch_rows(), in their order, in a fixed number of queries whatever the rows."""
    ids = {row.placement_id for row in rows}
    placements = {p.id: p for p in db.session.scalars(
        sa.select(Placement).where(Placement.id.in_(ids))
        .options(joinedload(Placement.therapist), joinedload(Placement.facility),
                 joinedload(Placement.checklist))).unique()}
    therapist_ids = {p.therapist_id for p in placements.values()}
    licenses: dict[int, list[License]] = defaultdict(list)
    for lic in db.session.scalars(sa.select(License).where(License.therapist_id.in_(therapist_ids))
                                  .order_by(License.state, License.id).options(joinedload(License.home_license))):
        licenses[lic.therapist_id].append(lic)
    panels: dict[int, list[PanelEnrollment]] = defaultdict(list)
    for panel in db.session.scalars(sa.select(PanelEnrollment).where(
            PanelEnrollment.therapist_id.in_(therapist_ids), PanelEnrollment.status == "approved")):
        panels[panel.therapist_id].append(panel)
    documents: dict[int, list[Document]] = defaultdict(list)
    for doc in db.session.scalars(sa.select(Document).where(Document.owner_type == "therapist",
                                                            Document.owner_id.in_(therapist_ids))):
        documents[doc.owner_id].append(doc)
    # Only an "excluded" row words an exclusion (each row reads its own code's finding): none shown, no query.
    excluded = {placements[row.placement_id].therapist_id for row in rows if row.code == "excluded"}
    exclusions = confirmed_exclusions(excluded) if excluded else {}
    # CE progress only ever warns, so the watch does not load it.
    snapshot = CredentialSnapshot(licenses=licenses, panels=panels, documents=documents, ce={}, exclusions=exclusions)
    items = []
    for row in rows:
        p = placements[row.placement_id]
        judged = assess(p.therapist, p.facility, p.service_states, p.start_on, p.end_on, row.bites_on,
                        checklist=p.checklist, snapshot=snapshot)
        url, label = _fix(p, row.code, row.detail, row.bites_on, licenses[p.therapist_id], panels[p.therapist_id],
                          exclusions.get(p.therapist_id, []))
        items.append(WatchItem(p, row.code, _message(row.code, row.detail, judged.blockers + judged.warnings),
                               row.bites_on, url, label))
    return items


class Watch(Sequence):
    """The whole watch in order, counted; its items are made only for the slice asked for (a page,
    the soonest few), so a page costs the same statements however long the watch is."""

    def __init__(self, as_of: date, *, code: str | None = None, rows: list | None = None):
        """rows: the watch's rows as of that day, in watch_order, when already read (at_risk.watched_rows)."""
        self.as_of = as_of
        self.all_rows = rows if rows is not None else db.session.execute(_ordered(as_of)).all()
        self.rows = [row for row in self.all_rows if code in (None, row.code)]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return watch_items(self.rows[index])
        return watch_items([self.rows[index]])[0]

    @property
    def by_code(self) -> dict[str, int]:
        """How many of each blocker, whatever the filter."""
        return dict(Counter(row.code for row in self.all_rows))

    @property
    def placements(self) -> int:
        """How many placements the listed blockers fall on."""
        return len({row.placement_id for row in self.rows})

    @property
    def biting(self) -> int:
        """How many of the listed blockers bite already (today or on a start that has come)."""
        return sum(1 for row in self.rows if row.bites_on <= self.as_of)


# What each code is called in the watch's filters, counts and CSV.
CODE_LABELS = {
    "do_not_place": "Marked do not place", "therapist_inactive": "Therapist inactive",
    "no_license_in_state": "No license in the state", "license_expired": "License lapses",
    "document_missing": "Required document missing or expiring", "panel_not_approved": "Panel not approved",
    "onboarding_incomplete": "Onboarding items open", "caqh_attestation_due": "CAQH attestation due",
    "excluded": "On an exclusion list",
    "hours_held": "Hours held",
}
