"""Held hours against a real server, two requests at once: an approval never approves a held entry,
whether the hold comes from a credential change or goes with an admin's release at the same moment.

Runs on PostgreSQL and on SQLite, as the suite does.
"""

from datetime import date, timedelta

from agency.billing import timesheets
from agency.billing.models import TimesheetEntry
from agency.extensions import db
from tests import factories
from tests.faults.conftest import FIRST_DAY, days
from tests.faults.test_races import assert_no_server_error

ROUNDS = 10



def placement_licensed_from(issued_on: date):
    place = factories.facility()
    person = factories.therapist()
    license = factories.license(person, state="NY", issued_on=issued_on, expires_on=date(2028, 6, 30))
    return factories.active_placement(place, person, start=FIRST_DAY), license


def test_an_approval_and_a_license_edit_that_opens_a_gap_at_once_leave_the_entry_held(site, token):
    placement, license = placement_licensed_from(date(2026, 8, 1))
    entries = [timesheets.record_entry({"placement_id": placement.id, "work_date": day}) for day in days(ROUNDS)]
    assert {e.status for e in entries} == {"submitted"}
    rounds = []
    for entry in entries:
        # The board's record moves the issue date past this day: the day falls in a gap.
        edit = {"issued_on": (entry.work_date + timedelta(days=1)).isoformat()}
        rounds.append(site.at_once(token, ("POST", f"/api/v1/timesheets/{entry.id}/approve", None),
                                   ("PATCH", f"/api/v1/licenses/{license.id}", edit)))
    assert_no_server_error(rounds, site)
    db.session.rollback()
    for entry, (approve, edit) in zip(entries, rounds, strict=True):
        assert edit.status_code == 200, edit.text
        assert approve.status_code in (200, 409), approve.text
        # Approved first and then held by the reassessment, or held first and the approval refused.
        assert db.session.get(TimesheetEntry, entry.id).status == "held", (approve.text, edit.text)


def test_an_approval_and_an_admin_release_at_once_never_approve_a_held_entry(site, token):
    placement, _ = placement_licensed_from(date(2026, 10, 15))
    entries = [timesheets.record_entry({"placement_id": placement.id, "work_date": day}) for day in days(ROUNDS)]
    assert {e.status for e in entries} == {"held"}
    rounds = []
    for entry in entries:
        rounds.append(site.at_once(token, ("POST", f"/api/v1/timesheets/{entry.id}/approve", None),
                                   ("POST", f"/api/v1/timesheets/{entry.id}/release",
                                    {"reason": "Board confirmed the license by phone"})))
    assert_no_server_error(rounds, site)
    db.session.rollback()
    for entry, (approve, release) in zip(entries, rounds, strict=True):
        assert release.status_code == 200, release.text
        found = db.session.get(TimesheetEntry, entry.id)
        assert found.released_at is not None
        if approve.status_code == 200:
            assert found.status == "approved" and found.decided_at >= found.released_at
        else:
            assert approve.status_code == 409 and "held" in approve.json()["error"]["message"]
            assert found.status == "submitted"
