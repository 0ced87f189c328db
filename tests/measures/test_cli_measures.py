"""`finrep measures` on the hand-made `measures_tiny` dataset: the JSON contract (DESIGN.md),
CSV, the rich table, and errors (exit codes, messages without tracebacks)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from finrep.cli.app import app

DATA = str(Path(__file__).parents[1] / "fixtures" / "measures_tiny")
ENV = {"NO_COLOR": "1", "COLUMNS": "160"}
KEYS = [
    "aum", "aum_open", "new_money", "contributions", "withdrawals", "investment_returns",
    "fees", "net_flows", "reconciliation_residual", "fee_revenue", "avg_balance_per_customer",
    "active_customers", "new_customers", "churned_customers", "retention_rate",
    "products_per_customer", "avg_tenure_months", "return_period", "return_12m",
    "benchmark_return_12m", "excess_return_12m", "volatility_12m", "contacts",
    "avg_satisfaction", "csat_pct", "avg_handle_minutes", "fcr_rate", "issues_per_1000",
    "digital_active_users", "digital_engagement_rate", "mobile_adoption_rate", "sessions",
    "avg_session_minutes",
]  # fmt: skip


def run(*args):
    return CliRunner().invoke(app, ["measures", "--data", DATA, *args], env=ENV)


@pytest.fixture(scope="module")
def march_json():
    result = run("--period", "2024-03", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_document_shape(march_json):
    doc = march_json
    assert doc["period"] == {"start": "2024-03-01", "end": "2024-03-31", "label": "March 2024"}
    assert doc["comparison"]["previous"]["start"] == "2024-02-01"
    assert doc["comparison"]["last_year"]["end"] == "2023-03-31"
    assert doc["filters"] == {}
    assert doc["as_of"] == "2024-04-30"
    assert list(doc["kpis"]) == KEYS
    for kpi in doc["kpis"].values():
        assert list(kpi) == ["value", "previous", "last_year", "change", "change_pct"]


def test_json_numbers_are_unrounded_and_nulls_are_null(march_json):
    k = march_json["kpis"]
    assert k["aum"]["value"] == pytest.approx(17103.5)
    assert k["aum"]["previous"] == pytest.approx(18208)
    assert k["active_customers"]["value"] == 5 and isinstance(k["active_customers"]["value"], int)
    assert k["avg_handle_minutes"]["value"] == pytest.approx(101 / 7, rel=1e-15)
    assert k["aum_open"]["last_year"] is None  # February 2023: before the data
    assert k["new_money"]["change_pct"] is None  # previous was 0
    assert k["retention_rate"]["value"] == pytest.approx(0.8)


def test_json_with_filters():
    result = run("--period", "2024-03", "--format", "json", "--segment", "Affluent",
                 "--segment", "Mass Market", "--category", "Bond Fund")  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["filters"] == {"segment": ["Affluent", "Mass Market"], "category": ["Bond Fund"]}
    # Bond Fund positions of Affluent / Mass Market customers: C1·P2 (609), C4·P2 (803.5)
    assert doc["kpis"]["aum"]["value"] == pytest.approx(609 + 803.5)


def test_latest_is_the_default():
    result = run("--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["period"]["label"] == "April 2024"


def test_csv_one_row_per_kpi():
    result = run("--period", "2024-03", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["key"] for r in rows] == KEYS
    aum = rows[0]
    assert (aum["label"], aum["unit"]) == ("AUM", "currency")
    assert float(aum["value"]) == pytest.approx(17103.5)
    assert float(aum["change"]) == pytest.approx(17103.5 - 18208)
    assert rows[1]["last_year"] == ""  # not computable
    assert list(rows[0]) == [
        "key", "label", "unit", "value", "previous", "last_year", "change", "change_pct",
        "change_ly", "change_ly_pct",
    ]  # fmt: skip


def test_table():
    result = run("--period", "2024-03", "--format", "table")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "March 2024" in out
    assert "Previous (February 2024)" in out and "Last year (March 2023)" in out
    line = next(row for row in out.splitlines() if "Retention rate" in row)
    assert "80.0%" in line and "100.0%" in line and "▼ 20.0 pts" in line
    line = next(row for row in out.splitlines() if row.startswith("│ AUM "))
    assert "$17.1K" in line and "$18.2K" in line and "$10.0K" in line


def test_a_period_outside_the_data_is_an_error_naming_the_months():
    result = run("--period", "2019-05")
    assert result.exit_code == 1
    assert "Error:" in result.stderr and "2023-03 to 2024-04" in result.stderr
    assert "Traceback" not in result.output


def test_a_missing_folder_is_an_error(tmp_path):
    result = CliRunner().invoke(app, ["measures", "--data", str(tmp_path / "nothing")], env=ENV)
    assert result.exit_code == 1
    assert "Error:" in result.stderr and "nothing" in result.stderr


def test_an_unknown_format_is_a_usage_error():
    result = run("--format", "xml")
    assert result.exit_code == 2
