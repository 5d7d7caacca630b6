"""Every answer carries the security headers, and no page needs what the Content-Security-Policy refuses.

The headers are checked against a real server (a process of its own, as in production) on a page,
an API answer and the downloads; the pages are checked for inline code, which the policy would
block: a page that relied on it would break, and a page that allowed it would run injected markup.
"""

import io
import re
from html.parser import HTMLParser

import pytest
import requests
import sqlalchemy as sa
from pypdf import PdfWriter

from agency import ROOT
from agency.auth.services import issue_token
from agency.dashboard.calendar import rotate_token
from agency.extensions import db
from agency.placements.models import CheckIn, Placement
from tests import factories, live
from tests.conftest import PASSWORD, Browser

POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
          "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def assert_secure(response: requests.Response, *, stored: bool = False) -> None:
    headers = response.headers
    assert headers["Content-Security-Policy"] == POLICY, response.url
    assert (headers["X-Frame-Options"], headers["X-Content-Type-Options"], headers["Referrer-Policy"]) == (
        "DENY", "nosniff", "same-origin"), response.url
    if not stored:
        assert headers["Cache-Control"] == "no-store", response.url


def a_pdf() -> bytes:
    """A real one-page PDF, as a scanner makes: it parses and carries no script."""
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture
def agency_world(users):
    """An invoiced placement, with the therapist's CE rule, records, panel and a check-in, so every page has data."""
    place = factories.facility(name="Harborview Clinic")
    invoice = factories.invoiced_day(place)
    placement = db.session.scalar(sa.select(Placement).where(Placement.facility_id == place.id))
    person = placement.therapist
    factories.ce_rule()
    factories.ce_record(person)
    factories.panel(person)
    return {"place": place, "invoice": invoice, "placement": placement, "person": person}


# ----------------------------------------------------------------------------- against a real server


def test_a_page_an_api_answer_and_every_kind_of_download_carry_the_security_headers(users, agency_world):
    invoice, person = agency_world["invoice"], agency_world["person"]
    token = issue_token(users["credentialing"])
    feed = rotate_token(users["credentialing"])
    with live.server() as site:
        signed_out = requests.get(site.url + "/login", timeout=30)
        assert signed_out.status_code == 200
        assert_secure(signed_out)
        assert "Strict-Transport-Security" not in signed_out.headers  # plain HTTP in development

        staff = requests.Session()
        assert site.sign_in(staff, users["admin"].email, PASSWORD).status_code == 302
        page = staff.get(site.url + f"/therapists/{person.id}", timeout=30)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert_secure(page)

        answer = site.call("GET", "/api/v1/therapists", token)
        assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
        assert_secure(answer)
        refused = site.call("GET", "/api/v1/therapists", "not a token")
        assert refused.status_code == 401
        assert_secure(refused)

        made = requests.post(site.url + f"/api/v1/therapists/{person.id}/documents", timeout=30,
                             headers={"Authorization": f"Bearer {token}"},
                             data={"doc_type": "bls_card"}, files={"file": ("card.pdf", a_pdf(), "application/pdf")})
        assert made.status_code == 201, made.text
        downloads = {
            "text/csv": staff.get(site.url + "/therapists?format=csv", timeout=30),
            "application/pdf": staff.get(site.url + f"/invoices/{invoice.id}/pdf", timeout=30),
            "text/calendar": requests.get(site.url + f"/calendar/{feed}.ics", timeout=30),
            "document": site.call("GET", f"/api/v1/documents/{made.json()['id']}/file", token),
        }
        for kind, download in downloads.items():
            assert download.status_code == 200, (kind, download.text[:300])
            assert kind == "document" or download.headers["Content-Type"].startswith(kind)
            assert_secure(download)
        assert downloads["document"].content.startswith(b"%PDF")

        missing = staff.get(site.url + "/therapists/999999", timeout=30)
        assert missing.status_code == 404
        assert_secure(missing)
        # The stylesheet and script hold no one's data: a browser may keep them.
        stylesheet = requests.get(site.url + "/static/css/app.css", timeout=30)
        assert stylesheet.status_code == 200
        assert_secure(stylesheet, stored=True)
        assert stylesheet.headers.get("Cache-Control") != "no-store"


def test_hsts_is_sent_in_production_and_on_every_request_that_came_over_https():
    with live.server(ENV="production", SECRET_KEY="live-test-production-key") as site:
        answer = requests.get(site.url + "/login", timeout=30)
        assert answer.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains", site.log_text()
        assert_secure(answer)
    # Behind a TLS terminator the app sees plain HTTP with X-Forwarded-Proto: https.
    with live.server(TRUSTED_PROXIES="1", HSTS_MAX_AGE="600", HSTS_INCLUDE_SUBDOMAINS="false") as site:
        over_https = requests.get(site.url + "/login", headers={"X-Forwarded-Proto": "https"}, timeout=30)
        assert over_https.headers["Strict-Transport-Security"] == "max-age=600"
        assert "Strict-Transport-Security" not in requests.get(site.url + "/login", timeout=30).headers


# ----------------------------------------------------------------------------- no inline code


class InlineCode(HTMLParser):
    """Collects what a strict CSP refuses: inline scripts and styles, event handlers, javascript: URLs."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "style" or name.startswith("on") and value is not None:
                self.found.append(f"<{tag} {name}>")
            elif value and re.sub(r"\s", "", value).lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value}>")
        if tag == "style" or tag == "script" and not dict(attrs).get("src"):
            self.found.append(f"<{tag}> element")


def inline_code(markup: str) -> list[str]:
    parser = InlineCode()
    parser.feed(markup)
    parser.close()
    return parser.found


def test_the_checker_finds_each_kind_of_inline_code():
    assert inline_code('<a href=" JavaScript:alert(1)">x</a><button onclick="go()">y</button>'
                       '<span style="width: 5%"></span><script>alert(1)</script><style>p{}</style>'
                       '<script src="/static/js/app.js"></script>') == [
        "<a href= JavaScript:alert(1)>", "<button onclick>", "<span style>", "<script> element", "<style> element"]


def test_no_template_served_as_html_carries_inline_script_or_style():
    # pdf/ is rendered by xhtml2pdf into the invoice PDF and never served as a page.
    templates = [path for path in (ROOT / "templates").rglob("*.html") if path.parent.name != "pdf"]
    found = {str(path.relative_to(ROOT)): inline_code(path.read_text()) for path in templates}
    assert not {name: what for name, what in found.items() if what}


def test_no_page_any_role_opens_needs_inline_script_or_style(app, browser, agency_world):
    """Every page without parameters and every detail page of the agency's data, for each role."""
    place, invoice, placement, person = (agency_world[k] for k in ("place", "invoice", "placement", "person"))
    ids = {
        "therapist_id": person.id, "facility_id": place.id, "placement_id": placement.id,
        "invoice_id": invoice.id, "license_id": person.licenses[0].id, "panel_id": person.panels[0].id,
        "assignment_id": factories.assignment(place).id, "card_id": place.rate_cards[0].id,
        "entry_id": factories.entry(placement, factories.TODAY, approve=False).id,
        "rule_id": factories.ce_rule(state="NJ").id,
        "checkin_id": db.session.scalar(sa.select(CheckIn.id).where(CheckIn.placement_id == placement.id)),
    }
    pages = []
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.rule.startswith(("/api/", "/static/")) and rule.arguments <= ids.keys():
            pages.append(app.url_map.bind("localhost").build(rule.endpoint, {a: ids[a] for a in rule.arguments}))
    checked, found = set(), {}
    for role in ("signed out", "admin", "recruiter", "credentialing", "billing", "facility"):
        b = Browser(app.test_client()) if role == "signed out" else browser(role)
        for url in pages:
            response = b.get(url)
            if response.status_code == 200 and response.mimetype == "text/html":
                checked.add(url)
                if what := inline_code(response.get_data(as_text=True)):
                    found[f"{role} {url}"] = what
    assert not found
    assert {f"/therapists/{person.id}", f"/invoices/{invoice.id}", f"/placements/{placement.id}", "/portal",
            "/receivables", "/dashboard", "/login"} <= checked
    # The therapist's page draws the CE progress bar, which used to need a style attribute.
    therapist_page = browser("credentialing").get(f"/therapists/{person.id}").get_data(as_text=True)
    assert re.search(r'<progress class="progress[^"]*" value="\d+" max="100"', therapist_page)
