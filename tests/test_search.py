"""The search box finds a therapist, facility or invoice by name or number."""

from datetime import date

from agency.billing.invoicing import invoice_facility
from agency.dashboard.search import search
from agency.extensions import db
from agency.facilities.models import Facility
from tests import factories


def test_one_match_opens_it_and_several_are_listed(browser):
    person = factories.therapist(first_name="Imani", last_name="Okafor")
    factories.therapist(first_name="Imani", last_name="Bell")
    factories.facility(name="Okafor Family Clinic")
    b = browser("admin")
    single = b.get("/search?q=okafor family")
    assert single.status_code == 302 and "/facilities/" in single.headers["Location"]
    several = b.get("/search?q=imani")
    assert b"Okafor" in several.data and b"Bell" in several.data
    assert b.get(f"/search?q={person.email}").headers["Location"].endswith(f"/therapists/{person.id}")


def test_a_recruiter_does_not_see_invoices_in_search(browser):
    assert b"Invoices" not in browser("recruiter").get("/search?q=INV-").data


def test_search_keeps_to_what_the_viewer_may_see(users):

    own = db.session.get(Facility, users["facility"].facility_id)  # Riverside Community Mental Health Center
    other = factories.facility(name="Riverside Adolescent IOP")
    for place in (own, other):
        factories.invoiced_day(place)
    found = search(users["facility"], "riverside")
    assert [f.name for f in found.facilities] == ["Riverside Community Mental Health Center"]
    assert [i.number for i in search(users["facility"], "INV-2026").invoices] == ["INV-2026-00001"]
    assert len(search(users["billing"], "INV-2026").invoices) == 2


def test_licenses_timesheets_and_invoices_search_by_name_or_number(browser):

    place = factories.facility(name="Harbor Point Clinic")
    placement = factories.active_placement(place)
    factories.rate_card(place)
    factories.entry(placement, date(2026, 11, 2))
    invoice, _ = invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 8))
    factories.active_placement(factories.facility(name="Elsewhere Clinic"))
    who = placement.therapist
    b = browser("admin")
    licenses = b.get(f"/licenses?q={who.last_name}&format=csv").get_data(as_text=True).splitlines()
    assert len(licenses) == 2 and who.full_name in licenses[1]
    assert b.get(f"/licenses?q={placement.therapist.licenses[0].number.lower()}&format=csv").get_data(
        as_text=True).count("\n") == 2
    sheets = b.get("/timesheets?q=harbor&format=csv").get_data(as_text=True).splitlines()
    assert len(sheets) == 2 and "Harbor Point Clinic" in sheets[1]
    assert invoice.number in b.get("/invoices?q=harbor").get_data(as_text=True)
    assert b.get("/invoices?q=elsewhere&format=csv").get_data(as_text=True).count("\n") == 1
    assert b.get("/invoices?q=%25&format=csv").get_data(as_text=True).count("\n") == 1  # % is a plain character
