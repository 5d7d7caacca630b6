"""Pages do a bounded number of SQL queries whatever the data size."""

from datetime import date

import sqlalchemy as sa

from agency.extensions import db
from tests import factories
from tests.sql import counted, statements_per_page

PAGES = ["/therapists", "/licenses", "/worklist", "/facilities", "/placements", "/assignments?status=",
         "/recruiting", "/timesheets", "/invoices", "/receivables", "/dashboard", "/search?q=ri", "/placements/at-risk"]


def grow(n: int) -> None:
    """n more facilities, each with a placement, hours, an invoice, and therapists with credentials."""
    from agency.billing.invoicing import invoice_facility
    from agency.placements.services import save_assignment

    for i in range(n):
        place = factories.facility(name=f"Clinic {i} {factories.npi()}")
        factories.rate_card(place)
        placement = factories.active_placement(place)
        factories.entry(placement, date(2026, 11, 2))
        factories.entry(placement, date(2026, 11, 3), approve=False)
        invoice_facility(place.id, date(2026, 11, 1), date(2026, 11, 30))
        person = factories.therapist(caqh_id="1", caqh_attested_on=date(2026, 8, 1))
        factories.license(person, expires_on=date(2026, 12, 20))
        factories.panel(person)
        save_assignment(None, {"facility_id": place.id, "title": f"Job {i}", "discipline": "LCSW",
                               "start_on": date(2026, 12, 1), "length_weeks": 4, "hours_per_week": 20})


def test_list_pages_and_dashboards_do_not_query_per_row(browser):
    b = browser("admin")
    grow(2)
    small = statements_per_page(b, PAGES)
    grow(8)
    large = statements_per_page(b, PAGES)
    assert large == small


# Every GET page and API read of these areas, enumerated from the URL map, so a new page is counted too.
AREAS = ("dashboard", "facilities", "placements", "billing", "auth", "facilities_api", "placements_api",
         "billing_api", "api")
# Pages that are not a page of the product's data: a file download, a secret-token feed, a job handle.
NOT_COUNTED = {"static", "dashboard.calendar_feed", "dashboard.job", "api.job", "auth.logout",
               "billing.invoice_pdf", "billing_api.invoice_pdf", "billing_api.statement_pdf"}


def _first_ids() -> dict[str, int]:
    from agency.billing.models import Invoice, TimesheetEntry
    from agency.credentials.models import License, Therapist
    from agency.facilities.models import Facility, RateCard
    from agency.placements.models import Assignment, CheckIn, ChecklistItem, Placement

    models = {"therapist_id": Therapist, "license_id": License, "facility_id": Facility, "card_id": RateCard,
              "rate_card_id": RateCard, "assignment_id": Assignment, "placement_id": Placement,
              "checkin_id": CheckIn, "item_id": ChecklistItem, "invoice_id": Invoice, "entry_id": TimesheetEntry}
    return {key: db.session.scalar(sa.select(model.id).order_by(model.id)) for key, model in models.items()}


def readable_urls(app) -> list[str]:
    ids = _first_ids()
    urls = []
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if ("GET" not in rule.methods or rule.endpoint in NOT_COUNTED
                or rule.endpoint.split(".")[0] not in AREAS or not set(rule.arguments) <= set(ids)):
            continue
        urls.append(adapter.build(rule.endpoint, {name: ids[name] for name in rule.arguments}))
    return sorted(urls)


def statements_per_url(client, urls, headers=None) -> dict[str, tuple[int, int]]:
    result = {}
    for url in urls:
        # Each request reads the database afresh, as each has a session of its own in production: what an
        # earlier page happened to load must not make this one look cheaper.
        db.session.expire_all()
        with counted() as statements:
            status = client.get(url, headers=headers or {}).status_code
        assert status < 500, url
        result[url] = (status, len(statements))
    return result


def grow_pool(n: int) -> None:
    """n more LCSW therapists with a license each: a matching pool past the ORM's 500-row load batches."""
    from agency.credentials.models import License, Therapist

    start = db.session.scalar(sa.select(sa.func.count()).select_from(Therapist))
    db.session.execute(sa.insert(Therapist), [{
        "first_name": "Pool", "last_name": f"Member{start + i}", "email": f"pool{start + i}@example.org",
        "discipline": "LCSW", "home_state": "NY", "status": "active", "specialties": [],
        "availability": "available"} for i in range(n)])
    pool = db.session.scalars(sa.select(Therapist.id).where(Therapist.first_name == "Pool")
                              .where(~sa.select(License.id).where(License.therapist_id == Therapist.id).exists()))
    db.session.execute(sa.insert(License), [{
        "therapist_id": tid, "state": "NY", "license_type": "LCSW", "number": f"POOL{tid}", "kind": "state_license",
        "issued_on": date(2025, 1, 1), "expires_on": date(2028, 1, 1)} for tid in pool])
    db.session.commit()


def grow_own_facility(users, n: int) -> None:
    """n more placements with hours and invoices at the facility contact's own clinic."""
    from agency.billing.invoicing import invoice_facility
    from agency.facilities.models import Facility

    own = db.session.get(Facility, users["facility"].facility_id)
    if not own.rate_cards:
        factories.rate_card(own)
    for i in range(n):
        placement = factories.active_placement(own)
        factories.entry(placement, date(2026, 11, 2 + i % 20))
        factories.entry(placement, date(2026, 11, 3 + i % 20), approve=False)
    invoice_facility(own.id, date(2026, 11, 1), date(2026, 11, 30))


def test_every_page_and_api_read_of_facilities_placements_billing_and_dashboards_is_bounded(app, users, browser,
                                                                                             api):
    roles = ("admin", "recruiter", "credentialing", "billing", "facility")
    browsers = {role: browser(role) for role in roles}
    callers = {role: api(role) for role in ("admin", "facility")}

    def measure():
        urls = readable_urls(app)
        pages = [u for u in urls if not u.startswith("/api/")]
        counts = {role: statements_per_url(browsers[role], pages) for role in roles}
        for role, caller in callers.items():
            counts[f"api {role}"] = statements_per_url(caller.client, [u for u in urls if u.startswith("/api/")],
                                                       caller.headers)
        return counts

    grow(2)
    grow_own_facility(users, 2)
    small = measure()
    grow(6)
    grow_own_facility(users, 6)
    grow_pool(520)
    large = measure()
    for role in small:
        assert large[role] == small[role], role
        # The admin's dashboard puts every team's panels on one page (watch, worklist, recruiting, billing,
        # collections tasks, drafts): bounded like every page, with a ceiling of its own.
        crowded = {url: n for url, (_, n) in large[role].items() if n > (20 if url == "/dashboard" else 15)}
        assert not crowded, (role, crowded)
