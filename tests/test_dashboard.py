"""Each role lands on a dashboard of its own work; facility contacts land on their portal."""

import pytest


@pytest.mark.parametrize("role, expected", [
    ("admin", b"Credential compliance"), ("recruiter", b"My placements"),
    ("credentialing", b"Credential expirations by week"), ("billing", b"Billed and collected by month"),
])
def test_each_role_sees_its_dashboard(browser, role, expected):
    b = browser(role)
    response = b.get("/", follow_redirects=True)
    assert response.status_code == 200 and expected in response.data


def test_a_facility_contact_lands_on_the_portal(browser):
    response = browser("facility").get("/", follow_redirects=True)
    assert b"Statement of account" in response.data
