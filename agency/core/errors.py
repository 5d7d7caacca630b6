"""Domain errors raised by services, and the pages and JSON shown for them."""

import click
import sqlalchemy as sa
from flask import g, has_request_context, jsonify, render_template, request
from flask.cli import AppGroup
from sqlalchemy.exc import DBAPIError, IntegrityError
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """A request the business rules refuse; it changes nothing."""

    status = 400
    code = "validation_error"

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}

    @property
    def sentence(self) -> str:
        """The refusal as a page says it: a sentence, with no field's code name leaking into it.

        The API keeps message and fields as they are ("reason: say why the hours are rejected");
        a page reads "Say why the hours are rejected."
        """
        text = self.message
        if len(self.fields) == 1:
            ((name, messages),) = self.fields.items()
            if messages and text == f"{name}: {messages[0]}":
                text = _about(name, messages[0])
        text = text[:1].upper() + text[1:]
        return text if text.endswith((".", "!", "?")) else f"{text}."


# A field's message that starts with one of these is a predicate about the field ("must be after the
# issue date"); anything else is an instruction or a sentence of its own ("say why ...").
_PREDICATES = {"must", "is", "are", "cannot", "can", "has", "have", "was", "were", "does", "do", "needs",
               "overlaps", "includes", "exceeds", "applies", "should", "may", "lapses"}


def _about(name: str, message: str) -> str:
    if message.split(" ", 1)[0] not in _PREDICATES:
        return message
    return f"{name.removesuffix('_id').replace('_', ' ').capitalize()} {message}"


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


class CommandGroup(AppGroup):
    """A CLI group whose commands end on a refused request with its message and a non-zero exit."""

    def invoke(self, ctx):
        from agency.core.integrity import refusal

        try:
            return super().invoke(ctx)
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        except IntegrityError as exc:
            raise click.ClickException(refusal(exc).message) from None


DATABASE_LOST = "the database connection was lost; nothing was saved, try again"
SAVED_THEN_LOST = ("your change was saved, but the database connection was lost before the answer was ready; "
                   "reload to see it rather than send it again")
COMMITTED = "agency.committed"


def _note_commit(_session) -> None:
    # Once a request has committed, a connection lost afterwards must not claim that nothing was saved.
    if has_request_context():
        request.environ[COMMITTED] = True


def _retry_first_statement(state):
    """A transaction's first statement that meets a dead connection runs once more on a fresh one.

    Nothing of that transaction had happened yet, so the retry is what pool_pre_ping
    does a moment earlier; it spares a request whose change was already committed
    (the reload after commit) from answering that nothing was saved.
    """
    if state.session.in_transaction():
        return None  # the transaction's earlier work died with its connection: no retry can bring it back
    try:
        return state.invoke_statement()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        state.session.rollback()
        return state.invoke_statement()


def init_database_errors(app) -> None:
    """A dropped database connection (a restart, a failover, a killed backend) answers 503, not 500.

    The transaction it was in died with the connection, so nothing of it was written
    (unless the request had already committed, which the answer then says); the pool
    replaces the connection (pool_pre_ping) for the next request.
    """
    from agency.extensions import db, login_manager

    for event, listener in (("do_orm_execute", _retry_first_statement), ("after_commit", _note_commit)):
        if not sa.event.contains(db.session, event, listener):
            sa.event.listen(db.session, event, listener)

    @app.errorhandler(DBAPIError)
    def database_error(exc: DBAPIError):
        from agency.core.persistence import contention

        if (lost_race := contention(exc)) is not None:
            db.session.rollback()
            response, status = json_error(lost_race.status, lost_race.code, lost_race.message) if wants_json() \
                else (render_template("errors/error.html", status=lost_race.status, message=lost_race.message),
                      lost_race.status)
            return response, status, {"Retry-After": "5"} if status == 503 else {}
        if not exc.connection_invalidated:
            raise exc  # any other database error is ours: the 500 handler answers it
        app.logger.warning("database connection lost during %s %s", request.method, request.path, exc_info=exc)
        db.session.rollback()
        message = SAVED_THEN_LOST if request.environ.get(COMMITTED) else DATABASE_LOST
        if wants_json():
            return json_error(503, "service_unavailable", message)
        # Drawn without the database: the signed-in user's row may be what could not be read.
        g._login_user = login_manager.anonymous_user()
        return render_template("errors/error.html", status=503, message=message), 503

    @app.teardown_appcontext
    def release_lost_connection(_exc):
        # The end of a request rolls back what it only read; a connection that died after the answer
        # was ready has nothing left to roll back, and must not turn that answer into a 500.
        try:
            db.session.close()
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise


def init_app(app):
    from agency.core.integrity import refusal
    from agency.extensions import db

    init_database_errors(app)

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        db.session.rollback()
        if wants_json():
            return json_error(exc.status, exc.code, exc.message, exc.fields)
        return render_template("errors/error.html", status=exc.status, message=exc.message), exc.status

    @app.errorhandler(IntegrityError)
    def integrity_error(exc: IntegrityError):
        # The last resort: a write no service turned into a refusal is still a 409 naming the field.
        return domain_error(refusal(exc))

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
