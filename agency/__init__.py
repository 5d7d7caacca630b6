"""The agency app: create_app() wires configuration, extensions and blueprints."""

import json
import os
import secrets
import tomllib
from pathlib import Path

from flask import Flask

from agency.core.bounds import IdConverter, refuse_nul_characters
from agency.extensions import csrf, db, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """The configuration cannot run the app safely."""


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    _configure(app, overrides or {})
    if proxies := int(app.config["TRUSTED_PROXIES"]):
        from werkzeug.middleware.proxy_fix import ProxyFix

        # The client's address (for the sign-in limits) and scheme as the proxies in front saw them.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    app.url_map.converters["int"] = IdConverter
    app.before_request(refuse_nul_characters)

    _import_models()
    db.init_app(app)
    with app.app_context():
        _configure_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    from agency.auth import sessions, throttle

    sessions.init_app(app)
    throttle.init_app(app)

    from agency.core import api as core_api
    from agency.core import errors, security, templating
    from agency.core.jobs import init_jobs
    from agency.core.outbox import init_outbox

    init_jobs(app)
    init_outbox(app)
    templating.init_app(app)
    errors.init_app(app)
    security.init_app(app)

    from agency.auth.views import bp as auth_bp
    from agency.billing.api import bp as billing_api
    from agency.billing.views import bp as billing_bp
    from agency.credentials.api import bp as credentials_api
    from agency.credentials.request_api import bp as document_requests_api
    from agency.credentials.request_views import bp as document_requests_bp
    from agency.credentials.request_views import upload_bp as document_upload_bp
    from agency.credentials.screening_api import bp as screenings_api
    from agency.credentials.screening_views import bp as screenings_bp
    from agency.credentials.views import bp as credentials_bp
    from agency.dashboard.views import bp as dashboard_bp
    from agency.facilities.api import bp as facilities_api
    from agency.facilities.views import bp as facilities_bp
    from agency.outbox.views import bp as outbox_bp
    from agency.placements.api import bp as placements_api
    from agency.placements.views import bp as placements_bp

    for bp in (auth_bp, dashboard_bp, credentials_bp, screenings_bp, facilities_bp, placements_bp, billing_bp,
               outbox_bp, document_requests_bp, document_upload_bp):
        app.register_blueprint(bp)
    for api_bp in (core_api.bp, credentials_api, screenings_api, facilities_api, placements_api, billing_api,
                   document_requests_api):
        csrf.exempt(api_bp)
        app.register_blueprint(api_bp)

    from agency.auth.cli import users_cli
    from agency.bench import bench_command
    from agency.billing.cli import billing_cli
    from agency.credentials.cli import credentials_cli
    from agency.demo import seed_demo_command
    from agency.loadtest import loadtest_command
    from agency.worker import worker_command

    app.cli.add_command(users_cli)
    app.cli.add_command(billing_cli)
    app.cli.add_command(credentials_cli)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(bench_command)
    app.cli.add_command(loadtest_command)
    app.cli.add_command(worker_command)
    return app


def _configure_sqlite(engine) -> None:
    if engine.dialect.name != "sqlite":
        return
    _private_sqlite_file(engine.url.database)
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # SQLite ignores foreign keys unless asked on every connection; PostgreSQL always checks.
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        # Write-ahead log: a commit appends to the -wal file beside the database instead of rewriting
        # pages through a rollback journal, and readers never wait for the writer. With synchronous
        # NORMAL a commit does not wait for the disk (the log is synced at checkpoints): a crash of the
        # app or of a worker loses nothing, only a power cut may lose the last commits, never leaving
        # the file corrupt. Writers still take the one write lock (BEGIN IMMEDIATE), so locking is
        # unchanged. The mode stays with the file; it is set only where not set yet, since switching
        # needs the file to itself.
        if dbapi_connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def _private_sqlite_file(database: str | None) -> None:
    """The database file readable by the app's user only, made so before SQLite first opens it.

    SQLite gives the -wal and -shm files it creates the database file's mode; ones left from
    before are tightened with it.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return  # SQLite reports the missing folder when it opens the file
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o600))  # an empty file is an empty database
    for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if each.exists() and each.stat().st_mode & 0o077:
            each.chmod(0o600)


def _import_models() -> None:
    # Every model module registers its tables on db.metadata, which migrations read.
    import agency.auth.models  # noqa: F401
    import agency.billing.models  # noqa: F401
    import agency.core.audit  # noqa: F401
    import agency.core.jobs  # noqa: F401
    import agency.core.outbox  # noqa: F401
    import agency.credentials.models  # noqa: F401
    import agency.facilities.models  # noqa: F401
    import agency.placements.models  # noqa: F401


def _configure(app: Flask, overrides: dict) -> None:
    app.config.from_file(str(ROOT / "config" / "default.toml"), load=tomllib.load, text=False)
    # A deployment (or a test run's worker processes) may layer one more TOML file.
    if extra := os.environ.get("AGENCY_CONFIG_FILE"):
        app.config.from_file(str(Path(extra).resolve()), load=tomllib.load, text=False)
    app.config.from_prefixed_env("AGENCY", loads=_loads)
    app.config.pop("CONFIG_FILE", None)
    app.config.update(overrides)

    if not app.config["SECRET_KEY"]:
        if app.config["ENV"] == "production":
            raise ConfigError(
                "AGENCY_SECRET_KEY must be set in production: sessions and CSRF tokens "
                "cannot be signed safely without it."
            )
        app.config["SECRET_KEY"] = _instance_secret(app)

    from agency.billing.receivables import check_dunning_levels  # the ladder's own rules for its levels

    try:
        check_dunning_levels(app.config["DUNNING_LEVELS"])
    except RuntimeError as exc:
        raise ConfigError(str(exc)) from None

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    url = app.config["DATABASE_URL"] or f"sqlite:///{Path(app.instance_path) / 'agency.db'}"
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        # A writer waits for another's write lock instead of failing at once with "database is locked".
        app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"] = {
            "timeout": float(app.config["DATABASE_BUSY_TIMEOUT"])}
    # The largest body any route takes: a document, or an exclusion list (the LEIE is some 15 MB); each
    # upload checks its own cap.
    app.config["MAX_CONTENT_LENGTH"] = max(int(app.config["MAX_UPLOAD_BYTES"]),
                                           int(app.config["SCREENING_MAX_BYTES"])) + 64 * 1024

    upload_dir = Path(app.config["UPLOAD_DIR"])
    if not upload_dir.is_absolute():
        upload_dir = Path(app.instance_path) / upload_dir
    app.config["UPLOAD_PATH"] = upload_dir


def _loads(value: str):
    try:
        return json.loads(value)
    except ValueError:
        return value


def _instance_secret(app: Flask) -> str:
    """A development key kept in instance/ so sessions survive restarts."""
    path = Path(app.instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
