"""The search box finds a therapist, facility or invoice by name or number."""

from tests import factories
from tests.billing import scenario


def test_one_match_opens_it_and_several_are_listed(browser):
    person = factories.therapist(first_name="Imani", last_name="Okafor")
    factories.therapist(first_name="Imani", last_name="Bell")
    scenario.facility(name="Okafor Family Clinic")
    b = browser("admin")
    single = b.get("/search?q=okafor family")
    assert single.status_code == 302 and "/facilities/" in single.headers["Location"]
    several = b.get("/search?q=imani")
    assert b"Okafor" in several.data and b"Bell" in several.data
    assert b.get(f"/search?q={person.email}").headers["Location"].endswith(f"/therapists/{person.id}")


def test_a_recruiter_does_not_see_invoices_in_search(browser):
    assert b"Invoices" not in browser("recruiter").get("/search?q=INV-").data
