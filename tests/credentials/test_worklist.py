"""The credentialing worklist: paged, counted and filtered in SQL, and bounded in queries whatever the data."""

import re
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

from agency.credentials.ce import ce_progress
from agency.credentials.worklist import worklist, worklist_page
from tests import factories, sql
from tests.factories import TODAY


def expiring_licenses(n: int, state: str = "NY", first_day: int = 10) -> list:
    """n therapists with a license expiring on n successive days."""
    return [factories.license(factories.therapist(), state=state, expires_on=TODAY + timedelta(days=first_day + i))
            for i in range(n)]


def test_page_two_shows_the_next_items_and_the_pages_together_are_the_whole_list(app):
    expiring_licenses(7)
    whole = [(i.kind, i.item_id) for i in worklist(TODAY)]
    pages = [worklist_page(TODAY, page=n, per_page=3) for n in (1, 2, 3)]
    assert [len(p.items) for p in pages] == [3, 3, 1]
    assert [(i.kind, i.item_id) for p in pages for i in p.items] == whole
    assert {p.total for p in pages} == {7} and {p.pages for p in pages} == {3}
    assert pages[1].has_prev and pages[1].has_next and not pages[2].has_next
    # A page past the end opens the last one, not an empty list.
    assert [i.item_id for i in worklist_page(TODAY, page=9, per_page=3).items] == [i.item_id for i in pages[2].items]


def test_the_counts_per_kind_and_urgency_match_the_items_listed(app):
    person = factories.therapist(caqh_id="77", caqh_attested_on=TODAY - timedelta(days=115))
    factories.license(person, expires_on=TODAY - timedelta(days=3))
    factories.license(person, state="NJ", expires_on=TODAY + timedelta(days=20))
    factories.panel(person, next_follow_up_on=TODAY + timedelta(days=2))
    factories.document(person, "bls_card", expires_on=TODAY + timedelta(days=45))
    expiring_licenses(4, first_day=70)
    items = worklist(TODAY)
    listed = worklist_page(TODAY, per_page=2)
    assert listed.by_kind == dict(Counter(i.kind for i in items))
    assert listed.by_urgency == dict(Counter(i.urgency(TODAY) for i in items))
    assert listed.total == len(items) == 9
    assert listed.by_urgency["overdue"] == 1 and listed.by_urgency["within_90"] == 4


def test_filters_and_order_hold_on_every_page_and_the_pager_keeps_them(browser):
    expiring_licenses(5, state="NJ")
    expiring_licenses(3, state="NY")
    b = browser("credentialing")
    first = b.get("/worklist?state=NJ&sort=-due&per_page=2")
    assert first.status_code == 200 and b"<strong>5</strong> items" in first.data
    next_link = re.search(rb'href="(/worklist\?(?:[^"]*&amp;)?page=2[^"]*)"', first.data).group(1)
    next_link = next_link.decode().replace("&amp;", "&")
    assert "state=NJ" in next_link and "sort=-due" in next_link and "per_page=2" in next_link
    second = b.get(next_link)
    shown = [worklist_page(TODAY, state="NJ", sort="-due", page=n, per_page=2).items for n in (1, 2, 3)]
    assert all(i.state == "NJ" for page in shown for i in page)
    dues = [i.due_on for page in shown for i in page]
    assert dues == sorted(dues, reverse=True) and len(dues) == 5
    for item in shown[1]:
        assert item.therapist.full_name.encode() in second.data
    for item in shown[0]:
        assert item.therapist.full_name.encode() not in second.data
    # A malformed page or size opens the first page at the usual size, never an error.
    assert b.get("/worklist?page=abc&per_page=-4").status_code == 200


def test_a_ce_shortfall_is_found_in_sql_exactly_as_ce_progress_counts_the_cycle(app):
    # 31 December less ten months is 28 February (not 3 March): a course on 1 March counts, one on 28 February not.
    factories.ce_rule(state="NY", license_type="LCSW", hours="3", months=10)
    factories.ce_rule(state="NJ", license_type="LCSW", hours="3", months=24, topics={"ethics": "1"})
    counted_on_1_march = factories.therapist()
    a = factories.license(counted_on_1_march, expires_on=date(2026, 12, 31))
    factories.ce_record(counted_on_1_march, hours=Decimal("3"), completed_on=date(2026, 3, 1))
    too_early = factories.therapist()
    b = factories.license(too_early, expires_on=date(2026, 12, 31))
    factories.ce_record(too_early, hours=Decimal("3"), completed_on=date(2026, 2, 28))
    no_ethics = factories.therapist()
    c = factories.license(no_ethics, state="NJ", expires_on=date(2027, 1, 31))
    factories.ce_record(no_ethics, hours=Decimal("1.10"), completed_on=date(2026, 5, 1))
    factories.ce_record(no_ethics, hours=Decimal("1.95"), completed_on=date(2026, 6, 1))
    in_sql = {i.item_id for i in worklist(TODAY, kind="ce_shortfall")}
    assert in_sql == {lic.id for lic in (a, b, c) if ce_progress(lic).has_shortfall} == {b.id, c.id}
    detail = {i.item_id: i.detail for i in worklist(TODAY, kind="ce_shortfall")}
    assert detail[b.id] == "3.00 of 3.00 h short" and detail[c.id] == "ethics 1.00 h short"


def grow(n: int) -> None:
    """n therapists with one of each kind of worklist item, a compact privilege and a CE shortfall."""
    for i in range(n):
        person = factories.therapist(caqh_id=str(i), caqh_attested_on=TODAY - timedelta(days=100))
        home = factories.license(person, expires_on=TODAY + timedelta(days=20 + i))
        factories.license(person, state="NJ", expires_on=TODAY + timedelta(days=150))
        factories.license(person, state="PA", license_type="LCSW", kind="compact_privilege", home_license_id=home.id,
                          expires_on=TODAY + timedelta(days=400))
        factories.ce_record(person, hours=Decimal("2"), completed_on=TODAY - timedelta(days=30))
        factories.panel(person, next_follow_up_on=TODAY + timedelta(days=1))
        factories.panel(person, status="approved", submitted_on=date(2024, 1, 1), effective_on=date(2024, 3, 1),
                        recredential_due_on=TODAY + timedelta(days=60))
        factories.document(person, "bls_card", expires_on=TODAY + timedelta(days=5))


def statements_per_page(b, urls) -> dict[str, int]:
    b.get(urls[0])  # the signed-in user, expired by the factories' commits, is read again once
    return sql.statements_per_page(b, urls)


def test_credential_pages_cost_the_same_statements_at_any_size_and_at_most_fifteen(browser):
    factories.ce_rule(state="NJ", license_type="LCSW", hours="30", months=24)
    grow(3)
    person = factories.therapist()
    b = browser("credentialing")
    urls = ["/worklist", "/worklist?page=2&per_page=5", "/worklist?kind=ce_shortfall", "/worklist?state=PA",
            "/worklist?sort=therapist&discipline=LCSW", "/worklist?q=dana&window=within_30&per_page=5",
            "/worklist?window=overdue", "/dashboard", f"/therapists/{person.id}", "/licenses",
            "/licenses?status=expiring", "/therapists", "/ce-rules", "/outbox"]
    small = statements_per_page(b, urls)
    grow(12)
    assert statements_per_page(b, urls) == small
    assert max(small.values()) <= 15, small
