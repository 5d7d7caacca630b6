"""The audit log a reviewer can use: filtered, paged and exported by admins; downloads of personal data in it."""

import csv
import html
import io
import json
import re
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from agency.core import audit
from agency.core.audit import AuditEvent
from agency.extensions import db
from tests import factories


def happened(action, summary, at, actor=None, object_type="user", object_id=None, changes=None):
    """An event as the code that records it would, stamped at a chosen moment (UTC)."""
    event = audit.record(action, None, summary, actor=actor, object_type=object_type, object_id=object_id,
                         changes=changes)
    event.occurred_at = at
    db.session.commit()
    return summary


@pytest.fixture
def history(users):
    """A week of events; the agency keeps New York time, five hours behind UTC in November."""
    billing = users["billing"]
    return {
        "login": happened("login", "admin signed in from 198.51.100.7", datetime(2026, 11, 18, 14, tzinfo=UTC),
                          users["admin"], object_id=users["admin"].id),
        "failed": happened("login_failed", "wrong password typed for billing@staff.example.org",
                           datetime(2026, 11, 19, 15, tzinfo=UTC), object_id=billing.id),
        # 03:30 UTC on the 20th is 22:30 on the 19th in New York: it belongs to the 19th.
        "lockout": happened("lockout", "billing@staff.example.org locked out after 5 failed sign-ins",
                            datetime(2026, 11, 20, 3, 30, tzinfo=UTC), object_id=billing.id),
        "update": happened("update", "changed the billing email of facility 7",
                           datetime(2026, 11, 21, 16, tzinfo=UTC), users["recruiter"], "facility", 7,
                           {"billing_email": ["ap@clinic.example.org", "new@clinic.example.org"]}),
        "download": happened("download", "downloaded invoice INV-2026-0003 PDF",
                             datetime(2026, 11, 22, 12, tzinfo=UTC), users["facility"], "invoice", 3),
        "export": happened("export", "exported timesheets.csv", datetime(2026, 11, 23, 9, tzinfo=UTC), billing,
                           "timesheet_entry"),
    }


def listed(response) -> list[str]:
    """The summaries of the events on an audit page, in their order."""
    return [html.unescape(s).strip() for s in re.findall(r'<td class="what">([^<]*)', response.data.decode())]


def shown_of(history, response) -> set[str]:
    """Which of the week's events a page lists (other events, such as users being created, aside)."""
    return {key for key, summary in history.items() if summary in listed(response)}


@pytest.mark.parametrize(("query", "expected"), [
    ("action=lockout", {"lockout"}),
    ("action=download&user=facility", {"download"}),
    ("user=FACILITY@staff", {"download"}),
    ("user=system", {"failed", "lockout"}),
    ("object_type=user", {"login", "failed", "lockout"}),
    ("object_type=facility&object_id=7", {"update"}),
    ("date_from=2026-11-19&date_to=2026-11-19", {"failed", "lockout"}),
    ("date_to=2026-11-18", {"login"}),
    ("date_from=2026-11-20", {"update", "download", "export"}),
    ("q=billing+EMAIL", {"update"}),
    ("q=inv-2026", {"download"}),
    ("", {"login", "failed", "lockout", "update", "download", "export"}),
])
def test_each_filter_of_the_audit_log_narrows_it_to_the_events_asked_for(browser, history, query, expected):
    page = browser("admin").get(f"/admin/audit?{query}")
    assert page.status_code == 200
    assert shown_of(history, page) == expected


def test_a_user_id_finds_that_users_events(browser, users, history):
    page = browser("admin").get(f"/admin/audit?user={users['recruiter'].id}")
    assert shown_of(history, page) == {"update"}


def test_the_log_is_newest_first_and_paged(browser, history):
    b = browser("admin")
    first = b.get("/admin/audit?date_from=2026-11-18&date_to=2026-11-23&per_page=4")
    second = b.get("/admin/audit?date_from=2026-11-18&date_to=2026-11-23&per_page=4&page=2")
    assert listed(first) == [history[k] for k in ("export", "download", "update", "lockout")]
    assert listed(second) == [history[k] for k in ("failed", "login")]
    assert b"Page 1 of 2" in first.data and "page=2" in html.unescape(first.data.decode())


@pytest.mark.parametrize(("query", "message"), [
    ("action=drop_table", "Not a kind of event the log records"),
    ("object_id=abc", "Not a valid integer"),
    ("object_id=-3", "Record ids start at 1"),
    ("object_id=99999999999999999999", "Enter a whole number below"),
    ("date_from=2026-13-40", "Not a valid date"),
    ("date_from=0001-01-01", "The date must be between"),
    ("date_from=2026-11-22&date_to=2026-11-20", "Must not be before the From day"),
    ("q=" + "x" * 101, "100 characters"),
    ("action=drop_table&format=csv", "Not a kind of event the log records"),
])
def test_a_filter_that_makes_no_sense_is_explained_and_lists_nothing(browser, history, query, message):
    page = browser("admin").get(f"/admin/audit?{query}")
    assert page.status_code == 400 and page.mimetype == "text/html"
    errors = re.findall(r'<p class="error" role="alert">([^<]*)</p>', page.data.decode())
    assert len(errors) == 1 and message in html.unescape(errors[0])
    assert listed(page) == []


def test_the_filtered_log_exports_as_csv_with_its_changes(browser, users, history):
    response = browser("admin").get("/admin/audit?format=csv&date_from=2026-11-21&date_to=2026-11-22")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    header, *rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert header == ["occurred_at", "actor", "action", "object_type", "object_id", "summary", "changes"]
    assert rows == [
        ["2026-11-22T12:00:00+00:00", "facility@staff.example.org", "download", "invoice", "3", history["download"],
         ""],
        ["2026-11-21T16:00:00+00:00", "recruiter@staff.example.org", "update", "facility", "7", history["update"],
         json.dumps({"billing_email": ["ap@clinic.example.org", "new@clinic.example.org"]})],
    ]


@pytest.mark.parametrize("role", ["recruiter", "credentialing", "billing", "facility"])
def test_only_admins_read_or_export_the_audit_log(browser, history, role):
    b = browser(role)
    assert b.get("/admin/audit").status_code == 403
    export = b.get("/admin/audit?format=csv")
    assert export.status_code == 403 and history["download"] not in export.get_data(as_text=True)


# ----------------------------------------------------------------------------- downloads of personal data


@pytest.fixture
def riverside_invoice(users):
    from agency.billing.invoicing import invoice_facility
    from agency.billing.models import Invoice
    from agency.facilities.models import Facility

    clinic = db.session.get(Facility, users["facility"].facility_id)
    factories.rate_card(clinic)
    factories.entry(factories.active_placement(clinic), date(2026, 11, 2))
    invoice_facility(clinic.id, date(2026, 11, 1), date(2026, 11, 30))
    return db.session.scalar(sa.select(Invoice).where(Invoice.facility_id == clinic.id))


def downloads_of(invoice) -> list[tuple[str, str]]:
    return db.session.execute(
        sa.select(AuditEvent.actor_label, AuditEvent.summary).where(
            AuditEvent.action == "download", AuditEvent.object_type == "invoice",
            AuditEvent.object_id == invoice.id)).all()


@pytest.mark.parametrize("role", ["billing", "facility"])
def test_an_invoice_pdf_downloaded_from_the_page_is_in_the_audit_log(browser, users, riverside_invoice, role):
    response = browser(role).get(f"/invoices/{riverside_invoice.id}/pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert downloads_of(riverside_invoice) == [
        (users[role].email, f"downloaded invoice {riverside_invoice.number} PDF")]
    page = browser("admin").get(f"/admin/audit?action=download&object_type=invoice&object_id={riverside_invoice.id}")
    assert listed(page) == [f"downloaded invoice {riverside_invoice.number} PDF"]


@pytest.mark.parametrize("role", ["billing", "facility"])
def test_an_invoice_pdf_downloaded_through_the_api_is_in_the_audit_log(api, users, riverside_invoice, role):
    response = api(role).get(f"/api/v1/invoices/{riverside_invoice.id}/pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert downloads_of(riverside_invoice) == [
        (users[role].email, f"downloaded invoice {riverside_invoice.number} PDF")]


def test_another_facilitys_invoice_is_neither_served_nor_logged_as_downloaded(api, riverside_invoice):
    from agency.billing.invoicing import invoice_facility
    from agency.billing.models import Invoice

    other = factories.facility(name="Not Yours")
    factories.rate_card(other)
    factories.entry(factories.active_placement(other), date(2026, 11, 2))
    invoice_facility(other.id, date(2026, 11, 1), date(2026, 11, 30))
    theirs = db.session.scalar(sa.select(Invoice).where(Invoice.facility_id == other.id))
    assert api("facility").get(f"/api/v1/invoices/{theirs.id}/pdf").status_code == 404
    assert downloads_of(theirs) == []


def test_a_calendar_feed_is_logged_once_a_day_from_each_address_that_fetches_it(browser, app, users):
    from tests.test_calendar import feed_url

    url = feed_url(browser("credentialing"))
    office, elsewhere = {"REMOTE_ADDR": "198.51.100.20"}, {"REMOTE_ADDR": "203.0.113.99"}
    for _ in range(3):  # a calendar app polling
        assert app.test_client().get(url, environ_base=office).status_code == 200
    assert app.test_client().get(url, environ_base=elsewhere).status_code == 200
    fetches = db.session.scalars(sa.select(AuditEvent.summary).where(
        AuditEvent.action == "download", AuditEvent.object_type == "user",
        AuditEvent.object_id == users["credentialing"].id).order_by(AuditEvent.id)).all()
    assert fetches == ["calendar feed of credentialing@staff.example.org fetched from 198.51.100.20",
                       "calendar feed of credentialing@staff.example.org fetched from 203.0.113.99"]
