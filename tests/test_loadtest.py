"""`flask loadtest` drives a real server on a scratch database, reports each kind of request, checks the ledger."""

import re

import pytest

from agency.loadtest import loopback_url, percentile

KINDS = ("login", "page", "record hours", "approve hours", "invoice run", "credential scan")


def test_a_short_load_test_reports_every_kind_of_request_and_a_sound_ledger(app, scratch_url):
    # Four users, two pairs of them racing the day limit: the ledger must still come out sound.
    result = app.test_cli_runner().invoke(args=["loadtest", "--users", "4", "--seconds", "3",
                                                "--database-url", scratch_url])
    assert result.exit_code == 0, result.output
    rows = {match[1].strip(): match for match in re.finditer(
        r"^([a-z ]+?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$", result.output, re.M)}
    for kind in (*KINDS, "all"):
        assert kind in rows, result.output
        assert int(rows[kind][2]) >= 1 and rows[kind][5] == "0", rows[kind][0]
    assert int(rows["all"][2]) == sum(int(row[2]) for kind, row in rows.items() if kind != "all")
    assert "ledger: sound" in result.output and "server error" not in result.output

    again = app.test_cli_runner().invoke(args=["loadtest", "--seconds", "1", "--database-url", scratch_url])
    assert again.exit_code != 0 and "empty scratch database" in again.output


@pytest.mark.parametrize("url", ["http://10.0.0.5:5000", "http://example.org", "http://192.168.1.2"])
def test_the_load_test_sends_traffic_to_this_machine_only(app, url):
    result = app.test_cli_runner().invoke(args=["loadtest", "--url", url, "--database-url", "sqlite://"])
    assert result.exit_code == 2 and "only loopback addresses" in result.output
    assert loopback_url("http://localhost:5000/") == "http://localhost:5000"
    assert loopback_url("http://[::1]:8080") == "http://[::1]:8080"


def test_percentiles_are_nearest_rank():
    seconds = [n / 100 for n in range(1, 101)]
    assert (percentile(seconds, 0.50), percentile(seconds, 0.95), percentile(seconds, 0.99)) == (0.5, 0.95, 0.99)
    assert percentile([0.2], 0.99) == 0.2
