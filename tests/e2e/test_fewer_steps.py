"""Fewer steps, in a real browser: a renewal from the worklist row, CE topics as rows, a facility picked by name."""

import re
from datetime import date

import sqlalchemy as sa
from playwright.sync_api import expect

from agency.auth.models import User
from agency.credentials.models import CERule, License
from agency.extensions import db
from tests import factories
from tests.factories import files


def test_a_renewal_from_the_worklist_row_is_one_form_and_lands_back_on_the_filtered_list(journey, users, tmp_path):
    noor = factories.therapist(first_name="Noor", last_name="Haddad")
    lic = factories.license(noor, state="NJ", number="NJ-4471", expires_on=date(2026, 12, 15))
    factories.license(factories.therapist(first_name="Omar"), state="NJ", expires_on=date(2026, 12, 16))
    journey.sign_in(users["credentialing"].email)
    page = journey.go("/worklist")
    page.get_by_role("searchbox", name="Therapist", exact=True).fill("noor")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#worklist tbody tr")).to_have_count(1)
    journey.shot("worklist-filtered")
    page.locator("#worklist").get_by_role("link", name="Renew").click()
    page.get_by_label("Renewed on").fill("2026-11-20")
    page.get_by_label("New expiry").fill("2028-12-15")
    page.get_by_label("Primary source").fill("NJ Division of Consumer Affairs lookup")
    pdf = tmp_path / "nj-license-renewal.pdf"
    pdf.write_bytes(files.pdf())
    page.get_by_label("Copy of the renewed license (PDF, PNG or JPEG; optional)").set_input_files(str(pdf))
    journey.shot("renewal-form")
    page.get_by_role("button", name="Save renewal").click()
    expect(page.locator(".flash-success")).to_contain_text("NJ-4471 renewed")
    expect(page).to_have_url(re.compile(r"/worklist\?q=noor&"))  # the list it came from, filters kept
    expect(page.locator("#worklist")).to_contain_text("Nothing due")
    db.session.expire_all()
    assert db.session.get(License, lic.id).expires_on == date(2028, 12, 15)


def test_ce_topics_are_added_and_removed_as_rows(journey, users):
    rule = factories.ce_rule(topics={"ethics": "3", "implicit_bias": "2"})
    journey.sign_in(users["admin"].email)
    page = journey.go(f"/ce-rules/{rule.id}/edit")
    rows = page.locator("[data-topic-row]")
    expect(rows).to_have_count(5)
    rows.nth(1).get_by_role("button", name="Remove").click()
    page.get_by_role("button", name="Add a topic").click()
    expect(rows).to_have_count(5)
    last = rows.last
    last.get_by_label("Topic, row 6").select_option("suicide_prevention")
    last.get_by_label("Hours, row 6").fill("1.5")
    journey.shot("ce-topic-rows")
    # A rule kept from before sources were recorded gets its source when next saved.
    page.get_by_label("Source", exact=True).fill("NYSED Office of the Professions")
    page.get_by_label("Checked at the source on").fill("2026-11-20")
    page.get_by_role("button", name="Save CE rule").click()
    expect(page.locator(".flash-success")).to_contain_text("CE rule for NY LCSW saved")
    db.session.expire_all()
    topics = {t.topic: str(t.hours) for t in db.session.get(CERule, rule.id).topics}
    assert topics == {"ethics": "3.00", "suicide_prevention": "1.50"}


def test_an_admin_picks_a_facility_contacts_facility_by_name(journey, users):
    journey.sign_in(users["admin"].email)
    page = journey.go("/admin/users")
    page.get_by_label("Email").fill("ap@riverside.example.org")
    page.get_by_label("Role").select_option("facility")
    box = page.get_by_role("combobox", name="Facility (facility contacts only)")
    box.fill("river")
    page.get_by_role("option", name="Riverside Community Mental Health Center").click()
    page.get_by_label("Initial password").fill("long enough pw")
    page.get_by_role("button", name="Create user").click()
    expect(page.locator(".flash-success")).to_contain_text("ap@riverside.example.org can now sign in")
    contact = db.session.scalar(sa.select(User).where(User.email == "ap@riverside.example.org"))
    assert contact.facility_id == users["facility"].facility_id
