"""Revenue at risk: each onboarding and active placement that stops being ready before it ends, from the first
day it does (the compliance watch's soonest cause), and what its rate card says it earns per week from then to
its end, largest first; on one screen, in the API, a CSV and on the admin and credentialing dashboards."""

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from agency.billing.pricing import week_price
from agency.credentials.services import renew_license
from agency.extensions import db
from agency.placements.at_risk import prorated, revenue_at_risk
from agency.placements.models import Placement
from agency.placements.readiness import readiness
from agency.placements.watch import watch_rows
from tests import factories
from tests.factories import TODAY
from tests.sql import counted

END = date(2027, 3, 31)
HORIZON = TODAY + timedelta(days=90)  # WORKLIST_HORIZON_DAYS after the pinned today: as far as the watch looks


def live(therapist, place, *, status="active", start=date(2026, 9, 1), end=END, **values) -> Placement:
    """A placement put straight into its status, every onboarding item done."""
    placement = factories.placement(therapist, place, start, end_on=end, **values)
    factories.finish_checklist(placement)
    placement.status = status
    db.session.commit()
    return placement


def priced_clinic(**rates):
    """A New York clinic whose contract pays $90 an hour (time and a half over 40 h a week) unless told."""
    clinic = factories.facility()
    factories.rate_card(clinic, **rates)
    return clinic


def by_placement(as_of=TODAY) -> dict:
    return {item.placement_id: item for item in revenue_at_risk(as_of).items}


@pytest.fixture
def agency():
    """A placement per cause, with dollars: a lapsing license, a lapsing home license under a compact privilege,
    a re-credentialing missed, a document expiring, CAQH due; one that stays ready; one not watched."""
    clinic = priced_clinic()
    made = {"clinic": clinic}
    made["lapses"] = live(factories.licensed_therapist(expires_on=date(2026, 12, 31)), clinic)

    home = factories.therapist(home_state="MO", discipline="LPC")
    home_license = factories.license(home, state="MO", license_type="LPC", expires_on=date(2027, 2, 28))
    factories.license(home, state="NY", license_type="LPC", kind="compact_privilege", expires_on=date(2028, 6, 30),
                      home_license_id=home_license.id)
    made["privilege"] = live(home, clinic)

    insured = factories.facility(name="Insured IOP", bills_insurance=True, payers=["Aetna", "Cigna"],
                                 required_documents=["bls_card"])
    factories.rate_card(insured, direct_care_hour="120.00")
    recredential = factories.licensed_therapist(caqh_attested_on=date(2026, 11, 1))
    made["recredential_panel"] = factories.panel(recredential, payer="Aetna", status="approved",
                                                 submitted_on=date(2023, 6, 1), effective_on=date(2024, 1, 20),
                                                 recredential_due_on=date(2027, 1, 20))
    factories.document(recredential, "bls_card", expires_on=date(2028, 1, 15))
    made["recredential"] = live(recredential, insured, end=date(2027, 2, 28))

    expiring = factories.licensed_therapist(caqh_attested_on=date(2026, 11, 1))
    factories.panel(expiring, payer="cigna", status="approved", submitted_on=date(2026, 1, 1),
                    effective_on=date(2026, 2, 1))
    factories.document(expiring, "bls_card", expires_on=date(2027, 1, 15))
    made["document"] = live(expiring, insured, end=date(2027, 2, 28))

    caqh = factories.licensed_therapist(caqh_id="12345678", caqh_attested_on=date(2026, 8, 15))
    made["caqh"] = live(caqh, clinic)
    made["fine"] = live(factories.licensed_therapist(), clinic)
    made["proposed"] = live(factories.licensed_therapist(expires_on=date(2026, 12, 31)), clinic, status="proposed")
    return made


# ----------------------------------------------------------------------------- the day and the cause


def test_each_cause_gives_its_day_and_code(agency):
    """A license lapse bites the day after it, a privilege with its home license, a missed re-credentialing the
    day after it was due, a required document the day after it expires, CAQH on the day it falls due."""
    found = by_placement()
    expected = {
        "lapses": ("license_expired", date(2027, 1, 1)),
        "privilege": ("license_expired", date(2027, 3, 1)),
        "recredential": ("panel_not_approved", date(2027, 1, 21)),
        "document": ("document_missing", date(2027, 1, 16)),
        "caqh": ("caqh_attestation_due", date(2026, 12, 13)),
    }
    assert {name: (found[agency[name].id].code, found[agency[name].id].at_risk_on) for name in expected} == expected
    assert agency["fine"].id not in found and agency["proposed"].id not in found


def test_readiness_agrees_a_missed_recredentialing_ends_the_approval_the_day_after_it_was_due(agency):
    """NCQA re-credentialing: a payer drops a provider who misses it, so the approval is not in effect after."""
    placement = agency["recredential"]
    on_due = readiness(placement, date(2027, 1, 20))
    after = readiness(placement, date(2027, 1, 21))
    assert "panel_not_approved" not in {b.code for b in on_due.blockers}
    assert [b.message for b in after.blockers if b.code == "panel_not_approved"] == [
        "Re-credentialing with Aetna was due on Jan 20, 2027: not approved with any of the facility's payers "
        "(Aetna, Cigna) on Jan 21, 2027"]


def test_another_approved_panel_of_the_facilitys_payers_covers_a_missed_recredentialing(agency):
    factories.panel(agency["recredential"].therapist, payer="Cigna", status="approved",
                    submitted_on=date(2026, 3, 1), effective_on=date(2026, 4, 1))
    assert agency["recredential"].id not in by_placement()


def test_the_earliest_cause_wins(agency):
    """A license lapsing on Jan 1 and CAQH due on Dec 13: the placement is at risk from Dec 13, for CAQH."""
    both = factories.licensed_therapist(expires_on=date(2026, 12, 31), caqh_attested_on=date(2026, 8, 15))
    placement = live(both, agency["clinic"])
    item = by_placement()[placement.id]
    assert (item.code, item.at_risk_on) == ("caqh_attestation_due", date(2026, 12, 13))


def test_a_placement_already_not_ready_is_at_risk_from_as_of(agency):
    unlicensed = live(factories.licensed_therapist(), agency["clinic"], service_states=["NY", "NJ"])
    item = by_placement()[unlicensed.id]
    assert (item.code, item.at_risk_on) == ("no_license_in_state", TODAY)
    later = by_placement(date(2027, 1, 10))
    assert later[agency["lapses"].id].at_risk_on == date(2027, 1, 10)


def test_a_therapist_marked_do_not_place_puts_the_placement_at_risk_today(agency):
    agency["fine"].therapist.status = "do_not_place"
    db.session.commit()
    assert by_placement()[agency["fine"].id].code == "do_not_place"


def test_open_onboarding_items_and_hours_already_held_are_no_revenue_at_risk(agency):
    starting = factories.placement(factories.licensed_therapist(), agency["clinic"], date(2026, 12, 7), end_on=END)
    starting.status = "onboarding"
    db.session.commit()
    assert ("onboarding_incomplete", starting.id) in {(row.code, row.placement_id) for row in db.session.execute(
        sa.select(watch_rows(TODAY)))}
    assert starting.id not in by_placement()


def test_on_a_day_two_causes_bite_the_exclusion_is_named(agency):
    placement = agency["lapses"]
    factories.exclusion(placement.therapist, excluded_on=placement.therapist.licenses[0].expires_on
                        + timedelta(days=1))
    assert by_placement()[placement.id].code == "excluded"


def test_a_contract_not_yet_renewed_that_far_is_priced_at_today_s_rates(agency):
    placement = agency["lapses"]
    (card,) = placement.facility.rate_cards
    card.effective_to = placement.therapist.licenses[0].expires_on
    db.session.commit()
    item = by_placement()[placement.id]
    assert item.unpriced is None and item.weekly_revenue > 0


def test_a_renewal_recorded_takes_the_placement_off_at_once(agency):
    lapsing = agency["lapses"].therapist.licenses[0]
    renew_license(lapsing, {"state": "NY", "license_type": "LCSW", "number": lapsing.number, "kind": "state_license",
                            "issued_on": lapsing.issued_on, "expires_on": date(2028, 12, 31)},
                  TODAY, "NY Office of the Professions online verification")
    assert agency["lapses"].id not in by_placement()


def test_a_renewal_moves_a_placement_on_to_its_next_cause(agency):
    both = factories.licensed_therapist(expires_on=date(2026, 12, 31), caqh_attested_on=date(2026, 8, 15))
    placement = live(both, agency["clinic"])
    both.caqh_attested_on = TODAY
    db.session.commit()
    item = by_placement()[placement.id]
    assert (item.code, item.at_risk_on) == ("license_expired", date(2027, 1, 1))


# ----------------------------------------------------------------------------- the dollars


def test_revenue_is_the_weekly_rate_prorated_per_day_from_the_day_at_risk_to_the_end(agency):
    """40 h at $90 is $3,600 a week; Jan 1 to Mar 31 is 90 days: 3600 x 90 / 7 = 46,285.71 (cents half-up)."""
    item = by_placement()[agency["lapses"].id]
    assert (item.weekly_revenue, item.counted_to) == (Decimal("3600.00"), END)
    assert item.revenue_at_risk == Decimal("46285.71")
    # The insured IOP pays $120 an hour: Jan 16 to Feb 28 is 44 days.
    assert by_placement()[agency["document"].id].revenue_at_risk == Decimal("30171.43")
    # Jan 21 to Feb 28 is 39 days: 4800 x 39 / 7.
    assert by_placement()[agency["recredential"].id].revenue_at_risk == Decimal("26742.86")


def test_proration_counts_both_ends_and_rounds_half_up():
    assert prorated(Decimal("3600.00"), date(2027, 1, 1), date(2027, 1, 3)) == Decimal("1542.86")
    assert prorated(Decimal("700.00"), date(2027, 1, 1), date(2027, 1, 1)) == Decimal("100.00")
    assert prorated(Decimal("0.35"), date(2027, 1, 1), date(2027, 1, 1)) == Decimal("0.05")  # 0.05 exactly
    assert prorated(Decimal("0.07"), date(2027, 1, 1), date(2027, 1, 4)) == Decimal("0.04")  # 0.04
    assert prorated(Decimal("0.245"), date(2027, 1, 1), date(2027, 1, 7)) == Decimal("0.25")  # half-up, not even


@pytest.mark.parametrize(("basis", "hours", "rates", "weekly"), [
    ("hourly", 40, {"direct_care_hour": "90.00"}, "3600.00"),
    # Over the card's 40 h threshold at 1.5 times, as invoices bill it: 40 x 90 + 5 x 135.
    ("hourly", 45, {"direct_care_hour": "90.00"}, "4275.00"),
    # 36 h a week are five 8-hour days (the last a part day) at the day rate.
    ("per_diem", 36, {"per_diem_day": "600.00"}, "3000.00"),
    ("per_diem", 80, {"per_diem_day": "600.00"}, "4200.00"),  # never more than 7 days a week
    ("weekly", 32, {"contract_week": "3150.00"}, "3150.00"),
])
def test_each_billing_basis_is_priced_as_its_invoices_price_it(basis, hours, rates, weekly):
    clinic = priced_clinic(**rates)
    placement = live(factories.licensed_therapist(expires_on=date(2026, 12, 31)), clinic, billing_basis=basis,
                     hours_per_week=hours)
    item = by_placement()[placement.id]
    assert (item.weekly_revenue, item.unpriced) == (Decimal(weekly), None)
    assert item.revenue_at_risk == prorated(Decimal(weekly), date(2027, 1, 1), END)


def test_a_card_without_the_bases_rate_or_hours_gives_no_price_and_says_why():
    clinic = priced_clinic()
    card = clinic.rate_cards[0]
    assert week_price(card, "per_diem", "LCSW", 40).unpriced == "no per_diem_day rate for LCSW"
    assert week_price(card, "hourly", "LCSW", None).unpriced == "no hours per week agreed"
    assert week_price(None, "weekly", "LCSW", 40).unpriced == "no rate card"


def test_an_open_ended_placement_is_counted_to_the_horizon(agency):
    """No end date: its revenue is counted to 90 days after as_of (Jan 1 to Feb 23: 54 days)."""
    placement = live(factories.licensed_therapist(expires_on=date(2026, 12, 31)), agency["clinic"], end=None)
    item = by_placement()[placement.id]
    assert (item.at_risk_on, item.counted_to, item.open_ended) == (date(2027, 1, 1), HORIZON, True)
    assert item.revenue_at_risk == Decimal("27771.43")


def test_a_placement_whose_facility_has_no_rate_card_is_listed_at_zero(agency):
    bare = factories.facility(name="No Contract Yet")
    placement = live(factories.licensed_therapist(expires_on=date(2026, 12, 31)), bare)
    item = by_placement()[placement.id]
    assert (item.weekly_revenue, item.revenue_at_risk, item.unpriced) == (Decimal("0"), Decimal("0"), "no rate card")
    # The clinic's card prices LCSWs only: the LPC under a compact privilege has no rate on it.
    assert by_placement()[agency["privilege"].id].unpriced == "no direct_care_hour rate for LPC"


def test_the_list_is_ranked_largest_revenue_at_risk_first(agency):
    items = revenue_at_risk(TODAY).items
    amounts = [item.revenue_at_risk for item in items]
    assert amounts == sorted(amounts, reverse=True) and amounts[0] > amounts[-1]
    assert revenue_at_risk(TODAY).total == sum(amounts)


def test_the_list_costs_the_same_statements_however_many_placements(agency, app):
    with app.test_request_context():
        with counted() as few:
            revenue_at_risk(TODAY)
        for n in range(5):
            place = priced_clinic() if n % 2 else factories.facility()
            live(factories.licensed_therapist(expires_on=date(2026, 12, 31)), place, service_states=["NY", "NJ"])
        with counted() as many:
            assert len(revenue_at_risk(TODAY).items) == 10
        assert len(many) == len(few)


def test_the_screen_api_and_dashboard_cost_the_same_statements_however_many_placements(agency, browser, api):
    screen, caller, admin = browser("credentialing"), api("credentialing"), browser("admin")
    urls = ((screen, "/placements/at-risk"), (caller, "/api/v1/placements/at-risk"), (admin, "/dashboard"),
            (screen, "/dashboard"))

    def statements():
        found = []
        for client, url in urls:
            client.get(url)  # the first request after new data reloads the signed-in user: not the page's cost
            with counted() as sent:
                assert client.get(url).status_code == 200
            found.append(len(sent))
        return found

    few = statements()
    for n in range(6):
        place = priced_clinic() if n % 2 else agency["clinic"]
        live(factories.licensed_therapist(expires_on=date(2026, 12, 31)), place)
    assert statements() == few


# ----------------------------------------------------------------------------- the screen, the CSV, the API


def test_the_screen_ranks_with_causes_fixes_dollars_and_a_total(browser, agency):
    text = browser("credentialing").get("/placements/at-risk").data.decode()
    lapsing = agency["lapses"].therapist.licenses[0]
    assert "Revenue at risk" in text and "$46,285.71" in text
    assert f'href="/licenses/{lapsing.id}/edit">Renew the NY license' in text
    assert f'href="/panels/{agency["recredential_panel"].id}/edit">Re-credential with Aetna' in text
    assert "License lapses: The NY LCSW license" in text
    assert "Total" in text and f"{revenue_at_risk(TODAY).total:,.2f}" in text
    # CAQH due Dec 13 puts $56,057.14 at risk, more than the license lapsing Jan 1 ($46,285.71): it ranks first.
    assert text.index(f'data-placement="{agency["caqh"].id}"') < text.index(f'data-placement="{agency["lapses"].id}"')


def test_the_screen_says_no_rate_card_and_no_end_date(browser, agency):
    live(factories.licensed_therapist(expires_on=date(2026, 12, 31)), factories.facility(name="Bare"), end=None)
    text = browser("recruiter").get("/placements/at-risk").data.decode()
    assert "No rate card" in text
    assert "no end date: to Feb 23, 2027" in text and "counted to Feb 23, 2027" in text


def test_the_screen_filters_by_facility_and_cause_and_judges_as_of_a_day(browser, agency):
    b = browser("credentialing")
    text = b.get(f"/placements/at-risk?facility_id={agency['document'].facility_id}").data.decode()
    assert f'data-placement="{agency["document"].id}"' in text and f'data-placement="{agency["lapses"].id}"' not in text
    text = b.get("/placements/at-risk?code=caqh_attestation_due").data.decode()
    assert text.count('data-code="') == text.count('data-code="caqh_attestation_due"') == 1
    later = b.get("/placements/at-risk?as_of=2027-01-10").data.decode()
    assert "As of Jan 10, 2027" in later
    bad = b.get("/placements/at-risk?as_of=next-week")
    assert bad.status_code == 200 and "not a date" in bad.data.decode()


def test_the_csv_has_every_item_in_rank_with_plain_dates_and_amounts(browser, agency):
    body = browser("billing").get("/placements/at-risk?format=csv").data.decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [int(r["placement_id"]) for r in rows] == [i.placement_id for i in revenue_at_risk(TODAY).items]
    lapses = next(r for r in rows if int(r["placement_id"]) == agency["lapses"].id)
    assert (lapses["at_risk_on"], lapses["code"], lapses["weekly_revenue"], lapses["revenue_at_risk"],
            lapses["counted_to"]) == ("2027-01-01", "license_expired", "3600.00", "46285.71", "2027-03-31")
    privilege = next(r for r in rows if int(r["placement_id"]) == agency["privilege"].id)
    assert (privilege["weekly_revenue"], privilege["note"]) == ("0.00", "no direct_care_hour rate for LPC")


def test_the_csv_download_is_audited(browser, agency):
    from agency.core.audit import AuditEvent

    browser("credentialing").get("/placements/at-risk?format=csv")
    event = db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event.action == "export" and "revenue-at-risk" in event.summary


def test_the_api_lists_items_largest_first_with_money_strings(api, agency):
    items = api("credentialing").get("/api/v1/placements/at-risk").json["items"]
    assert [i["revenue_at_risk"] for i in items] == sorted(
        (i["revenue_at_risk"] for i in items), key=Decimal, reverse=True)
    lapses = next(i for i in items if i["placement_id"] == agency["lapses"].id)
    assert {k: lapses[k] for k in ("placement_id", "at_risk_on", "code", "weekly_revenue", "revenue_at_risk")} == {
        "placement_id": agency["lapses"].id, "at_risk_on": "2027-01-01", "code": "license_expired",
        "weekly_revenue": "3600.00", "revenue_at_risk": "46285.71"}
    privilege = next(i for i in items if i["placement_id"] == agency["privilege"].id)
    assert (privilege["weekly_revenue"], privilege["unpriced"]) == ("0.00", "no direct_care_hour rate for LPC")


def test_the_api_pages_filters_and_judges_as_of_a_day(api, agency):
    caller = api("recruiter")
    first = caller.get("/api/v1/placements/at-risk?limit=2").json
    second = caller.get(f"/api/v1/placements/at-risk?limit=2&cursor={first['next_cursor']}").json
    everything = caller.get("/api/v1/placements/at-risk").json["items"]
    assert first["items"] + second["items"] == everything[:4]
    only = caller.get("/api/v1/placements/at-risk?code=document_missing").json["items"]
    assert [i["placement_id"] for i in only] == [agency["document"].id]
    later = caller.get("/api/v1/placements/at-risk?as_of=2027-01-10").json["items"]
    assert next(i for i in later if i["placement_id"] == agency["lapses"].id)["at_risk_on"] == "2027-01-10"


@pytest.mark.parametrize("bad", ["2027-13-01", "soon", "2027-02-30", ""])
def test_a_bad_as_of_is_a_clear_400(api, agency, bad):
    answer = api("credentialing").get(f"/api/v1/placements/at-risk?as_of={bad}")
    assert answer.status_code == 400, answer.json
    assert answer.json["error"]["code"] == "validation_error" and "as_of" in answer.json["error"]["fields"]


def test_the_api_is_in_the_openapi_document(app):
    paths = app.test_client().get("/api/v1/openapi.json").json["paths"]
    item = paths["/placements/at-risk"]["get"]
    assert {"200", "400"} <= set(item["responses"])


# ----------------------------------------------------------------------------- who sees it, the dashboards


@pytest.mark.parametrize(("role", "allowed"), [
    ("admin", True), ("recruiter", True), ("credentialing", True), ("billing", True), ("facility", False)])
def test_who_may_see_revenue_at_risk(browser, api, agency, role, allowed):
    assert browser(role).get("/placements/at-risk").status_code == (200 if allowed else 403)
    assert api(role).get("/api/v1/placements/at-risk").status_code == (200 if allowed else 403)


def test_billing_sees_the_dollars_without_the_credential_forms(browser, agency):
    text = browser("billing").get("/placements/at-risk").data.decode()
    assert "$46,285.71" in text and "/licenses/" not in text


@pytest.mark.parametrize("role", ["admin", "credentialing"])
def test_the_dashboard_shows_the_revenue_at_risk_in_the_next_30_days(browser, agency, role):
    """Within 30 days of Nov 25: only CAQH due on Dec 13 (Dec 13 to Mar 31 is 109 days of $3,600 a week)."""
    text = browser(role).get("/dashboard").data.decode()
    soon = revenue_at_risk(TODAY).within(30)
    assert [i.placement_id for i in soon] == [agency["caqh"].id]
    assert "Revenue at risk, next 30 days" in text
    assert "$56,057.14" in text and "1 placement(s) stop being ready within 30 days" in text
    assert 'href="/placements/at-risk"' in text


@pytest.mark.parametrize("role", ["recruiter", "billing"])
def test_other_dashboards_carry_no_figure(browser, agency, role):
    assert "Revenue at risk, next" not in browser(role).get("/dashboard").data.decode()
