"""Schemathesis drives the running API from its own OpenAPI document and finds nothing wrong.

Every phase (examples, coverage, fuzzing, stateful) with every check, against a real server
holding the demo agency, once with an admin's token and once with a facility contact's. It runs
on PostgreSQL, the database a multi-user office serves the API from: the threaded server and
schemathesis's parallel requests are what PostgreSQL is for, while SQLite serialises writers.
"""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from agency.extensions import db

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")
# Per token: the time budget of the whole run, and how many cases each operation gets at most.
MAX_TIME_SECONDS = 110
MAX_EXAMPLES = 40

pytestmark = pytest.mark.skipif(
    not os.environ["AGENCY_DATABASE_URL"].startswith("postgresql"),
    reason="runs on the PostgreSQL pass: parallel writers against SQLite only wait on its one lock",
)


@pytest.fixture
def demo_server(app):
    from agency.auth.models import User
    from agency.auth.services import issue_token
    from agency.demo import seed

    seed(log=lambda *_: None)
    db.session.commit()
    tokens = {role: issue_token(db.session.scalar(db.select(User).where(User.role == role)))
              for role in ("admin", "facility")}
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", tokens
    server.shutdown()
    thread.join()


def run_schemathesis(base: str, token: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCHEMATHESIS), "--no-color", "--config-file", str(CONFIG),
         "run", f"{base}/api/v1/openapi.json", "--url", f"{base}/api/v1",
         "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful",
         "--max-time", str(MAX_TIME_SECONDS), "--max-examples", str(MAX_EXAMPLES), "--seed", "9",
         "--header", f"Authorization: Bearer {token}", "--generation-database", "none",
         # A date is "format: date" and a pattern for its 1900-2199 range; the generator makes dates
         # and then filters on the pattern, which its health check mistakes for an unsatisfiable schema.
         "--suppress-health-check", "filter_too_much"],
        capture_output=True, text=True, timeout=MAX_TIME_SECONDS * 3, cwd=tmp_path,
    )


def test_schemathesis_finds_no_server_error_and_no_conformance_failure(demo_server, tmp_path):
    # One demo agency for both tokens: the facility contact's run meets what the admin's made.
    base, tokens = demo_server
    findings = []
    for role in ("admin", "facility"):
        result = run_schemathesis(base, tokens[role], tmp_path)
        if result.returncode != 0:  # what it found, with a curl line for each
            found = result.stdout.find("FAILURES")
            report = result.stdout[found:][:40000] if found >= 0 else result.stdout[-6000:]
            findings.append(f"with the {role} token (exit {result.returncode}):\n{report}{result.stderr[-3000:]}")
    assert not findings, "\n".join(findings)
