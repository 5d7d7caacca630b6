"""Pickers: a search box over a paged list of what the viewer may choose, and a form that accepts only that."""

from datetime import date

import pytest
import sqlalchemy as sa

from agency.billing.models import TimesheetEntry
from agency.core.dates import human_day
from agency.extensions import db
from agency.placements.models import Placement
from tests import factories


def every_page(b, url: str) -> list[dict]:
    items, cursor = [], None
    while True:
        response = b.get(url + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.data
        body = response.get_json()
        assert len(body["items"]) <= 10
        items += body["items"]
        if (cursor := body["next_cursor"]) is None:
            return items


def test_the_therapist_list_pages_through_every_match_in_name_order_once(browser):
    for n in range(23):
        factories.therapist(first_name=f"Ana{n:02d}", last_name="Park" if n % 2 else "Parker")
    factories.therapist(first_name="Gone", last_name="Parkinson", status="inactive")
    factories.therapist(first_name="Rosa", last_name="Diaz")

    items = every_page(browser("recruiter"), "/therapists/options?q=PARK&limit=10")

    labels = [i["label"] for i in items]
    assert len(labels) == 23 == len({i["id"] for i in items})
    assert labels == sorted(labels, key=lambda label: (label.split(",")[0], label))
    assert labels[0] == "Park, Ana01 (LCSW)"
    assert not any("Gone" in label for label in labels)  # an inactive therapist cannot be placed


def test_a_therapist_is_found_by_email_or_npi_as_well_as_by_name(browser):
    npi = factories.npi()
    rosa = factories.therapist(first_name="Rosa", last_name="Diaz", email="rdiaz@clinic.example", npi=npi)
    factories.therapist(first_name="Tom", last_name="Other")
    b = browser("recruiter")
    for q in ("rdiaz@clinic", npi[2:8], "rosa d"):
        assert [i["id"] for i in b.get(f"/therapists/options?q={q}").get_json()["items"]] == [rosa.id], q


def test_new_work_goes_only_to_active_facilities_while_filters_list_them_all(browser):
    open_clinic = factories.facility(name="Harbor Open Clinic")
    closed = factories.facility(name="Harbor Closed Clinic", active=False)
    b = browser("billing")
    everyone = {i["id"] for i in b.get("/facilities/options?q=harbor").get_json()["items"]}
    active = {i["id"] for i in b.get("/facilities/options?q=harbor&active=1").get_json()["items"]}
    assert everyone == {open_clinic.id, closed.id}
    assert active == {open_clinic.id}


def test_a_facility_contact_is_offered_only_its_own_facility(browser, users):
    factories.facility(name="Another Clinic")
    b = browser("facility")
    items = b.get("/facilities/options").get_json()["items"]
    assert [i["id"] for i in items] == [users["facility"].facility_id]
    assert b.get("/timesheets/placement-options").status_code == 403
    assert b.get("/therapists/options").status_code == 403


def test_hours_may_be_recorded_only_against_active_or_completed_placements(browser):
    place = factories.facility(name="Lakeshore Hospital")
    active = factories.active_placement(place)
    proposed = factories.placement(factories.therapist(last_name="Proposedson"), place)
    items = browser("billing").get("/timesheets/placement-options?q=lakeshore").get_json()["items"]
    assert [i["id"] for i in items] == [active.id]
    assert items[0]["label"].endswith(f"at Lakeshore Hospital (from {human_day(active.start_on)})")
    assert proposed.id not in [i["id"] for i in items]


@pytest.mark.parametrize("query", ["cursor=nonsense", "cursor=WzFd", "cursor=WyJhIiwgIngiXQ", "limit=0",
                                   "limit=101", "limit=ten", "cursor=" + "A" * 300])
def test_a_cursor_or_limit_the_list_did_not_give_out_is_a_clear_400(browser, query):
    factories.therapist()
    response = browser("recruiter").get(f"/therapists/options?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "validation_error"


def test_signed_out_visitors_are_sent_to_sign_in(client):
    assert client.get("/therapists/options").status_code == 302


PLACEMENT = {"start_on": "2026-12-14", "billing_basis": "hourly"}


def test_the_placement_form_refuses_a_therapist_that_does_not_exist_or_cannot_be_placed(browser):
    place = factories.facility(name="Hudson Valley CMHC")
    gone = factories.therapist(last_name="Gone", status="inactive")
    b = browser("recruiter")
    for therapist_id in (str(gone.id), "999999", "abc", "-3"):
        response = b.post("/placements/new", {**PLACEMENT, "therapist_id": therapist_id,
                                               "facility_id": str(place.id)})
        assert response.status_code == 200, therapist_id
        assert b"That is not one of the therapists you may choose here" in response.data, therapist_id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Placement)) == 0


def test_without_scripts_typing_a_name_and_saving_lists_its_matches_to_choose_from(browser):
    place = factories.facility(name="Hudson Valley CMHC")
    rosa = factories.therapist(first_name="Rosa", last_name="Diaz")
    b = browser("recruiter")
    response = b.post("/placements/new", {**PLACEMENT, "therapist_id": "", "therapist_id-q": "diaz",
                                           "facility_id": str(place.id)})
    assert "Choose one of the therapists matching “diaz”".encode() in response.data
    assert f'<option value="{rosa.id}">Diaz, Rosa (LCSW)</option>'.encode() in response.data
    assert f'<option value="{place.id}" selected>Hudson Valley CMHC</option>'.encode() in response.data
    saved = b.post("/placements/new", {**PLACEMENT, "therapist_id": str(rosa.id), "facility_id": str(place.id)})
    assert saved.status_code == 302
    assert db.session.scalar(sa.select(Placement.therapist_id)) == rosa.id


def test_the_timesheet_form_refuses_a_placement_hours_cannot_be_recorded_against(browser):
    place = factories.facility(name="Lakeshore Hospital")
    proposed = factories.placement(factories.therapist(), place)
    response = browser("billing").post("/timesheets/new", {
        "placement_id": str(proposed.id), "work_date": "2026-11-02", "direct_care_hours": "8"},
        form_url="/timesheets/new")
    assert b"That is not one of the placements you may choose here" in response.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TimesheetEntry)) == 0


def test_an_invoice_run_for_a_facility_that_does_not_exist_is_refused_and_starts_nothing(browser):
    response = browser("billing").post("/invoices/run", {"period_start": "2026-11-01", "period_end": "2026-11-30",
                                                         "facility_id": "424242"})
    assert response.status_code == 200
    assert b"That is not one of the facilities you may choose here" in response.data
    assert b"invoice(s) generated" not in response.data and b"queued" not in response.data


def test_the_forms_draw_one_page_of_matches_not_the_whole_roster(browser, app):
    for n in range(app.config["PICKER_PAGE_SIZE"] + 5):
        factories.therapist(first_name=f"T{n:02d}", last_name="Roster")
    page = browser("recruiter").get("/placements/new").data.decode()
    therapist_select = page[page.index('id="therapist_id"'):page.index("</select>", page.index('id="therapist_id"'))]
    assert therapist_select.count("<option") == app.config["PICKER_PAGE_SIZE"] + 1  # and the blank choice


def test_the_timesheet_filter_keeps_the_chosen_facility(browser):
    place = factories.facility(name="Lakeshore Hospital")
    factories.entry(factories.active_placement(place), date(2026, 11, 2))
    page = browser("billing").get(f"/timesheets?facility_id={place.id}").data
    assert f'<option value="{place.id}" selected>Lakeshore Hospital</option>'.encode() in page
