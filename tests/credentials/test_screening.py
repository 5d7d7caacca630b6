"""Exclusion screening: every therapist against the OIG LEIE (and state Medicaid lists in its layout).

The files are made here, a few synthetic rows in the LEIE's 18 columns; no real list is shipped.
"""

import hashlib
import io
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from agency.core.audit import AuditEvent
from agency.core.errors import Conflict, ValidationError
from agency.core.outbox import OutboxMessage
from agency.credentials.models import ExclusionHit, ExclusionScreening
from agency.credentials.screening import COLUMNS, confirm_hit, dismiss_hit, screen_file, screening_reminder
from agency.extensions import db
from agency.placements.readiness import readiness
from agency.placements.watch import Watch
from tests import factories, live, workers
from tests.factories import TODAY

# Valid NPIs (the Luhn check digit over 80840 + the first nine digits).
NPI_A = "1234567893"
NPI_B = "1245319599"


def row(last="", first="", *, state="NY", npi="0000000000", excluded="20240115", reinstated="00000000",
        business="", middle="", dob="19700101", excltype="1128a1", **cells) -> dict:
    values = dict.fromkeys(COLUMNS, "")
    values.update({"LASTNAME": last, "FIRSTNAME": first, "MIDNAME": middle, "BUSNAME": business, "NPI": npi,
                   "STATE": state, "EXCLDATE": excluded, "REINDATE": reinstated, "DOB": dob, "EXCLTYPE": excltype,
                   "WAIVERDATE": "00000000", "GENERAL": "IND- LIC HC SERV PRO", "SPECIALTY": "SOCIAL WORKER",
                   "ADDRESS": "1 MAIN ST", "CITY": "ALBANY", "ZIP": "12207"})
    values.update(cells)
    return values


def leie(*rows: dict, header=COLUMNS) -> bytes:
    out = io.StringIO()
    out.write(",".join(header) + "\r\n")
    for r in rows:
        out.write(",".join(f'"{r[c]}"' if "," in r[c] else r[c] for c in header) + "\r\n")
    return out.getvalue().encode()


# A business on the list, and people who are no therapist of ours: every file has them.
STRANGERS = [row(business="ACME HOME HEALTH LLC", dob="00000000"), row("ZYLSTRA", "QUENTIN", state="OH")]


def screen(data: bytes, source="oig_leie", state=None, actor=None, filename="UPDATED.csv", **kw):
    return screen_file(io.BytesIO(data), filename, source, state, actor, **kw)


def stored() -> tuple[int, int]:
    db.session.rollback()
    return (db.session.scalar(sa.select(sa.func.count()).select_from(ExclusionScreening)),
            db.session.scalar(sa.select(sa.func.count()).select_from(ExclusionHit)))


# ----------------------------------------------------------------------------- reading the file


def test_a_good_file_is_stored_as_dated_evidence_of_what_was_screened_against_which_file(users):
    factories.therapist(last_name="Okafor", first_name="Grace")
    data = leie(*STRANGERS, row("SMITH", "JOHN", state="TX"))
    run = screen(data, actor=users["credentialing"], screened_on=TODAY)
    assert (run.source, run.list_state, run.filename, run.rows, run.therapists_screened) == (
        "oig_leie", None, "UPDATED.csv", 3, 1)
    assert run.sha256 == hashlib.sha256(data).hexdigest()
    assert run.screened_on == TODAY and run.screened_by_id == users["credentialing"].id and run.hits == []
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.object_type == "screening"))
    assert event.object_id == run.id and event.changes["sha256"] == run.sha256


BAD_FILES = {
    "a column missing": (leie(row("A", "B"), header=COLUMNS[:-1]), 1, "missing column(s) WVRSTATE"),
    "an unknown column": (b",".join(c.encode() for c in (*COLUMNS, "SSN")) + b"\r\n", 1, "unknown column(s) SSN"),
    "a date that is no date": (leie(row("A", "B"), row("C", "D", excluded="20241301")), 3,
                               "EXCLDATE '20241301' is not a real date"),
    "a date in another format": (leie(row("A", "B", dob="1970-01-01")), 2,
                                 "DOB '1970-01-01' is not a date as YYYYMMDD"),
    "no exclusion date": (leie(row("A", "B", excluded="00000000")), 2, "EXCLDATE is required"),
    "a reinstatement before the exclusion": (leie(row("A", "B", reinstated="20230101")), 2,
                                             "REINDATE must be after EXCLDATE"),
    "an NPI with a wrong check digit": (leie(row("A", "B", npi="1234567890")), 2,
                                        "NPI '1234567890' is not a valid NPI"),
    "an NPI too short": (leie(row("A", "B", npi="12345")), 2, "NPI '12345' is not a valid NPI"),
    "a state that is none": (leie(row("A", "B", state="XX")), 2, "STATE 'XX' is not a USPS state code"),
    "a line naming nobody": (leie(row("", "")), 2, "names nobody"),
    "a short line": (leie(row("A", "B")) + b"JONES,AMY\r\n", 3, "has 2 cells; the layout has 18"),
    "a control character": (leie(row("A", "B\x07")), 2, "FIRSTNAME must be one line"),
    "text that is not UTF-8": (leie(row("A", "B")) + leie(row("M\xfcller", "B")).split(b"\n", 1)[1]
                               .decode().encode("latin-1"), 3, "is not UTF-8 text"),
    "no rows": (leie(), 2, "the file has no rows"),
    "nothing at all": (b"", 1, "missing column(s) LASTNAME"),
}


@pytest.mark.parametrize("data, line, problem", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_line_refuses_the_whole_file_naming_the_line_and_nothing_is_stored(data, line, problem):
    factories.therapist(last_name="A", first_name="B", npi=NPI_A)
    with pytest.raises(ValidationError) as refused:
        screen(data + leie(row("A", "B", npi=NPI_A)).split(b"\n", 1)[1] if data.count(b"\n") > 1 else data)
    assert any(message.startswith(f"line {line}: ") and problem in message
               for message in refused.value.fields["file"]), refused.value.fields
    assert stored() == (0, 0)


def test_every_bad_line_is_listed_not_only_the_first():
    with pytest.raises(ValidationError) as refused:
        screen(leie(row("A", "B", state="ZZ"), row("C", "D"), row("E", "F", npi="1")))
    assert [m.split(":")[0] for m in refused.value.fields["file"]] == ["line 2", "line 4"]


def test_a_file_that_is_not_a_csv_by_name_is_refused():
    with pytest.raises(ValidationError, match="must be a CSV file"):
        screen(leie(row("A", "B")), filename="UPDATED.xlsx")
    assert stored() == (0, 0)


def test_a_file_over_the_cap_is_refused_as_it_streams():
    with pytest.raises(ValidationError, match="larger than 1 MB"):
        screen(leie(*[row("SMITH", f"J{n}") for n in range(12000)]), limit=1024 * 1024)
    assert stored() == (0, 0)


def test_a_state_medicaid_list_needs_its_state_and_the_federal_list_has_none():
    data = leie(row("A", "B"))
    with pytest.raises(ValidationError, match="state: is required for a state Medicaid list"):
        screen(data, "state_medicaid")
    with pytest.raises(ValidationError, match="'QQ' is not a USPS state code"):
        screen(data, "state_medicaid", "QQ")
    with pytest.raises(ValidationError, match="only for a state Medicaid list"):
        screen(data, "oig_leie", "NY")
    with pytest.raises(ValidationError, match="source: must be one of"):
        screen(data, "sam_gov")
    assert screen(data, "state_medicaid", "ny").list_state == "NY"


def letters(n: int) -> str:
    """A name of letters only for a number (names are compared on their letters): 0 -> A, 27 -> BB."""
    out = ""
    while True:
        n, digit = divmod(n, 26)
        out += chr(65 + digit)
        if not n:
            return out


def test_a_long_file_streams_to_its_one_match_and_its_checksum_is_of_every_byte():
    for n in range(300):
        factories.therapist(last_name=f"Mensah{letters(n)}", first_name="Kofi")
    data = leie(*[row(f"LAST{letters(n)}", "JO", state="NY") for n in range(20_000)], row("MENSAHH", "KOFI"))
    run = screen(data)
    assert run.rows == 20_001 and [h.status for h in run.hits] == ["pending"]
    assert run.sha256 == hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------- matching


def test_an_npi_on_the_list_is_a_confirmed_hit_whatever_the_name_or_state():
    person = factories.therapist(last_name="Patel", first_name="Anita", npi=NPI_A, home_state="NJ")
    run = screen(leie(*STRANGERS, row("PATEL-SHAH", "ANITA", state="CA", npi=NPI_A, excluded="20250310")))
    (hit,) = run.hits
    assert (hit.therapist_id, hit.match, hit.status, hit.excluded_on) == (person.id, "npi", "confirmed",
                                                                         date(2025, 3, 10))
    assert hit.record["LASTNAME"] == "PATEL-SHAH" and hit.exclusion_type == "1128a1"


def test_a_name_in_the_therapists_home_state_or_a_licensed_state_waits_for_a_person():
    at_home = factories.therapist(last_name="O'Brien-Smith", first_name="Mary Ann", home_state="NY")
    licensed = factories.therapist(last_name="Nguyen", first_name="Linh", home_state="NJ")
    factories.license(licensed, state="PA")
    run = screen(leie(row("OBRIEN SMITH", "MARYANN", state="NY"), row("nguyen", "LINH.", state="PA")))
    assert {(h.therapist_id, h.match, h.status) for h in run.hits} == {
        (at_home.id, "name", "pending"), (licensed.id, "name", "pending")}


def test_the_same_name_in_another_state_or_with_no_state_is_not_a_hit():
    factories.therapist(last_name="Garcia", first_name="Luis", home_state="NY")
    run = screen(leie(row("GARCIA", "LUIS", state="FL"), row("GARCIA", "LUIS", state="")))
    assert run.hits == []


def test_a_name_with_another_npi_on_the_list_is_still_asked_about_when_the_names_match():
    # The list's NPI is not the therapist's: a person decides whether the list or our record is wrong.
    person = factories.therapist(last_name="Kim", first_name="Soo", npi=NPI_A)
    (hit,) = screen(leie(row("KIM", "SOO", npi=NPI_B))).hits
    assert (hit.therapist_id, hit.match, hit.status) == (person.id, "name", "pending")


def test_a_business_on_the_list_never_matches_a_person():
    factories.therapist(last_name="Rossi", first_name="Gina", home_state="NY")
    run = screen(leie(row(business="ROSSI GINA", first="GINA", state="NY"),
                      row(business="GINA ROSSI COUNSELING PLLC", state="NY")))
    assert run.hits == []


def test_a_therapist_on_the_list_twice_has_one_hit_the_npi_match_first():
    person = factories.therapist(last_name="Diallo", first_name="Amadou", npi=NPI_A)
    (hit,) = screen(leie(row("DIALLO", "AMADOU", excluded="20200101"), row("DIALLO", "AMADOU", npi=NPI_A,
                                                                            excluded="20230601"))).hits
    assert (hit.therapist_id, hit.match, hit.excluded_on) == (person.id, "npi", date(2023, 6, 1))


def test_a_reinstated_listing_carries_its_reinstatement_day():
    factories.therapist(npi=NPI_A)
    (hit,) = screen(leie(row("X", "Y", npi=NPI_A, excluded="20200101", reinstated="20250101"))).hits
    assert hit.reinstated_on == date(2025, 1, 1)
    assert hit.excludes_on(date(2024, 12, 31)) and not hit.excludes_on(date(2025, 1, 1))


# ----------------------------------------------------------------------------- the same file again


def test_screening_the_same_file_again_is_a_new_dated_run_and_decisions_on_its_listings_stand(users):
    confirmed = factories.therapist(npi=NPI_A)
    dismissed = factories.therapist(last_name="Lopez", first_name="Ana")
    undecided = factories.therapist(last_name="Young", first_name="Tom")
    data = leie(row("Q", "R", npi=NPI_A), row("LOPEZ", "ANA"), row("YOUNG", "TOM"))
    first = screen(data, screened_on=TODAY - timedelta(days=31))
    first_lopez = next(h for h in first.hits if h.therapist_id == dismissed.id)
    dismiss_hit(first_lopez, "Born 1955; ours in 1988", users["credentialing"])

    second = screen(data, screened_on=TODAY)
    assert second.id != first.id and second.sha256 == first.sha256
    status = {h.therapist_id: h.status for h in second.hits}
    assert status == {confirmed.id: "confirmed", dismissed.id: "dismissed", undecided.id: "pending"}
    carried = next(h for h in second.hits if h.therapist_id == dismissed.id)
    assert carried.decided_by_id == users["credentialing"].id and "Born 1955" in carried.decision_note

    # A new listing of the same name (another exclusion) is asked about again.
    third = screen(leie(row("LOPEZ", "ANA", excluded="20260301")))
    assert [h.status for h in third.hits] == ["pending"]


# ----------------------------------------------------------------------------- a person decides


def pending_hit(**values) -> ExclusionHit:
    person = factories.therapist(last_name="Bennett", first_name="James", **values)
    (hit,) = screen(leie(row("BENNETT", "JAMES", excluded="20260115"))).hits
    assert hit.therapist_id == person.id and hit.status == "pending"
    return hit


def test_confirming_a_name_match_records_who_when_and_why_in_the_audit_log(users):
    hit = confirm_hit(pending_hit(), "Same DOB and address as our file", users["credentialing"])
    assert (hit.status, hit.decided_by_id, hit.decision_note) == (
        "confirmed", users["credentialing"].id, "Same DOB and address as our file")
    assert hit.decided_at is not None
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.object_type == "exclusion_hit"))
    assert event.object_id == hit.id and event.changes == {"status": "confirmed",
                                                           "note": "Same DOB and address as our file"}


def test_dismissing_needs_a_note_saying_why():
    hit = pending_hit()
    for note in (None, "   "):
        with pytest.raises(ValidationError, match="note: say why"):
            dismiss_hit(hit, note, None)
    with pytest.raises(ValidationError, match="note: must be at most 500"):
        dismiss_hit(hit, "x" * 501, None)
    db.session.rollback()
    assert db.session.get(ExclusionHit, hit.id).status == "pending"


def test_a_hit_is_decided_once_and_an_npi_hit_is_not_for_a_person_to_undo(users):
    hit = pending_hit()
    dismiss_hit(hit, "Different middle name", users["credentialing"])
    with pytest.raises(Conflict, match="already dismissed"):
        confirm_hit(hit, None, users["credentialing"])
    factories.therapist(npi=NPI_A)
    npi_hit = next(h for h in screen(leie(row("Z", "Z", npi=NPI_A))).hits)
    with pytest.raises(Conflict, match="already confirmed"):
        dismiss_hit(npi_hit, "not ours", users["credentialing"])
    db.session.rollback()
    assert db.session.get(ExclusionHit, hit.id).status == "dismissed"


@pytest.fixture(scope="module")
def site(app):
    with live.server() as running:
        yield running


def test_a_confirm_and_a_dismiss_at_the_same_moment_decide_once(site, users):
    from agency.auth.services import issue_token

    token = issue_token(users["credentialing"])
    rounds = []
    for n in range(8):
        factories.therapist(last_name=f"Race{n}", first_name="Pat")
    run = screen(leie(*[row(f"RACE{n}", "PAT") for n in range(8)]))
    for hit in run.hits:
        base = f"/api/v1/screenings/{run.id}/hits/{hit.id}"
        rounds.append(site.at_once(token, ("POST", f"{base}/confirm", {"note": "same person"}),
                                   ("POST", f"{base}/dismiss", {"note": "someone else"})))
    assert all(sorted(r.status_code for r in pair) == [200, 409] for pair in rounds), \
        [[r.text for r in pair] for pair in rounds]
    db.session.rollback()
    decisions = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                  .where(AuditEvent.object_type == "exclusion_hit"))
    assert decisions == 8


# ----------------------------------------------------------------------------- readiness and the watch


def test_a_confirmed_exclusion_blocks_readiness_from_its_date_only_and_a_pending_one_not_at_all(users):
    place = factories.facility()
    placement = factories.active_placement(place)
    person = placement.therapist
    person.npi = NPI_A
    db.session.commit()
    excluded_on = placement.start_on + timedelta(days=20)
    run = screen(leie(row("Q", "R", npi=NPI_A, excluded=excluded_on.strftime("%Y%m%d"))))
    before = readiness(placement, excluded_on - timedelta(days=1))
    on = readiness(placement, excluded_on)
    assert "excluded" not in {b.code for b in before.blockers}
    (blocker,) = [b for b in on.blockers if b.code == "excluded"]
    assert blocker.message == (f"Excluded since {excluded_on:%b} {excluded_on.day}, {excluded_on.year}: listed on "
                               f"the OIG LEIE screened {run.screened_on:%b} {run.screened_on.day}, "
                               f"{run.screened_on.year}")

    other = factories.active_placement(factories.facility())
    other.therapist.last_name, other.therapist.first_name = "Castillo", "Rosa"
    db.session.commit()
    screen(leie(row("CASTILLO", "ROSA", excluded="20200101")))
    assert "excluded" not in {b.code for b in readiness(other, TODAY).blockers}


def test_a_dismissed_or_reinstated_exclusion_does_not_block(users):
    placement = factories.active_placement(factories.facility())
    person = placement.therapist
    person.npi = NPI_A
    db.session.commit()
    screen(leie(row("Q", "R", npi=NPI_A, excluded="20200101", reinstated="20210101")))
    assert "excluded" not in {b.code for b in readiness(placement, TODAY).blockers}


def test_the_compliance_watch_shows_an_exclusion_from_the_day_it_bites_with_a_link_to_the_hit(app):
    placement = factories.active_placement(factories.facility(), end_on=TODAY + timedelta(days=200))
    placement.therapist.npi = NPI_A
    db.session.commit()
    bites = TODAY + timedelta(days=10)
    first = screen(leie(row("Q", "R", npi=NPI_A, excluded=bites.strftime("%Y%m%d"))))
    second = screen(leie(row("Q", "R", npi=NPI_A, excluded=bites.strftime("%Y%m%d"))))
    with app.test_request_context():
        items = [item for item in Watch(TODAY) if item.code == "excluded"]
    assert [(i.placement_id, i.bites_on) for i in items] == [(placement.id, bites)]
    assert items[0].fix_url == f"/screenings/{second.id}/hits/{second.hits[0].id}" and first.id < second.id
    assert items[0].message.startswith("Excluded since")
    # Excluded before the watch's first day: it bites today.
    screen(leie(row("Q", "R", npi=NPI_A, excluded="20200101")))
    with app.test_request_context():
        assert [i.bites_on for i in Watch(TODAY) if i.code == "excluded"] == [TODAY]


# ----------------------------------------------------------------------------- the command line


def test_the_command_line_screens_a_file_with_a_progress_bar_and_prints_the_run(app, tmp_path):
    factories.therapist(npi=NPI_A)
    factories.therapist(last_name="Bennett", first_name="James", home_state="IL")
    path = tmp_path / "UPDATED.csv"
    path.write_bytes(leie(*STRANGERS, row("Q", "R", npi=NPI_A), row("BENNETT", "JAMES", state="IL")))
    result = app.test_cli_runner().invoke(args=["credentials", "screen", str(path), "--as-of", "2026-11-02"])
    assert result.exit_code == 0, result.output
    assert "Screening rows" in result.output
    assert "2 therapists against 4 rows of the OIG LEIE (UPDATED.csv, sha256 " in result.output
    assert "screened 2026-11-02" in result.output and "1 confirmed, 1 to confirm or dismiss" in result.output

    state = app.test_cli_runner().invoke(args=["credentials", "screen", str(path), "--source", "state_medicaid",
                                               "--state", "IL"])
    assert state.exit_code == 0 and "IL Medicaid exclusion list" in state.output


def test_the_command_line_refuses_a_bad_file_naming_its_lines(app, tmp_path):
    path = tmp_path / "UPDATED.csv"
    path.write_bytes(leie(row("A", "B", excluded="2024")))
    result = app.test_cli_runner().invoke(args=["credentials", "screen", str(path)])
    assert result.exit_code == 1
    assert "line 2: EXCLDATE '2024' is not a date as YYYYMMDD" in result.output
    assert "nothing was stored" in result.output and stored() == (0, 0)
    missing_state = app.test_cli_runner().invoke(args=["credentials", "screen", str(path), "--source",
                                                       "state_medicaid"])
    assert missing_state.exit_code == 1 and "state: is required" in missing_state.output


# ----------------------------------------------------------------------------- the browser


def upload(b, data, filename="UPDATED.csv", **fields):
    return b.post("/screenings/new", {"file": (io.BytesIO(data), filename), "source": "oig_leie", "state": "",
                                      **fields}, content_type="multipart/form-data")


def test_credentialing_screens_a_file_in_the_browser_and_decides_a_name_match(browser, users):
    person = factories.therapist(last_name="Alvarez", first_name="Maria", home_state="NY")
    b = browser("credentialing")
    response = upload(b, leie(*STRANGERS, row("ALVAREZ", "MARIA")))
    assert response.status_code == 302
    run = db.session.scalar(sa.select(ExclusionScreening))
    assert response.headers["Location"] == f"/screenings/{run.id}"
    page = b.get(f"/screenings/{run.id}").data.decode()
    assert "Alvarez" in page and run.sha256 in page and "Decide" in page
    hit = run.hits[0]
    url = f"/screenings/{run.id}/hits/{hit.id}"
    refused = b.post(f"{url}/dismiss", {"dismiss-note": ""}, form_url=url, follow_redirects=True)
    assert "say why" in refused.data.decode().lower()
    done = b.post(f"{url}/confirm", {"confirm-note": "Same birth date"}, form_url=url)
    assert done.status_code == 302 and done.headers["Location"].endswith(f"#hit-{hit.id}")
    db.session.expire_all()
    assert db.session.get(ExclusionHit, hit.id).status == "confirmed"
    therapist_page = b.get(f"/therapists/{person.id}").data.decode()
    assert 'id="exclusions"' in therapist_page and url in therapist_page
    assert b.post(f"{url}/dismiss", {"dismiss-note": "no"}, form_url=url, follow_redirects=True
                  ).data.decode().count("already confirmed") == 1


def test_a_bad_file_in_the_browser_lists_its_lines_and_stores_nothing(browser):
    b = browser("credentialing")
    page = upload(b, leie(row("A", "B", npi="1111111111"), row("C", "D", state="QQ"))).data.decode()
    assert "line 2: NPI" in page and "line 3: STATE" in page and "nothing was stored" in page
    assert "must be a CSV file" in upload(b, leie(row("A", "B")), filename="list.txt").data.decode()
    assert "is required for a state Medicaid list" in upload(b, leie(row("A", "B")), source="state_medicaid"
                                                             ).data.decode()
    assert stored() == (0, 0)


def test_the_list_of_runs_downloads_as_csv_and_each_run_as_its_evidence(browser):
    factories.therapist(npi=NPI_A, last_name="Quinn", first_name="Rae")
    run = screen(leie(row("Q", "R", npi=NPI_A)))
    b = browser("credentialing")
    listing = b.get("/screenings").data.decode()
    assert f"/screenings/{run.id}" in listing and run.sha256[:12] in listing
    runs = b.get("/screenings?format=csv")
    assert runs.mimetype == "text/csv" and run.sha256 in runs.data.decode()
    evidence = b.get(f"/screenings/{run.id}?format=csv").data.decode().splitlines()
    assert evidence[0].startswith("screening_id,source,list_state,screened_on,filename,sha256")
    assert f",{run.sha256}," in evidence[1] and "Rae Quinn" in evidence[1] and ",npi,confirmed," in evidence[1]
    exports = db.session.scalars(sa.select(AuditEvent.summary).where(AuditEvent.action == "export")).all()
    assert exports == ["Exported exclusion-screenings.csv", f"Exported exclusion-screening-{run.id}.csv"]


# ----------------------------------------------------------------------------- the API


def test_the_api_screens_a_multipart_upload_and_lists_the_runs(api):
    person = factories.therapist(npi=NPI_A)
    credentialing = api("credentialing")
    data = leie(*STRANGERS, row("Q", "R", npi=NPI_A))
    response = credentialing.client.post("/api/v1/screenings", headers=credentialing.headers,
                                         data={"file": (io.BytesIO(data), "UPDATED.csv")},  # the OIG's list unless told
                                         content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    body = response.json
    assert response.headers["Location"].endswith(f"/api/v1/screenings/{body['id']}")
    assert {k: body[k] for k in ("source", "rows", "sha256", "screened_on")} == {
        "source": "oig_leie", "rows": 3, "sha256": hashlib.sha256(data).hexdigest(), "screened_on": TODAY.isoformat()}
    assert [{k: h[k] for k in ("therapist_id", "match", "status")} for h in body["hits"]] == [
        {"therapist_id": person.id, "match": "npi", "status": "confirmed"}]
    assert credentialing.get(f"/api/v1/screenings/{body['id']}").json == body
    assert [r["id"] for r in credentialing.get("/api/v1/screenings?source=oig_leie").json["items"]] == [body["id"]]
    assert credentialing.get("/api/v1/screenings?source=state_medicaid").json["items"] == []


@pytest.mark.parametrize("form, message", [
    ({}, "file: is required"),
    ({"file": (io.BytesIO(b"\x00\xff garbage"), "x.csv"), "source": "oig_leie"}, "line 1"),
    ({"file": (io.BytesIO(leie(row("A", "B"))), "x.csv"), "source": "nope"}, "source: must be one of"),
    ({"file": (io.BytesIO(leie(row("A", "B"))), "x.csv"), "source": "state_medicaid"}, "state: is required"),
], ids=["no file", "garbage", "unknown source", "state list without its state"])
def test_the_api_refuses_a_bad_upload_with_a_400_and_stores_nothing(api, form, message):
    caller = api("credentialing")
    response = caller.client.post("/api/v1/screenings", headers=caller.headers, data=form,
                                  content_type="multipart/form-data")
    assert response.status_code == 400 and message in str(response.json["error"]), response.json
    assert stored() == (0, 0)


def test_a_run_cannot_be_dated_in_the_future_for_it_is_evidence_of_a_day_gone_by():
    with pytest.raises(ValidationError) as refused:
        screen(leie(*STRANGERS), screened_on=TODAY + timedelta(days=1))
    assert "screened_on" in refused.value.fields and stored() == (0, 0)


def test_the_api_decides_a_pending_hit_and_refuses_a_second_decision(api):
    hit = pending_hit()
    caller = api("credentialing")
    base = f"/api/v1/screenings/{hit.screening_id}/hits/{hit.id}"
    assert caller.post(f"{base}/dismiss", {}).status_code == 400
    assert caller.post(f"{base}/dismiss", {"note": 5}).status_code == 400
    decided = caller.post(f"{base}/dismiss", {"note": "Born in 1990, ours in 1962"})
    assert decided.status_code == 200 and decided.json["status"] == "dismissed"
    assert decided.json["decision_note"] == "Born in 1990, ours in 1962"
    assert decided.json["listed_name"] == "JAMES BENNETT"
    assert caller.post(f"{base}/confirm", {}).status_code == 409
    assert caller.post(f"/api/v1/screenings/{hit.screening_id + 1}/hits/{hit.id}/confirm", {}).status_code == 404


# ----------------------------------------------------------------------------- who may


def test_screening_is_credentialing_work_and_a_facility_contact_never_sees_a_hit(api, browser):
    hit = pending_hit()
    for role, status in (("credentialing", 200), ("admin", 200), ("recruiter", 403), ("billing", 403),
                         ("facility", 403)):
        caller = api(role)
        assert caller.get("/api/v1/screenings").status_code == status, role
        assert caller.get(f"/api/v1/screenings/{hit.screening_id}").status_code == status, role
        assert browser(role).get(f"/screenings/{hit.screening_id}/hits/{hit.id}").status_code == status, role
    recruiter_page = browser("recruiter").get(f"/therapists/{hit.therapist_id}").data.decode()
    assert 'id="exclusions"' not in recruiter_page
    refused = api("recruiter").post(f"/api/v1/screenings/{hit.screening_id}/hits/{hit.id}/confirm", {})
    assert refused.status_code == 403
    db.session.rollback()
    assert db.session.get(ExclusionHit, hit.id).status == "pending"


# ----------------------------------------------------------------------------- the monthly reminder


def reminders() -> list[OutboxMessage]:
    db.session.rollback()
    return db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.dedupe_key.startswith("screening-due"))
                              .order_by(OutboxMessage.id)).all()


def test_a_list_not_screened_for_over_a_calendar_month_is_reminded_once_per_lapse(app):
    run = screen(leie(row("A", "B")), screened_on=date(2026, 1, 31))
    screen(leie(row("A", "B")), "state_medicaid", "NY", screened_on=date(2026, 2, 20))
    # A month after January 31 is February 28: on that day it is not yet older than a month.
    assert screening_reminder("2026-02-28")["reminders"] == 0
    assert screening_reminder("2026-03-01")["reminders"] == 1
    assert screening_reminder("2026-03-15")["reminders"] == 0  # the same lapse: nothing again
    (mail,) = reminders()
    assert mail.to_addr == app.config["CREDENTIALING_EMAIL"] and mail.kind == "credential"
    assert mail.dedupe_key == f"screening-due:oig_leie:{run.id}"
    assert "OIG LEIE, last screened on Jan 31, 2026" in mail.subject
    assert screening_reminder("2026-03-21")["reminders"] == 1  # the NY list lapsed too
    assert reminders()[-1].dedupe_key.startswith("screening-due:state_medicaid:NY:")
    screen(leie(row("A", "B")), screened_on=date(2026, 3, 22))
    assert screening_reminder("2026-04-10")["reminders"] == 0
    assert screening_reminder("2026-04-23")["reminders"] == 1  # the next lapse is a new reminder
    assert len(reminders()) == 3


def test_an_agency_that_never_screened_the_leie_is_reminded_once():
    assert screening_reminder(TODAY.isoformat()) == {"as_of": TODAY.isoformat(), "lapsed": 1, "reminders": 1}
    assert screening_reminder(TODAY.isoformat())["reminders"] == 0
    assert [m.dedupe_key for m in reminders()] == ["screening-due:oig_leie:never"]


def test_the_reminder_is_registered_monthly_and_runs_on_a_real_worker_once(app, redis_url):
    from rq.cron import CronScheduler

    from agency import ROOT
    from agency.core.jobs import enqueue

    scheduler = CronScheduler(connection=None, name="test")
    scheduler.load_config_from_file(str(ROOT / "agency" / "cron.py"))
    names = {job.func.__name__: job for job in scheduler.get_jobs()}
    assert names["screening_reminder"].cron == app.config["SCREENING_REMINDER_CRON"] == "0 12 * * *"
    screen(leie(row("A", "B")), screened_on=TODAY - timedelta(days=45))
    with workers.jobs_on_redis(app, redis_url):
        enqueue(screening_reminder, TODAY.isoformat())
        enqueue(screening_reminder, TODAY.isoformat())
        logs = workers.wait(workers.start_worker(redis_url))
    assert len(reminders()) == 1, logs
