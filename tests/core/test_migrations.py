"""The migrations build the whole schema from empty, match the models, and go back down to nothing."""

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from agency import ROOT

FLASK = Path(sys.executable).with_name("flask")


def flask(url: str, *args: str) -> str:
    env = {**os.environ, "AGENCY_DATABASE_URL": url}
    result = subprocess.run([str(FLASK), "--app", "wsgi", "db", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_from_empty_matches_the_models_and_downgrade_reaches_base(app, scratch_url):
    from agency.extensions import db

    url = scratch_url
    flask(url, "upgrade")
    assert tables(url) == set(db.metadata.tables)
    assert "No new upgrade operations detected" in flask(url, "check")
    flask(url, "downgrade", "base")
    assert tables(url) == set()
    flask(url, "upgrade")
    assert tables(url) == set(db.metadata.tables)
