"""Roles are enforced on every route: each one declares who may use it."""

import pytest

from agency.core.permissions import PERMISSIONS, ROLES, can


def test_every_route_declares_a_permission_or_is_public(app):
    undeclared = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        and not getattr(app.view_functions[rule.endpoint], "required_permissions", None)
        and not getattr(app.view_functions[rule.endpoint], "is_public", False)
    ]
    assert undeclared == []


# A facility contact sees its own contract's rates, and nothing the agency keeps to itself.
FACILITY_CONTACT_MAY = {"facilities.view", "rate_cards.view", "placements.view", "timesheets.view",
                        "timesheets.decide", "invoices.view", "disputes.open"}


def test_admin_holds_every_permission_and_facility_contacts_only_see_their_own_work(users):
    for permission in PERMISSIONS:
        assert can(users["admin"], permission)
        assert can(users["facility"], permission) == (permission in FACILITY_CONTACT_MAY)


@pytest.mark.parametrize("url", ["/worklist", "/therapists", "/licenses", "/ce-rules", "/outbox",
                                 "/therapists/new", "/admin/audit"])
def test_anonymous_visitors_are_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


ROLE_PAGES = {
    # page -> roles that may open it
    "/worklist": {"admin", "credentialing", "recruiter"},
    "/therapists": {"admin", "credentialing", "recruiter", "billing"},
    "/therapists/new": {"admin", "credentialing", "recruiter"},
    "/ce-rules": {"admin", "credentialing", "recruiter", "billing"},
    "/ce-rules/new": {"admin"},
    "/outbox": {"admin", "credentialing", "billing", "recruiter"},  # each sees only its own kinds of mail
    "/admin/audit": {"admin"},
}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_opens_only_its_pages(browser, role):
    b = browser(role)
    for url, allowed in ROLE_PAGES.items():
        status = b.get(url).status_code
        assert status == (200 if role in allowed else 403), (role, url, status)


def test_a_billing_user_cannot_post_a_license_change(browser):
    from tests import factories

    person = factories.therapist()
    b = browser("billing")
    response = b.post(f"/therapists/{person.id}/licenses/new", {"number": "X"}, form_url="/therapists")
    assert response.status_code == 403
