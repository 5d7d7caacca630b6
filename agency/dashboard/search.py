"""The global search box: therapists, facilities and invoices by name or number."""

from dataclasses import dataclass

import sqlalchemy as sa

from agency.billing.models import Invoice
from agency.core.permissions import can
from agency.credentials.queries import therapists_query
from agency.extensions import db
from agency.facilities.models import Facility

LIMIT = 20


@dataclass
class SearchResults:
    therapists: list
    facilities: list
    invoices: list

    @property
    def count(self) -> int:
        return len(self.therapists) + len(self.facilities) + len(self.invoices)


def search(actor, q: str) -> SearchResults:
    """Up to 20 of each kind the viewer may see, matching the words typed; three queries at most."""
    q = (q or "").strip()[:100]
    if len(q) < 2:
        return SearchResults([], [], [])
    like = f"%{q.lower()}%"
    therapists = facilities = invoices = []
    if can(actor, "therapists.view"):
        therapists = db.session.scalars(therapists_query(q=q).order_by("last_name").limit(LIMIT)).all()
    if can(actor, "facilities.view"):
        facilities = db.session.scalars(
            sa.select(Facility).where(sa.func.lower(Facility.name).like(like)).order_by(Facility.name).limit(LIMIT)
        ).all()
    if can(actor, "invoices.view"):
        invoices = db.session.scalars(
            sa.select(Invoice).join(Invoice.facility)
            .where(sa.or_(sa.func.lower(Invoice.number).like(like), sa.func.lower(Facility.name).like(like)))
            .order_by(Invoice.id.desc()).limit(LIMIT)
        ).all()
    return SearchResults(therapists, facilities, invoices)
