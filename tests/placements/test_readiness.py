"""Readiness: may this therapist start at this facility? Each blocker and warning, passing and failing.

A placement is checked on its start date, or on the day asked once it has
started. Today is TODAY (2026-11-25, pinned in config/test.toml); the usual start is START (2026-12-14).
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from agency.core.dates import human_day
from agency.credentials import services as credentials
from agency.placements.readiness import readiness
from tests import factories
from tests.factories import START, TODAY


def blockers(result) -> list[str]:
    return [b.code for b in result.blockers]


def warnings(result) -> list[str]:
    return [w.code for w in result.warnings]


def onboarded(person, place, **values):
    """A proposed placement whose onboarding checklist is all done, so only credentials decide."""
    placement = factories.placement(person, place, **values)
    factories.finish_checklist(placement)
    return placement


# ----------------------------------------------------------------------------- the whole picture


def test_a_licensed_therapist_with_onboarding_done_is_ready_with_nothing_to_warn_about():
    placement = onboarded(factories.licensed_therapist(), factories.facility())
    result = readiness(placement, TODAY)
    assert result.ready and result.blockers == [] and result.warnings == []
    assert result.checked_on == START


# ----------------------------------------------------------------------------- licenses


def test_no_license_in_one_of_the_service_states_blocks():
    placement = onboarded(factories.licensed_therapist(state="NY"), factories.facility(),
                          service_states=["NY", "NJ"])
    result = readiness(placement, TODAY)
    assert blockers(result) == ["no_license_in_state"]
    assert "NJ" in result.blockers[0].message and "Dec 14, 2026" in result.blockers[0].message


def test_a_license_issued_only_after_the_start_date_does_not_count():
    person = factories.therapist()
    factories.license(person, state="NY", issued_on=date(2026, 12, 20), expires_on=date(2028, 12, 31))
    result = readiness(onboarded(person, factories.facility()), TODAY)
    assert blockers(result) == ["no_license_in_state"]


def test_a_license_that_lapses_before_the_start_date_blocks_as_expired():
    person = factories.licensed_therapist(expires_on=date(2026, 12, 10))
    result = readiness(onboarded(person, factories.facility()), TODAY)
    assert blockers(result) == ["license_expired"]
    assert "lapsed on Dec 10, 2026" in result.blockers[0].message


def test_a_license_in_force_through_the_start_date_itself_passes():
    person = factories.licensed_therapist(expires_on=START)
    result = readiness(onboarded(person, factories.facility()), TODAY)
    assert result.ready


def test_a_compact_privilege_covers_its_remote_state():
    person = factories.therapist(discipline="LPC", home_state="NY")
    home = factories.license(person, state="NY", license_type="LPC", expires_on=date(2028, 6, 30))
    factories.license(person, state="NJ", license_type="LPC", kind="compact_privilege",
                      home_license_id=home.id, expires_on=date(2028, 6, 30))
    result = readiness(onboarded(person, factories.facility(state="NJ")), TODAY)
    assert result.ready


def test_a_compact_privilege_lapses_with_its_home_license():
    person = factories.therapist(discipline="LPC", home_state="NY")
    home = factories.license(person, state="NY", license_type="LPC", expires_on=date(2026, 12, 1))
    factories.license(person, state="NJ", license_type="LPC", kind="compact_privilege",
                      home_license_id=home.id, expires_on=date(2028, 6, 30))
    result = readiness(onboarded(person, factories.facility(state="NJ")), TODAY)
    assert blockers(result) == ["license_expired"]
    assert "NJ" in result.blockers[0].message and "Dec 1, 2026" in result.blockers[0].message


def test_a_home_license_lapsing_during_the_placement_warns_through_the_privilege():
    person = factories.therapist(discipline="LPC", home_state="NY")
    home = factories.license(person, state="NY", license_type="LPC", expires_on=date(2027, 2, 28))
    factories.license(person, state="NJ", license_type="LPC", kind="compact_privilege",
                      home_license_id=home.id, expires_on=date(2028, 6, 30))
    placement = onboarded(person, factories.facility(state="NJ"), end_on=date(2027, 6, 30))
    result = readiness(placement, TODAY)
    assert result.ready and warnings(result) == ["license_expires_during_placement"]
    assert "Feb 28, 2027" in result.warnings[0].message


def test_a_license_lapsing_before_the_placement_ends_warns():
    person = factories.licensed_therapist(expires_on=date(2027, 2, 28))
    result = readiness(onboarded(person, factories.facility(), end_on=date(2027, 3, 31)), TODAY)
    assert result.ready and warnings(result) == ["license_expires_during_placement"]


def test_a_license_outlasting_the_placement_does_not_warn():
    person = factories.licensed_therapist(expires_on=date(2027, 3, 31))
    result = readiness(onboarded(person, factories.facility(), end_on=date(2027, 3, 31)), TODAY)
    assert result.ready and result.warnings == []


# ----------------------------------------------------------------------------- the therapist


def test_a_therapist_marked_do_not_place_is_blocked():
    person = factories.licensed_therapist(status="do_not_place")
    result = readiness(onboarded(person, factories.facility()), TODAY)
    assert blockers(result) == ["do_not_place"]


def test_an_active_therapist_is_not_blocked_as_do_not_place():
    result = readiness(onboarded(factories.licensed_therapist(status="active"), factories.facility()), TODAY)
    assert "do_not_place" not in blockers(result)


# ----------------------------------------------------------------------------- documents


def test_each_required_document_that_is_absent_blocks():
    place = factories.facility(required_documents=["bls_card", "tb_test"])
    result = readiness(onboarded(factories.licensed_therapist(), place), TODAY)
    assert blockers(result) == ["document_missing", "document_missing"]
    assert [b.message.split(" is ")[0] for b in result.blockers] == ["BLS card", "TB test"]


def test_a_document_current_today_but_expired_on_the_start_date_blocks():
    place = factories.facility(required_documents=["tb_test"])
    person = factories.licensed_therapist()
    factories.document(person, "tb_test", expires_on=date(2026, 12, 1))
    result = readiness(onboarded(person, place), TODAY)
    assert blockers(result) == ["document_missing"]


def test_a_document_dated_after_the_start_date_was_not_in_force_on_it():
    place = factories.facility(required_documents=["tb_test"])
    person = factories.licensed_therapist()
    factories.document(person, "tb_test", issued_on=START + timedelta(days=3), expires_on=date(2027, 12, 31))
    assert blockers(readiness(onboarded(person, place), TODAY)) == ["document_missing"]


def test_current_required_documents_pass():
    place = factories.facility(required_documents=["tb_test", "i9", "bls_card"])
    person = factories.licensed_therapist()
    factories.document(person, "tb_test", expires_on=date(2026, 12, 1))  # an old one, superseded
    factories.document(person, "tb_test", expires_on=date(2027, 11, 30))
    factories.document(person, "i9")  # never expires
    factories.document(person, "bls_card", expires_on=START)  # current through the start date
    result = readiness(onboarded(person, place), TODAY)
    assert result.ready


def test_another_therapists_document_does_not_count():
    place = factories.facility(required_documents=["tb_test"])
    factories.document(factories.licensed_therapist(), "tb_test", expires_on=date(2027, 11, 30))
    result = readiness(onboarded(factories.licensed_therapist(), place), TODAY)
    assert blockers(result) == ["document_missing"]


# ----------------------------------------------------------------------------- payer panels


def insurer(**values):
    return factories.facility(bills_insurance=True, payers=["Aetna", "Optum"], **values)


def approved(person, payer):
    return factories.panel(person, payer=payer, status="approved", submitted_on=date(2026, 6, 1),
                           effective_on=date(2026, 9, 1))


def test_a_facility_billing_insurance_needs_an_approved_panel_with_one_of_its_payers():
    person = factories.licensed_therapist(caqh_attested_on=date(2026, 11, 1))
    result = readiness(onboarded(person, insurer()), TODAY)
    assert blockers(result) == ["panel_not_approved"]
    assert "Aetna, Optum" in result.blockers[0].message


def test_an_application_still_in_review_does_not_count_as_approved():
    person = factories.licensed_therapist(caqh_attested_on=date(2026, 11, 1))
    factories.panel(person, payer="Aetna", status="in_review")
    assert blockers(readiness(onboarded(person, insurer()), TODAY)) == ["panel_not_approved"]


def test_approval_with_a_payer_the_facility_does_not_bill_does_not_count():
    person = factories.licensed_therapist(caqh_attested_on=date(2026, 11, 1))
    approved(person, "Cigna")
    assert blockers(readiness(onboarded(person, insurer()), TODAY)) == ["panel_not_approved"]


def test_approval_with_one_of_the_facilitys_payers_passes_whatever_its_capitalisation():
    person = factories.licensed_therapist(caqh_attested_on=date(2026, 11, 1))
    approved(person, "OPTUM")
    result = readiness(onboarded(person, insurer()), TODAY)
    assert result.ready and result.warnings == []


@pytest.mark.parametrize(("effective_on", "ready"), [(START, True), (START + timedelta(days=1), False)])
def test_an_approval_counts_from_its_effective_date(effective_on, ready):
    person = factories.licensed_therapist(caqh_attested_on=date(2026, 11, 1))
    factories.panel(person, payer="Aetna", status="approved", submitted_on=date(2026, 6, 1),
                    effective_on=effective_on)
    result = readiness(onboarded(person, insurer()), TODAY)
    assert ("panel_not_approved" in blockers(result)) is not ready


def test_a_facility_that_does_not_bill_insurance_needs_no_panel():
    result = readiness(onboarded(factories.licensed_therapist(), factories.facility(bills_insurance=False)), TODAY)
    assert "panel_not_approved" not in blockers(result)


# ----------------------------------------------------------------------------- onboarding


def test_open_onboarding_items_block_and_are_counted():
    placement = factories.placement(factories.licensed_therapist(), factories.facility())
    result = readiness(placement, TODAY)
    assert blockers(result) == ["onboarding_incomplete"]
    assert result.blockers[0].message.startswith(f"{len(placement.checklist)} onboarding item(s) still open")


def test_onboarding_with_every_item_done_passes():
    placement = factories.placement(factories.licensed_therapist(), factories.facility())
    factories.finish_checklist(placement)
    assert readiness(placement, TODAY).ready


# ----------------------------------------------------------------------------- CE and CAQH


def test_too_few_ce_hours_for_the_license_renewal_warn_but_do_not_block():
    factories.ce_rule(state="NY", license_type="LCSW", hours="36", months=36)
    person = factories.licensed_therapist()
    factories.ce_record(person, hours=Decimal("6"))
    result = readiness(onboarded(person, factories.facility()), TODAY)
    assert result.ready and warnings(result) == ["ce_shortfall"]
    assert "30" in result.warnings[0].message


def test_a_missing_mandatory_topic_warns_even_with_enough_hours():
    factories.ce_rule(state="NY", license_type="LCSW", hours="36", months=36, topics={"ethics": "3"})
    person = factories.licensed_therapist()
    factories.ce_record(person, hours=Decimal("36"), topic="general")
    result = readiness(onboarded(person, factories.facility()), TODAY)
    assert warnings(result) == ["ce_shortfall"] and "ethics 3" in result.warnings[0].message


def test_enough_ce_hours_in_the_cycle_do_not_warn():
    factories.ce_rule(state="NY", license_type="LCSW", hours="36", months=36, topics={"ethics": "3"})
    person = factories.licensed_therapist()
    factories.ce_record(person, hours=Decimal("33"), topic="general")
    factories.ce_record(person, hours=Decimal("3"), topic="ethics")
    assert readiness(onboarded(person, factories.facility()), TODAY).warnings == []


def test_a_caqh_attestation_falling_due_around_the_start_warns():
    person = factories.licensed_therapist(caqh_attested_on=date(2026, 8, 1))  # due 2026-11-29
    approved(person, "Aetna")
    result = readiness(onboarded(person, insurer()), TODAY)
    assert result.ready and warnings(result) == ["caqh_attestation_due"]
    assert "Nov 29, 2026" in result.warnings[0].message


def test_no_caqh_attestation_on_file_warns_where_the_facility_bills_insurance():
    person = factories.licensed_therapist()
    approved(person, "Aetna")
    assert warnings(readiness(onboarded(person, insurer()), TODAY)) == ["caqh_attestation_due"]


def test_a_recent_caqh_attestation_does_not_warn():
    person = factories.licensed_therapist(caqh_attested_on=date(2026, 11, 20))
    approved(person, "Aetna")
    assert readiness(onboarded(person, insurer()), TODAY).warnings == []


# ----------------------------------------------------------------------------- the day checked


def test_before_the_start_credentials_are_checked_on_the_start_date_not_today():
    person = factories.licensed_therapist(expires_on=date(2026, 12, 1))  # in force today, not on the start
    result = readiness(onboarded(person, factories.facility()), TODAY)
    assert result.checked_on == START and blockers(result) == ["license_expired"]


def test_once_started_credentials_are_checked_on_the_day_asked():
    person = factories.licensed_therapist(expires_on=date(2028, 6, 30))
    placement = factories.active_placement(factories.facility(), person, date(2026, 10, 1))
    # The board's record shows the license lapsed mid-placement; the recruiter corrects the date.
    credentials.update_license(person.licenses[0], {"expires_on": date(2026, 11, 15)})
    before = readiness(placement, date(2026, 11, 1))
    after = readiness(placement, TODAY)
    assert before.checked_on == date(2026, 11, 1) and before.ready
    assert after.checked_on == TODAY and blockers(after) == ["license_expired"]
    assert f"lapsed on Nov 15, 2026, before {human_day(TODAY)}" in after.blockers[0].message
