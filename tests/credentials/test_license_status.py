"""A license's status reads the same in Python (the badges, the API) and in SQL (the list filters, the worklist)."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from agency.core.dates import today
from agency.credentials.models import License
from agency.extensions import db
from tests import factories


def _cases(as_of: date, expiring_days: int) -> dict[str, tuple[License, str]]:
    """Licenses on each side of each boundary, with the status each has on as_of."""

    def _days(n: int) -> date:
        return as_of + timedelta(days=n)

    person = factories.therapist(home_state="NY")
    on = {"issued_on": date(2024, 1, 1)}
    ny_ok = factories.license(person, state="NY", expires_on=_days(400), **on)
    ny_soon = factories.license(person, state="NY", expires_on=_days(10), **on)
    ny_gone = factories.license(person, state="NY", expires_on=_days(5), **on)  # lapses once its privilege exists
    cases = {
        "expired yesterday": (ny_gone, "expired"),
        "expires today": (factories.license(person, state="NJ", expires_on=as_of, **on), "expiring"),
        "last day of the window": (factories.license(person, state="CT", expires_on=_days(expiring_days), **on),
                                   "expiring"),
        "the day after the window": (factories.license(person, state="PA", expires_on=_days(expiring_days + 1),
                                                       **on), "active"),
        "within the window, never verified": (factories.license(person, state="VT", expires_on=_days(30), **on),
                                              "expiring"),
        "temporary, beyond the window": (factories.license(person, state="MA", kind="temporary",
                                                           expires_on=_days(200), **on), "active"),
    }
    privileges = {  # a privilege lapses with its home license however long its own date runs
        "privilege on a home license in force": (ny_ok, _days(300), "active"),
        "privilege outliving its expiring home": (ny_soon, _days(300), "expiring"),
        "privilege outliving its expired home": (ny_gone, _days(300), "expired"),
        "privilege ending before its home": (ny_ok, _days(20), "expiring"),
    }
    for i, (name, (home, expires, status)) in enumerate(privileges.items()):
        privilege = factories.license(person, state=("DE", "MD", "VA", "WV")[i], kind="compact_privilege",
                                      home_license_id=home.id, expires_on=expires, **on)
        cases[name] = (privilege, status)
    ny_gone.expires_on = _days(-1)
    cases["home license in force"] = (ny_ok, "active")
    db.session.commit()
    return cases


@pytest.mark.usefixtures("users")
def test_each_license_has_one_status_whether_python_or_the_database_reads_it(app):
    as_of = today()
    cases = _cases(as_of, app.config["LICENSE_EXPIRING_DAYS"])
    ids = {lic.id: name for name, (lic, _) in cases.items()}
    in_sql = dict(db.session.execute(
        sa.select(License.id, License.status_on(as_of)).where(License.id.in_(ids))).all())
    expiry_in_sql = dict(db.session.execute(
        sa.select(License.id, License.effective_expires_on).where(License.id.in_(ids))).all())
    for name, (lic, expected) in cases.items():
        assert (lic.status_on(as_of), in_sql[lic.id]) == (expected, expected), name
        assert expiry_in_sql[lic.id] == lic.effective_expires_on, name
    for status in ("active", "expiring", "expired"):
        filtered = set(db.session.scalars(
            sa.select(License.id).where(License.id.in_(ids), License.status_on(as_of) == status)))
        assert {ids[i] for i in filtered} == {name for name, (_, s) in cases.items() if s == status}, status
