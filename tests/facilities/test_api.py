"""The facilities API: contracts and rate cards, and what a facility contact may see."""

import pytest
import sqlalchemy as sa

from agency.extensions import db
from agency.facilities.models import RateCard

CLINIC = {"name": "Bayside PHP", "facility_type": "php", "state": "NJ", "payment_terms_days": 45,
          "bills_insurance": True, "payers": ["Aetna"], "required_documents": ["bls_card"],
          "billing_email": "ap@bayside.example.org"}
CARD = {"effective_from": "2026-01-01", "effective_to": "2026-12-31", "overtime_threshold_hours": 40,
        "overtime_multiplier": "1.5", "rates": [{"item": "direct_care_hour", "discipline": "LCSW", "amount": 92.5},
                                                {"item": "travel_mile", "discipline": "LCSW", "amount": "0.67"}]}


def test_a_facility_and_its_rate_card_with_money_as_strings(api):
    caller = api("recruiter")
    made = caller.post("/api/v1/facilities", json=CLINIC)
    assert made.status_code == 201 and made.json["payers"] == ["Aetna"]
    card = caller.post(f"/api/v1/facilities/{made.json['id']}/rate-cards", json=CARD)
    assert card.status_code == 201
    assert card.json["rates"][0] == {"item": "direct_care_hour", "discipline": "LCSW", "amount": "92.50"}
    assert card.json["overtime_threshold_hours"] == "40.00"


def test_an_overlapping_rate_card_is_a_conflict_and_saves_nothing(api):
    caller = api("billing")
    facility_id = caller.post("/api/v1/facilities", json=CLINIC).json["id"]
    caller.post(f"/api/v1/facilities/{facility_id}/rate-cards", json=CARD)
    clash = caller.post(f"/api/v1/facilities/{facility_id}/rate-cards",
                        json={**CARD, "effective_from": "2026-06-01", "effective_to": None})
    assert clash.status_code == 409
    adjacent = caller.post(f"/api/v1/facilities/{facility_id}/rate-cards",
                           json={**CARD, "effective_from": "2027-01-01", "effective_to": None})
    assert adjacent.status_code == 201
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RateCard)) == 2


def test_bad_rates_are_named_by_row(api):
    caller = api("billing")
    facility_id = caller.post("/api/v1/facilities", json=CLINIC).json["id"]
    response = caller.post(f"/api/v1/facilities/{facility_id}/rate-cards",
                           json={**CARD, "rates": [{"item": "massage", "discipline": "LCSW", "amount": 1}]})
    assert response.status_code == 400 and "rate 1" in response.json["error"]["message"]
    bad_money = caller.post(f"/api/v1/facilities/{facility_id}/rate-cards",
                            json={**CARD, "rates": [{"item": "travel_mile", "discipline": "LCSW",
                                                     "amount": "0.655"}]})
    assert bad_money.status_code == 400


@pytest.mark.parametrize(("field", "value"), [("overtime_multiplier", "0.5"), ("overtime_multiplier", 100),
                                              ("overtime_threshold_hours", 0), ("overtime_threshold_hours", 169)])
def test_an_overtime_rule_no_contract_could_mean_is_refused(api, field, value):
    caller = api("billing")
    facility_id = caller.post("/api/v1/facilities", json=CLINIC).json["id"]
    response = caller.post(f"/api/v1/facilities/{facility_id}/rate-cards", json={**CARD, field: value})
    assert response.status_code == 400 and field in response.json["error"]["fields"]
    for body in ([], 5, ["rates"]):
        assert caller.post(f"/api/v1/facilities/{facility_id}/rate-cards", json=body).status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RateCard)) == 0


def test_a_facility_contact_sees_only_its_own_facility_and_writes_nothing(api, users):
    staff = api("recruiter")
    other = staff.post("/api/v1/facilities", json=CLINIC).json["id"]
    contact = api("facility")
    listed = contact.get("/api/v1/facilities").json["items"]
    assert [f["id"] for f in listed] == [users["facility"].facility_id]
    assert contact.get(f"/api/v1/facilities/{other}").status_code == 404
    assert contact.get(f"/api/v1/facilities/{users['facility'].facility_id}").status_code == 200
    assert contact.patch(f"/api/v1/facilities/{users['facility'].facility_id}",
                         json={"name": "Mine"}).status_code == 403
