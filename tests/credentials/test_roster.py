"""Importing a roster: every bad row reported with its line, and nothing imported until all are good."""

import io

import sqlalchemy as sa

from agency.credentials.models import License, Therapist
from agency.extensions import db
from tests import factories

HEADER = ("first_name,last_name,email,phone,discipline,npi,home_state,caqh_id,caqh_attested_on,"
          "license_state,license_type,license_number,license_kind,license_issued_on,license_expires_on\n")
GOOD = HEADER + (
    "Ana,Lopez,ana@example.org,,LPC,1234567893,TX,,,TX,LPC,TX-1,state_license,2025-01-01,2027-01-01\n"
    "Ana,Lopez,ana@example.org,,LPC,1234567893,TX,,,NM,LPC,NM-9,,2025-02-01,2027-02-01\n"
    "Ben,Ode,ben@example.org,,LCSW,,NY,,,,,,,,\n"
)


def counts():
    return (db.session.scalar(sa.select(sa.func.count()).select_from(Therapist)),
            db.session.scalar(sa.select(sa.func.count()).select_from(License)))


def test_a_clean_roster_imports_therapists_with_all_their_licenses(app):
    result = app.test_cli_runner().invoke(args=["credentials", "import-roster", "-", "--commit"], input=GOOD)
    assert result.exit_code == 0, result.output
    assert "Imported 2 therapists and 2 licenses" in result.output
    assert counts() == (2, 2)


def test_the_dry_run_reports_each_bad_row_by_line_and_imports_nothing(app):
    factories.therapist(email="taken@example.org")
    bad = GOOD + (
        "Cy,Ray,cy@example.org,,NURSE,,TX,,,,,,,,\n"                                   # line 5
        "Di,Mo,di@example.org,,LCSW,1234567890,NY,,,,,,,,\n"                            # line 6
        "Ed,Po,taken@example.org,,LCSW,,NY,,,,,,,,\n"                                   # line 7
        "Fa,Qu,fa@example.org,,LCSW,,NY,,,TX,LPC,TX-1,,2025-01-01,2027-01-01\n"         # line 8
        "Gi,Ru,gi@example.org,,LCSW,,NY,,,NY,LCSW,N-5,,2026-01-01,2025-01-01\n"         # line 9
        f"{'H' * 81},Su,hs@example.org,,LCSW,,NY,,,,,,,,\n"                             # line 10
        f"Iv,Tu,iv@example.org,,LCSW,,NY,,,NY,LCSW,{'9' * 41},,2025-01-01,2027-01-01\n"  # line 11
    )
    result = app.test_cli_runner().invoke(args=["credentials", "import-roster", "-", "--commit"], input=bad)
    assert result.exit_code != 0
    for line in ("line 5:", "line 6:", "line 7:", "line 8:", "line 9:", "line 10: first_name: must be at most 80",
                 "line 11: license_number: must be at most 40"):
        assert line in result.output, result.output
    assert "line 2:" not in result.output and "nothing imported" in result.output
    assert counts() == (1, 0)


def test_the_browser_import_checks_first_then_imports(browser):
    b = browser("recruiter")
    checked = b.post("/therapists/import", {"file": (io.BytesIO(GOOD.encode()), "roster.csv"), "dry_run": "y"},
                     content_type="multipart/form-data")
    assert b"All 3 rows are good" in checked.data and counts() == (0, 0)
    done = b.post("/therapists/import", {"file": (io.BytesIO(GOOD.encode()), "roster.csv")},
                  content_type="multipart/form-data")
    assert b"Imported 2 therapists and 2 licenses" in done.data and counts() == (2, 2)
