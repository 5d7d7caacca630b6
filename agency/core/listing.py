"""Sorting of list pages: ?sort=column or ?sort=-column, limited to the columns a page offers."""

from flask import request


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
