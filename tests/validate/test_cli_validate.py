"""`finrep validate`: text tables grouped by file and rule, JSON, exit codes, errors without a
traceback."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from finrep.cli.app import app

ENV = {"NO_COLOR": "1", "COLUMNS": "200"}


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), env=ENV)


def test_clean_folder_text(case_data):
    data = case_data(None)
    result = invoke("validate", "--data", str(data))
    assert result.exit_code == 0
    assert result.stdout.strip() == f"No problems found in {data}."


def test_text_groups_by_file_and_rule(case_data):
    data = case_data("out_of_range")
    result = invoke("validate", "--data", str(data))
    assert result.exit_code == 0  # warnings only
    out = result.stdout
    # One table per file, in schema order, titled by the file name.
    assert (
        out.index("customers.csv")
        < out.index("service_interactions.csv")
        < out.index("engagement.csv")
    )
    assert "date-before-1900" in out and "1850-12-31" in out
    assert "`satisfaction_score` = 7.00 is above 5" in out
    assert out.strip().splitlines()[-1].startswith("Warnings only: 0 error(s) and 3 warning(s)")


def test_text_shows_more_line_and_counts_all_rows(case_data, tmp_path):
    data = case_data(None)
    rows = [f"C1{n:02d},X,Y,1980-01-01,2024-01-01,Gold,,,,Town,NY" for n in range(25)]
    with (data / "customers.csv").open("a") as fh:
        fh.write("\n".join(rows) + "\n")
    config = tmp_path / "finrep.toml"
    config.write_text("[validate]\nmax_rows_per_rule = 2\n")
    result = invoke("--config", str(config), "validate", "--data", str(data))
    assert result.exit_code == 1
    out = result.stdout
    assert "+23 more" in out
    assert "`customer_segment` = `Gold` is not one of" in out
    # The rule and severity are shown once per group.
    assert out.count("unknown-value") == 1
    assert "Errors found: 25 error(s) and 0 warning(s) in 1 file(s)" in out


def test_json_shape_and_exit_code(case_data):
    data = case_data("duplicate_key")
    result = invoke("validate", "--data", str(data), "--format", "json")
    assert result.exit_code == 1
    (finding,) = json.loads(result.stdout)
    assert finding == {
        "file": "customers.csv",
        "rule": "duplicate-key",
        "severity": "error",
        "row": 5,
        "column": "customer_id",
        "value": "C002",
        "message": "customers.csv row 5: customer_id `C002` is already on row 3; each row needs "
        "its own key (remove or renumber the duplicate)",
    }


def test_json_of_a_clean_folder_is_an_empty_list(case_data):
    result = invoke("validate", "--data", str(case_data(None)), "--format", "JSON")
    assert (result.exit_code, json.loads(result.stdout)) == (0, [])


def test_unknown_format_is_a_usage_error(case_data):
    result = invoke("validate", "--data", str(case_data(None)), "--format", "xml")
    assert result.exit_code == 2


def test_missing_folder_is_an_error_without_traceback(tmp_path):
    result = invoke("validate", "--data", str(tmp_path / "nope"))
    assert result.exit_code == 1
    assert "Error:" in result.stderr and "data folder not found" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_data_folder_defaults_to_config(case_data, tmp_path):
    data = case_data("status_contradiction")
    config = tmp_path / "finrep.toml"
    config.write_text(f'[data]\ndir = "{data}"\n')
    result = invoke("--config", str(config), "validate", "--format", "json")
    assert result.exit_code == 0
    assert [f["rule"] for f in json.loads(result.stdout)] == ["status-contradiction"]
