"""The one CSV skeleton: lines numbered as a spreadsheet shows them, bad files refused, all rows or none."""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from agency.billing import timesheets
from agency.billing.models import TimesheetEntry
from agency.core.csvimport import CsvLayout, ImportReport, run_import
from agency.core.errors import ValidationError
from agency.credentials.roster import import_roster
from agency.extensions import db
from agency.facilities.models import Facility
from tests import factories

LAYOUT = CsvLayout(("name", "city"), ("name",))


@dataclass
class Seen(ImportReport):
    names: tuple = ()


def read(text, dry_run=True):
    report = Seen()
    finished = []

    def row(cells):
        if cells["name"] == "bad":
            raise ValidationError.on("name", "is bad")
        report.names += ((cells["name"], cells.get("city")),)

    run_import(text, LAYOUT, report, row, finish=lambda: finished.append(True), dry_run=dry_run)
    return report, bool(finished)


def test_rows_are_numbered_by_the_line_they_start_on_and_blank_lines_are_skipped(app):
    report, _ = read('name,city\n"Ana\nLopez",Austin\n\nbad,\n  Cy  ,\n')
    assert report.errors == [(5, "name: is bad")]
    assert report.rows == 3 and report.names == (("Ana\nLopez", "Austin"), ("Cy", ""))


def test_a_file_that_is_not_a_csv_of_the_columns_is_refused_with_its_line(app):
    assert read("city\nAustin\n")[0].errors == [(1, "missing column(s): name; columns are name, city")]
    assert read("name,city\nAna,Austin,TX\nBo,\n")[0].errors == [(2, "has 3 cells but the header names 2 columns")]
    assert read("name,city\nAna,Austin\nB\x00o,\n")[0].errors == [
        (3, "holds a NUL character: the file is not a text CSV")]
    assert read("name,city\n")[0].errors == [(1, "the file has no rows")]
    assert read(b"name\nJos\xe9\n")[0].errors == [(1, "the file is not UTF-8 text")]
    assert read("\ufeffname\nAna\n")[0].names == (("Ana", None),)


def test_nothing_is_finished_unless_every_row_is_good_and_it_is_no_dry_run(app):
    assert read("name\nAna\n", dry_run=True)[1] is False
    assert read("name\nAna\nbad\n", dry_run=False)[1] is False
    assert read("name\nAna\n", dry_run=False)[1] is True


def test_a_row_rejected_by_the_database_stops_the_check_and_names_the_holder(app, users):
    def row(cells):
        db.session.add(Facility(name=cells["name"], facility_type="cmhc", state="NY", payment_terms_days=30))
        db.session.flush()

    report = run_import("name\nNew Clinic\nRiverside Community Mental Health Center\nOther\n",
                        LAYOUT, ImportReport(), row, finish=lambda: None, dry_run=False)
    assert report.errors == [(3, "name: a facility named 'Riverside Community Mental Health Center' exists "
                                 f"(id {users['facility'].facility_id}); checking stopped here")]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Facility)) == 1


def test_a_dry_run_of_either_import_leaves_the_database_as_it_was(app, users):
    place = db.session.get(Facility, users["facility"].facility_id)
    factories.rate_card(place)
    placement = factories.active_placement(place)
    report = timesheets.import_csv(f"placement_id,work_date,direct_care_hours\n{placement.id},2026-11-02,8\n",
                                   dry_run=True)
    assert report.ok and report.rows == 1 and report.imported == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TimesheetEntry)) == 0
    roster = import_roster("first_name,last_name,email,discipline,home_state\nAna,Lopez,ana@example.org,LPC,TX\n")
    assert roster.ok and roster.therapists == 0


def test_a_day_twice_in_a_timesheet_file_is_refused_at_its_second_line_by_the_entry_rules(app, users):
    place = db.session.get(Facility, users["facility"].facility_id)
    factories.rate_card(place)
    placement = factories.active_placement(place)
    recorded = factories.entry(placement, date(2026, 11, 3), direct="4")
    text = ("placement_id,work_date,direct_care_hours\n"
            f"{placement.id},2026-11-02,8\n{placement.id},2026-11-02,2\n{placement.id},2026-11-03,1\n")
    report = timesheets.import_csv(text, dry_run=False)
    assert report.errors == [
        (3, f"work_date: placement {placement.id} already has an entry on 2026-11-02 (id {recorded.id + 1})"),
        (4, f"work_date: placement {placement.id} already has an entry on 2026-11-03 (id {recorded.id})")]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TimesheetEntry)) == 1
