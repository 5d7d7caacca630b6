"""The global search box: therapists, facilities and invoices by name or number."""

from dataclasses import dataclass

from agency.billing.models import Invoice
from agency.billing.queries import invoices_query
from agency.core.permissions import can
from agency.credentials.queries import therapists_query
from agency.extensions import db
from agency.facilities.models import Facility
from agency.facilities.queries import facilities_query

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
    therapists = facilities = invoices = []
    # The same scoped queries as the lists: a facility contact finds only its own facility and invoices.
    if can(actor, "therapists.view"):
        therapists = db.session.scalars(therapists_query(q=q).order_by("last_name").limit(LIMIT)).all()
    if can(actor, "facilities.view"):
        facilities = db.session.scalars(facilities_query(actor, q=q).order_by(Facility.name).limit(LIMIT)).all()
    if can(actor, "invoices.view"):
        invoices = db.session.scalars(invoices_query(actor, q=q).order_by(Invoice.id.desc()).limit(LIMIT)).all()
    return SearchResults(therapists, facilities, invoices)
