"""The OpenAPI document describes every endpoint and a standard validator accepts it."""

import json
import re

import pytest
from openapi_spec_validator import validate


def test_the_openapi_document_is_public_valid_and_complete(client, app):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json
    validate(document)
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, (path, method)


def test_every_response_schema_is_closed_and_says_what_it_always_carries(client):
    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    for name, schema in schemas.items():
        assert schema["additionalProperties"] is False, name
        if not name.endswith(("Input", "Patch")) and name != "Error":
            assert set(schema["required"]) == set(schema["properties"]), name


def test_lists_are_arrays_of_item_schemas_and_nullable_fields_are_nullable(client):
    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    contacts = schemas["Facility"]["properties"]["contacts"]
    assert contacts["type"] == "array" and set(contacts["items"]["properties"]) == {"id", "role", "name", "email",
                                                                                     "phone", "approver"}
    rate = schemas["RateCard"]["properties"]["rates"]["items"]
    assert rate["properties"]["amount"]["pattern"] == r"^-?[0-9]+\.[0-9]{2}$"
    blockers = schemas["Readiness"]["properties"]["blockers"]
    assert blockers["type"] == "array" and blockers["items"]["required"] == ["code", "message"]
    assert schemas["Match"]["properties"]["reasons_for"] == {"type": "array", "items": {"type": "string"}}
    assert schemas["Invoice"]["properties"]["lines"]["type"] == "array"
    assert schemas["Aging"]["properties"]["facilities"]["type"] == "array"
    assert schemas["TimesheetImportReport"]["properties"]["errors"]["type"] == "array"
    # A check-in is recorded with a satisfaction score, and has none until then.
    assert schemas["CheckIn"]["properties"]["satisfaction"]["type"] == ["integer", "null"]
    assert schemas["CheckInInput"]["properties"]["satisfaction"]["type"] == "integer"
    assert "satisfaction" in schemas["CheckInInput"]["required"]
    assert schemas["Assignment"]["properties"]["end_on"]["format"] == "date"
    assert "end_on" not in schemas["AssignmentInput"]["properties"]  # returned, never accepted


def test_a_method_the_path_does_not_have_is_a_405_naming_the_allowed_ones(api):
    response = api("admin").put("/api/v1/licenses/1", json={})
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "PATCH", "DELETE"}
    assert response.json["error"]["code"] == "method_not_allowed"


def test_an_id_past_any_record_is_a_404_for_every_method(api):
    caller = api("admin")
    for method, path in (("get", "/api/v1/licenses/99999999999"), ("patch", "/api/v1/licenses/99999999999"),
                         ("delete", "/api/v1/licenses/99999999999"), ("patch", "/api/v1/therapists/2147483648"),
                         ("delete", "/api/v1/ceus/0")):
        response = getattr(caller, method)(path, json={})
        assert response.status_code == 404, (method, path, response.status_code)
        assert response.json["error"]["code"] == "not_found"


def test_the_suite_refuses_an_answer_the_document_does_not_describe(app, api):
    listed = api("admin").get("/api/v1/facilities")  # checked on the way in, like every API answer
    checker = app.test_client_class.documented

    def answer(body, status=200):
        response = app.response_class(json.dumps(body), status=status, mimetype="application/json")
        response.request = listed.request
        return response

    checker.check(answer({"items": [], "next_cursor": None}))
    with pytest.raises(AssertionError, match="total"):
        checker.check(answer({"items": [], "next_cursor": None, "total": 0}))
    with pytest.raises(AssertionError, match="next_cursor"):
        checker.check(answer({"items": []}))
    with pytest.raises(AssertionError, match="does not declare"):
        checker.check(answer({"error": {"code": "teapot", "message": "no"}}, status=418))
