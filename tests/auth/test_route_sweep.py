"""Every route × every role, and what each role may see where it is let in.

The expectations here are the business rules, written out by hand: who holds each permission,
which routes anyone may reach, and what a facility contact is told. They are not read from
core/permissions.py, so a change there that breaks a rule fails here. The sweep opens every
GET route with the ids of real objects (a second facility's for the facility contact, who must
not reach them) and tries every other method as the roles that may not use it.
"""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from agency.core.audit import AuditEvent
from agency.core.outbox import OutboxMessage, queue_email
from agency.core.permissions import PERMISSIONS, can
from agency.extensions import db
from tests import factories
from tests.conftest import Api, Browser, csrf_of
from tests.factories import files

ROLES = ("admin", "recruiter", "credentialing", "billing", "facility")
EVERYONE = set(ROLES)
STAFF = {"admin", "recruiter", "credentialing", "billing"}

# Permission -> the roles that hold it: the business rule, one line each.
EXPECTED = {
    "therapists.view": STAFF,
    "therapists.edit": {"admin", "recruiter", "credentialing"},
    "credentials.view": STAFF,
    "credentials.edit": {"admin", "credentialing"},
    "documents.upload": {"admin", "recruiter", "credentialing"},
    "documents.download": {"admin", "recruiter", "credentialing"},
    "documents.delete": {"admin", "credentialing"},
    "worklist.view": {"admin", "recruiter", "credentialing"},
    "reference_rules.edit": {"admin"},
    # Asking a therapist for documents is for those who upload them; accepting one is credentialing's call.
    "document_requests.send": {"admin", "recruiter", "credentialing"},
    "document_requests.review": {"admin", "credentialing"},
    # Exclusion screening is credentialing's: runs, hits and the decision on a name match.
    "screenings.view": {"admin", "credentialing"},
    "screenings.run": {"admin", "credentialing"},
    "screenings.decide": {"admin", "credentialing"},
    "users.manage": {"admin"},
    "audit.view": {"admin"},
    # Each team checks and releases its own mail; only an admin sees all of it.
    "outbox.view": {"admin", "recruiter", "credentialing", "billing"},
    "outbox.credential_mail": {"admin", "credentialing"},
    "outbox.billing_mail": {"admin", "billing"},
    "outbox.placement_mail": {"admin", "recruiter"},
    "outbox.account_mail": {"admin"},
    "facilities.view": EVERYONE,
    "facilities.edit": {"admin", "recruiter", "billing"},
    "facilities.billing_email.edit": {"admin", "billing"},
    # Whether and how a facility is invoiced (automatic, review, off; the safety stop) is billing's call.
    "facilities.invoicing.edit": {"admin", "billing"},
    "facilities.internal": {"admin", "recruiter", "credentialing", "billing"},
    "rate_cards.view": {"admin", "recruiter", "billing", "facility"},
    "rate_cards.notes": {"admin", "recruiter", "billing"},
    "rate_cards.edit": {"admin", "recruiter", "billing"},
    "assignments.view": STAFF,
    "assignments.edit": {"admin", "recruiter"},
    "placements.view": EVERYONE,
    "placements.edit": {"admin", "recruiter"},
    "placements.notes": STAFF,
    "placements.status_reasons": STAFF,
    "placements.override": {"admin"},
    "placements.watch": {"admin", "recruiter", "credentialing"},
    "revenue_at_risk.view": {"admin", "recruiter", "credentialing", "billing"},
    "readiness.details": STAFF,
    "checkins.details": STAFF,
    "checklist.edit": {"admin", "recruiter", "credentialing"},
    "checklist.done_by": STAFF,
    "checkins.edit": {"admin", "recruiter"},
    "timesheets.view": EVERYONE,
    "timesheets.edit": {"admin", "recruiter", "billing"},
    "timesheets.notes": STAFF,
    "timesheets.decide": {"admin", "billing", "facility"},
    "timesheets.release": {"admin"},
    "invoices.view": {"admin", "billing", "facility"},
    "invoices.edit": {"admin", "billing"},
    "payments.record": {"admin", "billing"},
    "receivables.view": {"admin", "billing"},
    "collections.view": {"admin", "billing"},
    "dunning.manage": {"admin", "billing"},
    "disputes.open": {"admin", "billing", "facility"},
    "disputes.resolve": {"admin", "billing"},
    "promises.record": {"admin", "billing"},
    # Sending a statement of account now is billing's; the schedule sends the others.
    "statements.send": {"admin", "billing"},
    # Collection tasks go to billing, an account's recruiter and leadership (admins); none to credentialing.
    "collection_tasks.view": {"admin", "recruiter", "billing"},
    "jobs.view": STAFF,
}

# Routes without a permission: what an anonymous visitor gets (a status, and where a redirect goes).
# Any other route without one only needs a signed-in user: anonymous visitors go to sign in.
ANONYMOUS = {
    "auth.login": (200, None),
    "api.openapi_document": (200, None),
    "dashboard.calendar_feed": (200, None),  # the secret token in its URL is the key
    # The therapist's upload page needs no account: the private single-use token in its URL is the key.
    "document_upload.upload": (200, None),
    "dashboard.home": (302, "/login"),
}

# Where a role's normal answer to a GET is not 200: (endpoint, role) -> status.
NORMAL = {
    ("dashboard.home", role): 302 for role in ROLES
} | {
    ("auth.login", role): 302 for role in ROLES
} | {
    ("billing.portal", role): 302 for role in STAFF  # staff have the invoice list instead
} | {
    ("billing.portal_statement", role): 302 for role in STAFF  # a statement is of a facility they pick
} | {
    ("dashboard.job", role): 302 for role in STAFF  # on to the page of that kind of job
} | {
    ("facilities.facilities", "facility"): 302,  # straight to their own facility
    ("dashboard.dashboard", "facility"): 302,  # to their portal
}

# Rule arguments whose objects belong to one facility: the facility contact's are "own", the others' "other".
SCOPED = {"facility_id", "placement_id", "checkin_id", "item_id", "card_id", "contact_id", "invoice_id",
          "entry_id", "assignment_id", "dispute_id"}


@dataclass
class World:
    own: dict
    other: dict
    shared: dict


def _facility_objects(place, contact_email: str) -> dict:
    from agency.billing.disputes import open_dispute
    from agency.billing.models import TimesheetEntry
    from agency.facilities.services import add_contact
    from agency.placements.models import Placement

    invoice = factories.invoiced_day(place)
    dispute = open_dispute(invoice, "Two hours billed twice on Nov 2")
    placement = db.session.scalar(sa.select(Placement).where(Placement.facility_id == place.id))
    contact = add_contact(place, {"role": "billing", "name": "Pat Payables", "email": contact_email})
    return {
        "facility_id": place.id, "placement_id": placement.id, "checkin_id": placement.checkins[0].id,
        "item_id": placement.checklist[0].id, "card_id": place.rate_cards[0].id, "contact_id": contact.id,
        "invoice_id": invoice.id, "assignment_id": factories.assignment(place).id, "dispute_id": dispute.id,
        "entry_id": db.session.scalar(sa.select(TimesheetEntry.id).where(TimesheetEntry.placement_id == placement.id)),
    }


def _task(users) -> int:
    from agency.billing.collections import add_task
    from agency.facilities.models import Facility

    facility_id = db.session.scalar(sa.select(Facility.id).order_by(Facility.id).limit(1))
    task = add_task(key="sweep", kind="dunning", facility_id=facility_id, owner_role="billing",
                    title="Call the facility", due_on=date(2026, 12, 1), created_on=date(2026, 12, 1))
    db.session.commit()
    return task.id


def build_world(users) -> World:
    """Two facilities with everything a route can name: the facility contact's own (Riverside) and another."""
    from agency.auth.services import issue_token
    from agency.billing.runs import start_invoice_run
    from agency.credentials.documents import path_of
    from agency.dashboard.calendar import rotate_token
    from agency.facilities.models import Facility

    home = db.session.get(Facility, users["facility"].facility_id)
    own = _facility_objects(home, "pat@riverside.example.org")
    other = _facility_objects(factories.facility(name="Lakeside Crisis Center"), "pat@lakeside.example.org")
    therapist = factories.licensed_therapist(state="NY")
    document = factories.document(therapist, "bls_card")
    path_of(document).parent.mkdir(parents=True, exist_ok=True)
    path_of(document).write_bytes(b"%PDF-1.4\n%%EOF\n")
    queue_email("ap@riverside.example.org", "Invoice INV-1", "Attached.", dedupe_key="invoice:INV-1")
    db.session.commit()
    hit = _exclusion_hit(therapist)
    shared = {
        "screening_id": hit.screening_id, "hit_id": hit.id,
        "therapist_id": therapist.id, "license_id": therapist.licenses[0].id,
        "panel_id": factories.panel(therapist).id, "record_id": factories.ce_record(therapist).id,
        "rule_id": factories.ce_rule().id, **_reference_rules(), "document_id": document.id,
        "user_id": users["billing"].id,
        "message_id": db.session.scalar(sa.select(OutboxMessage.id)),
        "token_id": _token_id(issue_token(users["admin"])),
        "job_id": start_invoice_run(date(2026, 11, 1), date(2026, 11, 30), None, users["billing"]).id,
        "token": rotate_token(users["recruiter"]),
        "task_id": _task(users),
        **_document_requests(therapist, users["credentialing"]),
    }
    db.session.commit()
    return World(own, other, shared)


def _reference_rules() -> dict:
    from agency.credentials import rules

    caqh = rules.save_caqh_rule(None, {"state": "IL", "interval_days": 180, "reminder_days": [15, 10, 5],
                                       "source": "CAQH ProView", "checked_on": date(2026, 11, 2)})
    payer = rules.save_payer_rule(None, {"payer": "Aetna", "months": 36, "source": "NCQA",
                                         "checked_on": date(2026, 11, 2)})
    return {"caqh_rule_id": caqh.id, "payer_rule_id": payer.id}


def _document_requests(therapist, actor) -> dict:
    """A request answered (its upload in the review queue) and one whose link is still open."""
    from io import BytesIO

    from agency.credentials import requests

    def link_of(request) -> str:
        body = db.session.scalar(sa.select(OutboxMessage.body).where(
            OutboxMessage.dedupe_key == f"document-request:{request.id}:sent"))
        return re.search(r"/upload/([A-Za-z0-9_-]+)", body).group(1)

    answered = requests.send_request(therapist, ["i9"], actor)
    requests.submit(link_of(answered), {"i9": (BytesIO(files.pdf()), "i9.pdf")}, {})
    waiting = requests.send_request(therapist, ["tb_test"], actor)
    return {"request_id": answered.id, "upload_id": answered.items[0].id, "upload_token": link_of(waiting)}
def _exclusion_hit(therapist):
    """A screening run that found the therapist by name, waiting for a person."""
    import io

    from agency.credentials.screening import COLUMNS, screen_file

    listed = dict.fromkeys(COLUMNS, "") | {"LASTNAME": therapist.last_name, "FIRSTNAME": therapist.first_name,
                                           "STATE": therapist.home_state, "EXCLDATE": "20250101"}
    data = (",".join(COLUMNS) + "\n" + ",".join(listed[c] for c in COLUMNS) + "\n").encode()
    return screen_file(io.BytesIO(data), "UPDATED.csv", "oig_leie").hits[0]


def _token_id(token: str) -> int:
    from agency.auth.models import ApiToken

    return db.session.scalar(sa.select(ApiToken.id).where(ApiToken.prefix == token[:12]))


def _rules(app):
    return sorted((r for r in app.url_map.iter_rules() if r.endpoint != "static"), key=lambda r: r.rule)


def _view(app, rule):
    return app.view_functions[rule.endpoint]


def _allowed(app, rule) -> set[str] | None:
    """The roles the business rules let use a route; None for a route with no permission."""
    needed = getattr(_view(app, rule), "required_permissions", None)
    if not needed:
        return None
    unknown = [p for p in needed if p not in EXPECTED]
    assert not unknown, f"{rule.rule} needs {unknown}: write down who holds it in EXPECTED"
    return set.intersection(*(EXPECTED[p] for p in needed))


def _urls(app, rule, world: World) -> list[tuple[str, str]]:
    """(whose, url) for the rule with real ids: "own" and "other" when it names a facility's object."""
    args = set(rule.arguments)
    variants = [("own", world.own), ("other", world.other)] if args & SCOPED else [("shared", {})]
    urls = []
    for whose, scoped in variants:
        values = {**world.shared, **scoped}
        missing = args - set(values)
        assert not missing, f"{rule.rule}: the sweep has no object for {missing}"
        urls.append((whose, rule.build({a: values[a] for a in args}, append_unknown=False)[1]))
    return urls


def test_the_permission_table_holds_exactly_the_business_rules(users):
    assert set(PERMISSIONS) == set(EXPECTED), "a permission was added or dropped: say who holds it in EXPECTED"
    for permission, roles in EXPECTED.items():
        holders = {role for role in ROLES if can(users[role], permission)}
        assert holders == roles, (permission, holders)


def test_every_route_declares_a_rule_the_sweep_knows(app):
    for rule in _rules(app):
        view = _view(app, rule)
        if getattr(view, "is_public", False):
            continue
        assert _allowed(app, rule) is not None, f"{rule.rule} declares no permission and is not public"


def _signed_in(app, users, role):
    if role == "anonymous":
        return Browser(app.test_client()), None
    b = Browser(app.test_client())
    assert b.login(users[role].email).status_code == 302
    return b, Api(app.test_client(), _issue(users[role]))


def _issue(user):
    from agency.auth.services import issue_token

    return issue_token(user)


def _get(browser, api, url):
    return api.get(url) if api and url.startswith("/api/") else browser.get(url)


@pytest.mark.parametrize("role", ROLES + ("anonymous",))
def test_each_role_reaches_exactly_the_routes_the_rules_give_it(app, users, role):
    world = build_world(users)
    browser, api = _signed_in(app, users, role)
    csrf = csrf_of(browser.get("/account" if api else "/login"))
    wrong = []
    for rule in _rules(app):
        allowed = _allowed(app, rule)
        methods = rule.methods - {"HEAD", "OPTIONS"}
        is_api = rule.rule.startswith("/api/")
        for whose, url in _urls(app, rule, world):
            if "GET" in methods:
                got = _get(browser, api, url)
                want = _expected_get(rule, role, allowed, whose, is_api)
                if got.status_code not in want[0] or (want[1] and want[1] not in got.headers.get("Location", "")):
                    wrong.append(f"GET {url} as {role}: {got.status_code}, expected {want}")
            if allowed is None or (role != "anonymous" and role in allowed):
                continue  # what those let in do with a change is each feature's own tests' business
            for method in sorted(methods - {"GET"}):
                got = _change(browser, api, method, url, csrf, is_api)
                want = (401,) if is_api and role == "anonymous" else (302,) if role == "anonymous" else (403,)
                if got.status_code not in want:
                    wrong.append(f"{method} {url} as {role}: {got.status_code}, expected {want}")
    assert not wrong, "\n".join(wrong)


def _expected_get(rule, role, allowed, whose, is_api) -> tuple[tuple[int, ...], str | None]:
    if allowed is None:
        if role == "anonymous":
            status, to = ANONYMOUS.get(rule.endpoint, (302, "/login"))
            return (status,), to
        return (NORMAL.get((rule.endpoint, role), 200),), None
    if role == "anonymous":
        return ((401,), None) if is_api else ((302,), "/login")
    if role not in allowed:
        return (403,), None
    if role == "facility" and whose == "other":
        return (403, 404), None  # another facility's object is not theirs to see, nor to know of
    return (NORMAL.get((rule.endpoint, role), 200),), None


def _change(browser, api, method, url, csrf, is_api):
    """A change with an empty body: refused before anything reads it, by the route's permission."""
    if is_api:
        headers = api.headers if api else {}
        return browser.client.open(url, method=method, json={}, headers=headers)
    return browser.client.open(url, method=method, data={"csrf_token": csrf})


# ----------------------------------------------------------------------------- what each role sees


def test_rate_cards_are_for_recruiters_billing_and_the_facility_itself_on_the_page_and_in_the_api(app, users):
    from agency.facilities.models import RateCard

    world = build_world(users)
    card = db.session.get(RateCard, world.own["card_id"])
    card.notes = "Discounted for a two-year commitment"
    db.session.commit()
    facility_id = world.own["facility_id"]
    for role in ROLES:
        browser, api = _signed_in(app, users, role)
        page = browser.get(f"/facilities/{facility_id}").data.decode()
        listed = api.get(f"/api/v1/facilities/{facility_id}/rate-cards")
        one = api.get(f"/api/v1/rate-cards/{card.id}")
        sees = role in EXPECTED["rate_cards.view"]
        assert ('id="rate-cards"' in page) == sees, role
        assert (listed.status_code, one.status_code) == ((200, 200) if sees else (403, 403)), role
        if sees:
            notes = role != "facility"
            assert ("Discounted for a two-year" in page) == notes, role
            assert (one.json["notes"] is not None) == notes and (listed.json["items"][0]["notes"] is not None) == notes
            assert one.json["rates"][0]["amount"] == "90.00"


def _not_ready_placement(place):
    """A proposed placement, with the agency's notes, of a do-not-place therapist licensed nowhere."""
    therapist = factories.therapist(status="do_not_place")
    return factories.placement(therapist, place, notes="Asked for Fridays off; rate negotiated down")


def test_a_facility_contact_learns_only_whether_a_placement_is_ready_with_a_neutral_reason(app, users):
    from agency.facilities.models import Facility

    build_world(users)
    placement = _not_ready_placement(db.session.get(Facility, users["facility"].facility_id))
    for role in ROLES:
        browser, api = _signed_in(app, users, role)
        readiness = api.get(f"/api/v1/placements/{placement.id}/readiness").json
        page = browser.get(f"/placements/{placement.id}").data.decode()
        assert readiness["ready"] is False and 'id="readiness"' in page and "not ready" in page.lower()
        codes = {b["code"] for b in readiness["blockers"]}
        if role == "facility":
            assert readiness["blockers"] == [{"code": "in_progress", "message": "Credentialing in progress"}]
            assert readiness["warnings"] == []
            assert "Credentialing in progress" in page
            assert "do not place" not in page and "No active license" not in page
        else:
            assert {"do_not_place", "no_license_in_state"} <= codes, role
            assert "do not place" in page and "No active license" in page


def test_a_ready_placement_is_simply_ready_to_the_facility(app, users):
    world = build_world(users)
    facility = Api(app.test_client(), _issue(users["facility"]))
    readiness = facility.get(f"/api/v1/placements/{world.own['placement_id']}/readiness").json
    assert readiness["ready"] is True and readiness["blockers"] == [] and readiness["warnings"] == []


def test_the_agencys_placement_notes_stay_with_the_agency_in_the_api_pages_and_csv(app, users):
    from agency.facilities.models import Facility

    build_world(users)
    placement = _not_ready_placement(db.session.get(Facility, users["facility"].facility_id))
    for role in ROLES:
        browser, api = _signed_in(app, users, role)
        one = api.get(f"/api/v1/placements/{placement.id}").json
        listed = {p["id"]: p for p in api.get("/api/v1/placements").json["items"]}
        page = browser.get(f"/placements/{placement.id}").data.decode()
        csv = browser.get("/placements?format=csv").data.decode()
        sees = role != "facility"
        assert (one["notes"] is not None) == sees and (listed[placement.id]["notes"] is not None) == sees, role
        assert ("Asked for Fridays off" in page) == sees, role
        assert "Asked for Fridays off" not in csv and str(placement.therapist.last_name) in csv


def test_the_agencys_notes_on_a_day_of_work_stay_with_the_agency_in_the_api(app, users):
    from agency.billing import timesheets
    from agency.facilities.models import Facility

    place = db.session.get(Facility, users["facility"].facility_id)
    factories.rate_card(place)
    placement = factories.active_placement(place)
    note = "Covered for Dr. Ames; therapist late twice this week"
    entries = [timesheets.record_entry({"placement_id": placement.id, "work_date": day,
                                        "direct_care_hours": Decimal("8"), "notes": note})
               for day in (date(2026, 11, 2), date(2026, 11, 3))]
    for role in ROLES:
        _, api = _signed_in(app, users, role)
        sees = role != "facility"
        listed = {e["id"]: e for e in api.get(f"/api/v1/timesheets?placement_id={placement.id}").json["items"]}
        one = api.get(f"/api/v1/timesheets/{entries[0].id}").json
        assert (listed[entries[0].id]["notes"] is not None) == sees and (one["notes"] is not None) == sees, role
    _, contact = _signed_in(app, users, "facility")
    approved = contact.post(f"/api/v1/timesheets/{entries[0].id}/approve")
    rejected = contact.post(f"/api/v1/timesheets/{entries[1].id}/reject", {"reason": "Not on the sign-in sheet"})
    assert (approved.status_code, rejected.status_code) == (200, 200)
    assert approved.json["notes"] is None and rejected.json["notes"] is None


def test_the_facility_is_not_given_the_email_of_whoever_at_the_agency_ticked_an_onboarding_item(app, users):
    from agency.facilities.models import Facility
    from agency.placements.services import set_checklist_item

    placement = _not_ready_placement(db.session.get(Facility, users["facility"].facility_id))
    ticked, other = placement.checklist[0], placement.checklist[1]
    set_checklist_item(ticked, True, users["recruiter"])
    for role in ROLES:
        _, api = _signed_in(app, users, role)
        items = {i["id"]: i for i in api.get(f"/api/v1/placements/{placement.id}/checklist").json["items"]}
        assert items[ticked.id]["done"] and items[ticked.id]["done_by"] == (
            None if role == "facility" else users["recruiter"].email), role
    _, recruiter = _signed_in(app, users, "recruiter")
    assert recruiter.patch(f"/api/v1/checklist-items/{other.id}", {"done": True}).json["done_by"] == users[
        "recruiter"].email


def test_check_in_satisfaction_notes_and_concerns_are_not_shown_to_the_facility(app, users):
    from agency.placements.models import CheckIn
    from agency.placements.services import record_checkin

    world = build_world(users)
    checkin = db.session.get(CheckIn, world.own["checkin_id"])
    record_checkin(checkin, {"completed_on": date(2026, 10, 1), "satisfaction": 2, "concern": True,
                             "notes": "Feels unsupported by the unit manager"}, users["recruiter"])
    placement_id = world.own["placement_id"]
    for role in ROLES:
        browser, api = _signed_in(app, users, role)
        seen = api.get(f"/api/v1/placements/{placement_id}/checkins").json["items"][0]
        page = browser.get(f"/placements/{placement_id}").data.decode()
        assert seen["completed_on"] == "2026-10-01" and seen["day"] == 30
        if role == "facility":
            assert (seen["satisfaction"], seen["notes"], seen["concern"]) == (None, None, None)
            assert "unsupported" not in page and "2 of 5" not in page
        else:
            assert (seen["satisfaction"], seen["concern"]) == (2, True)
            assert "Feels unsupported" in page and "2 of 5" in page


def test_only_an_admin_overrides_readiness_and_the_reason_is_not_the_facilitys_to_read(app, users):
    from agency.facilities.models import Facility
    from agency.placements.services import change_status

    build_world(users)
    placement = _not_ready_placement(db.session.get(Facility, users["facility"].facility_id))
    placement.therapist.status = "active"
    db.session.commit()
    change_status(placement, "onboarding", users["recruiter"])
    body = {"status": "active", "override_reason": "Licensure board confirmed renewal by phone"}
    refused = Api(app.test_client(), _issue(users["recruiter"])).patch(f"/api/v1/placements/{placement.id}", json=body)
    assert refused.status_code == 403 and placement.status == "onboarding"
    recruiter_page = _signed_in(app, users, "recruiter")[0].get(f"/placements/{placement.id}").data.decode()
    assert 'name="override_reason"' not in recruiter_page
    admin = Api(app.test_client(), _issue(users["admin"]))
    assert admin.patch(f"/api/v1/placements/{placement.id}", json=body).json["status"] == "active"
    for role in ROLES:
        page = _signed_in(app, users, role)[0].get(f"/placements/{placement.id}").data.decode()
        assert ("board confirmed renewal" in page) == (role != "facility"), role


def test_a_recruiter_cannot_change_where_invoices_go_on_the_page_or_in_the_api(app, users):
    world = build_world(users)
    from agency.facilities.models import Facility

    place = db.session.get(Facility, world.other["facility_id"])
    before = place.billing_email
    recruiter = Api(app.test_client(), _issue(users["recruiter"]))
    refused = recruiter.patch(f"/api/v1/facilities/{place.id}", json={"billing_email": "pay@elsewhere.example"})
    assert refused.status_code == 403 and "billing_email" in refused.json["error"]["fields"]
    same = recruiter.patch(f"/api/v1/facilities/{place.id}", json={"billing_email": before, "city": "Troy"})
    assert same.status_code == 200 and same.json["city"] == "Troy"

    browser = _signed_in(app, users, "recruiter")[0]
    form = browser.get(f"/facilities/{place.id}/edit").data.decode()
    assert re.search(r'<input[^>]*name="billing_email"[^>]*readonly', form)
    posted = browser.post(f"/facilities/{place.id}/edit", {
        "name": place.name, "facility_type": place.facility_type, "state": place.state, "funding": place.funding,
        "payment_terms_days": "30", "invoice_schedule": place.invoice_schedule,
        "billing_email": "pay@elsewhere.example", "active": "y"})
    assert posted.status_code == 200 and b"only billing staff may change where invoices go" in posted.data
    db.session.refresh(place)
    assert place.billing_email == before
    assert not db.session.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.subject.contains("was changed")))


def test_a_billing_email_change_is_audited_and_the_previous_address_is_told(app, users):
    world = build_world(users)
    from agency.facilities.models import Facility

    place = db.session.get(Facility, world.other["facility_id"])
    before = place.billing_email
    changed = Api(app.test_client(), _issue(users["billing"])).patch(
        f"/api/v1/facilities/{place.id}", json={"billing_email": "Payables@Lakeside.example.org"})
    assert changed.status_code == 200 and changed.json["billing_email"] == "payables@lakeside.example.org"
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "facility",
                                                           AuditEvent.object_id == place.id)
                               .order_by(AuditEvent.id.desc())).first()
    assert event.changes["billing_email"] == [before, "payables@lakeside.example.org"]
    assert f"{before} → payables@lakeside.example.org" in event.summary
    notice = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.to_addr == before,
                                                              OutboxMessage.subject.contains("was changed")))
    assert notice.kind == "billing" and "was changed" in notice.subject
    assert "payables@lakeside.example.org" in notice.body and "did not ask for this change" in notice.body
    # Setting it again to the same address is no change: nobody is told twice.
    Api(app.test_client(), _issue(users["billing"])).patch(
        f"/api/v1/facilities/{place.id}", json={"billing_email": "payables@lakeside.example.org"})
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.subject == notice.subject)) == 1


def test_search_finds_for_a_facility_contact_nothing_beyond_its_own(app, users):
    build_world(users)
    facility, _ = _signed_in(app, users, "facility")
    assert facility.get("/search?q=Lakeside").status_code == 403
    staff, _ = _signed_in(app, users, "billing")
    assert b"Lakeside Crisis Center" in staff.get("/search?q=Lakeside").data
