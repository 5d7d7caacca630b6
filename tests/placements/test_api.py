"""The placements API: assignments, matches, the pipeline, readiness, checklists and check-ins."""

import io
from datetime import date

import sqlalchemy as sa

from agency.core.audit import AuditEvent
from agency.credentials.documents import store_document
from agency.extensions import db
from agency.facilities.models import Facility
from agency.placements.models import Placement
from tests import factories
from tests.credentials.test_api import PDF


def ready_therapist(**values):
    person = factories.therapist(**values)
    factories.license(person, state="NY", expires_on=date(2028, 3, 31))
    return person


def test_an_assignment_ranks_the_ready_therapist_first_and_alerts_once(api):
    place = factories.facility()
    ready = ready_therapist(first_name="Ready")
    blocked = factories.therapist(first_name="Blocked")
    caller = api("recruiter")
    job = caller.post("/api/v1/assignments", json={
        "facility_id": place.id, "title": "Outpatient LCSW", "discipline": "LCSW", "start_on": "2026-12-14",
        "length_weeks": 12, "hours_per_week": 40})
    assert job.status_code == 201 and job.json["service_states"] == ["NY"]
    ranked = caller.get(f"/api/v1/assignments/{job.json['id']}/matches").json["items"]
    assert [m["therapist_id"] for m in ranked] == [ready.id, blocked.id]
    assert ranked[0]["eligible"] and not ranked[1]["eligible"]
    assert ranked[1]["readiness"]["blockers"][0]["code"] == "no_license_in_state"
    first = caller.post(f"/api/v1/assignments/{job.json['id']}/alerts", json={"therapist_ids": [ready.id]})
    again = caller.post(f"/api/v1/assignments/{job.json['id']}/alerts", json={"therapist_ids": [ready.id]})
    assert first.json == {"sent": 1, "already_told": 0} and again.json == {"sent": 0, "already_told": 1}


def test_a_placement_from_an_assignment_inherits_its_terms_checklist_and_checkins(api):
    place = factories.facility(facility_type="telehealth", name="Screen Time Health")
    person = ready_therapist()
    caller = api("recruiter")
    job = caller.post("/api/v1/assignments", json={
        "facility_id": place.id, "title": "Telehealth LCSW", "discipline": "LCSW", "start_on": "2026-12-14",
        "length_weeks": 10, "hours_per_week": 20, "telehealth": True})
    made = caller.post("/api/v1/placements", json={"assignment_id": job.json["id"], "therapist_id": person.id})
    assert made.status_code == 201
    assert made.json["start_on"] == "2026-12-14" and made.json["telehealth"] is True
    titles = [i["title"] for i in caller.get(f"/api/v1/placements/{made.json['id']}/checklist").json["items"]]
    assert "Telehealth platform login provisioned" in titles
    checkins = caller.get(f"/api/v1/placements/{made.json['id']}/checkins").json["items"]
    assert [(c["day"], c["due_on"]) for c in checkins] == [(30, "2027-01-13"), (60, "2027-02-12")]
    # Like every list, the checklist pages with limit and cursor.
    url = f"/api/v1/placements/{made.json['id']}/checklist"
    paged, cursor = [], None
    while True:
        got = caller.get(url + "?limit=3" + (f"&cursor={cursor}" if cursor else "")).json
        paged += [i["title"] for i in got["items"]]
        if not (cursor := got["next_cursor"]):
            break
    assert paged == titles
    assert caller.get(url + "?limit=abc").status_code == 400


def test_activation_of_an_unready_placement_is_409_and_an_admin_override_is_audited(api):
    place = factories.facility()
    person = factories.therapist()
    recruiter = api("recruiter")
    made = recruiter.post("/api/v1/placements", json={"therapist_id": person.id, "facility_id": place.id,
                                                      "start_on": "2026-12-01"}).json
    url = f"/api/v1/placements/{made['id']}"
    assert recruiter.patch(url, json={"status": "active"}).status_code == 409  # proposed -> active not allowed
    assert recruiter.patch(url, json={"status": "onboarding"}).json["status"] == "onboarding"
    refused = recruiter.patch(url, json={"status": "active"})
    assert refused.status_code == 409 and "no_license_in_state" in refused.json["error"]["fields"]["status"]
    assert recruiter.patch(url, json={"status": "active", "override_reason": "board confirmed"}).status_code == 403
    admin = api("admin").patch(url, json={"status": "active", "override_reason": "Board confirmed by phone"})
    assert admin.status_code == 200 and admin.json["status"] == "active"
    assert db.session.scalar(sa.select(AuditEvent.action).where(AuditEvent.action == "override")) == "override"


def test_a_refused_activation_keeps_the_terms_sent_with_it_unchanged(api):
    place = factories.facility()
    recruiter = api("recruiter")
    made = recruiter.post("/api/v1/placements", json={"therapist_id": factories.therapist().id,
                                                      "facility_id": place.id, "start_on": "2026-12-01"}).json
    url = f"/api/v1/placements/{made['id']}"
    recruiter.patch(url, json={"status": "onboarding"})
    audited = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    refused = recruiter.patch(url, json={"start_on": "2027-01-04", "notes": "moved", "status": "active"})
    assert refused.status_code == 409
    db.session.expire_all()
    kept = recruiter.get(url).json
    assert (kept["start_on"], kept["notes"], kept["status"]) == ("2026-12-01", None, "onboarding")
    assert [c["due_on"] for c in recruiter.get(f"{url}/checkins").json["items"]] == ["2026-12-31", "2027-01-30"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == audited
    restated = recruiter.patch(url, json={"status": "onboarding", "notes": "start confirmed"})
    assert restated.status_code == 200 and restated.json["notes"] == "start confirmed"


def test_readiness_reports_the_api_codes_and_clears_when_everything_is_in_place(api):
    place = factories.facility(bills_insurance=True, payers=["Aetna"], required_documents=["bls_card"])
    person = ready_therapist()
    caller = api("recruiter")
    made = caller.post("/api/v1/placements", json={"therapist_id": person.id, "facility_id": place.id,
                                                   "start_on": "2026-12-01"}).json
    body = caller.get(f"/api/v1/placements/{made['id']}/readiness?as_of={factories.TODAY}").json
    assert {b["code"] for b in body["blockers"]} == {"document_missing", "panel_not_approved",
                                                     "onboarding_incomplete"}
    assert caller.get(f"/api/v1/placements/{made['id']}/readiness?as_of=soon").status_code == 400

    factories.panel(person, payer="aetna", status="approved", submitted_on=date(2026, 1, 5),
                    effective_on=date(2026, 3, 1))
    store_document(person, io.BytesIO(PDF), "bls.pdf", "bls_card", None, date(2027, 6, 1))
    for item in caller.get(f"/api/v1/placements/{made['id']}/checklist").json["items"]:
        assert caller.patch(f"/api/v1/checklist-items/{item['id']}", json={"done": True}).json["done"]
    assert caller.get(f"/api/v1/placements/{made['id']}/readiness").json["ready"] is True


def test_a_facility_contact_sees_only_its_placements(api, users):
    own = db.session.get(Facility, users["facility"].facility_id)
    other = factories.facility(name="Someone Else")
    person = ready_therapist()
    recruiter = api("recruiter")
    mine = recruiter.post("/api/v1/placements", json={"therapist_id": person.id, "facility_id": own.id,
                                                      "start_on": "2026-12-01"}).json
    theirs = recruiter.post("/api/v1/placements", json={"therapist_id": person.id, "facility_id": other.id,
                                                        "start_on": "2027-06-01"}).json
    contact = api("facility")
    assert [p["id"] for p in contact.get("/api/v1/placements").json["items"]] == [mine["id"]]
    assert contact.get(f"/api/v1/placements/{theirs['id']}").status_code == 404
    assert contact.patch(f"/api/v1/placements/{mine['id']}", json={"notes": "x"}).status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Placement)) == 2


def test_placements_filter_by_facility_and_therapist_and_a_bad_id_is_400(api):
    here, there = factories.facility(name="Here"), factories.facility(name="There")
    person, other = factories.therapist(), factories.therapist()
    caller = api("recruiter")
    for facility, therapist in ((here, person), (there, person), (here, other)):
        assert caller.post("/api/v1/placements", json={"therapist_id": therapist.id, "facility_id": facility.id,
                                                       "start_on": "2026-12-01"}).status_code == 201
    found = caller.get(f"/api/v1/placements?facility_id={here.id}&therapist_id={person.id}").json["items"]
    assert [(p["facility_id"], p["therapist_id"]) for p in found] == [(here.id, person.id)]
    for bad in ("here", "-1", "1.5", "12345678901234"):
        refused = caller.get(f"/api/v1/placements?facility_id={bad}")
        assert refused.status_code == 400 and "facility_id" in refused.json["error"]["fields"], bad
