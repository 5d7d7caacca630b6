"""Rules as data: CAQH re-attestation per state, re-credentialing per payer, CE rules with their sources.

Every date derived from a rule is computed from the rule in force, so changing a rule moves every
due date, worklist item and compliance-watch row at once; the audit log says who changed which rule.
"""

import tomllib
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from agency.core.audit import AuditEvent
from agency.credentials import rules
from agency.credentials.models import CAQHRule, CERule, CredentialReminder, PanelEnrollment, PayerRule, Therapist
from agency.credentials.scan import daily_credential_scan
from agency.credentials.services import load_ce_reference
from agency.credentials.worklist import worklist
from agency.extensions import db
from agency.placements.watch import Watch
from tests import factories
from tests.factories import TODAY

CHECKED = date(2026, 11, 2)
CAQH = {"interval_days": 120, "reminder_days": [15, 10, 5], "source": "CAQH ProView", "checked_on": CHECKED}


def caqh_rule(state=None, **values) -> CAQHRule:
    return rules.save_caqh_rule(None, {**CAQH, "state": state, **values})


def payer_rule(payer=None, months=36) -> PayerRule:
    return rules.save_payer_rule(None, {"payer": payer, "months": months, "source": "NCQA", "checked_on": CHECKED})


def attested(state: str, days_ago: int) -> Therapist:
    return factories.therapist(home_state=state, caqh_id="1234", caqh_attested_on=TODAY - timedelta(days=days_ago))


def fresh(obj):
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def shipped(app):
    """The reference rules as the product ships them."""
    rules.load_reference()


# ----------------------------------------------------------------------------- CAQH per state


def test_an_illinois_therapist_re_attests_180_days_after_attesting_a_texan_120(shipped):
    illinois, texas = attested("IL", 10), attested("TX", 10)
    assert illinois.caqh_attestation_due_on == TODAY - timedelta(days=10) + timedelta(days=180)
    assert texas.caqh_attestation_due_on == TODAY - timedelta(days=10) + timedelta(days=120)
    # The same rule in SQL: what lists and the worklist filter on.
    due = dict(db.session.execute(sa.select(Therapist.id, Therapist.caqh_attestation_due_on)).all())
    assert due == {illinois.id: illinois.caqh_attestation_due_on, texas.id: texas.caqh_attestation_due_on}


def test_with_no_rule_stored_the_configured_120_days_apply(app):
    assert attested("IL", 0).caqh_attestation_due_on == TODAY + timedelta(days=120)


def test_a_state_without_a_rule_follows_the_default_row_which_is_itself_editable(app):
    default = caqh_rule(None, interval_days=100, reminder_days=[7])
    person = attested("OH", 0)
    assert person.caqh_attestation_due_on == TODAY + timedelta(days=100)
    rules.save_caqh_rule(default, {"interval_days": 90})
    assert fresh(person).caqh_attestation_due_on == TODAY + timedelta(days=90)


def test_changing_the_illinois_rule_moves_the_due_date_the_worklist_item_and_the_watch_row_at_once(app, shipped):
    person = factories.licensed_therapist(state="IL", home_state="IL", caqh_id="5555",
                                          caqh_attested_on=TODAY - timedelta(days=100))
    placement = factories.placement(person, factories.facility(state="IL"), date(2026, 9, 1),
                                    end_on=date(2027, 6, 30), service_states=["IL"])
    factories.finish_checklist(placement)
    placement.status = "active"
    db.session.commit()

    def caqh_items():
        return [i.due_on for i in worklist(TODAY, kind="caqh_due") if i.therapist.id == person.id]

    def watch_day():
        return [row.bites_on for row in Watch(TODAY, code="caqh_attestation_due").rows]

    # 180 days: due in 80, inside the worklist's 90-day horizon.
    assert caqh_items() == [TODAY + timedelta(days=80)] and watch_day() == [TODAY + timedelta(days=80)]
    illinois = db.session.scalar(sa.select(CAQHRule).where(CAQHRule.state == "IL"))
    rules.save_caqh_rule(illinois, {"interval_days": 150, "checked_on": CHECKED})
    assert fresh(person).caqh_attestation_due_on == TODAY + timedelta(days=50)
    assert caqh_items() == [TODAY + timedelta(days=50)] and watch_day() == [TODAY + timedelta(days=50)]
    rules.save_caqh_rule(db.session.get(CAQHRule, illinois.id), {"interval_days": 365, "reminder_days": [30],
                                                                 "checked_on": CHECKED})
    assert caqh_items() == [] and watch_day() == []


def test_the_scan_reminds_of_caqh_at_15_10_and_5_days_once_each(app, shipped):
    person = attested("TX", 120 - 16)  # due in 16 days: nothing yet

    def sent():
        return sorted(db.session.scalars(sa.select(CredentialReminder.threshold)
                                         .where(CredentialReminder.item_kind == "caqh")).all(), reverse=True)

    for day_left, expected in ((16, []), (15, [15]), (12, [15]), (10, [15, 10]), (6, [15, 10]), (5, [15, 10, 5]),
                               (1, [15, 10, 5])):
        daily_credential_scan((person.caqh_attestation_due_on - timedelta(days=day_left)).isoformat())
        daily_credential_scan((person.caqh_attestation_due_on - timedelta(days=day_left)).isoformat())
        assert sent() == expected, day_left


def test_the_scan_follows_the_reminder_days_of_the_therapists_own_state(app, shipped):
    rules.save_caqh_rule(db.session.scalar(sa.select(CAQHRule).where(CAQHRule.state == "IL")),
                         {"reminder_days": [45, 20], "checked_on": CHECKED})
    illinois, texas = attested("IL", 180 - 45), attested("TX", 120 - 45)
    daily_credential_scan(TODAY.isoformat())
    sent = dict(db.session.execute(sa.select(CredentialReminder.item_id, CredentialReminder.threshold)).all())
    assert sent == {illinois.id: 45}  # Texas reminds at 15 days, not 45
    assert texas.id not in sent


@pytest.mark.parametrize("values, field", [
    ({"interval_days": 0}, "interval_days"),
    ({"interval_days": 3651}, "interval_days"),
    ({"reminder_days": []}, "reminder_days"),
    ({"reminder_days": [15, 0]}, "reminder_days"),
    ({"reminder_days": [10, 10]}, "reminder_days"),
    ({"reminder_days": [180]}, "reminder_days"),  # not below the interval
    ({"state": "ZZ"}, "state"),
    ({"source": "  "}, "source"),
    ({"checked_on": TODAY + timedelta(days=1)}, "checked_on"),
    ({"checked_on": None}, "checked_on"),
])
def test_a_caqh_rule_that_breaks_a_rule_is_refused_and_changes_nothing(app, values, field):
    rule = caqh_rule("IL", interval_days=180)
    before = count(AuditEvent)
    with pytest.raises(Exception) as refused:
        rules.save_caqh_rule(rule, values)
    assert field in refused.value.fields
    db.session.rollback()
    kept = fresh(rule)
    assert (kept.interval_days, kept.reminder_days, kept.source) == (180, [15, 10, 5], "CAQH ProView")
    assert count(AuditEvent) == before


def test_reminder_days_are_kept_largest_first_and_a_second_rule_for_a_state_or_default_is_refused(app):
    assert caqh_rule("IL", interval_days=180, reminder_days=[5, 15, 10]).reminder_days == [15, 10, 5]
    caqh_rule(None)
    for state in ("IL", None):
        with pytest.raises(Exception) as refused:
            caqh_rule(state)
        assert refused.value.status == 409 and "state" in refused.value.fields
        db.session.rollback()
    assert count(CAQHRule) == 2


# ----------------------------------------------------------------------------- payers


def approved(payer="Aetna", effective=date(2025, 1, 15), **values) -> PanelEnrollment:
    return factories.panel(factories.therapist(), payer=payer, status="approved",
                           submitted_on=effective - timedelta(days=90), effective_on=effective,
                           next_follow_up_on=None, **values)


def test_re_credentialing_falls_due_36_months_after_approval_by_default(app, shipped):
    panel = approved()
    assert panel.recredential_due_on == date(2028, 1, 15)
    pending = factories.panel(factories.therapist(), payer="Cigna")
    assert pending.recredential_due_on is None  # not approved: nothing to re-credential


def test_a_24_month_payer_rule_moves_the_due_date_and_the_worklist_at_once(app, shipped):
    panel = approved(payer="UnitedHealthcare/Optum", effective=date(2024, 12, 20))

    def listed():
        return [(i.item_id, i.due_on) for i in worklist(TODAY, kind="panel_recredential")]

    assert listed() == []  # December 2027: beyond the horizon
    rule = payer_rule("unitedhealthcare/optum", months=24)  # matched whatever the letter case
    assert fresh(panel).recredential_due_on == date(2026, 12, 20)
    assert listed() == [(panel.id, date(2026, 12, 20))]
    rules.delete_payer_rule(rule)
    assert fresh(panel).recredential_due_on == date(2027, 12, 20) and listed() == []


def test_a_date_the_payer_gave_wins_over_the_rule(app, shipped, browser):
    panel = approved(effective=date(2025, 1, 15))
    b = browser("credentialing")
    page = b.get(f"/panels/{panel.id}/edit").data.decode()
    assert "Leave blank to follow Aetna&#39;s rule: 36 months" in page and "now Jan 15, 2028" in page
    form = {"payer": "Aetna", "status": "approved", "submitted_on": "2024-10-01", "effective_on": "2025-01-15",
            "recredential_due_override": "2026-12-31"}
    assert b.post(f"/panels/{panel.id}/edit", form).status_code == 302
    assert fresh(panel).recredential_due_on == date(2026, 12, 31)
    payer_rule("Aetna", months=12)
    assert fresh(panel).recredential_due_on == date(2026, 12, 31)  # the payer's own date stays
    assert b.post(f"/panels/{panel.id}/edit", {**form, "recredential_due_override": ""}).status_code == 302
    assert fresh(panel).recredential_due_on == date(2026, 1, 15)  # back on the rule: 12 months


@pytest.mark.parametrize("values, field", [
    ({"months": 0}, "months"), ({"months": 121}, "months"), ({"source": ""}, "source"),
    ({"checked_on": TODAY + timedelta(days=1)}, "checked_on"), ({"payer": "AETNA"}, "payer"),
])
def test_a_payer_rule_that_breaks_a_rule_is_refused_and_changes_nothing(app, values, field):
    payer_rule("Aetna", 24)
    rule = payer_rule("Cigna", 24)
    with pytest.raises(Exception) as refused:
        rules.save_payer_rule(rule, values)
    assert field in refused.value.fields
    db.session.rollback()
    assert (fresh(rule).payer, fresh(rule).months) == ("Cigna", 24)


# ----------------------------------------------------------------------------- CE


def test_the_shipped_ce_rules_are_the_boards_rules_with_their_source_and_checked_date(app):
    load_ce_reference()
    shipped = {(r.state, r.license_type): r for r in db.session.scalars(sa.select(CERule))}
    topics = {key: {t.topic: t.hours for t in r.topics} for key, r in shipped.items()}

    def hours(key):
        return shipped[key].hours_required, shipped[key].cycle_months

    assert hours(("TX", "LCSW")) == (Decimal(30), 24) and topics["TX", "LCSW"] == {
        "ethics": Decimal(6), "cultural_competence": Decimal(3)}
    assert "22 TAC 781.501" in shipped["TX", "LCSW"].source
    assert hours(("TX", "LPC")) == (Decimal(24), 24) and topics["TX", "LPC"] == {
        "ethics": Decimal(6), "cultural_competence": Decimal(3)}
    assert hours(("TX", "PSYCHOLOGIST")) == (Decimal(40), 24) and topics["TX", "PSYCHOLOGIST"] == {
        "ethics": Decimal(6), "cultural_competence": Decimal(6)}
    for kind in ("LCSW", "LMFT", "LPCC"):
        assert hours(("CA", kind)) == (Decimal(36), 24) and topics["CA", kind] == {"ethics": Decimal(6)}
        assert "suicide" in shipped["CA", kind].notes and "telehealth" in shipped["CA", kind].notes
    assert hours(("NY", "LCSW")) == (Decimal(36), 36) and topics["NY", "LCSW"] == {}
    assert "12" in shipped["NY", "LCSW"].notes and "child abuse" in shipped["NY", "LCSW"].notes
    assert hours(("FL", "LCSW")) == (Decimal(30), 24) and topics["FL", "LCSW"] == {
        "medical_errors": Decimal(2), "ethics": Decimal(3)}
    assert hours(("IL", "LCSW")) == (Decimal(30), 24) and topics["IL", "LCSW"] == {
        "ethics": Decimal(3), "cultural_competence": Decimal(3), "sexual_harassment_prevention": Decimal(1)}
    assert hours(("PA", "LCSW")) == (Decimal(30), 24) and topics["PA", "LCSW"] == {
        "ethics": Decimal(3), "child_abuse": Decimal(2), "suicide_prevention": Decimal(1)}
    # Only what was checked ships: six states, each rule with its source and the day it was checked.
    assert {state for state, _ in shipped} == {"TX", "CA", "NY", "FL", "IL", "PA"}
    assert all(r.source and r.checked_on == date(2026, 12, 1) for r in shipped.values())


def test_the_shipped_caqh_and_payer_rules_name_their_sources(app):
    rules.load_reference()
    caqh = {r.state: r for r in rules.caqh_rules()}
    assert (caqh[None].interval_days, caqh[None].reminder_days) == (120, [15, 10, 5])
    assert (caqh["IL"].interval_days, caqh["IL"].reminder_days) == (180, [15, 10, 5])
    payers = {r.payer: r for r in rules.payer_rules()}
    assert payers[None].months == 36 and "NCQA" in payers[None].source
    assert all(r.source and r.checked_on for r in [*caqh.values(), *payers.values()])
    # Loading again keeps what is there, edited or not.
    rules.save_caqh_rule(caqh["IL"], {"interval_days": 170, "checked_on": CHECKED})
    assert rules.load_reference()["caqh"] == (0, 2)
    assert fresh(caqh["IL"]).interval_days == 170


def test_a_ce_rule_change_moves_the_ce_shortfall_of_the_worklist_at_once(app, shipped):
    person = factories.therapist(home_state="TX")
    factories.license(person, state="TX", license_type="LCSW", expires_on=TODAY + timedelta(days=100))
    factories.ce_record(person, hours=Decimal(30), topic="ethics", completed_on=TODAY - timedelta(days=30))
    factories.ce_record(person, hours=Decimal(3), topic="cultural_competence", completed_on=TODAY - timedelta(days=30))
    assert [i for i in worklist(TODAY, kind="ce_shortfall")] == []
    rule = db.session.scalar(sa.select(CERule).where(CERule.state == "TX", CERule.license_type == "LCSW"))
    from agency.credentials.services import save_ce_rule

    save_ce_rule(rule, {"hours_required": Decimal(40), "checked_on": CHECKED},
                 {"ethics": Decimal(6), "cultural_competence": Decimal(3)})
    assert [i.detail for i in worklist(TODAY, kind="ce_shortfall")] == ["7.00 of 40.00 h short"]


def test_the_reference_file_lists_only_topics_the_product_knows(app):
    from agency.credentials.models import CE_TOPICS

    with rules.REFERENCE.joinpath("ce_rules.toml").open("rb") as fh:
        for rule in tomllib.load(fh)["rules"]:
            assert set(rule.get("topics", {})) <= set(CE_TOPICS), rule


# ----------------------------------------------------------------------------- audit, pages, API, roles


def test_the_audit_log_says_who_changed_which_rule_with_old_and_new_values(app, api, users):
    rule = caqh_rule("IL", interval_days=180)
    response = api("admin").patch(f"/api/v1/reference/caqh-rules/{rule.id}", json={"interval_days": 150})
    assert response.status_code == 200 and response.json["interval_days"] == 150
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.object_type == "caqh_rule",
                                                          AuditEvent.action == "update"))
    assert event.user_id == users["admin"].id and event.object_id == rule.id
    assert event.changes == {"interval_days": [180, 150]} and "CAQH rule IL" in event.summary
    assert api("admin").delete(f"/api/v1/reference/caqh-rules/{rule.id}").status_code == 204
    deleted = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "delete"))
    assert deleted.changes["interval_days"] == [150, None]


def test_the_api_lists_creates_and_refuses_rules_in_the_one_error_shape(api):
    admin = api("admin")
    made = admin.post("/api/v1/reference/payer-rules", json={
        "payer": "Magellan", "months": 24, "source": "Magellan provider manual", "checked_on": "2026-11-20"})
    assert made.status_code == 201 and made.json["payer"] == "Magellan"
    again = admin.post("/api/v1/reference/payer-rules", json={
        "payer": "magellan", "months": 36, "source": "x", "checked_on": "2026-11-20"})
    assert again.status_code == 409 and "payer" in again.json["error"]["fields"]
    bad = admin.post("/api/v1/reference/caqh-rules", json={
        "state": "IL", "interval_days": 180, "reminder_days": [200], "source": "CAQH", "checked_on": "2026-11-20"})
    assert bad.status_code == 400 and "reminder_days" in bad.json["error"]["fields"]
    assert count(CAQHRule) == 0
    listed = api("credentialing").get("/api/v1/reference/payer-rules")
    assert [r["payer"] for r in listed.json["items"]] == ["Magellan"]
    ce = admin.post("/api/v1/reference/ce-rules", json={
        "state": "TX", "license_type": "LCSW", "hours_required": "30", "cycle_months": 24,
        "topics": [{"topic": "ethics", "hours": "6"}], "source": "22 TAC 781.501", "checked_on": "2026-11-20"})
    assert ce.status_code == 201 and ce.json["topics"] == [{"topic": "ethics", "hours": "6.00"}]


def test_an_enrollment_reports_its_derived_date_and_takes_the_payers_own_as_an_override(api):
    therapist = factories.therapist()
    caller = api("credentialing")
    made = caller.post(f"/api/v1/therapists/{therapist.id}/panels", json={
        "payer": "Cigna", "status": "approved", "submitted_on": "2024-01-10", "effective_on": "2024-03-01"})
    assert made.status_code == 201
    assert (made.json["recredential_due_on"], made.json["recredential_due_override"]) == ("2027-03-01", None)
    patched = caller.patch(f"/api/v1/panels/{made.json['id']}", json={"recredential_due_override": "2026-12-15"})
    assert patched.json["recredential_due_on"] == "2026-12-15"
    refused = caller.patch(f"/api/v1/panels/{made.json['id']}", json={"recredential_due_on": "2027-01-01"})
    assert refused.status_code == 400 and "recredential_due_on" in refused.json["error"]["fields"]


def test_staff_see_the_reference_rules_with_sources_and_only_an_admin_changes_them(app, shipped, browser, api):
    for role in ("credentialing", "recruiter", "billing"):
        page = browser(role).get("/reference-rules")
        assert page.status_code == 200
        text = page.data.decode()
        assert "180 days" in text and "22 TAC 781.501" in text and "Dec 1, 2026" in text
        assert "New CAQH rule" not in text
        assert browser(role).get("/reference-rules/caqh/new").status_code == 403
        assert api(role).post("/api/v1/reference/caqh-rules", json={}).status_code == 403
    assert browser("facility").get("/reference-rules").status_code == 403
    assert "New CAQH rule" in browser("admin").get("/reference-rules").data.decode()


def test_an_admin_edits_a_caqh_rule_on_its_form_and_a_bad_one_is_shown_beside_its_field(app, shipped, browser):
    illinois = db.session.scalar(sa.select(CAQHRule).where(CAQHRule.state == "IL"))
    b = browser("admin")
    form = {"state": "IL", "interval_days": "180", "reminder_days": "15, 10, 5", "source": "CAQH ProView",
            "checked_on": "2026-11-20"}
    bad = b.post(f"/reference-rules/caqh/{illinois.id}/edit", {**form, "reminder_days": "30, 30"})
    assert bad.status_code == 200 and "lists a day twice" in bad.data.decode()
    assert b.post(f"/reference-rules/caqh/{illinois.id}/edit", {**form, "reminder_days": "30, 7"}).status_code == 302
    assert fresh(illinois).reminder_days == [30, 7]
    assert b.post("/reference-rules/payers/new", {"payer": "Optum", "months": "24", "source": "Optum manual",
                                                   "checked_on": "2026-11-20"}).status_code == 302
    rule = db.session.scalar(sa.select(PayerRule).where(PayerRule.payer == "Optum"))
    assert b.post(f"/reference-rules/payers/{rule.id}/delete", form_url="/reference-rules").status_code == 302
    assert db.session.get(PayerRule, rule.id) is None


def test_the_default_36_months_is_relativedelta_months_in_sql_too(app, shipped):
    # The last day of a month keeps to the last day of the target month, in SQL as in Python.
    panel = approved(effective=date(2024, 2, 29))
    assert panel.recredential_due_on == date(2024, 2, 29) + relativedelta(months=36) == date(2027, 2, 28)
    in_sql = db.session.scalar(sa.select(PanelEnrollment.recredential_due_on).where(PanelEnrollment.id == panel.id))
    assert in_sql == date(2027, 2, 28)


def test_the_reference_page_and_the_rule_lists_cost_the_same_statements_however_many_rules(app, shipped, browser,
                                                                                          api):
    from tests.sql import statements_per_page

    b, caller = browser("credentialing"), api("credentialing")
    urls = ["/reference-rules", "/therapists"]
    apis = ["/api/v1/reference/caqh-rules", "/api/v1/reference/payer-rules", "/api/v1/reference/ce-rules",
            "/api/v1/therapists"]

    def costs():
        db.session.expire_all()
        return statements_per_page(b, urls), statements_per_page(caller, apis)

    attested("IL", 10)
    small = costs()
    for n, state in enumerate(("OH", "NJ", "GA", "MA", "WA")):
        caqh_rule(state, interval_days=100 + n)
        payer_rule(f"Plan {n}", months=24 + n)
        factories.ce_rule(state=state, topics={"ethics": "3", "general": "1"})
        attested(state, 10)
    assert costs() == small


def test_a_duplicate_that_races_past_the_check_is_refused_by_the_database_naming_the_field(app):
    from agency.core.errors import Conflict
    from agency.core.integrity import flush_or_conflict

    held = caqh_rule("IL", interval_days=180)
    payer = payer_rule("Aetna")
    for copy, field, holder in ((CAQHRule(state="IL", interval_days=90, reminder_days=[5], source="x",
                                          checked_on=CHECKED), "state", held.id),
                                (PayerRule(payer="Aetna", months=12, source="x", checked_on=CHECKED), "payer",
                                 payer.id)):
        db.session.add(copy)
        with pytest.raises(Conflict) as refused:
            flush_or_conflict()
        assert list(refused.value.fields) == [field] and f"(id {holder})" in refused.value.message
    assert count(CAQHRule) == 1 and count(PayerRule) == 1
