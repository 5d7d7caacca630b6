"""Domain errors raised by services, and the pages and JSON shown for them."""

from flask import jsonify, render_template, request
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """A request the business rules refuse; it changes nothing."""

    status = 400
    code = "validation_error"

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class ValidationError(DomainError):
    status = 400
    code = "validation_error"

    @classmethod
    def on(cls, field: str, message: str) -> "ValidationError":
        return cls(f"{field}: {message}", {field: [message]})


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class ServiceUnavailable(DomainError):
    status = 503
    code = "service_unavailable"


def wants_json() -> bool:
    return request.path.startswith("/api/")


def json_error(status: int, code: str, message: str, fields: dict | None = None):
    body = {"error": {"code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    return jsonify(body), status


HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 500: "internal_error", 503: "service_unavailable",
}


def init_app(app):
    from agency.extensions import db

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        db.session.rollback()
        if wants_json():
            return json_error(exc.status, exc.code, exc.message, exc.fields)
        return render_template("errors/error.html", status=exc.status, message=exc.message), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if wants_json():
            code = HTTP_CODES.get(exc.code, "error")
            response, status = json_error(exc.code, code, exc.description or exc.name)
            if exc.code == 405:
                response.headers["Allow"] = ", ".join(exc.valid_methods or ())
            return response, status
        if exc.code in (301, 302, 303, 307, 308):
            return exc
        return render_template(
            "errors/error.html", status=exc.code, message=exc.description
        ), exc.code

    @app.errorhandler(500)
    def server_error(exc):
        db.session.rollback()
        if wants_json():
            return json_error(500, "internal_error", "Something went wrong on our side.")
        return render_template(
            "errors/error.html", status=500, message="Something went wrong on our side."
        ), 500
