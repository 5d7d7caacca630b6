"""`flask loadtest`: many concurrent users against the app in a real threaded server, then the ledger check.

It builds a small agency in a scratch database, starts the app on a loopback
port and, for a bounded time, lets each user sign in through the login form,
browse pages, record and approve hours and record payments through the API,
while invoice runs and the credential scan work at the same time. Users come in
pairs that record hours for one therapist on the same days at two facilities,
so the 24-hour day limit is raced on purpose. It prints requests, refusals,
server errors and latency percentiles per kind of request, then checks the
ledger (agency.billing.ledger), and fails on any server error or ledger problem.
Traffic never leaves this machine: only loopback addresses are accepted.
"""

import http.client
import io
import json
import math
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from http.cookiejar import CookieJar
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

LOOPBACK = ("127.0.0.1", "localhost", "::1")
PASSWORD = "loadtest-password-1"
PAGES = ["/dashboard", "/timesheets", "/invoices", "/receivables", "/placements", "/facilities", "/therapists"]
# One of the two placements of a pair may take these hours on a day; together they pass 24.
RACED_HOURS, SHARED_HOURS = "13", "8"
ENTRY_DAYS = 120


def loopback_url(url: str) -> str:
    """The URL itself when its host is a loopback address; anything else is refused."""
    host = urllib.parse.urlsplit(url).hostname
    if host not in LOOPBACK:
        raise click.BadParameter(f"only loopback addresses ({', '.join(LOOPBACK)}) may be load-tested, "
                                 f"not {host or url!r}", param_hint="--url")
    return url.rstrip("/")


# ----------------------------------------------------------------------------- HTTP


@dataclass
class Answer:
    status: int  # 0: no HTTP answer at all (refused, reset, timed out)
    body: bytes
    seconds: float

    def json(self):
        return json.loads(self.body or b"null")


class Client:
    """One user's HTTP client: its own cookies (a signed-in browser) and, for the API, a bearer token."""

    def __init__(self, base_url: str, token: str | None = None):
        self.base_url = base_url
        self.token = token
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def request(self, method: str, path: str, *, json_body=None, form: dict | None = None) -> Answer:
        headers, data = {}, None
        if json_body is not None:
            headers["Content-Type"], data = "application/json", json.dumps(json_body).encode()
        elif form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            data = urllib.parse.urlencode(form).encode()
        if self.token and path.startswith("/api/"):
            headers["Authorization"] = f"Bearer {self.token}"
        started = time.perf_counter()
        try:
            with self._opener.open(urllib.request.Request(self.base_url + path, data, headers, method=method),
                                   timeout=60) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            status, body = 0, str(error).encode()
        return Answer(status, body, time.perf_counter() - started)

    def login(self, email: str, password: str) -> Answer:
        """Sign in through the login form, with its CSRF token, as a person would."""
        page = self.request("GET", "/login")
        match = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page.body)
        if page.status != 200 or match is None:
            return page
        answer = self.request("POST", "/login", form={"email": email, "password": password,
                                                      "csrf_token": match[1].decode()})
        answer.seconds += page.seconds
        return answer


# ----------------------------------------------------------------------------- the server


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    _log: object

    def log(self) -> str:
        """What the server printed so far (its request log and any traceback)."""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")


@contextmanager
def running_server(settings: dict[str, str], host: str = "127.0.0.1"):
    """The app in a threaded server of its own process on a free loopback port; yields the Server.

    settings are AGENCY_ environment variables for it (the database above all).
    """
    from agency import ROOT

    port = free_port(host)
    env = {**os.environ, **{f"AGENCY_{name}": value for name, value in settings.items()}}
    with tempfile.TemporaryFile(mode="a+b") as log:  # appending: reading it never moves where it writes
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--host", host, "--port", str(port),
             "--with-threads", "--no-reload", "--no-debugger"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        server = Server(f"http://{host}:{port}", log)
        try:
            _wait_until_serving(server, process)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_serving(server: Server, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise click.ClickException(f"the server stopped at start:\n{server.log()}")
        if Client(server.url).request("GET", "/login").status == 200:
            return
        time.sleep(0.2)
    raise click.ClickException(f"the server at {server.url} did not answer within 60 s")


# ----------------------------------------------------------------------------- measuring


class Tally:
    """Every request's kind, status and time, from many threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self.answers: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self.failures: list[str] = []

    def add(self, kind: str, answer: Answer) -> Answer:
        with self._lock:
            self.answers[kind].append((answer.status, answer.seconds))
            if answer.status == 0 or answer.status >= 500:
                self.failures.append(f"{kind}: HTTP {answer.status} {answer.body[:300].decode(errors='replace')}")
        return answer

    def fail(self, message: str) -> None:
        with self._lock:
            self.failures.append(message)

    @property
    def server_errors(self) -> int:
        return sum(1 for rows in self.answers.values() for status, _ in rows if status == 0 or status >= 500)


def percentile(sorted_seconds: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(round(share * len(sorted_seconds), 9)))  # 0.95 * 100 is 95.00000000000001
    return sorted_seconds[rank - 1]


def report(tally: Tally) -> list[str]:
    """The table of requests, refusals (4xx), server errors (5xx or no answer) and latencies per kind."""
    head = f"{'request':<18}{'requests':>9}{'ok':>7}{'4xx':>6}{'5xx':>6}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
    rows = [head]
    everything = []
    for kind, answers in sorted(tally.answers.items()) + [("all", None)]:
        answers = answers if answers is not None else everything
        if kind != "all":
            everything.extend(answers)
        if not answers:
            continue
        seconds = sorted(s for _, s in answers)
        ok = sum(1 for status, _ in answers if 200 <= status < 400)
        refused = sum(1 for status, _ in answers if 400 <= status < 500)
        rows.append(f"{kind:<18}{len(answers):>9}{ok:>7}{refused:>6}{len(answers) - ok - refused:>6}"
                    + "".join(f"{percentile(seconds, p) * 1000:>9.0f}" for p in (0.50, 0.95, 0.99)))
    return rows


# ----------------------------------------------------------------------------- the scratch agency


@dataclass
class Agency:
    users: list[tuple[str, str]]  # (email, API token) of each user
    runner_token: str
    pair_placements: list[tuple[int, int]]  # one therapist's two placements, at two facilities
    today: date  # the agency's today, which the server also keeps


def build_agency(users: int, progress) -> Agency:
    """A small agency: the bench's agency of a tiny scale, its approved months invoiced once, plus a
    therapist with two placements for each pair of users and one billing login per user."""
    from agency.auth.services import create_user, issue_token
    from agency.bench.data import build
    from agency.billing.invoicing import run_invoices
    from agency.core.dates import today
    from agency.credentials.models import Therapist
    from agency.extensions import db
    from agency.facilities.models import Facility
    from agency.placements.models import Placement

    pairs = (users + 1) // 2
    build(max(2, users // 4) / 80, today(), echo=False, document_files=False)
    progress("bench agency")
    therapists = [Therapist(first_name=f"Pair{n}", last_name="Loadtest", email=f"pair{n}@loadtest.example",
                            discipline="LCSW", home_state="NY", status="active") for n in range(pairs)]
    db.session.add_all(therapists)
    db.session.flush()
    places = db.session.execute(sa.select(Facility.id, Facility.state).order_by(Facility.id)).all()
    start = today() - timedelta(days=ENTRY_DAYS)
    pair_placements = []
    for n, therapist in enumerate(therapists):
        ids = []
        for facility_id, state in (places[n % len(places)], places[(n + 1) % len(places)]):
            placement = Placement(therapist_id=therapist.id, facility_id=facility_id, start_on=start,
                                  service_states=[state], billing_basis="hourly", hours_per_week=40,
                                  telehealth=False, status="active")
            db.session.add(placement)
            db.session.flush()
            ids.append(placement.id)
        pair_placements.append(tuple(ids))
    db.session.commit()
    progress("pairs of placements")
    logins = []
    for n in range(users):
        user = create_user(f"user{n}@loadtest.example", "billing", PASSWORD, name=f"Load User {n}")
        logins.append((user.email, issue_token(user)))
    runner = create_user("runner@loadtest.example", "billing", PASSWORD, name="Invoice Runner")
    progress("users")
    run_invoices(start, today() - timedelta(days=1))
    progress("first invoice run")
    return Agency(logins, issue_token(runner), pair_placements, today())


# ----------------------------------------------------------------------------- the users


def hours_on(back: int) -> str:
    """Every other day both placements of a pair want more hours than the day holds together."""
    return RACED_HOURS if back % 2 == 0 else SHARED_HOURS


def user_session(base_url: str, email: str, token: str, placement_id: int, today: date, until: float,
                 tally: Tally, seed: int) -> None:
    """One person: signs in, then browses, records and approves a day of hours, and now and then pays
    an open invoice (sometimes its whole balance, racing the others), until the time is up."""
    rng = random.Random(seed)
    browser = Client(base_url, token)
    tally.add("login", browser.login(email, PASSWORD))
    for back in range(ENTRY_DAYS):
        if time.monotonic() >= until:
            return
        tally.add("page", browser.request("GET", rng.choice(PAGES)))
        day = today - timedelta(days=back)
        recorded = tally.add("record hours", browser.request("POST", "/api/v1/timesheets", json_body={
            "placement_id": placement_id, "work_date": day.isoformat(), "direct_care_hours": hours_on(back)}))
        if recorded.status == 201:
            entry_id = recorded.json()["id"]
            tally.add("approve hours", browser.request("POST", f"/api/v1/timesheets/{entry_id}/approve"))
        if rng.random() < 0.3:
            _pay_something(browser, rng, today, tally)


def _pay_something(browser: Client, rng: random.Random, today: date, tally: Tally) -> None:
    listed = tally.add("list invoices", browser.request("GET", "/api/v1/invoices?status=issued&limit=20"))
    invoices = listed.json()["items"] if listed.status == 200 else []
    if not invoices:
        return
    invoice = rng.choice(invoices)
    tally.add("page", browser.request("GET", f"/invoices/{invoice['id']}"))
    balance = invoice["balance"]
    amount = balance if rng.random() < 0.5 else min(balance, "25.00", key=float)
    tally.add("record payment", browser.request("POST", f"/api/v1/invoices/{invoice['id']}/payments", json_body={
        "amount": amount, "received_on": today.isoformat(), "reference": f"load-{rng.random():.12f}"}))


def invoice_runs(base_url: str, token: str, today: date, until: float, tally: Tally) -> None:
    """Invoice runs through the API, one after another, while the users work."""
    api = Client(base_url, token)
    while time.monotonic() < until:
        tally.add("invoice run", api.request("POST", "/api/v1/invoices/generate", json_body={
            "period_start": (today - timedelta(days=ENTRY_DAYS)).isoformat(), "period_end": today.isoformat()}))
        time.sleep(1)


def credential_scans(app, until: float, tally: Tally) -> None:
    """The daily credential scan, run again and again on the same database while the users work."""
    from agency.credentials.scan import daily_credential_scan
    from agency.extensions import db

    with app.app_context():
        while time.monotonic() < until:
            started = time.perf_counter()
            try:
                daily_credential_scan()
                status = 200
            except Exception as error:  # noqa: BLE001 - any failure of the scan is a finding to report
                db.session.rollback()
                tally.fail(f"credential scan: {error!r}")
                status = 500
            tally.add("credential scan", Answer(status, b"", time.perf_counter() - started))
            time.sleep(1)


def _reporting_failure(target, args, tally: Tally) -> None:
    try:
        target(*args)
    except Exception as error:  # noqa: BLE001 - a user that stopped on an error is a finding, not a crash
        tally.fail(f"{target.__name__} stopped: {error!r}")


def drive(app, base_url: str, agency: Agency, seconds: float) -> Tally:
    """Run every user, the invoice runs and the scans at once for the given time; wait for them all."""
    tally = Tally()
    until = time.monotonic() + seconds
    work = [(invoice_runs, (base_url, agency.runner_token, agency.today, until, tally)),
            (credential_scans, (app, until, tally))]
    for n, (email, token) in enumerate(agency.users):
        pair, side = divmod(n, 2)
        placement_id = agency.pair_placements[pair][side]
        work.append((user_session, (base_url, email, token, placement_id, agency.today, until, tally, n)))
    threads = [threading.Thread(target=_reporting_failure, args=(target, args, tally)) for target, args in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


# ----------------------------------------------------------------------------- the command


def _scratch_database(database_url: str | None) -> str:
    if database_url:
        return database_url
    from agency.core.persistence import remove_sqlite_file

    path = Path(current_app.instance_path) / "loadtest.db"
    remove_sqlite_file(path)
    return f"sqlite:///{path}"


@click.command("loadtest")
@click.option("--users", default=10, show_default=True, type=click.IntRange(1, 200),
              help="Concurrent users, in pairs sharing a therapist.")
@click.option("--seconds", default=20, show_default=True, type=click.IntRange(1, 600),
              help="How long the users work.")
@click.option("--database-url", default=None,
              help="An empty scratch database (default: a fresh SQLite file under instance/).")
@click.option("--url", default=None, callback=lambda _ctx, _param, value: value and loopback_url(value),
              help="A server already running on this machine over --database-url (default: start one).")
@with_appcontext
def loadtest_command(users, seconds, database_url, url):
    """Drive concurrent users, invoice runs and credential scans against the app, then check the ledger."""
    from agency import create_app
    from agency.billing.ledger import ledger_problems
    from agency.extensions import db

    if url and not database_url:
        raise click.UsageError("--url needs --database-url: the load test builds its agency in that database")
    database_url = _scratch_database(database_url)
    app = create_app({"DATABASE_URL": database_url, "REDIS_URL": "", "MAIL_SERVER": ""})
    with app.app_context():
        from flask_migrate import upgrade

        from agency.auth.models import User

        upgrade(directory=str(Path(app.root_path).parent / "migrations"))
        if db.session.scalar(sa.select(sa.func.count()).select_from(User)):
            raise click.ClickException("loadtest needs an empty scratch database; it fills it with synthetic data")
        click.echo(f"Building the agency for {users} users…")
        agency = build_agency(users, lambda step: click.echo(f"  {step} done"))
        db.session.remove()
    with _server(url, database_url) as server:
        click.echo(f"{users} users for {seconds} s against {server.url} ({db_kind(database_url)}), with invoice "
                   "runs and credential scans at the same time…")
        tally = drive(app, server.url, agency, seconds)
        causes = exceptions_in(server.log())
    click.echo("")
    for row in report(tally):
        click.echo(row)
    with app.app_context():
        problems = ledger_problems(db.session)
    for failure in tally.failures[:20]:
        click.echo(f"server error: {failure.strip()}")
    for cause, times in causes.most_common():
        click.echo(f"server log: {times} x {cause}")
    click.echo("ledger: sound" if not problems else f"ledger: {len(problems)} problem(s)")
    for problem in problems:
        click.echo(f"  {problem}")
    if tally.failures or problems:
        raise click.exceptions.Exit(1)


@contextmanager
def _server(url: str | None, database_url: str):
    if url:
        yield Server(url, io.BytesIO())  # someone else's server: its log is theirs
        return
    with running_server({"DATABASE_URL": database_url, "REDIS_URL": "", "MAIL_SERVER": ""}) as server:
        yield server


def exceptions_in(log: str) -> Counter:
    """The exceptions a server log reports (the last line of each traceback), counted."""
    return Counter(re.findall(r"^((?:[a-z_]+\.)*[A-Za-z]+(?:Error|Exception)\b.*)$", log, re.M))


def db_kind(database_url: str) -> str:
    return sa.engine.make_url(database_url).get_backend_name()
