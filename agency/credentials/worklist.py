"""Everything due or overdue across the agency's credentials, in one list sorted by urgency.

Each kind of deadline is one SELECT of the same columns (kind, subject, item id,
due date, therapist, state); together, under UNION ALL, they are the worklist,
and the daily scan and the dashboards read the same rows, so all three agree.
Filtering, counting, sorting and paging happen in SQL; only the rows shown are
loaded as objects, one query per source (_work_items).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased

from agency.core.dates import human_day
from agency.core.listing import Pager, contains_text
from agency.core.sqldates import add_days
from agency.credentials.ce import ce_progress_for, ce_shortfall
from agency.credentials.models import CAQHRule, CERule, Document, License, PanelEnrollment, Therapist, doc_type_label
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
# The kinds that expire on a date and get reminders; CE shortfalls and follow-ups are chores, not expiries.
DEADLINE_KINDS = ("license_expiring", "license_expired", "caqh_due", "panel_recredential", "document_expiring")

# How far ahead a CE shortfall is worth chasing: a cycle's last six months.
CE_LOOKAHEAD_DAYS = 180
# Panel follow-ups show up a week before the day they are due.
FOLLOW_UP_LOOKAHEAD_DAYS = 7
# Urgency bands in days left: within a week, a month, two months, three months.
URGENCY_BOUNDS = (7, 30, 60, 90)
URGENCIES = ("overdue", *(f"within_{b}" for b in URGENCY_BOUNDS), "later")

# Due windows the list can be narrowed to: the urgency bands, each as days left from..to (None: open).
WINDOWS = {
    "overdue": ("Overdue", None, -1),
    "within_7": ("Due within 7 days", 0, 7),
    "within_30": ("Due in 8 to 30 days", 8, 30),
    "within_60": ("Due in 31 to 60 days", 31, 60),
    "within_90": ("Due in 61 to 90 days", 61, 90),
    "later": ("Due after 90 days", 91, None),
}

# What clears each kind of item, and where: (button text, the form's endpoint, which argument names the
# item, the permission it needs). CAQH is a one-click button on the row (a POST), the rest open their form.
ACTIONS = {
    "license_expiring": ("Renew", "credentials.renew_license", "license_id", "credentials.edit"),
    "license_expired": ("Renew", "credentials.renew_license", "license_id", "credentials.edit"),
    "caqh_due": ("Attested today", "credentials.caqh_attested", "therapist_id", "therapists.edit"),
    "ce_shortfall": ("Add CE", "credentials.new_ce_record", "therapist_id", "credentials.edit"),
    "panel_follow_up": ("Follow up", "credentials.edit_panel", "panel_id", "credentials.edit"),
    "panel_recredential": ("Re-credential", "credentials.edit_panel", "panel_id", "credentials.edit"),
    "document_expiring": ("Upload renewal", "credentials.upload_document", "therapist_id", "documents.upload"),
}
ONE_CLICK = {"caqh_due"}

# The worklist's orders; every one ends on the item itself so pages never overlap.
SORTS = {"due": "Most urgent first", "-due": "Latest first", "therapist": "By therapist", "kind": "By kind"}


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
        for bound in URGENCY_BOUNDS:
            if days <= bound:
                return f"within_{bound}"
        return "later"

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]

    # Set for documents: the type a renewal upload is preselected to.
    doc_type: str | None = None

    @property
    def action(self) -> tuple[str, str, dict, str]:
        """(button text, endpoint, url arguments, permission) of the form that clears this item."""
        label, endpoint, key, permission = ACTIONS[self.kind]
        args = {key: self.therapist.id if key == "therapist_id" else self.item_id}
        if self.doc_type:
            args["doc_type"] = self.doc_type
        return label, endpoint, args, permission

    @property
    def one_click(self) -> bool:
        return self.kind in ONE_CLICK

    @property
    def verifiable(self) -> bool:
        """A license row may also just record a primary-source verification."""
        return self.subject == "license"


# ----------------------------------------------------------------------------- the sources, in SQL


def _text(value: str):
    # Inlined, not bound: the same constant in every branch of the union, typed alike on both databases.
    return sa.literal_column(f"'{value}'", sa.String)


def _row(kind, subject: str, item_id, due_on, state):
    return (kind.label("kind"), _text(subject).label("subject"), item_id.label("item_id"),
            due_on.label("due_on"), Therapist.id.label("therapist_id"), state.label("state"),
            Therapist.last_name.label("last_name"), Therapist.discipline.label("discipline"))


def _working_therapists():
    # Inactive therapists are off the roster: nothing of theirs needs chasing.
    return Therapist.status != "inactive"


def _not_superseded():
    """A license no later one of the same state and type has replaced (the renewal is what counts)."""
    newer = aliased(License)
    return ~sa.select(newer.id).where(
        newer.therapist_id == License.therapist_id, newer.state == License.state,
        newer.license_type == License.license_type, newer.expires_on > License.expires_on,
    ).exists()


def _licenses(as_of: date, until: date):
    expires = License.effective_expires_on
    kind = sa.case((License.status_on(as_of) == "expired", _text("license_expired")), else_=_text("license_expiring"))
    return (
        sa.select(*_row(kind, "license", License.id, expires, License.state))
        .join(Therapist, Therapist.id == License.therapist_id)
        # The first test lets an index find the candidates: the license's own expiry, or a home license's.
        .where(sa.or_(License.expires_on <= until, License.home_license_id.is_not(None)), expires <= until,
               _working_therapists(), _not_superseded())
    )


def _caqh(until: date):
    due = Therapist.caqh_attestation_due_on  # the home state's CAQH rule, as it stands now
    # The first test lets an index find the candidates: no rule's interval is shorter than the shortest.
    shortest = sa.select(sa.func.min(CAQHRule.interval_days)).scalar_subquery()
    fallback = current_app.config["CAQH_ATTESTATION_DAYS"]
    window = sa.case((shortest < fallback, shortest), else_=fallback)
    return sa.select(*_row(_text("caqh_due"), "caqh", Therapist.id, due, Therapist.home_state)).where(
        _working_therapists(), Therapist.caqh_id.is_not(None),
        Therapist.caqh_attested_on <= add_days(sa.literal(until), -window), due <= until,
    )


def _ce(as_of: date):
    return (
        sa.select(*_row(_text("ce_shortfall"), "ce", License.id, License.expires_on, License.state))
        .join(Therapist, Therapist.id == License.therapist_id)
        .join(CERule, sa.and_(CERule.state == License.state, CERule.license_type == License.license_type))
        .where(
            _working_therapists(), License.kind == "state_license",
            License.expires_on.between(as_of, as_of + timedelta(days=CE_LOOKAHEAD_DAYS)),
            _not_superseded(), ce_shortfall(),
        )
    )


def _recredentialing(until: date):
    return (
        sa.select(*_row(_text("panel_recredential"), "panel", PanelEnrollment.id,
                        PanelEnrollment.recredential_due_on, Therapist.home_state))
        .join(Therapist, Therapist.id == PanelEnrollment.therapist_id)
        .where(_working_therapists(), PanelEnrollment.status == "approved",
               PanelEnrollment.recredential_due_on <= until)
    )


def _follow_ups(as_of: date):
    return (
        sa.select(*_row(_text("panel_follow_up"), "panel_follow_up", PanelEnrollment.id,
                        PanelEnrollment.next_follow_up_on, Therapist.home_state))
        .join(Therapist, Therapist.id == PanelEnrollment.therapist_id)
        .where(_working_therapists(), PanelEnrollment.status.in_(("not_started", "submitted", "in_review")),
               PanelEnrollment.next_follow_up_on <= as_of + timedelta(days=FOLLOW_UP_LOOKAHEAD_DAYS))
    )


# One per license or course: several are current at once, and none replaces another.
SIDE_BY_SIDE_DOCUMENTS = ("license_copy", "ce_certificate")


def _documents(until: date):
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
    return (
        sa.select(*_row(_text("document_expiring"), "document", Document.id, Document.expires_on,
                        Therapist.home_state))
        .join(Therapist, sa.and_(Document.owner_type == "therapist", Document.owner_id == Therapist.id))
        .where(_working_therapists(), Document.expires_on <= until, ~superseded)
    )


def _items(as_of: date, until: date, kinds) -> sa.Subquery:
    """The union of the sources that can give one of the kinds, as a subquery of the common columns."""
    kinds = set(kinds)
    sources = []
    if kinds & {"license_expiring", "license_expired"}:
        sources.append(_licenses(as_of, until))
    if "caqh_due" in kinds:
        sources.append(_caqh(until))
    if "document_expiring" in kinds:
        sources.append(_documents(until))
    if "panel_recredential" in kinds:
        sources.append(_recredentialing(until))
    if "panel_follow_up" in kinds:
        sources.append(_follow_ups(as_of))
    if "ce_shortfall" in kinds:
        sources.append(_ce(as_of))
    items = sa.union_all(*sources).subquery("items")
    return sa.select(items).where(items.c.kind.in_(kinds)).subquery("wanted")


def deadline_rows(as_of: date, until: date) -> sa.Subquery:
    """The expiry deadlines (licenses, CAQH, documents, panel re-credentialing) due by until, as rows."""
    return _items(as_of, until, DEADLINE_KINDS)


def expiring_by_week(as_of: date, weeks: int) -> list[int]:
    """How many licenses and documents expire in each of the next weeks, as the worklist lists them.

    One aggregate query: a count per week, nothing loaded.
    """
    rows = _items(as_of, as_of + timedelta(weeks=weeks), ("license_expiring", "document_expiring"))
    starts = [as_of + timedelta(weeks=i) for i in range(weeks + 1)]
    counts = db.session.execute(sa.select(*(
        sa.func.count().filter(rows.c.due_on >= starts[i], rows.c.due_on < starts[i + 1]) for i in range(weeks)
    ))).one()
    return list(counts)


def urgency_of(due_on, as_of: date):
    """WorkItem.urgency in SQL, for counting without loading."""
    bands = [(due_on < as_of, _text("overdue"))]
    bands += [(due_on <= as_of + timedelta(days=b), _text(f"within_{b}")) for b in URGENCY_BOUNDS]
    return sa.case(*bands, else_=_text("later"))


# ----------------------------------------------------------------------------- the rows shown, as objects


def _ce_detail(progress) -> str:
    parts = []
    if progress.hours_short:
        parts.append(f"{progress.hours_short} of {progress.hours_required} h short")
    parts += [f"{t.topic.replace('_', ' ')} {t.shortfall} h short" for t in progress.topic_shortfalls]
    return "; ".join(parts)


def _license_item(row, lic: License) -> WorkItem:
    detail = f"{lic.kind.replace('_', ' ')} {lic.number}"
    if row.due_on != lic.expires_on:
        detail += f" (home license {lic.home_license.state} lapses {human_day(row.due_on)})"
    return WorkItem(row.kind, lic.id, row.due_on, lic.therapist, f"{lic.state} {lic.license_type}", detail,
                    row.state, "license")


def _work_items(rows, *, with_ce: bool) -> list[WorkItem]:
    """WorkItems for rows of the union, in their order: one query per source, whatever the rows.

    Each query runs even when it has nothing to fetch, so a page costs the same
    statements whatever is on it.
    """
    ids = defaultdict(set)
    for row in rows:
        ids[row.subject].add(row.item_id)
    therapists = {t.id: t for t in db.session.scalars(
        sa.select(Therapist).where(Therapist.id.in_({row.therapist_id for row in rows})))}
    licenses = {lic.id: lic for lic in db.session.scalars(
        sa.select(License).where(License.id.in_(ids["license"] | ids["ce"])))}
    documents = {d.id: d for d in db.session.scalars(sa.select(Document).where(Document.id.in_(ids["document"])))}
    panels = {p.id: p for p in db.session.scalars(
        sa.select(PanelEnrollment).where(PanelEnrollment.id.in_(ids["panel"] | ids["panel_follow_up"])))}
    progress = ce_progress_for([licenses[i] for i in sorted(ids["ce"])]) if with_ce else {}

    items = []
    for row in rows:
        t = therapists[row.therapist_id]
        if row.subject == "license":
            items.append(_license_item(row, licenses[row.item_id]))
        elif row.subject == "caqh":
            items.append(WorkItem(row.kind, t.id, row.due_on, t, "CAQH re-attestation",
                                  f"CAQH {t.caqh_id}, last attested {human_day(t.caqh_attested_on)}",
                                  row.state, "caqh"))
        elif row.subject == "ce":
            lic = licenses[row.item_id]
            items.append(WorkItem(row.kind, lic.id, row.due_on, t, f"CE for {lic.state} {lic.license_type}",
                                  _ce_detail(progress[lic.id]), row.state, "ce"))
        elif row.subject == "document":
            doc = documents[row.item_id]
            items.append(WorkItem(row.kind, doc.id, row.due_on, t, doc_type_label(doc.doc_type),
                                  doc.filename, row.state, "document", doc_type=doc.doc_type))
        else:
            panel = panels[row.item_id]
            if row.subject == "panel":
                title, detail = f"{panel.payer} re-credentialing", "approved panel"
            else:
                title, detail = f"{panel.payer} follow-up", f"status {panel.status.replace('_', ' ')}"
            items.append(WorkItem(row.kind, panel.id, row.due_on, t, title, detail, row.state, row.subject))
    return items


def work_items(rows) -> list[WorkItem]:
    """WorkItems for deadline rows (deadline_rows()), in their order; what the scan's reminders say."""
    return _work_items(rows, with_ce=False)


# ----------------------------------------------------------------------------- the lists


def deadlines(as_of: date, horizon_days: int, *, therapist_ids=None, limit: int | None = None) -> list[WorkItem]:
    """Expiry deadlines (licenses, CAQH, documents, panel re-credentialing) up to the horizon, soonest
    first: of the therapists therapist_ids selects (a query of ids; None: all), at most limit of them."""
    rows = deadline_rows(as_of, as_of + timedelta(days=horizon_days))
    query = sa.select(rows).order_by(rows.c.due_on, rows.c.kind, rows.c.last_name, rows.c.subject, rows.c.item_id)
    if therapist_ids is not None:
        query = query.where(rows.c.therapist_id.in_(therapist_ids))
    return work_items(db.session.execute(query.limit(limit)).all())


@dataclass
class WorklistPage(Pager):
    """One page of the worklist with the counts of the whole filtered list."""

    items: list[WorkItem]
    page: int
    per_page: int
    by_kind: dict[str, int] = field(default_factory=dict)
    by_urgency: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())


def _filtered(as_of: date, state: str | None, discipline: str | None, kind: str | None,
              q: str | None = None, window: str | None = None):
    until = as_of + timedelta(days=current_app.config["WORKLIST_HORIZON_DAYS"])
    items = _items(as_of, until, [kind] if kind else KINDS)
    query = sa.select(items)
    if state:
        query = query.where(items.c.state == state)
    if discipline:
        query = query.where(items.c.discipline == discipline)
    if q:
        # A therapist by name (first, last or both) or NPI: ids first, so the union keeps its columns.
        named = sa.select(Therapist.id).where(contains_text(
            q, Therapist.first_name + " " + Therapist.last_name, Therapist.last_name + ", " + Therapist.first_name,
            Therapist.npi))
        query = query.where(items.c.therapist_id.in_(named))
    if window in WINDOWS:
        _, first, last = WINDOWS[window]
        if first is not None:
            query = query.where(items.c.due_on >= as_of + timedelta(days=first))
        if last is not None:
            query = query.where(items.c.due_on <= as_of + timedelta(days=last))
    return items, query


def _order(c, sort: str):
    order = {
        "due": (c.due_on, c.kind, c.last_name),
        "-due": (c.due_on.desc(), c.kind, c.last_name),
        "therapist": (c.last_name, c.due_on, c.kind),
        "kind": (c.kind, c.due_on, c.last_name),
    }[sort if sort in SORTS else "due"]
    return (*order, c.subject, c.item_id)


def _ordered(items, query, sort: str):
    return query.order_by(*_order(items.c, sort))


def worklist_counts(as_of: date, *, state: str | None = None, discipline: str | None = None,
                    kind: str | None = None, q: str | None = None, window: str | None = None) -> WorklistPage:
    """The filtered worklist's counts per kind and urgency, one GROUP BY, and no rows loaded."""
    counts = _count_rows(as_of, _filtered(as_of, state, discipline, kind, q, window)[1].subquery("listed"))
    return _tallied(db.session.execute(sa.select(counts)).all())


def _count_rows(as_of: date, listed):
    """The listed rows' numbers per kind and urgency, as a subquery of (kind, urgency, n)."""
    # Grouped by the column, not the expression: its bound dates would differ between the two places.
    urged = sa.select(listed.c.kind, urgency_of(listed.c.due_on, as_of).label("urgency")).subquery("urged")
    return (sa.select(urged.c.kind, urged.c.urgency, sa.func.count().label("n"))
            .group_by(urged.c.kind, urged.c.urgency).subquery("counted"))


def _tallied(counts) -> WorklistPage:
    by_kind: dict[str, int] = defaultdict(int)
    by_urgency: dict[str, int] = defaultdict(int)
    for row in counts:
        by_kind[row.kind] += row.n
        by_urgency[row.urgency] += row.n
    return WorklistPage([], 1, 1, dict(by_kind), dict(by_urgency))


def worklist_page(as_of: date, *, state: str | None = None, discipline: str | None = None,
                  kind: str | None = None, q: str | None = None, window: str | None = None, sort: str = "due",
                  page: int = 1, per_page: int = 50) -> WorklistPage:
    """The credentialing worklist's page: overdue first, then by due date; counts per kind and urgency.

    One statement gives both the counts (a GROUP BY over the filtered list) and the page's rows:
    the list is built once, as a common table expression both read, and the page past the end is
    the last one, worked out in SQL from the counts. Only the page's rows are loaded as objects.
    """
    listed = _filtered(as_of, state, discipline, kind, q, window)[1].cte("listed")
    counts = _count_rows(as_of, listed)
    total = sa.select(sa.cast(sa.func.coalesce(sa.func.sum(counts.c.n), 0), sa.Integer)).scalar_subquery()
    # Pager.pages and the clamp below, in SQL.
    pages = sa.case((total > 0, (total + (per_page - 1)) // per_page), else_=1)
    wanted = max(page, 1)
    offset = (sa.case((pages < wanted, pages), else_=wanted) - 1) * per_page
    order = _order(listed.c, sort)
    shown = (sa.select(listed, sa.cast(sa.null(), sa.String).label("urgency"),
                       sa.cast(sa.null(), sa.Integer).label("n"),
                       sa.func.row_number().over(order_by=order).label("position"))
             .order_by(*order).limit(per_page).offset(offset).subquery("shown"))
    blank = [sa.null()] * (len(listed.c) - 1)
    rows = db.session.execute(sa.union_all(
        sa.select(shown),
        sa.select(counts.c.kind, *blank, counts.c.urgency, counts.c.n, sa.null()),
    )).all()
    result = _tallied(row for row in rows if row.n is not None)
    result.per_page = per_page
    result.page = min(wanted, result.pages)
    result.items = _work_items(sorted((row for row in rows if row.n is None), key=lambda row: row.position),
                               with_ce=True)
    return result


def worklist(as_of: date, *, state: str | None = None, discipline: str | None = None,
             kind: str | None = None, q: str | None = None, window: str | None = None,
             sort: str = "due") -> list[WorkItem]:
    """The whole filtered worklist in order (the CSV export); pages use worklist_page()."""
    items, query = _filtered(as_of, state, discipline, kind, q, window)
    return _work_items(db.session.execute(_ordered(items, query, sort)).all(), with_ce=True)
