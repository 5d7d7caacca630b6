"""The test app, a clean database per test, signed-in clients and API callers.

The database is PostgreSQL when AGENCY_DATABASE_URL is set (as `make test`
does) and a SQLite file otherwise; Redis comes from AGENCY_REDIS_URL.
"""

import atexit
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from agency import ROOT, create_app
from agency.core.persistence import empty_every_table
from agency.extensions import db

TEST_CONFIG = ROOT / "config" / "test.toml"
PASSWORD = "correct horse battery"

_tmp = Path(tempfile.mkdtemp(prefix="agency-tests-"))
atexit.register(shutil.rmtree, _tmp, ignore_errors=True)
os.environ["AGENCY_CONFIG_FILE"] = str(TEST_CONFIG)
os.environ["AGENCY_UPLOAD_DIR"] = str(_tmp / "uploads")
# Jobs run inline unless a test asks for real workers (see tests/workers.py); each run has a queue
# of its own so two test runs on one machine never take each other's jobs.
REDIS_URL = os.environ.pop("AGENCY_REDIS_URL", "redis://127.0.0.1:6379/9")
os.environ["AGENCY_RQ_QUEUE"] = f"agency-test-{os.getpid()}"
os.environ["AGENCY_RATE_LIMIT_KEY_PREFIX"] = f"agency-test-{os.getpid()}"


def _private_database() -> str:
    """A database of this run's own: PostgreSQL gets a fresh one beside the given one, dropped at exit."""
    given = os.environ.get("AGENCY_DATABASE_URL")
    if not given:
        return f"sqlite:///{_tmp / 'test.db'}"
    if not given.startswith("postgresql"):
        return given
    base = sa.engine.make_url(given.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{base.database}_run_{os.getpid()}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    atexit.register(drop)
    return base.set(database=name).render_as_string(hide_password=False)


os.environ["AGENCY_DATABASE_URL"] = _private_database()


class _DocumentedResponses:
    """Every JSON answer from /api/v1 checked against /api/v1/openapi.json: declared status, exact shape."""

    def __init__(self, document: dict):
        from jsonschema import Draft202012Validator, FormatChecker

        self.components = document["components"]
        self.operations = []
        # As OpenAPI matches: a concrete path (/placements/watch) before a templated one (/placements/{id}).
        for path, ops in sorted(document["paths"].items(), key=lambda item: item[0].count("{")):
            pattern = re.compile("^/api/v1" + re.sub(r"\\{\w+\\}", "[^/]+", re.escape(path)) + "$")
            self.operations.append((pattern, ops))
        self._validators: dict[str, Draft202012Validator] = {}
        self._make = lambda schema: Draft202012Validator({**schema, "components": self.components},
                                                         format_checker=FormatChecker())

    def _validator(self, schema: dict):
        key = json.dumps(schema, sort_keys=True)
        if key not in self._validators:
            self._validators[key] = self._make(schema)
        return self._validators[key]

    def check(self, response) -> None:
        request = response.request
        if not request.path.startswith("/api/v1/"):
            return
        method, status = request.method.lower(), str(response.status_code)
        matching = [ops for pattern, ops in self.operations if pattern.match(request.path)]
        if not matching or response.status_code in (404, 405) and not any(method in ops for ops in matching):
            schema = {"$ref": "#/components/schemas/Error"}  # no such route or method: the error shape
            if response.status_code == 405:
                assert response.headers.get("Allow"), f"405 without Allow for {method} {request.path}"
        else:
            op = next((ops[method] for ops in matching if method in ops), None)
            assert op is not None, f"{method.upper()} {request.path} answered {status} but is not in the document"
            declared = op["responses"].get(status)
            assert declared is not None, (
                f"{method.upper()} {request.path} answered {status}, which its operation does not declare: "
                f"{response.get_data(as_text=True)[:300]}")
            content = declared.get("content", {})
            if "application/json" not in content:
                assert not response.is_json or not response.get_data(), \
                    f"{method.upper()} {request.path} {status} has a JSON body the document does not declare"
                return
            schema = content["application/json"]["schema"]
        if status == "204":
            return
        assert response.is_json, f"{method.upper()} {request.path} {status} is not JSON"
        errors = sorted(self._validator(schema).iter_errors(response.get_json()), key=str)
        assert not errors, (f"{method.upper()} {request.path} {status} does not match the document: "
                            + "; ".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]))


def _validating_client_class(checker: _DocumentedResponses):
    from flask.testing import FlaskClient

    class DocumentedClient(FlaskClient):
        documented = checker

        def open(self, *args, **kwargs):
            response = super().open(*args, **kwargs)
            checker.check(response)
            return response

    return DocumentedClient


@pytest.fixture(scope="session")
def app():
    app = create_app()
    with app.test_request_context():
        from agency.core.openapi import build_document

        app.test_client_class = _validating_client_class(_DocumentedResponses(build_document()))
    with app.app_context():
        _reset_schema()
        from flask_migrate import upgrade

        upgrade(directory=str(ROOT / "migrations"))
    yield app


def _reset_schema():
    engine = db.engine
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    else:
        db.drop_all()
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture(autouse=True)
def _clean_database(app):
    from agency.extensions import limiter

    with app.app_context():
        yield
        limiter.reset()  # failed sign-ins of one test are not another's
        empty_database()


def empty_database():
    """Every table emptied, identities restarted: each test starts from nothing."""
    empty_every_table()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def scratch_url(app, tmp_path):
    """A second, empty database of the kind the suite runs on, dropped afterwards."""
    if db.engine.dialect.name == "sqlite":
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    url = db.engine.url.set(database=f"{db.engine.url.database}_scratch")
    admin = sa.create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def setting(app):
    """Change settings of the app for one test: setting(INVOICE_RUN_BATCH=2); put back after it."""
    saved = {}

    def change(**values):
        for key in values:
            saved.setdefault(key, app.config[key])
        app.config.update(values)

    yield change
    app.config.update(saved)


@pytest.fixture
def users(app):
    """One user per role; the facility contact belongs to the Riverside clinic."""
    from agency.auth.services import create_user
    from agency.facilities.models import Facility

    clinic = Facility(name="Riverside Community Mental Health Center", facility_type="cmhc",
                      state="NY", payment_terms_days=45)
    db.session.add(clinic)
    db.session.commit()
    made = {}
    for role in ("admin", "recruiter", "credentialing", "billing", "facility"):
        made[role] = create_user(
            f"{role}@staff.example.org", role, PASSWORD,
            facility_id=clinic.id if role == "facility" else None, name=role.capitalize(),
        )
    return made


def _forget_request_user():
    # Requests reuse the test's app context, and with it flask.g, where Flask-Login,
    # the API and Flask-WTF cache the current user and CSRF token: forget them so
    # each client is seen as itself.
    from flask import g

    for key in ("_login_user", "api_user", "csrf_token"):
        g.pop(key, None)


class _FreshUserClient:
    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if name in ("get", "post", "patch", "put", "delete", "open"):
            def call(*args, **kwargs):
                _forget_request_user()
                return attr(*args, **kwargs)
            return call
        return attr


class Browser:
    """A test client that signs in through the login form and submits forms with their CSRF token."""

    def __init__(self, client):
        self.client = _FreshUserClient(client)

    def login(self, email, password=PASSWORD):
        self.client.get("/logout")
        page = self.client.get("/login")
        return self.client.post(
            "/login", data={"email": email, "password": password, "csrf_token": csrf_of(page)},
            follow_redirects=False,
        )

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def post(self, url, data=None, *, form_url=None, **kw):
        """POST with the CSRF token read from form_url (default: the same URL)."""
        page = self.client.get(form_url or url)
        data = dict(data or {})
        data.setdefault("csrf_token", csrf_of(page))
        return self.client.post(url, data=data, **kw)


def csrf_of(response) -> str:
    match = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', response.data) or re.search(
        rb'value="([^"]+)"[^>]*name="csrf_token"', response.data
    )
    assert match, "no CSRF token on the page"
    return match.group(1).decode()


@pytest.fixture
def browser(app, users):
    def sign_in(role):
        b = Browser(app.test_client())
        response = b.login(users[role].email)
        assert response.status_code == 302, response.data
        return b

    return sign_in


class Api:
    def __init__(self, client, token):
        self.client = _FreshUserClient(client)
        self.headers = {"Authorization": f"Bearer {token}"}

    def __getattr__(self, method):
        if method not in ("get", "post", "patch", "put", "delete"):
            raise AttributeError(method)

        def call(url, json=None, **kw):
            headers = {**self.headers, **kw.pop("headers", {})}
            return getattr(self.client, method)(url, json=json, headers=headers, **kw)

        return call


@pytest.fixture
def api(app, users):
    """api("credentialing") is an API caller holding that role's token."""
    from agency.auth.services import issue_token

    def caller(role):
        return Api(app.test_client(), issue_token(users[role]))

    return caller


@pytest.fixture
def redis_url(app):
    """A real Redis with this run's queue emptied; the test fails, never skips, without it."""
    from rq import Queue

    from agency.core.jobs import redis_connection

    saved = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = REDIS_URL
    try:
        Queue(app.config["RQ_QUEUE"], connection=redis_connection()).empty()
    finally:
        app.config["REDIS_URL"] = saved
    return REDIS_URL
