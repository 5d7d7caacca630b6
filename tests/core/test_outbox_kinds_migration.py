"""Migration 0016 gives the mail queued before kinds existed the kind its dedupe key names."""

import sqlalchemy as sa

from tests.core.test_migrations import flask


def test_mail_queued_before_kinds_gets_the_kind_its_key_names(scratch_url):
    url = scratch_url
    flask(url, "upgrade", "0014")
    engine = sa.create_engine(url)
    keys = {"reminder:license:7:2026-12-25:30:therapist": "credential", "invoice:INV-2026-00001": "billing",
            "dunning:INV-2026-00001:first": "billing", "assignment-alert:3:9": "placement",
            "checkin-concern:4:admin@agency.example": "placement", None: "account"}
    try:
        with engine.begin() as conn:
            for n, key in enumerate(keys):
                conn.execute(sa.text("INSERT INTO outbox_messages (to_addr, subject, body, dedupe_key, attempts, "
                                     "created_at) VALUES (:to, :subject, 'Body.', :key, 0, CURRENT_TIMESTAMP)"),
                             {"to": f"someone{n}@example.org", "subject": f"Message {n}", "key": key})
        flask(url, "upgrade", "0016")
        with engine.connect() as conn:
            kinds = dict(conn.execute(sa.text("SELECT dedupe_key, kind FROM outbox_messages")).all())
        assert kinds == keys
        flask(url, "downgrade", "0014")
        with engine.connect() as conn:
            assert "kind" not in {c["name"] for c in sa.inspect(conn).get_columns("outbox_messages")}
    finally:
        engine.dispose()
