"""Two people issuing one draft at the same moment against a real server, or one issuing it while another
discards it: one wins, the other is refused (409), and the year's numbers stay gapless. Runs on
PostgreSQL and SQLite."""

from datetime import date

import pytest
import sqlalchemy as sa

from agency.auth.services import issue_token
from agency.billing.invoicing import run_invoices
from agency.billing.models import Invoice
from agency.extensions import db
from agency.facilities.services import update_facility
from tests import factories, live

ROUNDS = 5
NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))


@pytest.fixture(scope="module")
def site(app):
    with live.server() as running:
        yield running


def drafts(clerk, count: int) -> list[int]:
    made = []
    for _ in range(count):
        place = factories.facility()
        update_facility(place, {"invoicing": "review"}, clerk)
        factories.rate_card(place)
        factories.entry(factories.active_placement(place), date(2026, 11, 2))
        made += run_invoices(*NOVEMBER, facility_ids=[place.id]).invoice_ids
    return made


def test_a_draft_issued_twice_at_once_is_issued_once_and_numbers_stay_gapless(site, users):
    token = issue_token(users["billing"])
    ids = drafts(users["billing"], ROUNDS)
    for invoice_id in ids:
        path = f"/api/v1/invoices/{invoice_id}/issue"
        answers = site.at_once(token, ("POST", path, {}), ("POST", path, {}))
        assert sorted(a.status_code for a in answers) == [200, 409], site.log_text()[-2000:]
    db.session.rollback()
    numbers = sorted(db.session.scalars(sa.select(Invoice.number).where(Invoice.id.in_(ids))))
    serials = [int(n.rsplit("-", 1)[1]) for n in numbers]
    assert len(set(numbers)) == ROUNDS and serials == list(range(serials[0], serials[0] + ROUNDS))


def test_a_draft_issued_and_discarded_at_once_ends_one_way_only(site, users):
    token = issue_token(users["billing"])
    for invoice_id in drafts(users["billing"], ROUNDS):
        issued, discarded = site.at_once(token, ("POST", f"/api/v1/invoices/{invoice_id}/issue", {}),
                                         ("POST", f"/api/v1/invoices/{invoice_id}/discard", {"reason": "duplicate"}))
        assert sorted((issued.status_code, discarded.status_code)) == [200, 409], site.log_text()[-2000:]
        db.session.rollback()
        invoice = db.session.get(Invoice, invoice_id)
        if issued.status_code == 200:
            assert invoice.status == "issued" and invoice.number == issued.json()["number"]
        else:
            assert (invoice.status, invoice.number) == ("void", None)
