"""A refused action says in a plain sentence what to do, and tells an admin what only an admin may do."""

from datetime import date

from agency.placements.services import change_status
from tests import factories


def not_ready_onboarding():
    """A therapist with no license in the facility's state, proposed and moved to onboarding."""
    placement = factories.placement(factories.therapist(), factories.facility())
    change_status(placement, "onboarding")
    return placement


def test_a_refused_activation_tells_an_admin_about_the_override_and_a_recruiter_only_what_blocks(browser):
    placement = not_ready_onboarding()
    url = f"/placements/{placement.id}"
    told_admin = browser("admin").post(f"{url}/status", {"status": "active"}, form_url=url,
                                       follow_redirects=True).data.decode()
    assert "Status not changed. The placement is not ready: No active license or compact privilege in NY" in told_admin
    assert "As an admin you can activate it anyway: give an override reason" in told_admin
    told_recruiter = browser("recruiter").post(f"{url}/status", {"status": "active"}, form_url=url,
                                               follow_redirects=True).data.decode()
    assert "The placement is not ready" in told_recruiter and "As an admin you can" not in told_recruiter
    assert "An admin can activate it anyway" in told_recruiter


def test_rejecting_hours_without_a_reason_asks_for_one_in_a_sentence(browser):
    entry = factories.entry(factories.active_placement(factories.facility()), date(2026, 11, 2), approve=False)
    page = browser("billing").post("/timesheets/decide", {"entry_ids": [str(entry.id)], "reject": "1",
                                                         "reason": ""}, form_url="/timesheets",
                                   follow_redirects=True).data.decode()
    assert "Nothing changed. Say why the hours are rejected." in page
    assert "reason: say why" not in page
