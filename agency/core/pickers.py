"""Pickers: choosing one record out of thousands with a search box instead of a dropdown of them all.

A `Picker` says which rows a viewer may choose from, how they are searched,
ordered and labelled. The same picker answers the search-as-you-type endpoint
(`options_response`, a page of `{id, label}`), fills the first page of matches
when the form is drawn, and validates the submitted id (`PickerField`), so the
list offered and the ids accepted can never disagree.

Without JavaScript the field is a search box and a select of the first page of
matches: typing a name and saving redraws the form with that name's matches.
static/js/app.js turns it into a combobox that asks the endpoint as one types.
"""

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app, jsonify, request, url_for
from markupsafe import Markup, escape
from wtforms import Field
from wtforms.validators import ValidationError

from agency.core.bounds import MAX_ID, id_or_none
from agency.core.listing import contains_text
from agency.core.permissions import current_actor
from agency.extensions import db

MAX_QUERY = 100


class BadPickerRequest(ValueError):
    """A cursor or limit the endpoint did not give out: the caller's mistake, a 400."""


@dataclass(frozen=True)
class Picker:
    """What may be chosen: `rows(actor)` a select of the model the actor may pick, searched on `search`.

    `order` are the text columns the list is sorted by, ascending (the id breaks
    ties, and the cursor is the last row's values of them); `label(row)` is what
    the viewer reads.
    """

    endpoint: str
    noun: str
    rows: Callable
    search: Callable[[], tuple]
    order: Callable[[], tuple]
    label: Callable[[object], str]
    args: tuple = ()

    @property
    def url(self) -> str:
        return url_for(self.endpoint, **dict(self.args))

    def _model(self, query):
        return query.column_descriptions[0]["entity"]

    def matches(self, actor, q: str | None, *, after: list | None = None, limit: int):
        """Up to `limit` rows matching q, in order, after the cursor's row; one statement."""
        query = self.rows(actor)
        model = self._model(query)
        keys = (*self.order(), model.id)
        if q:
            query = query.where(contains_text(q, *self.search()))
        if after is not None:
            query = query.where(sa.tuple_(*keys) > sa.tuple_(*(sa.literal(v, k.type) for k, v in zip(keys, after,
                                                                                                   strict=True))))
        return db.session.scalars(query.order_by(*keys).limit(limit)).unique().all()

    def cursor_of(self, row) -> list:
        return [getattr(row, column.key) for column in self.order()] + [row.id]

    def find(self, actor, row_id: int):
        """The row with this id if the actor may choose it, else None; one statement."""
        query = self.rows(actor)
        return db.session.scalar(query.where(self._model(query).id == row_id))

    def first_page(self, actor, q: str | None) -> list:
        return self.matches(actor, q, limit=current_app.config["PICKER_PAGE_SIZE"])


def _decode_cursor(raw: str, width: int) -> list:
    try:
        values = json.loads(base64.urlsafe_b64decode(raw.encode("ascii") + b"=" * (-len(raw) % 4)))
    except (ValueError, UnicodeError, binascii.Error):
        raise BadPickerRequest("cursor is not one this list gave out") from None
    if (not isinstance(values, list) or len(values) != width or not all(isinstance(v, str) for v in values[:-1])
            or type(values[-1]) is not int or not 0 < values[-1] <= MAX_ID):
        raise BadPickerRequest("cursor is not one this list gave out")
    return values


def _encode_cursor(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def options_response(picker: Picker):
    """GET ?q=&cursor=&limit=: `{"items": [{"id", "label"}], "next_cursor"}` of what the viewer may choose."""
    q = (request.args.get("q") or "").strip()[:MAX_QUERY] or None
    raw_limit = request.args.get("limit", str(current_app.config["PICKER_PAGE_SIZE"]))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
        return jsonify(error={"code": "validation_error", "message": "limit must be a whole number from 1 to 100",
                              "fields": {"limit": ["must be from 1 to 100"]}}), 400
    limit = int(raw_limit)
    try:
        after = None
        if (raw := request.args.get("cursor")) is not None:
            after = _decode_cursor(raw, len(picker.order()) + 1)
        rows = picker.matches(current_actor(), q, after=after, limit=limit + 1)
    except BadPickerRequest:
        return jsonify(error={"code": "validation_error", "message": "cursor is not one this list gave out",
                              "fields": {"cursor": ["is not a cursor this list gave out"]}}), 400
    next_cursor = _encode_cursor(picker.cursor_of(rows[limit - 1])) if len(rows) > limit else None
    return jsonify(items=[{"id": row.id, "label": picker.label(row)} for row in rows[:limit]],
                   next_cursor=next_cursor)


class PickerWidget:
    """A search box, a select of the first page of matches, and what the script needs to take over."""

    def __call__(self, field: "PickerField", **kwargs):
        actor = current_actor()
        rows = field.picker.first_page(actor, field.query)
        chosen = field.chosen
        if chosen is None and field.data is not None:
            chosen = field.picker.find(actor, field.data)
        if chosen is not None and all(row.id != chosen.id for row in rows):
            rows = [chosen, *rows]
        options = [Markup('<option value="">{}</option>').format(field.blank)]
        options += [Markup('<option value="{}"{}>{}</option>').format(
            row.id, Markup(" selected") if chosen is not None and row.id == chosen.id else "",
            field.picker.label(row)) for row in rows]
        search_id = f"{field.id}-q"
        described = kwargs.pop("aria-describedby", None)
        invalid = kwargs.pop("aria-invalid", None)
        search_attrs = {"type": "search", "id": search_id, "name": f"{field.name}-q", "value": field.query or "",
                        "autocomplete": "off", "placeholder": f"Type to search {field.picker.noun}",
                        "aria-describedby": described, "aria-invalid": invalid}
        select_attrs = {"id": field.id, "name": field.name, "aria-label": f"{field.label.text}: matches",
                        "class": "picker-select"}
        return Markup(
            '<div class="picker" data-picker-url="{url}" data-picker-input="{search_id}" data-picker-select="{id}">'
            '<input {search}><select {select}>{options}</select>'
            '<small class="hint picker-hint">Type part of a name, then pick from the list; '
            'without scripts, type and save to see the matches.</small></div>'
        ).format(url=field.picker.url, search_id=search_id, id=field.id,
                 search=_attributes(search_attrs), select=_attributes(select_attrs),
                 options=Markup("").join(options))


def _attributes(values: dict) -> Markup:
    return Markup(" ").join(Markup('{}="{}"').format(k, escape(v)) for k, v in values.items() if v is not None)


class PickerField(Field):
    """The id of one row a picker offers; a missing, malformed or forbidden id is an error beside the field.

    `blank`, when given, is the label of choosing nothing (the form then gets None),
    e.g. "Every facility" on the invoice run; without it a choice is required.
    """

    widget = PickerWidget()

    def __init__(self, label=None, validators=None, *, picker: Picker, blank: str | None = None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.picker = picker
        self.optional = blank is not None
        self.blank = blank if blank is not None else f"Choose from the matches ({picker.noun})"
        self.query: str | None = None
        self.chosen = None

    def process_formdata(self, valuelist):
        self.data = id_or_none(valuelist[0]) if valuelist else None
        if valuelist and valuelist[0] and self.data is None:
            self.data = -1  # typed but not an id: refused in pre_validate, never silently dropped

    def process(self, formdata, data=None, **kwargs):
        super().process(formdata, data, **kwargs)
        if formdata is not None:
            self.query = (formdata.get(f"{self.name}-q") or "").strip()[:MAX_QUERY] or None

    def _value(self):
        return "" if self.data is None else str(self.data)

    def pre_validate(self, form):
        if self.data is None:
            if self.optional:
                return
            if self.query:
                raise ValidationError(f"Choose one of the {self.picker.noun} matching “{self.query}”.")
            raise ValidationError(f"Search for and choose one of the {self.picker.noun}.")
        self.chosen = self.picker.find(current_actor(), self.data) if self.data > 0 else None
        if self.chosen is None:
            self.data_invalid = True
            raise ValidationError(f"That is not one of the {self.picker.noun} you may choose here; "
                                  "search again and pick from the list.")
