"""Collections measured: who may read the figures, and the JSON's shape for an agency with nothing owed."""

import pytest


@pytest.mark.parametrize("role", ["recruiter", "facility"])
def test_recruiters_and_facility_contacts_are_refused_the_collections_figures(api, role):
    assert api(role).get("/api/v1/collections/metrics").status_code == 403


def test_billing_reads_the_agency_figures_and_a_row_per_facility(api):
    response = api("billing").get("/api/v1/collections/metrics")
    assert response.status_code == 200, response.json
    assert "agency" in response.json and "facilities" in response.json
