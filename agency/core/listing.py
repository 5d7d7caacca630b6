"""The query strings of list pages: ?sort=column or ?sort=-column, ?page=N and id filters."""

import re
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app, request
from sqlalchemy.orm import lazyload

from agency.core.bounds import id_or_none
from agency.extensions import db


def sort_by(query, columns: dict, default: str):
    """Order the query by the requested column (ties broken by id for stable pages).

    Unknown sort keys fall back to the default rather than failing: a stale
    bookmark should still open the list.
    """
    requested = request.args.get("sort") or default
    key = requested.lstrip("-")
    if key not in columns:
        requested, key = default, default.lstrip("-")
    column = columns[key]
    ordered = column.desc() if requested.startswith("-") else column.asc()
    tiebreak = query.column_descriptions[0]["entity"].id
    return query.order_by(None).order_by(ordered, tiebreak), requested


def _number(name: str, default: int, most: int) -> int:
    raw = request.args.get(name, "")
    return min(int(raw), most) if re.fullmatch(r"[0-9]{1,6}", raw) and int(raw) > 0 else default


def page_args(per_page: int | None = None) -> tuple[int, int]:
    """?page=N and ?per_page=N; a value that is not a sensible number opens the first page at the default size."""
    size = per_page or current_app.config["PAGE_SIZE"]
    return _number("page", 1, 999_999), _number("per_page", size, MAX_PER_PAGE)


# The most rows one page may be asked for with ?per_page=.
MAX_PER_PAGE = 500


# Lists are counted up to this many rows (or to the page asked for, if further on); past it the pager says
# "10,000+": counting every one of hundreds of thousands of timesheet entries cost more than the page itself.
COUNT_CAP = 10_000


def paginate(query, per_page: int | None = None) -> "QueryPage":
    """One page of the list; a page number that is not a sensible page opens the first one."""
    number, size = page_args(per_page)
    items = list(db.session.execute(query.limit(size).offset((number - 1) * size)).unique().scalars())
    cap = max(COUNT_CAP, number * size)
    counted = query.options(lazyload("*")).order_by(None).limit(cap + 1).subquery()
    total = db.session.execute(sa.select(sa.func.count()).select_from(counted)).scalar()
    return QueryPage(items, number, size, min(total, cap), capped=total > cap)


def id_arg(name: str) -> int | None:
    """An id in the query string (a filter, or a form's first value); a malformed one counts as absent."""
    return id_or_none(request.args.get(name))


def search_arg() -> str | None:
    """The list's search box: trimmed, at most 100 characters, None when empty."""
    return (request.args.get("q") or "").strip()[:100] or None


def contains_text(q: str, *columns):
    """Any of the columns holds the search text, case aside; % and _ typed are plain characters."""
    text = q.strip().lower()
    return sa.or_(*(sa.func.lower(column).contains(text, autoescape=True) for column in columns))


class Pager:
    """What the pagination macro reads of a page counted in SQL or ranked in Python: needs page,
    per_page and total (and capped, when the total only says there are at least that many)."""

    capped = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.capped or self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


@dataclass
class ListPage(Pager):
    """One page of a list ranked in Python (matches, a worklist), shaped like a query's pagination."""

    items: list
    page: int
    per_page: int
    total: int


@dataclass
class QueryPage(Pager):
    """One page of a query's rows, counted in SQL up to COUNT_CAP."""

    items: list
    page: int
    per_page: int
    total: int
    capped: bool = False


def paginate_list(items: list, per_page: int | None = None) -> ListPage:
    """The requested page of a list already in its order; past the end, the last page."""
    size = per_page or current_app.config["PAGE_SIZE"]
    raw = request.args.get("page", "1")
    number = int(raw) if re.fullmatch(r"[0-9]{1,6}", raw) and int(raw) > 0 else 1
    number = min(number, max(1, -(-len(items) // size)))
    return ListPage(items[(number - 1) * size:number * size], number, size, len(items))
