"""Lists sort by the column header clicked, both ways, and ignore unknown sort keys."""

import re

from tests import factories


def names(response) -> list[str]:
    return re.findall(r'/therapists/\d+">([^<]+)</a>', response.get_data(as_text=True))


def test_therapists_sort_by_name_both_ways_and_by_state(browser):
    factories.therapist(first_name="Ann", last_name="Zeller", home_state="TX")
    factories.therapist(first_name="Bo", last_name="Adams", home_state="NY")
    b = browser("recruiter")
    assert names(b.get("/therapists?sort=name")) == ["Adams, Bo", "Zeller, Ann"]
    assert names(b.get("/therapists?sort=-name")) == ["Zeller, Ann", "Adams, Bo"]
    assert names(b.get("/therapists?sort=-home_state")) == ["Zeller, Ann", "Adams, Bo"]
    page = b.get("/therapists?sort=password_hash")
    assert page.status_code == 200 and names(page) == ["Adams, Bo", "Zeller, Ann"]
    assert 'aria-sort="ascending"' in b.get("/therapists?sort=name").get_data(as_text=True)


def test_every_sortable_list_accepts_each_of_its_keys(browser):
    b = browser("admin")
    keys = {"/licenses": ["state", "type", "number", "kind", "expires", "verified"],
            "/facilities": ["name", "type", "state", "terms", "schedule"],
            "/placements": ["start", "end", "status", "basis"],
            "/timesheets": ["date", "direct", "supervision", "miles", "status"],
            "/invoices": ["number", "issued", "due", "total", "status"]}
    for url, sorts in keys.items():
        for key in sorts:
            for direction in ("", "-"):
                assert b.get(f"{url}?sort={direction}{key}").status_code == 200, (url, key)
