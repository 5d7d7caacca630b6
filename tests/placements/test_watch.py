"""The compliance watch: every onboarding and active placement that is, or will become before it ends,
not ready; the blocker, the day it bites and where it is fixed; agreeing with readiness on each rule."""

import re
from datetime import date, timedelta

import pytest

from agency.core.dates import human_day
from agency.credentials.models import doc_type_label
from agency.extensions import db
from agency.placements.models import Placement
from agency.placements.readiness import readiness
from agency.placements.watch import Watch
from tests import factories
from tests.factories import TODAY
from tests.sql import counted

END = date(2027, 3, 31)


def live(therapist, place, *, status="active", start=date(2026, 9, 1), end=END, **values) -> Placement:
    """A placement put straight into its status: how it got there is not what the watch is about."""
    placement = factories.placement(therapist, place, start, end_on=end, **values)
    if status != "proposed":
        factories.finish_checklist(placement)
        placement.status = status
        db.session.commit()
    return placement


@pytest.fixture(autouse=True)
def links(app):
    """Items carry the links that fix them, built as a page would build them."""
    with app.test_request_context():
        yield


@pytest.fixture
def agency():
    """One placement per blocker, one placement that is fine, and some that are not watched."""
    clinic = factories.facility(name="Albany Clinic")
    made = {}
    made["lapses"] = live(factories.licensed_therapist(expires_on=date(2026, 12, 31)), clinic)
    made["no_license"] = live(factories.licensed_therapist(), clinic, service_states=["NY", "NJ"])
    caqh = factories.licensed_therapist(caqh_id="12345678", caqh_attested_on=date(2026, 8, 15))
    made["caqh"] = live(caqh, clinic)
    made["do_not_place"] = live(factories.licensed_therapist(), clinic)
    made["do_not_place"].therapist.status = "do_not_place"
    made["onboarding"] = live(factories.licensed_therapist(), clinic, status="onboarding",
                              start=TODAY + timedelta(days=19))
    made["onboarding"].checklist[0].done, made["onboarding"].checklist[0].done_at = False, None

    renewed = factories.licensed_therapist(expires_on=date(2026, 12, 31))
    factories.license(renewed, issued_on=date(2026, 12, 15), expires_on=date(2028, 12, 31))
    made["renewed"] = live(renewed, clinic)

    # A compact privilege that lapses with its home-state license.
    home = factories.therapist(home_state="MO", discipline="LPC")
    home_license = factories.license(home, state="MO", license_type="LPC", expires_on=date(2027, 2, 28))
    factories.license(home, state="NY", license_type="LPC", kind="compact_privilege", expires_on=date(2028, 6, 30),
                      home_license_id=home_license.id)
    made["privilege"] = live(home, clinic)

    insured = factories.facility(name="Insured IOP", bills_insurance=True, payers=["Aetna"],
                                 required_documents=["bls_card"])
    covered = factories.licensed_therapist(caqh_attested_on=date(2026, 11, 1))
    factories.panel(covered, payer="aetna", status="approved", submitted_on=date(2026, 1, 1),
                    effective_on=date(2026, 2, 1))
    factories.document(covered, "bls_card", expires_on=date(2027, 1, 15))
    made["document"] = live(covered, insured, end=date(2027, 2, 28))
    uninsured = factories.licensed_therapist(caqh_attested_on=date(2026, 11, 1))
    factories.document(uninsured, "bls_card", expires_on=date(2028, 1, 15))
    made["panel"] = live(uninsured, insured, end=date(2027, 2, 28))

    made["fine"] = live(factories.licensed_therapist(), clinic)
    made["proposed"] = live(factories.therapist(), clinic, status="proposed")
    made["completed"] = live(factories.therapist(), clinic, status="completed")
    db.session.commit()
    return made


def by_placement(watch) -> dict[int, set]:
    found: dict[int, set] = {}
    for item in watch[:]:
        found.setdefault(item.placement_id, set()).add((item.code, item.bites_on))
    return found


def test_the_watch_lists_each_blocker_on_the_day_it_bites(agency):
    found = by_placement(Watch(TODAY))
    expected = {
        "lapses": {("license_expired", date(2027, 1, 1))},
        "no_license": {("no_license_in_state", TODAY)},
        "caqh": {("caqh_attestation_due", date(2026, 12, 13))},
        "do_not_place": {("do_not_place", TODAY)},
        "onboarding": {("onboarding_incomplete", TODAY + timedelta(days=19))},
        "privilege": {("license_expired", date(2027, 3, 1))},
        "document": {("document_missing", date(2027, 1, 16))},
        "panel": {("panel_not_approved", TODAY)},
    }
    assert {name: found.get(agency[name].id) for name in expected} == expected
    for quiet in ("renewed", "fine", "proposed", "completed"):
        assert agency[quiet].id not in found, quiet


def test_the_watch_and_readiness_agree_on_every_blocker(agency):
    """Each item is what readiness says on the day it bites, and (but for CAQH, which readiness warns of a
    month ahead) not the day before."""
    for item in Watch(TODAY)[:]:
        placement = db.session.get(Placement, item.placement_id)
        judged = readiness(placement, item.bites_on)
        findings = judged.blockers + judged.warnings
        assert item.code in {f.code for f in findings}, item
        assert item.message in {f.message for f in findings}, item
        first_day = max(placement.start_on, TODAY)
        if item.bites_on > first_day and item.code != "caqh_attestation_due":
            before = readiness(placement, item.bites_on - timedelta(days=1))
            assert item.code not in {f.code for f in before.blockers}, item


def test_each_item_links_to_the_form_that_fixes_it(agency):
    items = {(i.placement_id, i.code): i for i in Watch(TODAY)[:]}
    lapsing = agency["lapses"].therapist.licenses[0]
    assert items[agency["lapses"].id, "license_expired"].fix_url == f"/licenses/{lapsing.id}/edit"
    home = [lic for lic in agency["privilege"].therapist.licenses if lic.state == "MO"][0]
    assert items[agency["privilege"].id, "license_expired"].fix_url == f"/licenses/{home.id}/edit"
    assert items[agency["no_license"].id, "no_license_in_state"].fix_url == (
        f"/therapists/{agency['no_license'].therapist_id}/licenses/new")
    assert items[agency["document"].id, "document_missing"].fix_url == (
        f"/therapists/{agency['document'].therapist_id}/documents/new?doc_type=bls_card")
    assert items[agency["caqh"].id, "caqh_attestation_due"].fix_url == (
        f"/therapists/{agency['caqh'].therapist_id}/edit")
    assert items[agency["onboarding"].id, "onboarding_incomplete"].fix_url == (
        f"/placements/{agency['onboarding'].id}#checklist")


def test_a_renewal_takes_the_item_off_at_once(agency):
    lapsing = agency["lapses"].therapist
    factories.license(lapsing, issued_on=date(2026, 12, 20), expires_on=date(2028, 12, 31))
    assert agency["lapses"].id not in by_placement(Watch(TODAY))


def test_a_license_gap_between_two_licenses_bites_on_its_first_day(agency):
    gapped = factories.licensed_therapist(expires_on=date(2026, 12, 31))
    factories.license(gapped, issued_on=date(2027, 1, 10), expires_on=date(2028, 12, 31))
    placement = live(gapped, factories.facility())
    assert by_placement(Watch(TODAY))[placement.id] == {("license_expired", date(2027, 1, 1))}


def test_the_watch_costs_the_same_statements_however_many_placements(agency):
    with counted() as few:
        Watch(TODAY)[:50]
    clinic = factories.facility()
    for _ in range(6):
        live(factories.licensed_therapist(expires_on=date(2026, 12, 31)), clinic, service_states=["NY", "NJ"])
    with counted() as many:
        watch = Watch(TODAY)
        watch[:50]
    assert len(watch) > len(agency) - 4
    assert len(many) == len(few)


# ----------------------------------------------------------------------------- the screen, the API, the CSV


def test_the_watch_page_lists_pages_and_filters_with_the_fix_for_each(browser, agency):
    page = browser("credentialing").get("/placements/watch?per_page=3")
    text = page.data.decode()
    assert page.status_code == 200
    assert "Page 1 of" in text and text.count('data-code="') == 3
    lapsing = agency["lapses"].therapist.licenses[0]
    filtered = browser("recruiter").get("/placements/watch?code=license_expired").data.decode()
    assert f'href="/licenses/{lapsing.id}/edit">Renew the NY license' in filtered
    assert set(re.findall(r'data-code="([a-z_]+)"', filtered)) == {"license_expired"}


def test_the_watch_csv_has_every_item_with_its_code_and_day(browser, agency):
    csv = browser("recruiter").get("/placements/watch?format=csv").data.decode().splitlines()
    assert csv[0] == "bites_on,placement_id,therapist,facility,status,code,message,fix_url"
    assert len(csv) - 1 == len(Watch(TODAY))
    assert any(line.startswith(f"2027-01-01,{agency['lapses'].id},") and ",license_expired," in line for line in csv)


def test_the_watch_api_lists_items_and_judges_as_of_a_day(api, agency):
    caller = api("credentialing")
    items = caller.get("/api/v1/placements/watch").json["items"]
    lapses = [i for i in items if i["placement_id"] == agency["lapses"].id]
    assert lapses == [{
        "placement_id": agency["lapses"].id, "therapist_id": agency["lapses"].therapist_id,
        "facility_id": agency["lapses"].facility_id, "status": "active", "code": "license_expired",
        "message": lapses[0]["message"], "bites_on": "2027-01-01",
        "fix_url": f"/licenses/{agency['lapses'].therapist.licenses[0].id}/edit"}]
    assert "lapsed on Dec 31, 2026" in lapses[0]["message"]
    later = caller.get("/api/v1/placements/watch?as_of=2027-01-10&code=license_expired").json["items"]
    assert {i["placement_id"] for i in later} == {agency["lapses"].id, agency["privilege"].id}
    assert {i["bites_on"] for i in later if i["placement_id"] == agency["lapses"].id} == {"2027-01-10"}
    assert caller.get("/api/v1/placements/watch?as_of=soon").status_code == 400
    assert caller.get("/api/v1/placements/watch?code=late").status_code == 400


@pytest.mark.parametrize(("role", "allowed"), [
    ("admin", True), ("recruiter", True), ("credentialing", True), ("billing", False), ("facility", False)])
def test_who_may_see_the_watch(browser, api, agency, role, allowed):
    assert (browser(role).get("/placements/watch").status_code == 200) == allowed
    assert (api(role).get("/api/v1/placements/watch").status_code == 200) == allowed


@pytest.mark.parametrize("role", ["recruiter", "credentialing"])
def test_the_dashboard_shows_the_watch_counts_and_the_soonest(browser, agency, role):
    text = browser(role).get("/dashboard").data.decode()
    watch = Watch(TODAY)
    assert f"Compliance watch: {len(watch)} blocker(s) on {watch.placements} placement(s)" in text
    soonest = watch[:5]
    assert all(item.message in text.replace("&#39;", "'") for item in soonest)


def test_the_admin_dashboard_counts_the_watch_by_blocker(browser, agency):
    text = browser("admin").get("/dashboard").data.decode()
    watch = Watch(TODAY)
    assert f"Compliance watch: {len(watch)} blocker(s) on {watch.placements} placement(s)" in text
    assert f"License lapses: {watch.by_code['license_expired']}" in text


def test_each_state_and_document_missing_is_its_own_item_in_its_own_words():
    place = factories.facility(required_documents=["bls_card", "tb_test"])
    placement = live(factories.licensed_therapist(), place, service_states=["NY", "NJ", "PA"])
    items = {(i.code, i.message) for i in Watch(TODAY)[:] if i.placement_id == placement.id}
    day = human_day(TODAY)
    assert items == {
        ("no_license_in_state", f"No active license or compact privilege in NJ on {day}"),
        ("no_license_in_state", f"No active license or compact privilege in PA on {day}"),
        ("document_missing", f"{doc_type_label('bls_card')} is missing or expired on {day}"),
        ("document_missing", f"{doc_type_label('tb_test')} is missing or expired on {day}"),
    }
