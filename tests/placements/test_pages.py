"""The recruiter's journey in the browser: contract, assignment, match, checklist, activation."""

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from agency.core.audit import AuditEvent
from agency.extensions import db
from agency.facilities.models import Facility, RateCard
from agency.placements.models import Assignment, Placement
from tests import factories


def facility(**values) -> Facility:
    from agency.facilities.services import create_facility

    data = {"name": "Hudson Valley CMHC", "facility_type": "cmhc", "state": "NY", "city": "Kingston",
            "payment_terms_days": 45, "funding": "medicaid", "invoice_schedule": "monthly"}
    data.update(values)
    return create_facility(data)


def ready_therapist(**values):
    person = factories.therapist(**values)
    factories.license(person, state="NY", expires_on=date(2028, 1, 31))
    return person


def test_a_recruiter_adds_a_facility_with_a_rate_card(browser):
    b = browser("recruiter")
    response = b.post("/facilities/new", {
        "name": "Bronx Adolescent IOP", "facility_type": "iop", "state": "NY", "funding": "commercial",
        "payment_terms_days": "30", "invoice_schedule": "biweekly",
        "statement_schedule": "weekly", "billing_email": "ap@bronxiop.org",
        "bills_insurance": "y", "payers": "Aetna\nCigna", "required_documents": ["bls_card", "tb_test"],
        "active": "y",
    })
    assert response.status_code == 302, response.data
    place = db.session.scalar(sa.select(Facility).where(Facility.name == "Bronx Adolescent IOP"))
    assert place.payers == ["Aetna", "Cigna"] and place.required_documents == ["bls_card", "tb_test"]

    form = {"effective_from": "2026-01-01", "effective_to": "2026-12-31", "overtime_threshold_hours": "40",
            "overtime_multiplier": "1.5", "rates-0-item": "direct_care_hour", "rates-0-discipline": "LCSW",
            "rates-0-amount": "95.00", "rates-1-item": "supervision_hour", "rates-1-discipline": "LCSW",
            "rates-1-amount": "60"}
    response = b.post(f"/facilities/{place.id}/rate-cards/new", form)
    assert response.status_code == 302
    card = db.session.scalar(sa.select(RateCard))
    assert card.rate("direct_care_hour", "LCSW") == Decimal("95.00")

    overlap = dict(form, effective_from="2026-06-01", effective_to="")
    response = b.post(f"/facilities/{place.id}/rate-cards/new", overlap)
    assert response.status_code == 200 and b"overlaps" in response.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RateCard)) == 1


def test_a_half_filled_rate_row_is_refused_beside_it(browser):
    place = facility()
    b = browser("recruiter")
    response = b.post(f"/facilities/{place.id}/rate-cards/new", {
        "effective_from": "2026-01-01", "overtime_multiplier": "1.5", "rates-0-item": "direct_care_hour",
    })
    assert response.status_code == 200 and b"fill in item, discipline and amount" in response.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RateCard)) == 0


@pytest.mark.parametrize(("rows", "message"), [
    ({}, b"at least one rate"),
    ({"rates-0-item": "direct_care_hour", "rates-0-discipline": "LCSW", "rates-0-amount": "95",
      "rates-1-item": "direct_care_hour", "rates-1-discipline": "LCSW", "rates-1-amount": "90"}, b"twice"),
])
def test_a_rate_card_without_rates_or_with_a_rate_twice_says_why_on_the_page(browser, rows, message):
    place = facility()
    response = browser("recruiter").post(f"/facilities/{place.id}/rate-cards/new", {
        "effective_from": "2027-06-01", "overtime_multiplier": "1.5", **rows})
    assert response.status_code == 200 and message in response.data, response.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RateCard)) == 0


def test_a_recruiter_matches_proposes_works_the_checklist_and_activates(browser):
    place = facility()
    ready = ready_therapist(first_name="Rosa")
    ready_therapist(first_name="Tom", status="do_not_place")
    b = browser("recruiter")
    response = b.post("/assignments/new", {
        "facility_id": str(place.id), "title": "Adult outpatient therapist", "discipline": "LCSW",
        "start_on": "2026-11-25", "length_weeks": "26", "hours_per_week": "40", "billing_basis": "hourly",
    })
    assert response.status_code == 302, response.data
    job = db.session.scalar(sa.select(Assignment))
    assert job.service_states == ["NY"]

    page = b.get(f"/assignments/{job.id}")
    text = page.data.decode()
    assert text.index("Rosa") < text.index("Tom")
    assert "marked do not place" in text

    sent = b.post(f"/assignments/{job.id}/alerts", {"therapist_ids": [str(ready.id)]},
                  form_url=f"/assignments/{job.id}", follow_redirects=True)
    assert b"Queued for 1 therapist(s); the email goes out from the outbox" in sent.data

    response = b.post(f"/assignments/{job.id}/propose", {"therapist_id": str(ready.id)},
                      form_url=f"/assignments/{job.id}")
    assert response.status_code == 302
    placement = db.session.scalar(sa.select(Placement))
    url = f"/placements/{placement.id}"

    b.post(f"{url}/status", {"status": "onboarding"}, form_url=url)
    refused = b.post(f"{url}/status", {"status": "active"}, form_url=url, follow_redirects=True)
    assert b"Status not changed" in refused.data and b"onboarding item" in refused.data

    for item in placement.checklist:
        b.post(f"/checklist-items/{item.id}", {"done": "1"}, form_url=url)
    activated = b.post(f"{url}/status", {"status": "active"}, form_url=url, follow_redirects=True)
    assert b"now active" in activated.data
    db.session.refresh(placement)
    assert placement.status == "active" and job.status == "filled"


def test_an_admin_overrides_readiness_with_a_reason_and_it_is_audited(browser):
    place = facility()
    person = factories.therapist()
    from agency.placements.services import change_status, create_placement

    placement = create_placement({"therapist_id": person.id, "facility_id": place.id,
                                  "start_on": date(2026, 12, 1), "hours_per_week": 20})
    change_status(placement, "onboarding")
    b = browser("admin")
    url = f"/placements/{placement.id}"
    page = b.post(f"{url}/status", {"status": "active", "override_reason": "Board confirmed by phone"},
                  form_url=url, follow_redirects=True)
    assert b"now active" in page.data
    override = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "override"))
    assert override.changes == {"override_reason": "Board confirmed by phone"}


def test_a_checkin_with_a_concern_is_recorded_and_escalated(browser):
    from agency.core.outbox import OutboxMessage
    from agency.placements.services import change_status, create_placement

    place = facility()
    person = ready_therapist()
    placement = create_placement({"therapist_id": person.id, "facility_id": place.id,
                                  "start_on": date(2026, 10, 1), "hours_per_week": 20})
    change_status(placement, "onboarding")
    for item in placement.checklist:
        item.done, item.done_at = True, item.placement.created_at
    db.session.commit()
    change_status(placement, "active")
    checkin = placement.checkins[0]
    b = browser("recruiter")
    response = b.post(f"/checkins/{checkin.id}", {"completed_on": "2026-11-02", "satisfaction": "2",
                                                  "notes": "Caseload too heavy", "concern": "y"})
    assert response.status_code == 302
    # The mail waits in the outbox until it is sent, and the notice says so.
    assert "an email about the concern is queued for the admins" in b.get(response.headers["Location"]).data.decode()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) >= 1


def test_a_facility_contact_sees_only_their_own_facility_and_placements(browser, users):
    own = db.session.get(Facility, users["facility"].facility_id)
    other = facility(name="Elsewhere PHP", facility_type="php")
    b = browser("facility")
    assert b.get("/facilities").headers["Location"].endswith(f"/facilities/{own.id}")
    assert b.get(f"/facilities/{other.id}").status_code == 404
    assert b.get("/assignments").status_code == 403
    assert b.get("/facilities/new").status_code == 403


def test_every_recruiting_page_renders(browser):
    place = facility(facility_type="telehealth", name="Calm Minds Telehealth")
    person = ready_therapist()
    from agency.placements.services import create_placement, save_assignment

    job = save_assignment(None, {"facility_id": place.id, "title": "Telehealth LCSW", "discipline": "LCSW",
                                 "start_on": date(2026, 12, 7), "length_weeks": 12, "hours_per_week": 20,
                                 "telehealth": True})
    placement = create_placement({"therapist_id": person.id, "assignment_id": job.id})
    assert any(i.key == "platform_login" for i in placement.checklist)
    b = browser("admin")
    for url in ("/recruiting", "/assignments", "/assignments?status=", f"/assignments/{job.id}",
                f"/assignments/{job.id}/edit", "/placements", "/placements?status=proposed",
                f"/placements/{placement.id}", f"/placements/{placement.id}/edit", "/placements/new",
                "/facilities", f"/facilities/{place.id}", f"/facilities/{place.id}/edit",
                f"/facilities/{place.id}/rate-cards/new", f"/checkins/{placement.checkins[0].id}"):
        assert b.get(url).status_code == 200, url
