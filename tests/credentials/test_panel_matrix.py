"""The panel matrix: therapists by payer, each cell an enrollment's status, dates and cycle time.

Today is pinned to 2026-11-25 (config/test.toml).
"""

import csv
import io
from datetime import date

import sqlalchemy as sa

from agency.core.audit import AuditEvent
from agency.credentials.models import PanelEnrollment, Therapist
from agency.extensions import db
from tests import factories
from tests.sql import counted

MATRIX = "/api/v1/panels/matrix"


def approved(person, payer, submitted, effective, **values):
    return factories.panel(person, payer=payer, status="approved", submitted_on=submitted, effective_on=effective,
                           next_follow_up_on=None, **values)


def by_id(body) -> dict:
    return {row["therapist_id"]: row for row in body["rows"]}


def test_each_cell_holds_status_effective_date_recredentialing_and_the_days_from_submission_to_approval(api):
    dana = factories.therapist(first_name="Dana", last_name="Abbott")
    approved(dana, "Aetna", date(2026, 1, 5), date(2026, 4, 15), recredential_due_on=date(2029, 4, 15))
    factories.panel(dana, payer="Cigna", status="submitted", submitted_on=date(2026, 9, 1),
                    next_follow_up_on=date(2026, 12, 20))
    body = api("credentialing").get(MATRIX).json
    assert body["payers"] == ["Aetna", "Cigna"]
    cells = by_id(body)[dana.id]["cells"]
    aetna = cells["Aetna"]
    assert {k: aetna[k] for k in ("status", "effective_on", "recredential_due_on", "cycle_days")} == {
        "status": "approved", "effective_on": "2026-04-15", "recredential_due_on": "2029-04-15", "cycle_days": 100}
    # Not yet approved: no cycle time, however long it has been waiting.
    assert cells["Cigna"]["status"] == "submitted" and cells["Cigna"]["cycle_days"] is None


def test_the_api_keeps_the_fixed_shape_exactly_and_adds_the_payer_averages_beside_it(api):
    dana = factories.therapist()
    approved(dana, "Aetna", date(2026, 1, 5), date(2026, 4, 15))
    body = api("admin").get(MATRIX).json
    assert {"payers", "rows"} <= set(body) and set(body) - {"payers", "rows"} == {
        "payer_cycle_days", "as_of", "next_cursor"}
    row = body["rows"][0]
    assert {"therapist_id", "cells"} <= set(row)
    assert {"status", "effective_on", "recredential_due_on", "cycle_days"} <= set(row["cells"]["Aetna"])
    assert body["payer_cycle_days"] == {"Aetna": "100.0"} and body["as_of"] == "2026-11-25"


def test_a_payer_typed_in_other_capitals_or_with_spaces_is_one_column_named_by_its_most_used_spelling(api):
    a, b, c = factories.therapist(), factories.therapist(), factories.therapist()
    approved(a, "UnitedHealthcare", date(2026, 1, 1), date(2026, 3, 2))
    approved(b, "unitedhealthcare ", date(2026, 2, 1), date(2026, 4, 2))
    approved(c, "UnitedHealthcare", date(2026, 3, 1), date(2026, 5, 30))
    body = api("credentialing").get(MATRIX).json
    assert body["payers"] == ["UnitedHealthcare"]
    assert {row["therapist_id"] for row in body["rows"] if "UnitedHealthcare" in row["cells"]} == {a.id, b.id, c.id}


def test_the_average_cycle_per_payer_counts_every_approved_enrollment_of_the_filtered_matrix_on_every_page(api):
    # 60, 90 and 121 days to approval; the pending and denied enrollments do not count.
    for submitted, effective in ((date(2026, 1, 1), date(2026, 3, 2)), (date(2026, 1, 1), date(2026, 4, 1)),
                                 (date(2026, 1, 1), date(2026, 5, 2))):
        approved(factories.therapist(), "Magellan", submitted, effective)
    factories.panel(factories.therapist(), payer="Magellan", status="submitted", submitted_on=date(2026, 1, 1))
    factories.panel(factories.therapist(), payer="Magellan", status="denied", submitted_on=date(2025, 1, 1),
                    effective_on=date(2025, 2, 1))
    factories.panel(factories.therapist(), payer="Cigna", status="in_review", submitted_on=date(2026, 8, 1))
    caller = api("credentialing")
    first = caller.get(f"{MATRIX}?limit=2").json
    assert len(first["rows"]) == 2
    assert first["payer_cycle_days"] == {"Magellan": "90.3", "Cigna": None}
    second = caller.get(f"{MATRIX}?limit=2&cursor={first['next_cursor']}").json
    assert second["payer_cycle_days"] == first["payer_cycle_days"] and second["payers"] == first["payers"]


def test_rows_page_through_every_therapist_by_name_once_inactive_ones_left_out(api):
    names = ["Young", "Adams", "Miller", "Baker", "Zhou"]
    people = {n: factories.therapist(last_name=n) for n in names}
    factories.therapist(last_name="Gone", status="inactive")
    caller = api("credentialing")
    seen, cursor = [], None
    while True:
        body = caller.get(f"{MATRIX}?limit=2" + (f"&cursor={cursor}" if cursor else "")).json
        seen += [row["therapist_name"] for row in body["rows"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [people[n].full_name for n in sorted(names)]


def test_the_state_filter_keeps_therapists_licensed_in_it_whatever_their_home_state(api):
    ny_home_tx_license = factories.therapist(home_state="NY")
    factories.license(ny_home_tx_license, state="TX")
    tx_home_no_tx_license = factories.therapist(home_state="TX")
    factories.license(tx_home_no_tx_license, state="NY")
    lapsed = factories.therapist(home_state="NY")
    factories.license(lapsed, state="TX", issued_on=date(2022, 1, 1), expires_on=date(2024, 1, 1))
    body = api("credentialing").get(f"{MATRIX}?state=TX").json
    assert set(by_id(body)) == {ny_home_tx_license.id, lapsed.id}


def test_the_discipline_filter_finds_every_title_of_the_counselor_license(api):
    lpc, lmhc, lcsw = (factories.therapist(discipline=d) for d in ("LPC", "LMHC", "LCSW"))
    caller = api("credentialing")
    assert set(by_id(caller.get(f"{MATRIX}?discipline=LPC").json)) == {lpc.id, lmhc.id}
    assert set(by_id(caller.get(f"{MATRIX}?discipline=LCSW").json)) == {lcsw.id}


def test_payer_columns_and_averages_follow_the_filters(api):
    texan = factories.therapist()
    factories.license(texan, state="TX")
    approved(texan, "Superior HealthPlan", date(2026, 1, 1), date(2026, 3, 2))
    approved(factories.therapist(), "Fidelis Care", date(2026, 1, 1), date(2026, 7, 1))
    body = api("credentialing").get(f"{MATRIX}?state=TX").json
    assert body["payers"] == ["Superior HealthPlan"] and body["payer_cycle_days"] == {"Superior HealthPlan": "60.0"}


def test_an_unknown_state_or_discipline_is_a_400_that_names_the_filter(api, browser):
    caller = api("credentialing")
    for query, name in (("state=XX", "state"), ("discipline=NURSE", "discipline"), ("state=", "state"),
                        ("colour=red", "colour")):
        response = caller.get(f"{MATRIX}?{query}")
        assert response.status_code == 400, query
        assert response.json["error"]["code"] == "validation_error" and name in response.json["error"]["fields"]
    assert caller.get(f"{MATRIX}?limit=0").status_code == 400
    assert caller.get(f"{MATRIX}?state=ny").status_code == 200  # a code in lower case is still the code
    page = browser("credentialing").get("/panels/matrix?state=XX")
    assert page.status_code == 400 and b"two-letter USPS state" in page.data
    # The page's "any state" choice is no filter at all.
    assert browser("credentialing").get("/panels/matrix?state=&discipline=").status_code == 200


def test_follow_ups_due_and_recredentialing_soon_or_overdue_are_flagged_in_words(api, browser):
    person = factories.therapist(last_name="Flagged")
    factories.panel(person, payer="Aetna", status="submitted", next_follow_up_on=date(2026, 11, 20))
    factories.panel(person, payer="Cigna", status="in_review", next_follow_up_on=date(2026, 11, 25))
    factories.panel(person, payer="Optum", status="submitted", next_follow_up_on=date(2026, 12, 20))
    approved(person, "Magellan", date(2026, 1, 1), date(2026, 3, 2), recredential_due_on=date(2026, 11, 1))
    approved(person, "Highmark", date(2026, 1, 1), date(2026, 3, 2), recredential_due_on=date(2027, 1, 15))
    approved(person, "Empire", date(2026, 1, 1), date(2026, 3, 2), recredential_due_on=date(2029, 3, 2))
    # A denied enrollment's old follow-up date chases nothing.
    factories.panel(person, payer="Beacon", status="denied", next_follow_up_on=date(2026, 10, 1))
    cells = api("credentialing").get(MATRIX).json["rows"][0]["cells"]
    assert {payer: (c["follow_up"], c["recredential"]) for payer, c in cells.items()} == {
        "Aetna": ("overdue", None), "Cigna": ("due", None), "Optum": (None, None),
        "Magellan": (None, "overdue"), "Highmark": (None, "due_soon"), "Empire": (None, None),
        "Beacon": (None, None)}
    page = browser("credentialing").get("/panels/matrix").get_data(as_text=True)
    assert "⚑ Follow-up overdue · Nov 20, 2026" in page and "⚑ Follow-up due · Nov 25, 2026" in page
    assert "↻ Re-credentialing overdue" in page and "↻ Re-credentialing soon" in page
    assert 'id="legend-title"' in page and page.count('class="attention"') == 4
    assert "due within 90 days, as on the worklist" in page  # the legend states the horizon it flags by


def test_the_page_links_each_therapist_and_gives_editors_a_link_to_each_enrollment_form(browser):
    person = factories.therapist(last_name="Linked")
    panel = factories.panel(person, payer="Aetna")
    editor = browser("credentialing").get("/panels/matrix?discipline=LCSW").get_data(as_text=True)
    assert f'href="/therapists/{person.id}"' in editor
    assert f"/panels/{panel.id}/edit?next=" in editor
    reader = browser("billing").get("/panels/matrix").get_data(as_text=True)
    assert f'href="/therapists/{person.id}"' in reader and f"/panels/{panel.id}/edit" not in reader


def test_saving_an_enrollment_opened_from_the_matrix_returns_to_the_same_matrix_page(browser):
    person = factories.therapist()
    panel = factories.panel(person, payer="Aetna")
    back = "/panels/matrix?discipline=LCSW&page=1"
    url = f"/panels/{panel.id}/edit?next={back.replace('&', '%26').replace('?', '%3F')}"
    response = browser("credentialing").post(url, {
        "payer": "Aetna", "status": "in_review", "submitted_on": "2026-09-01", "effective_on": "",
        "recredential_due_on": "", "next_follow_up_on": "2026-12-01", "notes": ""})
    assert response.status_code == 302 and response.headers["Location"].endswith(back)
    assert db.session.get(PanelEnrollment, panel.id).status == "in_review"


def test_the_page_pages_through_therapists_by_name(browser, setting):
    setting(PAGE_SIZE=2)
    for name in ("Cole", "Avery", "Baker"):
        factories.panel(factories.therapist(last_name=name), payer="Aetna")
    b = browser("credentialing")
    first = b.get("/panels/matrix").get_data(as_text=True)
    assert first.index("Avery") < first.index("Baker") and "Cole" not in first and "Page 1 of 2" in first
    second = b.get("/panels/matrix?page=2").get_data(as_text=True)
    assert "Cole" in second and "Avery" not in second


def test_the_csv_holds_the_whole_filtered_matrix_one_line_per_therapist_and_payer_and_is_audited(browser, setting):
    setting(PAGE_SIZE=1)
    texan = factories.therapist(last_name="Abel")
    factories.license(texan, state="TX")
    approved(texan, "Aetna", date(2026, 1, 5), date(2026, 4, 15), recredential_due_on=date(2026, 12, 1))
    factories.panel(texan, payer="=HYPERLINK(1)", status="submitted", next_follow_up_on=date(2026, 11, 1))
    unenrolled = factories.therapist(last_name="Brook")
    factories.license(unenrolled, state="TX")
    factories.panel(factories.therapist(last_name="Elsewhere"), payer="Cigna")  # not licensed in TX
    response = browser("credentialing").get("/panels/matrix?state=TX&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["last_name"], r["payer"]) for r in lines] == [("Abel", "'=HYPERLINK(1)"), ("Abel", "Aetna"),
                                                              ("Brook", "")]
    aetna = lines[1]
    assert (aetna["status"], aetna["submitted_on"], aetna["effective_on"], aetna["cycle_days"],
            aetna["recredential"], aetna["payer_average_cycle_days"]) == (
        "approved", "2026-01-05", "2026-04-15", "100", "due_soon", "100.0")
    assert lines[0]["follow_up"] == "overdue" and lines[0]["cycle_days"] == ""
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.object_type == "csv_export"))
    assert event.changes["file"] == "panel-matrix.csv" and "state=TX" in event.changes["filters"]


def test_staff_see_the_matrix_and_a_facility_contact_never_does(api, browser, client):
    for role in ("admin", "recruiter", "credentialing", "billing"):
        assert browser(role).get("/panels/matrix").status_code == 200, role
        assert api(role).get(MATRIX).status_code == 200, role
    assert browser("facility").get("/panels/matrix").status_code == 403
    assert browser("facility").get("/panels/matrix?format=csv").status_code == 403
    assert api("facility").get(MATRIX).status_code == 403
    assert client.get(MATRIX).status_code == 401


def test_the_matrix_is_linked_from_the_navigation_the_worklist_and_the_credentialing_dashboard(browser):
    b = browser("credentialing")
    for url in ("/worklist", "/dashboard"):
        assert b.get(url).get_data(as_text=True).count('href="/panels/matrix"') >= 2, url


def _grow(n: int, payers: int) -> None:
    """n more therapists, each licensed in TX and enrolled with `payers` payers in every state of the pipeline."""
    statuses = ("approved", "submitted", "in_review", "denied")
    start = db.session.scalar(sa.select(sa.func.count()).select_from(Therapist))
    for i in range(n):
        person = factories.therapist(last_name=f"Grown{start + i:04d}", discipline="LPC" if i % 2 else "LMHC")
        factories.license(person, state="TX")
        for p in range(payers):
            status = statuses[(i + p) % len(statuses)]
            factories.panel(person, payer=f"Payer {p}", status=status, submitted_on=date(2026, 1, 1),
                            effective_on=date(2026, 4, 1) if status == "approved" else None,
                            next_follow_up_on=date(2026, 11, 20) if status != "approved" else None)


def _statements(call) -> int:
    db.session.expire_all()
    with counted() as statements:
        assert call().status_code == 200
    return len(statements)


def test_a_page_of_the_matrix_costs_the_same_few_queries_however_many_therapists_and_payers(api, browser, setting):
    setting(PAGE_SIZE=10)
    b, caller = browser("credentialing"), api("credentialing")
    urls = ["/panels/matrix", "/panels/matrix?state=TX&discipline=LPC", "/panels/matrix?page=2"]
    _grow(13, 2)  # a second page already
    small = [_statements(lambda u=u: b.get(u)) for u in urls] + [_statements(lambda: caller.get(MATRIX))]
    _grow(30, 12)
    large = [_statements(lambda u=u: b.get(u)) for u in urls] + [_statements(lambda: caller.get(MATRIX))]
    assert large == small and max(large) <= 12
    # The CSV streams every row in batches: a fixed number of queries too.
    csv_small = _statements(lambda: b.get("/panels/matrix?format=csv"))
    _grow(5, 3)
    assert _statements(lambda: b.get("/panels/matrix?format=csv")) == csv_small
