"""No IntegrityError reaches anyone: the audit flush, the last-resort handler, racing requests, the CLI."""

import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from agency.core import audit
from agency.core.errors import Conflict
from agency.credentials.models import PanelEnrollment, Therapist
from agency.extensions import db
from agency.facilities.models import Facility
from tests import factories

RIVERSIDE = "Riverside Community Mental Health Center"


def test_the_audit_flush_turns_a_duplicate_into_a_conflict_naming_the_holder(users):
    clinic_id = users["facility"].facility_id
    twin = Facility(name=RIVERSIDE, facility_type="cmhc", state="NY", payment_terms_days=30)
    db.session.add(twin)
    with pytest.raises(Conflict) as refused:
        audit.record("create", twin, "facility twin")
    assert refused.value.fields == {"name": [f"a facility named '{RIVERSIDE}' exists (id {clinic_id})"]}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Facility)) == 1  # and the session works


def _slipped_past_the_checks(users):
    db.session.add(Facility(name=RIVERSIDE, facility_type="cmhc", state="NY", payment_terms_days=30))
    try:
        db.session.flush()
    except IntegrityError as exc:
        return exc
    raise AssertionError("the duplicate name was not refused by the database")


def test_an_integrity_error_no_service_caught_is_a_409_in_the_json_error_shape(app, users):
    with app.test_request_context("/api/v1/facilities", method="POST"):
        response = app.make_response(app.handle_user_exception(_slipped_past_the_checks(users)))
    assert response.status_code == 409
    assert response.json == {"error": {
        "code": "conflict",
        "message": f"name: a facility named '{RIVERSIDE}' exists (id {users['facility'].facility_id})",
        "fields": {"name": [f"a facility named '{RIVERSIDE}' exists (id {users['facility'].facility_id})"]}}}


def test_an_integrity_error_no_service_caught_is_a_friendly_409_page(app, users):
    with app.test_request_context("/facilities/new", method="POST"):
        response = app.make_response(app.handle_user_exception(_slipped_past_the_checks(users)))
    assert response.status_code == 409 and b"exists (id" in response.data and b"<html" in response.data.lower()


def _hold_until_someone_waits(app, make_row, held: threading.Event):
    """In a transaction of its own, write a row and keep it uncommitted until another writer waits on it."""
    with app.app_context():
        make_row()
        db.session.flush()
        held.set()
        with db.engine.connect() as watch:
            for _ in range(400):
                if watch.scalar(sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                        " AND wait_event_type = 'Lock'")):
                    break
                watch.execute(sa.text("SELECT pg_sleep(0.05)"))
        db.session.commit()
        db.session.remove()


def _race(app, make_row, request):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers; two requests cannot both pass a check there")
    held = threading.Event()
    holder = threading.Thread(target=_hold_until_someone_waits, args=(app, make_row, held))
    holder.start()
    assert held.wait(timeout=30)
    response = request()  # its check finds nothing yet; its write waits for the other, then conflicts
    holder.join(timeout=60)
    return response


def test_two_requests_creating_one_therapist_at_once_are_a_201_and_a_409(app, api):
    caller = api("recruiter")
    person = {"first_name": "Dana", "last_name": "Rivera", "email": "dana.rivera@example.org",
              "discipline": "LCSW", "home_state": "NY"}
    response = _race(app, lambda: db.session.add(Therapist(**person)),
                     lambda: caller.post("/api/v1/therapists", json={**person, "email": "Dana.Rivera@example.org"}))
    winner = db.session.scalar(sa.select(Therapist.id))
    assert response.status_code == 409, response.json
    assert response.json["error"]["fields"] == {
        "email": [f"a therapist with email dana.rivera@example.org exists (id {winner})"]}


def test_two_requests_adding_one_panel_at_once_are_a_201_and_a_409(app, api):
    dana = factories.therapist()
    db.session.commit()
    caller = api("credentialing")
    response = _race(app, lambda: db.session.add(PanelEnrollment(therapist_id=dana.id, payer="Aetna")),
                     lambda: caller.post(f"/api/v1/therapists/{dana.id}/panels", json={"payer": "Aetna"}))
    winner = db.session.scalar(sa.select(PanelEnrollment.id))
    assert response.status_code == 409, response.json
    assert response.json["error"]["fields"] == {
        "payer": [f"the therapist already has an enrollment with Aetna (id {winner})"]}


def test_a_command_refused_by_the_rules_prints_the_reason_and_exits_non_zero(app, tmp_path):
    rules = tmp_path / "rules.toml"
    checked = 'source = "NYSED Office of the Professions"\nchecked_on = 2026-11-02\n'
    rules.write_text('[[rules]]\nstate = "NY"\nlicense_type = "LCSW"\nhours = "36"\ncycle_months = 36\n' + checked
                     + '[[rules]]\nstate = "NY"\nlicense_type = "LCSW"\nhours = "30"\ncycle_months = 24\n' + checked)
    result = app.test_cli_runner().invoke(args=["credentials", "load-ce-rules", "--file", str(rules)])
    assert result.exit_code == 1 and result.exception.__class__ is SystemExit
    assert "Error: license_type: a CE rule for NY LCSW exists (id 1)" in result.output


@pytest.mark.parametrize("rule, says", [
    ('state = "NY"\nlicense_type = "LCSW"\nhours = "36"\ncycle_months = 36\nchecked_on = 2026-11-02\n',
     "source: say where the rule comes from"),
    ('state = "NY"\nlicense_type = "LCSW"\ncycle_months = 36\n', "rule 1 of the file has no hours"),
    ('state = "NY"\nlicense_type = "LCSW"\nhours = "many"\ncycle_months = 36\n', "not a number or a date"),
])
def test_a_hand_made_rules_file_missing_or_garbling_a_value_is_refused_with_a_sentence(app, tmp_path, rule, says):
    rules = tmp_path / "rules.toml"
    rules.write_text("[[rules]]\n" + rule)
    result = app.test_cli_runner().invoke(args=["credentials", "load-ce-rules", "--file", str(rules)])
    assert result.exit_code == 1 and result.exception.__class__ is SystemExit
    assert says in result.output
