"""`flask bench` builds a scratch agency and reports every page and the invoice run."""


def test_bench_runs_on_a_scratch_database_and_reports_each_page(app, tmp_path):
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    result = app.test_cli_runner().invoke(args=["bench", "--therapists", "40", "--facilities", "4", "--weeks", "1",
                                                "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "(HTTP" not in result.output
    assert "/worklist" in result.output and "invoice run, all facilities" in result.output
    assert "4 invoices for" in result.output
    again = app.test_cli_runner().invoke(args=["bench", "--database-url", url])
    assert again.exit_code != 0 and "empty scratch database" in again.output
