"""Invoice runs and dunning from the command line."""

import json
from datetime import date

from tests import factories


def test_the_cli_invoices_a_period_once_and_runs_the_schedule_and_dunning(app):
    place = factories.facility()
    factories.rate_card(place)
    factories.entry(factories.active_placement(place), date(2026, 10, 5))
    runner = app.test_cli_runner()
    first = runner.invoke(args=["billing", "invoice", "--period-start", "2026-10-01", "--period-end", "2026-10-31"])
    assert first.exit_code == 0 and len(json.loads(first.stdout)["invoice_ids"]) == 1
    again = runner.invoke(args=["billing", "invoice", "--period-start", "2026-10-01", "--period-end", "2026-10-31"])
    assert json.loads(again.stdout)["invoice_ids"] == []
    backwards = runner.invoke(args=["billing", "invoice", "--period-start", "2026-10-31",
                                    "--period-end", "2026-10-01"])
    assert backwards.exit_code != 0 and "must not be before period_start" in backwards.output
    beyond = runner.invoke(args=["billing", "invoice", "--period-start", "2026-11-01", "--period-end", "2027-01-31"])
    assert beyond.exit_code != 0 and "must not be after the end of this month" in beyond.output
    assert runner.invoke(args=["billing", "schedule", "--as-of", factories.TODAY.isoformat()]).exit_code == 0
    dunning = runner.invoke(args=["billing", "dunning", "--as-of", "2026-12-22"])
    assert json.loads(dunning.stdout)["sent"][0]["level"] == "courtesy"
