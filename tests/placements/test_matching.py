"""Matching: who could take an open assignment, best first, with the reasons for and against.

The usual assignment is a 40-hour, 12-week LCSW job in NY from 2026-12-14
(through 2027-03-07); today is TODAY (2026-11-25, pinned in config/test.toml).
"""

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from agency.core.dates import human_day
from agency.credentials.ce import ce_progress_for
from agency.credentials.models import CERecord, Document, License, PanelEnrollment, Therapist
from agency.credentials.screening import confirmed_exclusions
from agency.extensions import db
from agency.placements.matching import Candidate, _license_reasons, match_assignment
from agency.placements.readiness import CredentialSnapshot, assess
from agency.placements.services import change_status
from tests import factories
from tests.factories import START, TODAY
from tests.sql import count_statements


def ranked(assignment):
    return match_assignment(assignment, TODAY)


def by_therapist(candidates):
    return {c.therapist.id: c for c in candidates}


def against(candidate) -> str:
    return " | ".join(candidate.reasons_against)


def approved(person, payer):
    return factories.panel(person, payer=payer, status="approved", submitted_on=date(2026, 6, 1),
                           effective_on=date(2026, 9, 1))


# ----------------------------------------------------------------------------- licenses


def test_licensed_therapists_rank_first_the_longest_license_margin_leading():
    job = factories.assignment(factories.facility())
    short = factories.licensed_therapist(last_name="Short", expires_on=date(2027, 6, 30))
    long = factories.licensed_therapist(last_name="Long", expires_on=date(2028, 6, 30))
    unlicensed = factories.therapist(last_name="Aaron")
    candidates = ranked(job)
    assert [c.therapist for c in candidates] == [long, short, unlicensed]
    assert candidates[0].eligible and candidates[0].license_margin_days == 564
    assert "NY LCSW state license valid to Jun 30, 2028 (564 days past the start)" in candidates[0].reasons_for
    assert not candidates[2].eligible and candidates[2].license_margin_days is None
    assert "No active license or compact privilege in NY" in against(candidates[2])


def test_a_license_lapsing_before_the_start_is_a_reason_against():
    job = factories.assignment(factories.facility())
    person = factories.licensed_therapist(expires_on=date(2026, 12, 10))
    (candidate,) = ranked(job)
    assert candidate.therapist == person and not candidate.eligible
    assert "lapsed on Dec 10, 2026" in against(candidate)


def test_a_license_lapsing_during_the_assignment_ranks_below_one_that_lasts():
    job = factories.assignment(factories.facility())
    lapsing = factories.licensed_therapist(last_name="Aaron", expires_on=date(2027, 1, 31))
    lasting = factories.licensed_therapist(last_name="Zed", expires_on=date(2027, 6, 30))
    candidates = ranked(job)
    assert [c.therapist for c in candidates] == [lasting, lapsing]
    assert all(c.eligible for c in candidates)
    assert [w.code for w in candidates[1].readiness.warnings] == ["license_expires_during_placement"]


def test_a_license_is_needed_in_every_service_state():
    job = factories.assignment(factories.facility(), discipline="LPC", service_states=["NY", "NJ"])
    person = factories.therapist(discipline="LPC")
    ny = factories.license(person, state="NY", license_type="LPC", expires_on=date(2028, 6, 30))
    only_ny = factories.licensed_therapist(discipline="LPC", last_name="OnlyNY")
    factories.license(person, state="NJ", license_type="LPC", kind="compact_privilege",
                      home_license_id=ny.id, expires_on=date(2027, 6, 30))
    candidates = by_therapist(ranked(job))
    both = candidates[person.id]
    assert both.eligible and both.license_margin_days == (date(2027, 6, 30) - START).days
    assert any(r.startswith("NJ LPC compact privilege valid to Jun 30, 2027") for r in both.reasons_for)
    assert "No active license or compact privilege in NJ" in against(candidates[only_ny.id])
    assert candidates[only_ny.id].license_margin_days is None


# ----------------------------------------------------------------------------- discipline


def test_counselor_licenses_are_interchangeable_across_state_names():
    job = factories.assignment(factories.facility(), discipline="LPC", title="Outpatient counselor")
    counselors = [factories.licensed_therapist(discipline=d) for d in ("LPC", "LMHC", "LCPC", "LPCC")]
    factories.licensed_therapist(discipline="LCSW")
    factories.licensed_therapist(discipline="LMFT")
    candidates = ranked(job)
    assert {c.therapist.id for c in candidates} == {t.id for t in counselors}
    lmhc = by_therapist(candidates)[counselors[1].id]
    assert "LMHC matches the LPC opening" in lmhc.reasons_for


def test_other_disciplines_do_not_stand_in_for_each_other():
    job = factories.assignment(factories.facility(), discipline="LCSW")
    social_worker = factories.licensed_therapist(discipline="LCSW")
    factories.licensed_therapist(discipline="LPC")
    factories.licensed_therapist(discipline="PSYCHOLOGIST")
    assert [c.therapist for c in ranked(job)] == [social_worker]


# ----------------------------------------------------------------------------- panels and documents


def test_where_the_facility_bills_insurance_an_approved_panel_is_a_reason_for():
    place = factories.facility(bills_insurance=True, payers=["Aetna", "Optum"])
    job = factories.assignment(place)
    paneled = factories.licensed_therapist(caqh_attested_on=date(2026, 11, 20))
    approved(paneled, "aetna")
    waiting = factories.licensed_therapist(caqh_attested_on=date(2026, 11, 20))
    factories.panel(waiting, payer="Aetna", status="submitted")
    candidates = ranked(job)
    assert [c.therapist for c in candidates] == [paneled, waiting]
    assert "Approved with one of the facility's payers" in candidates[0].reasons_for
    assert "Not approved with any of the facility's payers (Aetna, Optum)" in against(candidates[1])


def test_a_facility_that_does_not_bill_insurance_asks_for_no_panel():
    job = factories.assignment(factories.facility())
    factories.licensed_therapist()
    (candidate,) = ranked(job)
    assert candidate.eligible
    assert not any("payer" in reason for reason in candidate.reasons_for + candidate.reasons_against)


def test_required_documents_on_file_and_current_are_a_reason_for():
    job = factories.assignment(factories.facility(required_documents=["tb_test", "bls_card"]))
    complete = factories.licensed_therapist(last_name="Complete")
    factories.document(complete, "tb_test", expires_on=date(2027, 9, 30))
    factories.document(complete, "bls_card", expires_on=date(2028, 1, 31))
    stale = factories.licensed_therapist(last_name="Stale")
    factories.document(stale, "tb_test", expires_on=date(2026, 12, 1))  # lapses before the start
    factories.document(stale, "bls_card", expires_on=date(2028, 1, 31))
    candidates = ranked(job)
    assert [c.therapist for c in candidates] == [complete, stale]
    assert "Every required document on file and current" in candidates[0].reasons_for
    assert "TB test is missing or expired on Dec 14, 2026" in against(candidates[1])
    assert "Every required document on file and current" not in candidates[1].reasons_for


# ----------------------------------------------------------------------------- availability


def test_a_therapist_marked_unavailable_is_a_reason_against():
    job = factories.assignment(factories.facility())
    factories.licensed_therapist(availability="unavailable")
    (candidate,) = ranked(job)
    assert candidate.reasons_against == ["Marked unavailable"]


def test_a_therapist_available_only_after_the_start_is_a_reason_against():
    job = factories.assignment(factories.facility())
    factories.licensed_therapist(available_from=START + timedelta(days=1))
    (candidate,) = ranked(job)
    assert candidate.reasons_against == ["Available only from Dec 15, 2026"]


def test_a_therapist_available_by_the_start_is_a_reason_for():
    job = factories.assignment(factories.facility())
    factories.licensed_therapist(availability="limited", available_from=START)
    (candidate,) = ranked(job)
    assert candidate.eligible and "Availability: limited" in candidate.reasons_for


@pytest.mark.parametrize(("other_start", "other_end", "hours", "status", "job_hours", "busy"), [
    (date(2026, 10, 1), date(2027, 1, 31), 40, "active", 40, True),
    (date(2027, 3, 1), None, 36, "proposed", 40, True),
    (date(2026, 10, 1), date(2027, 1, 31), 40, "active", 16, True),  # no room even for a part-time job
    (date(2026, 10, 1), date(2027, 1, 31), None, "active", 16, True),  # hours not agreed: assume full-time
    (date(2026, 6, 1), date(2026, 12, 13), 40, "active", 40, False),  # ends the day before
    (date(2026, 10, 1), date(2027, 1, 31), 20, "active", 40, False),  # part-time leaves room
    (date(2026, 12, 1), date(2027, 1, 31), 40, "cancelled", 40, False),
])
def test_an_overlapping_full_time_placement_is_a_reason_against(other_start, other_end, hours, status,
                                                                 job_hours, busy):
    job = factories.assignment(factories.facility(), hours_per_week=job_hours)
    person = factories.licensed_therapist()
    elsewhere = factories.facility(name="Capital District Psychiatric Center")
    other = factories.placement(person, elsewhere, start=other_start, end_on=other_end, hours_per_week=hours)
    if status == "active":
        change_status(other, "onboarding")
        factories.finish_checklist(other)
        change_status(other, "active")
    elif status == "cancelled":
        change_status(other, "cancelled", reason="facility froze hiring")
    (candidate,) = ranked(job)
    reason = f"Already placed full-time at Capital District Psychiatric Center from {human_day(other_start)}"
    assert (reason in candidate.reasons_against) is busy
    assert candidate.eligible is not busy


def test_a_proposal_for_this_same_assignment_is_not_other_full_time_work():
    job = factories.assignment(factories.facility())
    person = factories.licensed_therapist()
    factories.placement(person, job.facility, assignment_id=job.id)
    (candidate,) = ranked(job)
    assert candidate.eligible, candidate.reasons_against


# ----------------------------------------------------------------------------- who is a candidate


def test_a_do_not_place_therapist_ranks_last_with_the_reason():
    job = factories.assignment(factories.facility())
    flagged = factories.licensed_therapist(status="do_not_place", last_name="Aaron",
                                      expires_on=date(2030, 1, 1))
    # Two reasons against, yet still a better prospect than someone the agency will not place.
    stranger = factories.therapist(availability="unavailable", last_name="Zed")
    ready = factories.licensed_therapist(last_name="Miller")
    candidates = ranked(job)
    assert [c.therapist for c in candidates] == [ready, stranger, flagged]
    assert len(candidates[1].reasons_against) == 2
    assert candidates[2].reasons_against == ["The therapist is marked do not place"]


def test_inactive_therapists_are_not_candidates():
    job = factories.assignment(factories.facility())
    factories.licensed_therapist(status="inactive")
    active = factories.licensed_therapist()
    assert [c.therapist for c in ranked(job)] == [active]


# ----------------------------------------------------------------------------- cost


def well_documented_therapist(n: int, place, elsewhere):
    """A therapist with everything matching reads: licenses, a privilege, panels, documents, CE, work."""
    person = factories.therapist(discipline="LCSW", caqh_attested_on=date(2026, 10, 1))
    home = factories.license(person, state="NY", expires_on=date(2028, 6, 30))
    factories.license(person, state="NJ", license_type="LCSW", kind="compact_privilege",
                      home_license_id=home.id, expires_on=date(2027, 12, 31))
    approved(person, "Aetna")
    factories.document(person, "tb_test", expires_on=date(2027, 9, 30))
    factories.ce_record(person)
    if n % 3 == 0:
        factories.placement(person, elsewhere, start=date(2026, 12, 1), end_on=date(2027, 2, 28))
    return person


def test_matching_costs_the_same_number_of_queries_for_3_or_30_therapists():
    factories.ce_rule(state="NY", license_type="LCSW", hours="36", months=36, topics={"ethics": "3"})
    place = factories.facility(bills_insurance=True, payers=["Aetna"], required_documents=["tb_test"])
    elsewhere = factories.facility()
    job = factories.assignment(place, service_states=["NY", "NJ"])
    job_id = job.id
    for n in range(3):
        well_documented_therapist(n, place, elsewhere)

    def match():
        db.session.expire_all()
        from agency.placements.models import Assignment

        candidates = match_assignment(db.session.get(Assignment, job_id), TODAY)
        # Read everything the matches page and the API show, so lazy loads would be counted too.
        for c in candidates:
            _ = (c.reasons_for, c.reasons_against, c.readiness.as_dict(), c.license_margin_days,
                 c.therapist.id, c.therapist.full_name, c.therapist.status, c.therapist.discipline)
        return candidates

    few = count_statements(match)
    for n in range(3, 30):
        well_documented_therapist(n, place, elsewhere)
    many = count_statements(match)
    assert len(match()) == 30
    assert few == many


# ----------------------------------------------------------------------------- against a plain reference

STATES = ("NY", "NJ", "PA")
PAYERS = ("Aetna", "aetna", "Cigna", "Optum")


def random_roster(rng, elsewhere, size=40):
    """Therapists of every kind matching meets: counselors under other titles, do-not-place and inactive
    ones, licenses and privileges lapsing around the start, panels, documents, CE and other work."""
    people = []
    for _ in range(size):
        discipline = rng.choice(("LPC", "LMHC", "LCPC", "LCSW"))
        attested = rng.choice((None, TODAY - timedelta(days=rng.randint(0, 130))))
        person = factories.therapist(
            discipline=discipline, last_name=rng.choice(("Adams", "Baker", "Chen")),
            status=rng.choice(("active", "active", "active", "do_not_place", "inactive")),
            availability=rng.choice(("available", "limited", "unavailable")),
            available_from=rng.choice((None, START + timedelta(days=rng.randint(-20, 20)))),
            hours_per_week=rng.choice((None, 20, 40)), caqh_attested_on=attested)
        license_type = "LCSW" if discipline == "LCSW" else discipline
        held = rng.sample(STATES, rng.choice((0, 1, 2, 2, 3, 3)))
        home = None
        for k, state in enumerate(held):
            # One license a state, each expiring on its own day: ties between licenses are not the point here.
            expires = START + timedelta(days=rng.randint(-40, 400) * 4 + k)
            kind = "state_license" if home is None else rng.choice(("state_license", "compact_privilege", "temporary"))
            lic = License(therapist=person, state=state, license_type=license_type, number=f"R{person.id}-{k}",
                          kind=kind, issued_on=min(expires - timedelta(days=1), START + timedelta(days=rng.choice(
                              (-700, -300, -300, 5)))), expires_on=expires,
                          home_license_id=home.id if kind == "compact_privilege" else None)
            db.session.add(lic)
            db.session.flush()
            home = home or lic
        for _ in range(rng.randint(0, 4)):
            db.session.add(CERecord(therapist=person, title="Course", provider="NBCC", hours=Decimal(rng.choice(
                (3, 6, 12))), topic=rng.choice(("general", "ethics")),
                completed_on=TODAY - timedelta(days=rng.randint(0, 900))))
        for payer in rng.sample(PAYERS, rng.randint(0, 3)):
            status = rng.choice(("approved", "approved", "submitted", "denied"))
            db.session.add(PanelEnrollment(therapist=person, payer=payer, status=status,
                                           effective_on=START + timedelta(days=rng.randint(-60, 10))
                                           if status == "approved" and rng.random() < 0.7 else None))
        db.session.commit()
        for doc_type in rng.sample(("tb_test", "bls_card", "malpractice_coi"), rng.choice((0, 2, 2, 3))):
            factories.document(person, doc_type, expires_on=START + timedelta(days=rng.randint(-30, 300)))
        if person.status == "active" and rng.random() < 0.2:
            factories.placement(person, elsewhere, start=START - timedelta(days=rng.randint(0, 60)),
                                end_on=START + timedelta(days=rng.randint(-5, 60)),
                                hours_per_week=rng.choice((20, 40)))
        people.append(person)
    return people


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("payer_and_papers", [True, False], ids=["insurance-and-documents", "plain"])
def test_matching_judges_every_candidate_as_readiness_does_on_the_full_record(seed, payer_and_papers):
    """Matching loads only what can decide the opening; each candidate must still read exactly as
    readiness judges the therapist's whole record, and the ranking follow from those readings."""
    rng = random.Random(seed)
    factories.ce_rule(state="NY", license_type="LPC", hours="24", months=24, topics={"ethics": "3"})
    factories.ce_rule(state="NJ", license_type="LMHC", hours="12", months=24)
    place = factories.facility(bills_insurance=payer_and_papers, payers=["AETNA", "Optum"] if payer_and_papers
                               else [], required_documents=["tb_test", "bls_card"] if payer_and_papers else [])
    people = random_roster(rng, factories.facility())
    job = factories.assignment(place, discipline="LPC", service_states=["NY", "NJ"])
    candidates = ranked(job)

    pool = {p.id for p in people if p.discipline != "LCSW" and p.status != "inactive"}
    assert [c.therapist.id for c in candidates] != [] and {c.therapist.id for c in candidates} == pool
    # Equal standing keeps the roster's order.
    assert candidates == sorted(candidates, key=lambda c: (c.sort_key(), c.therapist.id))
    db.session.expire_all()
    for c in candidates:
        person = db.session.get(Therapist, c.therapist.id)
        everything = CredentialSnapshot(
            licenses={person.id: person.licenses}, panels={person.id: person.panels},
            documents={person.id: db.session.scalars(sa.select(Document).where(Document.owner_id == person.id)).all()},
            ce=ce_progress_for(person.licenses), exclusions=confirmed_exclusions([person.id]))
        reference = assess(person, place, job.service_states, job.start_on, job.end_on, TODAY, snapshot=everything)
        assert c.readiness.as_dict() == reference.as_dict(), person.id
        plain = Candidate(person, reference)
        _license_reasons(plain, person.licenses, job.service_states, job.start_on)
        assert plain.license_margin_days == c.license_margin_days
        assert all(reason in c.reasons_for for reason in plain.reasons_for)
