"""`flask seed-demo` builds an agency in which every screen has something to show."""

from collections import Counter

import pytest
import sqlalchemy as sa

from agency.auth.models import User
from agency.billing.models import Invoice, TimesheetEntry
from agency.core.dates import today
from agency.core.outbox import OutboxMessage
from agency.credentials.models import License, PanelEnrollment, Therapist
from agency.credentials.worklist import KINDS, worklist
from agency.extensions import db
from agency.facilities.models import Facility
from agency.placements.models import PLACEMENT_STATUSES, Placement
from tests import factories
from tests.conftest import PASSWORD


def counts(column):
    return dict(db.session.execute(sa.select(column, sa.func.count()).group_by(column)).all())


def test_the_demo_agency_has_every_status_and_every_worklist_item(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "admin@demo.agency" in result.output

    assert db.session.scalar(sa.select(sa.func.count()).select_from(Therapist)) == 40
    assert len(counts(Therapist.home_state)) >= 6
    assert set(counts(Therapist.status)) == {"active", "inactive", "do_not_place"}
    assert set(counts(License.kind)) == {"state_license", "compact_privilege", "temporary"}
    assert {lic.status_on(today()) for lic in db.session.scalars(sa.select(License))} == {
        "active", "expiring", "expired"}
    assert set(counts(PanelEnrollment.status)) == {"not_started", "submitted", "in_review", "approved",
                                                   "denied", "terminated"}
    assert set(counts(Placement.status)) == set(PLACEMENT_STATUSES)
    assert set(counts(Invoice.status)) == {"issued", "partially_paid", "paid", "void"}
    assert {"submitted", "approved", "rejected", "invoiced"} <= set(counts(TimesheetEntry.status))
    assert set(Counter(item.kind for item in worklist(today()))) == set(KINDS)
    waiting = db.session.scalars(sa.select(OutboxMessage.dedupe_key).where(OutboxMessage.sent_at.is_(None))).all()
    assert waiting and all(key.startswith("invoice:") for key in waiting)  # the replayed months' mail went out

    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code != 0 and "only fills an empty one" in again.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Therapist)) == 40
    quiet = runner.invoke(args=["seed-demo", "--if-empty"])
    assert quiet.exit_code == 0 and "not added" in quiet.output


def holdings() -> dict[str, int]:
    return {model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (User, Therapist, Facility)}


@pytest.mark.parametrize("flags", [[], ["--if-empty"]])
def test_seed_demo_refuses_production_mode_whatever_the_flags(app, setting, flags):
    setting(ENV="production")
    result = app.test_cli_runner().invoke(args=["seed-demo", *flags])
    assert result.exit_code != 0 and "does not run in production mode" in result.output
    assert holdings() == {"User": 0, "Therapist": 0, "Facility": 0}


def _one_user():
    from agency.auth.services import create_user

    create_user("owner@agency.example", "admin", PASSWORD)


@pytest.mark.parametrize("holding", [_one_user, factories.therapist, factories.facility],
                         ids=["a user", "a therapist", "a facility"])
def test_seed_demo_refuses_a_database_that_already_holds_data(app, holding):
    holding()
    before = holdings()
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code != 0 and "only fills an empty one" in result.output
    assert holdings() == before


def test_seed_demo_if_empty_on_a_database_with_data_does_nothing_and_says_so(app):
    factories.facility()
    before = holdings()
    result = app.test_cli_runner().invoke(args=["seed-demo", "--if-empty"])
    assert result.exit_code == 0 and "the demo agency was not added" in result.output
    assert holdings() == before


def test_loading_ce_rules_keeps_an_edited_rule(app):
    from agency.credentials.models import CERule
    from tests import factories

    factories.ce_rule(state="NY", license_type="LCSW", hours="99")
    result = app.test_cli_runner().invoke(args=["credentials", "load-ce-rules"])
    assert result.exit_code == 0 and "already present" in result.output
    rule = db.session.scalar(sa.select(CERule).where(CERule.state == "NY", CERule.license_type == "LCSW"))
    assert str(rule.hours_required) == "99.00"
