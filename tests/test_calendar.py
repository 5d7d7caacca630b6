"""Private calendar feeds that the icalendar library and calendar clients can read."""

import re
from datetime import date

import sqlalchemy as sa
from icalendar import Calendar

from agency.extensions import db
from agency.placements.models import ChecklistItem
from tests import factories
from tests.conftest import csrf_of


def feed_url(b) -> str:
    page = b.get("/account")
    b.client.post("/account/calendar", data={"calendar-csrf_token": csrf_of(page)})
    return re.search(r'id="calendar-url">http://localhost(/calendar/[^<]+\.ics)', b.get("/account").data.decode())[1]


def summaries(ics: bytes) -> list[str]:
    return [str(c["summary"]) for c in Calendar.from_ical(ics).walk("VEVENT")]


def test_a_credentialing_feed_lists_license_expiries_and_is_valid_icalendar(browser, app):
    person = factories.therapist(first_name="Noor")
    factories.license(person, state="NJ", expires_on=date(2027, 1, 15))
    url = feed_url(browser("credentialing"))
    response = app.test_client().get(url)
    assert response.mimetype == "text/calendar"
    assert any("Noor" in s and "NJ" in s for s in summaries(response.data))


def test_a_facility_feed_holds_only_its_own_invoice_due_dates(browser, app, users):
    from agency.billing.invoicing import invoice_facility
    from agency.extensions import db
    from agency.facilities.models import Facility

    own = db.session.get(Facility, users["facility"].facility_id)
    other = factories.facility(name="Not Yours")
    for place in (own, other):
        factories.rate_card(place)
        factories.entry(factories.active_placement(place), date(2026, 11, 2))
        invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 30))
    events = summaries(app.test_client().get(feed_url(browser("facility"))).data)
    assert len(events) == 1 and "Riverside" in events[0]


def test_an_unknown_or_renewed_link_is_not_found(browser, app):
    b = browser("recruiter")
    old = feed_url(b)
    new = feed_url(b)
    assert old != new
    assert app.test_client().get(old).status_code == 404
    assert app.test_client().get("/calendar/nonsense.ics").status_code == 404


def test_a_recruiter_feed_follows_their_own_placements_and_credentialing_gets_its_checklist_items(browser, app,
                                                                                                   users):
    from agency.auth.services import create_user
    from agency.placements.services import change_status, create_placement
    from tests.conftest import PASSWORD

    colleague = create_user("other.recruiter@staff.example.org", "recruiter", PASSWORD)
    place = factories.facility(name="Lakeside CMHC")
    mine = create_placement({"therapist_id": factories.therapist(first_name="Mine").id, "facility_id": place.id,
                             "start_on": date(2026, 12, 14)}, actor=users["recruiter"])
    change_status(mine, "onboarding", users["recruiter"])
    create_placement({"therapist_id": factories.therapist(first_name="Theirs").id, "facility_id": place.id,
                      "start_on": date(2026, 12, 14)}, actor=colleague)
    events = summaries(app.test_client().get(feed_url(browser("recruiter"))).data)
    assert any("Onboarding" in e and "Mine" in e for e in events)
    assert any("30-day check-in: Mine" in e for e in events)  # already scheduled while onboarding
    assert not any("Theirs" in e for e in events)
    credentialing = summaries(app.test_client().get(feed_url(browser("credentialing"))).data)
    theirs = {f"Onboarding: {i.title} ({i.placement.therapist.full_name})"
              for i in db.session.scalars(sa.select(ChecklistItem).where(ChecklistItem.owner == "credentialing"))}
    assert theirs and {e for e in credentialing if e.startswith("Onboarding")} == theirs


def test_a_feed_carries_the_soonest_deadlines_up_to_its_size_however_many_there_are(browser, app, setting):
    setting(CALENDAR_FEED_EVENTS=3)
    for day in (20, 5, 12, 28, 9):
        factories.license(factories.therapist(first_name=f"Due{day:02d}"), expires_on=date(2026, 12, day))
    events = summaries(app.test_client().get(feed_url(browser("credentialing"))).data)
    assert [re.search(r"Due\d\d", e)[0] for e in events if "Due" in e] == ["Due05", "Due09", "Due12"]
