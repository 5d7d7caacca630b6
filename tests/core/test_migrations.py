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


def scratch_url(app, tmp_path) -> str:
    """A second, empty database of the same kind as the test database."""
    url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    name = f"{url.database}_migrations"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_from_empty_matches_the_models_and_downgrade_reaches_base(app, tmp_path):
    from agency.extensions import db

    url = scratch_url(app, tmp_path)
    flask(url, "upgrade")
    assert tables(url) == set(db.metadata.tables)
    assert "No new upgrade operations detected" in flask(url, "check")
    flask(url, "downgrade", "base")
    assert tables(url) == set()
    flask(url, "upgrade")
    assert tables(url) == set(db.metadata.tables)
