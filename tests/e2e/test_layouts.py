"""Every main screen of every role holds at a laptop's, a small laptop's and a tablet's size, and axe-core
finds nothing to fix on it.

The demo agency is the data: full tables, long names and real amounts are what break layouts. It is
built once for the module; each role then signs in once and opens every page it may open (each
parameterless page, and one therapist, facility, placement, assignment and invoice) at each size,
keeping a screenshot of each at desktop and tablet size.
"""

import os
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from axe_playwright_python.base import AXE_SCRIPT

from agency import demo as demo_agency
from agency.auth.models import User
from agency.billing.models import Invoice
from agency.credentials import requests as doc_requests
from agency.credentials.models import ExclusionHit
from agency.extensions import db
from agency.placements.models import Assignment, Placement
from tests.conftest import empty_database
from tests.e2e.conftest import SHOTS, Journey

# A page's layout and what axe finds on it come from its HTML, whatever database served the rows: the sweep
# of every page at three sizes, the suite's longest part, is run once, by the SQLite run of the suite.
pytestmark = pytest.mark.skipif(os.environ["AGENCY_DATABASE_URL"].startswith("postgresql"),
                                reason="layouts do not depend on the database; the SQLite run checks them")

SIZES = {"desktop": (1366, 768), "laptop": (1024, 768), "tablet": (820, 1180)}
SCREENSHOT_SIZES = ("desktop", "tablet")
ROLES = ("admin", "recruiter", "credentialing", "billing", "facility")
LAYOUT_CHECK = (Path(__file__).parent / "layout.js").read_text()
# A long page is cut here in its screenshot: what is below repeats what is above.
SCREENSHOT_HEIGHT = 1800


@pytest.fixture(autouse=True)
def _clean_database():
    """The demo agency stays for the whole module (it takes a while to build); `demo` empties it after."""
    yield


@pytest.fixture(scope="module")
def demo(app):
    """The demo agency, and the paths of the detail pages everyone opens: the demo facility contact's
    clinic, a placement there, its therapist, an invoice to that clinic and an open assignment."""
    with app.app_context():
        demo_agency.seed(log=lambda _: None)
        clinic = db.session.scalar(sa.select(User.facility_id).where(User.role == "facility"))
        placement = db.session.scalars(sa.select(Placement).where(Placement.facility_id == clinic)
                                       .order_by((Placement.status == "active").desc(), Placement.id)).first()
        invoice = db.session.scalar(sa.select(sa.func.max(Invoice.id)).where(Invoice.facility_id == clinic))
        assignment = db.session.scalar(sa.select(sa.func.min(Assignment.id)))
        # The therapist's upload page, opened by its private link (opening it does not use it up).
        asked = doc_requests.send_request(placement.therapist, ["i9", "references"], None)
        hit = db.session.scalar(sa.select(ExclusionHit).where(ExclusionHit.status == "pending"))
        yield [f"/therapists/{placement.therapist_id}", f"/facilities/{clinic}",
               f"/placements/{placement.id}", f"/invoices/{invoice}", f"/assignments/{assignment}",
               f"/upload/{asked.fresh_token}",
               f"/screenings/{hit.screening_id}", f"/screenings/{hit.screening_id}/hits/{hit.id}"]
        empty_database()


def parameterless_pages(app) -> list[str]:
    """Every page one opens without an id; the picker and API endpoints answer JSON, and the files (a CSV,
    a statement PDF) are downloads, not pages."""
    return sorted(rule.rule for rule in app.url_map.iter_rules()
                  if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith("/api/")
                  and not rule.rule.endswith(("options", ".csv", ".pdf")))


def slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"


@pytest.mark.parametrize("role", ROLES)
def test_each_page_holds_at_each_size_and_axe_finds_nothing(role, app, demo, chromium, live_server):
    email = db.session.scalar(sa.select(User.email).where(User.role == role).order_by(User.id))
    context = chromium.new_context(viewport=dict(zip(("width", "height"), SIZES["desktop"], strict=True)))
    context.add_init_script(AXE_SCRIPT)  # in every page before its own scripts, so axe.run() is at hand
    try:
        journey = Journey(context.new_page(), live_server, f"layout-{role}")
        journey.sign_in(email, demo_agency.PASSWORD)
        page = journey.page
        assert page.evaluate("location.pathname") != "/login", f"{email} was not let in"
        menu = {page.evaluate("href => new URL(href).pathname", href)
                for href in page.locator("nav[aria-label=Main] a").evaluate_all("links => links.map(a => a.href)")}
        problems, opened, landed_at = [], set(), {}
        main_screens = menu | {page.evaluate("location.pathname"), *demo}
        for path in parameterless_pages(app) + demo:
            response = page.goto(live_server + path)
            landed = landed_at[path] = page.evaluate("location.pathname")
            if response.status != 200 or "text/html" not in response.headers["content-type"] or landed in opened:
                continue  # not this role's page (the route sweep checks who is let in), or seen already
            opened.add(landed)
            for size, (width, height) in SIZES.items():
                page.set_viewport_size({"width": width, "height": height})
                problems += [f"{landed} at {size}: {problem}" for problem in page.evaluate(LAYOUT_CHECK)]
                if size in SCREENSHOT_SIZES and landed in main_screens:
                    SHOTS.mkdir(parents=True, exist_ok=True)
                    tall = min(page.evaluate("document.documentElement.scrollHeight"), SCREENSHOT_HEIGHT)
                    page.screenshot(path=str(SHOTS / f"layout-{role}-{slug(landed)}-{size}.png"), full_page=True,
                                    clip={"x": 0, "y": 0, "width": width, "height": tall})
            page.set_viewport_size(dict(zip(("width", "height"), SIZES["desktop"], strict=True)))
            for violation in page.evaluate("axe.run({resultTypes: ['violations']})")["violations"]:
                targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:3])
                problems.append(f"{landed}: axe {violation['id']} ({violation['impact']}): "
                                f"{violation['help']} at {targets}")
        unchecked = sorted(link for link in menu if landed_at.get(link) not in opened)
        assert not unchecked, f"menu pages not checked: {unchecked}"
        assert not problems, "\n".join(problems)
        assert not journey.blocked, journey.blocked
    finally:
        context.close()


CSS = (Path(__file__).parents[2] / "static" / "css" / "app.css").read_text()


def layout_problems(chromium, body: str, width: int = 820) -> list[str]:
    page = chromium.new_page(viewport={"width": width, "height": 600})
    try:
        page.set_content(f"<style>{CSS} .test-cover {{ position: relative; margin-top: -2.5rem; height: 3rem;"
                         f" background: #fff; }}</style><main>{body}</main>")
        return page.evaluate(LAYOUT_CHECK)
    finally:
        page.close()


def test_the_layout_check_finds_covered_buttons_overlaps_and_a_page_too_wide(chromium):
    wide_row = "".join(f"<td>column-{n}-with-a-long-unbreakable-value</td>" for n in range(12))
    assert layout_problems(chromium, f"""
        <section class="panel"><h2>Aging</h2><div class="table-scroll"><table><tr>{wide_row}</tr></table></div>
        <button>Record payment</button></section>""") == []

    covered = layout_problems(chromium, '<section class="panel"><button>Deactivate</button>'
                                        '<div class="test-cover"><h2>Add a user</h2></div></section>')
    assert any("a click on <button> “Deactivate”" in problem for problem in covered), covered
    assert any("<button> “Deactivate” overlaps <h2> “Add a user”" in problem for problem in covered), covered

    too_wide = layout_problems(chromium, f'<section class="panel"><table><tr>{wide_row}</tr></table></section>')
    assert any(problem.startswith("the page is") for problem in too_wide), too_wide
    assert any("spills out of its panel" in problem for problem in too_wide), too_wide
