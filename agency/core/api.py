"""What every JSON blueprint shares: token auth, resource schemas, errors, pagination.

A resource's schema is declared once and serves four purposes: parsing a
request body into Python values, reporting every bad field in the one error
shape, serialising the responses (`Schema.dump`), and describing both in the
OpenAPI document, so what the API returns cannot drift from what it says.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask import Blueprint, current_app, g, jsonify, request, url_for

from agency.core.bounds import FIRST_DAY, LAST_DAY, MAX_AMOUNT, MAX_ID, parse_id
from agency.core.dates import iso, parse_iso_date, today
from agency.core.errors import ValidationError, json_error
from agency.core.money import money_str, parse_decimal
from agency.core.openapi import API_PREFIX, documented
from agency.core.permissions import public, requires
from agency.core.states import STATES
from agency.core.text import MULTILINE_CONTROLS, SINGLE_LINE_CONTROLS, check_line, email_address

# --------------------------------------------------------------------------- fields


@dataclass
class Field:
    """One property of a resource: how it is parsed from a body, read from an object and described.

    `required` is for input (a create must give it); `nullable` says the value may be null, in a
    body and in a response (by default an optional field may be and a required one may not);
    `read_only` fields are returned and never accepted; `source` reads the value from the object
    when it is not the attribute of the same name; a `withheld` field is null in a response to a viewer
    who may not see it (permissions.withheld), whatever its nullable says of a body.
    """

    required: bool = False
    nullable: bool | None = None
    read_only: bool = False
    withheld: bool = False
    description: str = ""
    source: Callable | None = None

    @property
    def may_be_null(self) -> bool:
        return (not self.required) if self.nullable is None else self.nullable

    def parse(self, value):
        return value

    def dump(self, value):
        return value

    def json_schema(self) -> dict:
        """The schema of a value this field accepts (null aside)."""
        return {}

    def output_json_schema(self) -> dict:
        """The schema of a value this field returns (null aside)."""
        return self.json_schema()

    def read(self, obj, key: str):
        if self.source is not None:
            return self.source(obj)
        return obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key)

    def input_schema(self) -> dict:
        optional = self.may_be_null and not self.required
        s = self._described(self.json_schema(), optional)
        if optional and "anyOf" in s and not isinstance(self, (Str, ListOf, Nested)):
            s["anyOf"].append(BLANK)  # a blank string clears an optional field, as null does
        elif optional and not isinstance(self, (Str, ListOf, Nested)):
            s = {"anyOf": [{k: v for k, v in s.items() if k != "description"}, BLANK],
                 **({"description": s["description"]} if "description" in s else {})}
        return s

    def output_schema(self) -> dict:
        return self._described(self.output_json_schema(), self.may_be_null or self.withheld)

    def _described(self, s: dict, nullable: bool) -> dict:
        s = dict(s)
        if nullable:
            s = _or_null(s)
        if self.description:
            s["description"] = self.description
        return s


BLANK = {"type": "string", "pattern": r"^\s*$"}


def _or_null(s: dict) -> dict:
    if "$ref" in s or "type" not in s or "enum" in s:
        return {"anyOf": [s, {"type": "null"}]}
    return {**s, "type": [s["type"], "null"]}


def _text_pattern(multiline: bool, required: bool) -> str:
    """The text a Str accepts, as a pattern: no control characters and, when required, not blank."""
    controls = MULTILINE_CONTROLS if multiline else SINGLE_LINE_CONTROLS
    if required:
        return rf"^[^\S{controls}]*[^\s{controls}][^{controls}]*$"
    return rf"^[^{controls}]*$"


@dataclass
class Str(Field):
    max_length: int = 255
    min_length: int = 0
    pattern: str | None = None
    pattern_message: str = "has the wrong format"
    # One line unless told: names, titles, references and reasons never need a line break, and in
    # a mail header one starts a header of its own; notes and a CSV body say multiline=True.
    multiline: bool = False

    def parse(self, value):
        if not isinstance(value, str):
            raise ValueError("must be a string")
        check_line(value, multiline=self.multiline)
        # The limit is on what was sent, as the document's maxLength says, spaces around it included.
        if len(value) > self.max_length:
            raise ValueError(f"must be at most {self.max_length} characters")
        value = value.strip()
        if len(value) < max(self.min_length, 1 if self.required else 0):
            raise ValueError("must not be empty")
        if self.pattern and value and not re.fullmatch(self.pattern, value):
            raise ValueError(self.pattern_message)
        return value

    def json_schema(self):
        s = {"type": "string", "maxLength": self.max_length}
        if self.pattern:
            # Spaces around the value are trimmed, and a blank optional field is cleared, not checked.
            s["pattern"] = rf"^\s*(?:{self.pattern}){'' if self.required else '?'}\s*$"
        else:
            s["pattern"] = _text_pattern(self.multiline, self.required)
        if self.required:
            s["minLength"] = max(self.min_length, 1)
        return s

    def output_json_schema(self):
        # What pages and imports stored is returned as it is, so only its type is promised.
        return {"type": "string"}


@dataclass
class Email(Str):
    def parse(self, value):
        return email_address(super().parse(value))

    def json_schema(self):
        return {"type": "string", "format": "email", "maxLength": self.max_length}


@dataclass
class Choice(Field):
    choices: tuple = ()

    def parse(self, value):
        if value not in self.choices:
            raise ValueError(f"must be one of {', '.join(map(str, self.choices))}")
        return value

    def json_schema(self):
        return {"type": "string", "enum": list(self.choices)}


@dataclass
class State(Field):
    def parse(self, value):
        if not isinstance(value, str) or value.upper() not in STATES:
            raise ValueError("must be a two-letter USPS state or territory code")
        return value.upper()

    def json_schema(self):
        return {"type": "string", "enum": sorted(STATES)}


@dataclass
class Date(Field):
    def parse(self, value):
        return parse_iso_date(value)

    def dump(self, value):
        return iso(value)

    def json_schema(self):
        years = "|".join(str(century) for century in range(FIRST_DAY.year // 100, LAST_DAY.year // 100 + 1))
        return {"type": "string", "format": "date", "pattern": f"^({years})[0-9]{{2}}-[0-9]{{2}}-[0-9]{{2}}$",
                "description": f"YYYY-MM-DD, from {FIRST_DAY.year} to {LAST_DAY.year}"}

    def output_json_schema(self):
        return {"type": "string", "format": "date"}


@dataclass
class Timestamp(Field):
    """A moment, returned as ISO 8601 with its UTC offset."""

    read_only: bool = True

    def dump(self, value):
        return iso(value)

    def json_schema(self):
        return {"type": "string", "format": "date-time"}


@dataclass
class IdArg(Field):
    """A record id in a query string, where every value arrives as text."""

    def parse(self, value):
        return parse_id(value)

    def json_schema(self):
        return {"type": "integer", "minimum": 1, "maximum": MAX_ID}


@dataclass
class Dec(Field):
    """A quantity: accepted as a JSON number or a decimal string, returned as a decimal string."""

    places: int = 2
    minimum: Decimal | None = Decimal("0")
    maximum: Decimal | None = None

    def parse(self, value):
        return parse_decimal(value, places=self.places, minimum=self.minimum, maximum=self.maximum)

    def dump(self, value):
        return None if value is None else str(value)

    def json_schema(self):
        low = self.minimum if self.minimum is not None else -MAX_AMOUNT
        high = self.maximum if self.maximum is not None else MAX_AMOUNT
        sign = "-?" if low < 0 else ""
        number = {"type": "number", "minimum": low, "exclusiveMaximum": high} if high == MAX_AMOUNT else \
            {"type": "number", "minimum": low, "maximum": high}
        number = {k: (float(v) if isinstance(v, Decimal) else v) for k, v in number.items()}
        number["multipleOf"] = float(Decimal(1).scaleb(-self.places))
        text = {"type": "string", "pattern": rf"^{sign}[0-9]{{1,10}}(\.[0-9]{{1,{self.places}}})?$"}
        return {"anyOf": [number, text], "description": f"decimal, at most {self.places} places, "
                f"from {low} up to {high}; a JSON number or a string"}

    def output_json_schema(self):
        return {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}


@dataclass
class Money(Dec):
    """Money: accepted like a quantity with two places, always returned with exactly two decimals."""

    def dump(self, value):
        return money_str(value)

    def output_json_schema(self):
        return {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$"}


@dataclass
class Int(Field):
    minimum: int | None = None
    maximum: int | None = None

    def parse(self, value):
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # 117.0 is a whole number to JSON
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be a whole number")
        if abs(value) > MAX_ID:
            raise ValueError("is too large")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"must be at least {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"must be at most {self.maximum}")
        return value

    def json_schema(self):
        return {"type": "integer",
                "minimum": -MAX_ID if self.minimum is None else self.minimum,
                "maximum": MAX_ID if self.maximum is None else self.maximum}

    def output_json_schema(self):
        return {"type": "integer"}


@dataclass
class Id(Int):
    """A record id in a JSON body."""

    minimum: int | None = 1
    maximum: int | None = MAX_ID


@dataclass
class Bool(Field):
    def parse(self, value):
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value

    def json_schema(self):
        return {"type": "boolean"}


@dataclass
class ListOf(Field):
    """A list; returned as an array (empty, never null) of its item's schema."""

    item: Field = field(default_factory=Str)
    max_items: int = 100
    min_items: int = 0

    def parse(self, value):
        if not isinstance(value, list):
            raise ValueError("must be a list")
        if len(value) < self.min_items:
            raise ValueError(f"needs at least {self.min_items} item(s)")
        if len(value) > self.max_items:
            raise ValueError(f"must have at most {self.max_items} items")
        out = []
        for i, v in enumerate(value):
            try:
                out.append(self.item.parse(v))
            except ValueError as exc:
                raise ValueError(f"item {i + 1} {exc}") from None
        return out

    def dump(self, value):
        return [self.item.dump(v) for v in value or ()]

    def json_schema(self):
        s = {"type": "array", "items": self.item.json_schema(), "maxItems": self.max_items}
        return {**s, "minItems": self.min_items} if self.min_items else s

    def output_json_schema(self):
        return {"type": "array", "items": self.item.output_json_schema()}

    def output_schema(self):
        return self._described(self.output_json_schema(), False)


@dataclass
class Nested(Field):
    """An object of another schema, inside a resource."""

    schema: "Schema | None" = None

    def parse(self, value):
        try:
            return self.schema.load(value)
        except ValidationError as exc:
            raise ValueError(exc.message) from None

    def dump(self, value):
        return None if value is None else self.schema.dump(value)

    def json_schema(self):
        return self.schema.input_schema()

    def output_json_schema(self):
        return self.schema.output_schema()


@dataclass
class MapOf(Field):
    """An object whose keys are data (a payer's name), each holding a value of one field; returned only."""

    item: Field = field(default_factory=Str)
    read_only: bool = True

    def dump(self, value):
        return {key: self.item.dump(v) for key, v in (value or {}).items()}

    def output_json_schema(self):
        return {"type": "object", "additionalProperties": self.item.output_schema()}

    def output_schema(self):
        return self._described(self.output_json_schema(), False)


class Schema:
    """A resource: its fields, parsed from bodies by load(), written to responses by dump()."""

    def __init__(self, schema_name: str, /, **fields: Field):
        self.name = schema_name
        self.fields = fields

    def without(self, schema_name: str, *names: str) -> "Schema":
        """The same resource less some fields (a list's rows without their details)."""
        return Schema(schema_name, **{k: f for k, f in self.fields.items() if k not in names})

    def writable(self) -> dict[str, Field]:
        return {k: f for k, f in self.fields.items() if not f.read_only}

    def load(self, data, *, partial: bool = False, blank_is_null: bool = True) -> dict:
        """Parse a JSON body; every bad field is reported at once, nothing half-parsed.

        A blank string clears an optional field, unless blank_is_null is off (a query string,
        where `?as_of=` is no date at all).
        """
        if not isinstance(data, dict):
            raise ValidationError("the request body must be a JSON object")
        errors: dict[str, list[str]] = {}
        out = {}
        for key in data:
            if key not in self.fields:
                errors[key] = ["is not a field of this resource"]
        for key, spec in self.writable().items():
            if key not in data:
                if spec.required and not partial:
                    errors[key] = ["is required"]
                continue
            value = data[key]
            blank = blank_is_null and isinstance(value, str) and not value.strip() and not spec.required
            if value is None or blank:
                if spec.required or not spec.may_be_null:
                    errors[key] = ["must not be empty"]
                else:
                    out[key] = None
                continue
            try:
                out[key] = spec.parse(value)
            except ValueError as exc:
                errors[key] = [str(exc)]
        if errors:
            first = next(iter(errors))
            raise ValidationError(f"{first}: {errors[first][0]}", errors)
        return out

    def dump(self, obj, /, **values) -> dict:
        """The JSON of obj: every field, read by its source; `values` stand in for what obj cannot tell."""
        return {key: spec.dump(values[key] if key in values else spec.read(obj, key))
                for key, spec in self.fields.items()}

    def input_schema(self, *, partial: bool = False) -> dict:
        fields = self.writable()
        s = {"type": "object", "properties": {k: f.input_schema() for k, f in fields.items()},
             "additionalProperties": False}
        if not partial and (required := [k for k, f in fields.items() if f.required]):
            s["required"] = required
        return s

    def output_schema(self) -> dict:
        return {"type": "object", "properties": {k: f.output_schema() for k, f in self.fields.items()},
                "required": list(self.fields), "additionalProperties": False}


# --------------------------------------------------------------------------- requests


def json_body() -> dict:
    """The request's JSON object; every endpoint takes one, so a list or a bare value is a 400."""
    data = request.get_json(silent=True)
    if data is None:
        raise ValidationError("the request body must be JSON (Content-Type: application/json)")
    if not isinstance(data, dict):
        raise ValidationError("the request body must be a JSON object")
    return data


def parse_args() -> dict:
    """The query-string filters, parsed by the query schema the view declares (every filter is optional)."""
    raw = {k: v for k, v in request.args.items() if k not in ("limit", "cursor")}
    return _meta()["query"].load(raw, partial=True, blank_is_null=False)


AS_OF = Schema("AsOf", as_of=Date(description="the day to judge by; today if left out"))


def as_of_arg() -> date:
    """The `as_of` query argument (documented by AS_OF) as a date, today when absent."""
    raw = request.args.get("as_of")
    try:
        return today() if raw is None else parse_iso_date(raw)
    except ValueError as exc:
        raise ValidationError.on("as_of", str(exc)) from None


# --------------------------------------------------------------------------- responses
# Every JSON answer is dumped by the schema its view declares in @documented, so the body
# and the OpenAPI document come from one declaration.


def _meta() -> dict:
    return current_app.view_functions[request.endpoint].openapi


def _declared(status: int) -> Schema:
    meta = _meta()
    return meta["responses"].get(status, meta["response"])


def reply(obj, status: int = 200, /, **values):
    """obj as the view's declared response schema dumps it, with that status."""
    response = jsonify(_declared(status).dump(obj, **values))
    response.status_code = status
    return response


def created(obj, endpoint: str, url_values: dict, /, **values):
    """201 with obj dumped by the declared schema and a Location header for it."""
    response = reply(obj, 201, **values)
    response.headers["Location"] = url_for(endpoint, **url_values)
    return response


def _decode_cursor(cursor: str) -> int:
    # A cursor is the id (or position) the page before ended at; past the end it is an empty page.
    if not re.fullmatch(r"[0-9]{1,10}", cursor):
        raise ValidationError.on("cursor", "is not a cursor this API gave out")
    return min(int(cursor), MAX_ID)


def _encode_cursor(number: int) -> str:
    return str(number)


def _limit() -> int:
    raw = request.args.get("limit", "50")
    if not re.fullmatch(r"[0-9]{1,3}", raw) or not 1 <= int(raw) <= 500:
        raise ValidationError.on("limit", "must be a whole number from 1 to 500")
    return int(raw)


def _page_body(rows: list, next_cursor: str | None, values) -> dict:
    schema = _declared(200)
    extra = values(rows) if values else [{}] * len(rows)
    return {"items": [schema.dump(row, **more) for row, more in zip(rows, extra, strict=True)],
            "next_cursor": next_cursor}


def page(query, id_column, values: Callable[[list], list[dict]] | None = None):
    """One keyset page of a select(): {"items", "next_cursor"}; limit 1..500, default 50.

    `values(rows)` gives, row by row, what the schema cannot read from a row alone (worked out
    once for the page, not per row).
    """
    from agency.extensions import db

    limit = _limit()
    if (cursor := request.args.get("cursor")) is not None:
        query = query.where(id_column > _decode_cursor(cursor))
    rows = db.session.scalars(query.order_by(id_column).limit(limit + 1)).unique().all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _encode_cursor(rows[-1].id)
    return jsonify(_page_body(rows, next_cursor, values))


def offset_window() -> tuple[int, int]:
    """(start, limit) of a page counted by position: ?cursor= is where the page before ended."""
    limit = _limit()
    return (0 if (cursor := request.args.get("cursor")) is None else _decode_cursor(cursor)), limit


def next_position(start: int, limit: int, more: bool) -> str | None:
    """The cursor of the page after one that began at start, or None when it was the last."""
    return _encode_cursor(start + limit) if more else None


def page_of_list(items: list, values: Callable[[list], list[dict]] | None = None):
    """One page of a list already built in its order (a ranking, a checklist): the cursor is a position.

    `values(rows)` as for page().
    """
    limit = _limit()
    start = 0 if (cursor := request.args.get("cursor")) is None else _decode_cursor(cursor)
    more = start + limit < len(items)
    return jsonify(_page_body(items[start:start + limit], _encode_cursor(start + limit) if more else None, values))


# --------------------------------------------------------------------------- blueprints


def api_blueprint(name: str, import_name: str) -> Blueprint:
    """A JSON blueprint under /api/v1 that authenticates by bearer token only."""
    bp = Blueprint(name, import_name, url_prefix=API_PREFIX)

    @bp.before_request
    def authenticate():
        view = current_app.view_functions.get(request.endpoint)
        if view is not None and getattr(view, "is_public", False):
            return None
        from agency.auth.services import user_for_token

        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        user = user_for_token(token.strip()) if scheme.lower() == "bearer" and token else None
        if user is None:
            response = json_error(401, "unauthorized", "A valid bearer token is required.")[0]
            response.status_code = 401
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        g.api_user = user
        return None

    return bp


bp = api_blueprint("api", __name__)

UNBILLED_ENTRY = Schema("UnbilledEntry", entry_id=Int(read_only=True, nullable=False),
                        reason=Str(read_only=True, nullable=False))
INVOICE_RUN_RESULT = Schema(
    "InvoiceRunResult", invoice_ids=ListOf(item=Int(), read_only=True),
    unpriced=ListOf(read_only=True, item=Nested(schema=UNBILLED_ENTRY), max_items=100_000,
                    description="approved entries left unbilled (no rate in effect) and why"),
    held=ListOf(read_only=True, item=Nested(schema=UNBILLED_ENTRY), max_items=100_000,
                description="held entries up to the period's end, never billed while held, and why they are held"),
)
_COUNT = {"read_only": True, "nullable": False}
INVOICE_RUN_PROGRESS = Schema(
    "InvoiceRunProgress",
    facilities=Int(**_COUNT, description="facilities with hours to bill when the run started"),
    facilities_done=Int(**_COUNT, description="of which invoiced or failed"),
    facilities_failed=Int(**_COUNT), parts=Int(**_COUNT, description="jobs the run is split into"),
    parts_done=Int(**_COUNT), invoices=Int(**_COUNT, description="invoices made so far"),
)
JOB = Schema(
    "Job",
    id=Str(read_only=True),
    status=Choice(read_only=True, choices=("queued", "started", "finished", "failed")),
    result=Nested(read_only=True, schema=INVOICE_RUN_RESULT,
                  description="a finished run's result; a failed run's lists the invoices its other facilities got"),
    error=Str(read_only=True, description="why a failed run failed: which facilities were not invoiced and why"),
    progress=Nested(read_only=True, schema=INVOICE_RUN_PROGRESS, description="an invoice run's progress"),
)


@bp.get("/jobs/<job_id>")
@requires("jobs.view")
@documented("Status of a background job: queued, started, finished (with its result) or failed",
            response=JOB, errors=(404, 503))
def job(job_id: str):
    from agency.core.jobs import job_status

    return reply(job_status(job_id))


@bp.get("/openapi.json")
@public
@documented("This OpenAPI 3.1 document", content_type="application/json", errors=())
def openapi_document():
    from agency.core.openapi import build_document

    return jsonify(build_document())
