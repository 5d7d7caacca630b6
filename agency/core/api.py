"""What every JSON blueprint shares: token auth, input schemas, errors, pagination.

Input schemas are declared once per resource and serve three purposes:
parsing a request body into Python values, reporting every bad field in
the one error shape, and describing the resource in the OpenAPI document.
"""

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask import Blueprint, current_app, g, jsonify, request, url_for

from agency.core.bounds import MAX_ID, parse_id
from agency.core.dates import parse_iso_date, today
from agency.core.errors import ValidationError, json_error
from agency.core.money import parse_decimal
from agency.core.openapi import API_PREFIX, documented
from agency.core.permissions import public, requires
from agency.core.states import STATES
from agency.core.text import check_line, email_address

# --------------------------------------------------------------------------- fields


@dataclass
class Field:
    required: bool = False
    nullable: bool = True
    read_only: bool = False
    description: str = ""

    def parse(self, value):
        return value

    def json_schema(self) -> dict:
        return {}

    def schema(self) -> dict:
        s = self.json_schema()
        if self.nullable and not self.required:
            s = {**s, "type": [s["type"], "null"]} if "type" in s else {"anyOf": [s, {"type": "null"}]}
        if self.read_only:
            s["readOnly"] = True
        if self.description:
            s["description"] = self.description
        return s


@dataclass
class Str(Field):
    max_length: int = 255
    min_length: int = 0
    pattern: str | None = None
    pattern_message: str = "has the wrong format"
    # One line unless told: names, titles, references and reasons never need a line break, and in
    # a mail header one starts a header of its own. Left unset, only long free text (over 500
    # characters: notes, a CSV body) may span lines.
    multiline: bool | None = None

    def parse(self, value):
        if not isinstance(value, str):
            raise ValueError("must be a string")
        check_line(value, multiline=self.multiline if self.multiline is not None else self.max_length > 500)
        value = value.strip()
        if len(value) < max(self.min_length, 1 if self.required else 0):
            raise ValueError("must not be empty")
        if len(value) > self.max_length:
            raise ValueError(f"must be at most {self.max_length} characters")
        if self.pattern and value and not re.fullmatch(self.pattern, value):
            raise ValueError(self.pattern_message)
        return value

    def json_schema(self):
        s = {"type": "string", "maxLength": self.max_length}
        if self.pattern:
            s["pattern"] = f"^{self.pattern}$"
        return s


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

    def json_schema(self):
        return {"type": "string", "format": "date"}


@dataclass
class IdArg(Field):
    """A record id in a query string, where every value arrives as text."""

    def parse(self, value):
        return parse_id(value)

    def json_schema(self):
        return {"type": "integer", "minimum": 1, "maximum": MAX_ID}


@dataclass
class Dec(Field):
    places: int = 2
    minimum: Decimal | None = Decimal("0")
    maximum: Decimal | None = None

    def parse(self, value):
        return parse_decimal(value, places=self.places, minimum=self.minimum, maximum=self.maximum)

    def json_schema(self):
        return {"type": "string", "pattern": r"^-?\d+(\.\d+)?$",
                "description": "decimal; accepted as a JSON number or string"}


@dataclass
class Int(Field):
    minimum: int | None = None
    maximum: int | None = None

    def parse(self, value):
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
        s = {"type": "integer"}
        if self.minimum is not None:
            s["minimum"] = self.minimum
        if self.maximum is not None:
            s["maximum"] = self.maximum
        return s


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
    item: Field = field(default_factory=Str)
    max_items: int = 100

    def parse(self, value):
        if not isinstance(value, list):
            raise ValueError("must be a list")
        if len(value) > self.max_items:
            raise ValueError(f"must have at most {self.max_items} items")
        out = []
        for i, v in enumerate(value):
            try:
                out.append(self.item.parse(v))
            except ValueError as exc:
                raise ValueError(f"item {i + 1} {exc}") from None
        return out

    def json_schema(self):
        return {"type": "array", "items": self.item.json_schema()}


@dataclass
class Object(Field):
    """Read-only nested object, only for documentation."""

    properties: dict = field(default_factory=dict)

    def json_schema(self):
        return {"type": "object", "properties": self.properties}


class Schema:
    def __init__(self, schema_name: str, /, **fields: Field):
        self.name = schema_name
        self.fields = fields

    def load(self, data, *, partial: bool = False) -> dict:
        """Parse a JSON body; every bad field is reported at once, nothing half-parsed."""
        if not isinstance(data, dict):
            raise ValidationError("the request body must be a JSON object")
        errors: dict[str, list[str]] = {}
        out = {}
        for key in data:
            if key not in self.fields:
                errors[key] = ["is not a field of this resource"]
        for key, spec in self.fields.items():
            if spec.read_only:
                continue
            if key not in data:
                if spec.required and not partial:
                    errors[key] = ["is required"]
                continue
            value = data[key]
            if value is None or (isinstance(value, str) and not value.strip() and not spec.required):
                if spec.required or not spec.nullable:
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

    def openapi(self) -> dict:
        return {
            "type": "object",
            "properties": {k: f.schema() for k, f in self.fields.items()},
            "required": [k for k, f in self.fields.items() if f.required],
        }


# --------------------------------------------------------------------------- requests


def json_body() -> dict:
    """The request's JSON object; every endpoint takes one, so a list or a bare value is a 400."""
    data = request.get_json(silent=True)
    if data is None:
        raise ValidationError("the request body must be JSON (Content-Type: application/json)")
    if not isinstance(data, dict):
        raise ValidationError("the request body must be a JSON object")
    return data


def parse_args(schema: Schema) -> dict:
    """Query-string filters parsed by a schema (every filter is optional)."""
    raw = {k: v for k, v in request.args.items() if k not in ("limit", "cursor")}
    return schema.load(raw, partial=True)


AS_OF = {"as_of": {"type": "string", "format": "date", "description": "the day to judge by; today if left out"}}


def as_of_arg() -> date:
    """The `as_of` query argument (documented by AS_OF) as a date, today when absent."""
    raw = request.args.get("as_of")
    try:
        return parse_iso_date(raw) if raw else today()
    except ValueError as exc:
        raise ValidationError.on("as_of", str(exc)) from None


def created(body: dict, endpoint: str, **values):
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = url_for(endpoint, **values)
    return response


def _decode_cursor(cursor: str) -> int:
    try:
        return parse_id(base64.urlsafe_b64decode(cursor.encode() + b"==").decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError.on("cursor", "is not a cursor this API gave out") from None


def _encode_cursor(number: int) -> str:
    return base64.urlsafe_b64encode(str(number).encode()).decode().rstrip("=")


def _limit() -> int:
    raw = request.args.get("limit", "50")
    if not re.fullmatch(r"[0-9]{1,3}", raw) or not 1 <= int(raw) <= 500:
        raise ValidationError.on("limit", "must be a whole number from 1 to 500")
    return int(raw)


def page(query, id_column, serialise):
    """One keyset page of a select(): {"items", "next_cursor"}; limit 1..500, default 50."""
    from agency.extensions import db

    limit = _limit()
    if cursor := request.args.get("cursor"):
        query = query.where(id_column > _decode_cursor(cursor))
    rows = db.session.scalars(query.order_by(id_column).limit(limit + 1)).unique().all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _encode_cursor(rows[-1].id)
    return jsonify({"items": [serialise(r) for r in rows], "next_cursor": next_cursor})


def page_of_list(items: list, serialise):
    """One page of a list already built in its order (a ranking, a checklist): the cursor is a position."""
    limit = _limit()
    start = _decode_cursor(cursor) if (cursor := request.args.get("cursor")) else 0
    rows = items[start:start + limit]
    more = start + limit < len(items)
    return jsonify({"items": [serialise(r) for r in rows],
                    "next_cursor": _encode_cursor(start + limit) if more else None})


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


@bp.get("/jobs/<job_id>")
@requires("jobs.view")
@documented("Status of a background job: queued, started, finished (with its result) or failed",
            errors=(404, 503))
def job(job_id: str):
    from agency.core.jobs import job_status

    return jsonify(job_status(job_id))


@bp.get("/openapi.json")
@public
@documented("This OpenAPI 3.1 document", errors=())
def openapi_document():
    from agency.core.openapi import build_document

    return jsonify(build_document())
