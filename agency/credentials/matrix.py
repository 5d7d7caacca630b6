"""The panel matrix: therapists down, payers across, each cell a therapist's enrollment with a payer.

Payers are typed per enrollment, so one column holds every spelling of a payer's name that differs
only in case or in the spaces around it ("Aetna", "aetna "); it is headed by its most used spelling.
The rows are the therapists on the roster (inactive ones are off it, as on the worklist), by name.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from flask import current_app

from agency.core.api import Choice, Schema, State
from agency.core.dates import today
from agency.credentials.models import DISCIPLINES, License, PanelEnrollment, Therapist, disciplines_for
from agency.credentials.worklist import FOLLOW_UP_LOOKAHEAD_DAYS, _working_therapists
from agency.extensions import db

# An enrollment still on its way to a decision: the ones a follow-up date chases.
PENDING = ("not_started", "submitted", "in_review")

FILTERS = Schema(
    "PanelMatrixFilters",
    state=State(description="therapists holding a license, compact privilege or temporary license in the "
                            "state, in force or not (payers enroll a clinician per state license)"),
    discipline=Choice(choices=DISCIPLINES, description="the discipline; a counselor title (LPC, LMHC, LCPC, "
                                                       "LPCC) finds the other titles of the same license too"),
)


def parse_filters(args) -> dict:
    """The page's and the API's filters, checked by FILTERS: an unknown state or discipline is a ValidationError."""
    return FILTERS.load(args, partial=True, blank_is_null=False)


def payer_key(column):
    """The column a payer's name falls in: its name in lower case, the spaces around it dropped."""
    return sa.func.lower(sa.func.trim(column))


def therapists(state: str | None = None, discipline: str | None = None):
    """The matrix's rows as a select(): therapists on the roster, licensed in the state, of the discipline."""
    query = sa.select(Therapist).where(_working_therapists())
    if discipline:
        query = query.where(Therapist.discipline.in_(disciplines_for(discipline)))
    if state:
        query = query.where(sa.select(License.id).where(License.therapist_id == Therapist.id,
                                                        License.state == state).exists())
    return query.order_by(Therapist.last_name, Therapist.first_name, Therapist.id)


def _tenths(total: int, count: int) -> Decimal:
    return (Decimal(total) / count).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass
class Payer:
    """A column: its key, the name it is shown by, and its cycle time over the whole matrix."""

    key: str
    name: str
    enrollments: int = 0
    approved: int = 0
    cycle_days_total: int = 0

    @property
    def average_cycle_days(self) -> Decimal | None:
        """Mean days from submission to approval over every approved enrollment in the matrix, every page."""
        return _tenths(self.cycle_days_total, self.approved) if self.approved else None


def payers(rows) -> list[Payer]:
    """Every payer a therapist of the rows select() is enrolled with, by name, with its cycle time: one query.

    The averages cover all approved enrollments of the filtered matrix, not only the page shown, so a
    payer's figure does not change from page to page.
    """
    key = payer_key(PanelEnrollment.payer)
    ids = rows.with_only_columns(Therapist.id).order_by(None)
    cycle = PanelEnrollment.cycle_days
    spellings = db.session.execute(
        sa.select(key, PanelEnrollment.payer, sa.func.count(), sa.func.count(cycle), sa.func.sum(cycle))
        .where(PanelEnrollment.therapist_id.in_(ids))
        .group_by(key, PanelEnrollment.payer)
    ).all()
    by_key: dict[str, list] = defaultdict(list)
    for row in spellings:
        by_key[row[0]].append(row)
    columns = []
    for k, rows_of_key in by_key.items():
        # The spelling most enrollments use heads the column; a tie goes to the first in sort order.
        name = min(rows_of_key, key=lambda r: (-r[2], r[1]))[1].strip()
        column = Payer(k, name)
        for _, _, n, approved, days in rows_of_key:
            column.enrollments += n
            column.approved += approved
            column.cycle_days_total += days or 0
        columns.append(column)
    return sorted(columns, key=lambda c: (c.key, c.name))


def recredential_horizon_days() -> int:
    """How far ahead a re-credentialing date counts as soon: the worklist's horizon, so both agree."""
    return current_app.config["WORKLIST_HORIZON_DAYS"]


@dataclass
class Cell:
    """One therapist's enrollment with one payer, and what needs doing about it on as_of."""

    enrollment: PanelEnrollment
    as_of: date

    @property
    def id(self) -> int:
        return self.enrollment.id

    @property
    def status(self) -> str:
        return self.enrollment.status

    @property
    def submitted_on(self) -> date | None:
        return self.enrollment.submitted_on

    @property
    def effective_on(self) -> date | None:
        return self.enrollment.effective_on

    @property
    def recredential_due_on(self) -> date | None:
        return self.enrollment.recredential_due_on

    @property
    def next_follow_up_on(self) -> date | None:
        return self.enrollment.next_follow_up_on

    @property
    def cycle_days(self) -> int | None:
        return self.enrollment.cycle_days

    @property
    def follow_up(self) -> str | None:
        """"overdue" before today, "due" from today to the worklist's look-ahead: the follow-ups it lists."""
        day = self.next_follow_up_on
        if self.status not in PENDING or day is None:
            return None
        if day < self.as_of:
            return "overdue"
        return "due" if day <= self.as_of + timedelta(days=FOLLOW_UP_LOOKAHEAD_DAYS) else None

    @property
    def recredential(self) -> str | None:
        """"overdue" past the date, "due_soon" within the worklist's horizon; payers allow no grace (NCQA)."""
        day = self.recredential_due_on
        if self.status != "approved" or day is None:
            return None
        if day < self.as_of:
            return "overdue"
        return "due_soon" if day <= self.as_of + timedelta(days=recredential_horizon_days()) else None

    @property
    def needs_attention(self) -> bool:
        return bool(self.follow_up or self.recredential)


@dataclass
class Row:
    therapist: Therapist
    cells: dict[str, Cell] = field(default_factory=dict)  # by payer name, as Matrix.payers names them

    @property
    def therapist_id(self) -> int:
        return self.therapist.id

    @property
    def therapist_name(self) -> str:
        return self.therapist.full_name

    @property
    def discipline(self) -> str:
        return self.therapist.discipline


@dataclass
class Matrix:
    as_of: date
    payers: list[Payer]
    rows: list[Row]

    @property
    def recredential_horizon_days(self) -> int:
        return recredential_horizon_days()

    @property
    def payer_names(self) -> list[str]:
        return [p.name for p in self.payers]

    @property
    def payer_cycle_days(self) -> dict[str, Decimal | None]:
        return {p.name: p.average_cycle_days for p in self.payers}



def build(page: list[Therapist], columns: list[Payer], as_of: date | None = None) -> Matrix:
    """The matrix for one page of therapists: their enrollments in one query, whatever the page's size.

    A row's cells are keyed by the columns' names. Two spellings of one payer on the same therapist
    share a cell, which shows the later recorded one.
    """
    as_of = as_of or today()
    names = {c.key: c.name for c in columns}
    rows = {t.id: Row(t) for t in page}
    if rows:
        key = payer_key(PanelEnrollment.payer).label("key")
        found = db.session.execute(
            sa.select(PanelEnrollment, key).where(PanelEnrollment.therapist_id.in_(rows))
            .order_by(PanelEnrollment.id)
        ).all()
        for enrollment, k in found:
            if k in names:  # else recorded since the columns were read: it shows on the next look
                rows[enrollment.therapist_id].cells[names[k]] = Cell(enrollment, as_of)
    return Matrix(as_of, columns, list(rows.values()))


def export_query(rows):
    """Every enrollment of the rows select(), one per therapist and payer, therapists with none kept once."""
    return (rows.add_columns(PanelEnrollment, payer_key(PanelEnrollment.payer).label("key"))
            .outerjoin(PanelEnrollment, PanelEnrollment.therapist_id == Therapist.id)
            .order_by(payer_key(PanelEnrollment.payer), PanelEnrollment.id))
