"""An admin manages who may sign in, and with which role."""

import pytest
import sqlalchemy as sa

from agency.auth.models import User
from agency.auth.services import issue_token, user_for_token
from agency.extensions import db
from agency.facilities.models import Facility
from tests.conftest import PASSWORD, Browser


def test_an_admin_adds_a_recruiter_who_can_then_sign_in(browser, app):
    b = browser("admin")
    response = b.post("/admin/users", {"email": "new.recruiter@staff.example.org", "name": "New",
                                       "role": "recruiter", "password": "long enough pw"})
    assert response.status_code == 302
    newcomer = Browser(app.test_client())
    assert newcomer.login("new.recruiter@staff.example.org", "long enough pw").status_code == 302


@pytest.mark.parametrize("facility_id", [None, "0", "-5", "999", "99999999999999999999"])
def test_a_facility_contact_needs_a_real_facility_and_nothing_is_created_without_one(browser, facility_id):
    b = browser("admin")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    form = {"email": "contact@clinic.example.org", "role": "facility", "password": "long enough pw"}
    if facility_id is not None:
        form["facility_id"] = facility_id
    response = b.post("/admin/users", form)
    assert response.status_code == 200 and b"facility" in response.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == before


def test_a_deactivated_user_can_neither_sign_in_nor_use_a_token(browser, users, app):
    token = issue_token(users["billing"])
    b = browser("admin")
    response = b.post(f"/admin/users/{users['billing'].id}/active", {"active": "0"},
                      form_url="/admin/users")
    assert response.status_code == 302
    assert user_for_token(token) is None
    assert Browser(app.test_client()).login(users["billing"].email, PASSWORD).status_code == 200


def test_an_admin_cannot_deactivate_themselves(browser, users):
    b = browser("admin")
    page = b.post(f"/admin/users/{users['admin'].id}/active", {"active": "0"},
                  form_url="/admin/users", follow_redirects=True)
    assert b"cannot deactivate your own account" in page.data
    db.session.refresh(users["admin"])
    assert users["admin"].active


def test_an_admin_picks_a_facility_contacts_facility_by_searching_its_name(browser, users):
    b = browser("admin")
    clinic = db.session.get(Facility, users["facility"].facility_id)
    form_page = b.get("/admin/users?facility_id-q=riverside").data.decode()
    assert 'data-picker-url="/facilities/options"' in form_page and "Facility id" not in form_page
    options = b.get("/facilities/options?q=river").get_json()
    assert [item["label"] for item in options["items"]] == [clinic.name]
    response = b.post("/admin/users", {"email": "ap@riverside.example.org", "role": "facility",
                                       "password": "long enough pw", "facility_id": str(options["items"][0]["id"]),
                                       "facility_id-q": "river"})
    assert response.status_code == 302
    assert db.session.scalar(sa.select(User).where(User.email == "ap@riverside.example.org")).facility_id == clinic.id
    listed = b.get("/admin/users").data.decode()
    assert f"facility · {clinic.name}" in listed and f"facility {clinic.id}<" not in listed


def test_a_facility_searched_for_but_not_picked_is_refused_and_its_matches_offered(browser, users):
    response = browser("admin").post("/admin/users", {"email": "ap@riverside.example.org", "role": "facility",
                                                      "password": "long enough pw", "facility_id-q": "river"})
    page = response.data.decode()
    assert response.status_code == 200 and "a facility contact needs its facility" in page
    assert f'<option value="{users["facility"].facility_id}">Riverside Community Mental Health Center' in page
    assert db.session.scalar(sa.select(User).where(User.email == "ap@riverside.example.org")) is None
