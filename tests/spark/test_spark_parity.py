"""Parity: `finrep measures --format json` on Spark (local[2]) equals DuckDB's, KPI by KPI,
for several periods and filters over one generated dataset read as CSV, Parquet and
partitioned Parquet. Money within 1 cent, everything else within 1e-9.

The CLI runs in this process (CliRunner), so every Spark run reuses the one Spark session
started by the `spark_session` fixture.
"""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from typer.testing import CliRunner

from finrep.cli.app import app

pytestmark = [pytest.mark.spark, pytest.mark.slow]

MONEY_TOLERANCE = 0.01
RATE_TOLERANCE = 1e-9

# (data fixture, period, filter options): every period form and every kind of filter.
CASES = [
    ("small_parquet", "latest", []),
    ("small_data", "2024-Q2", ["--segment", "Affluent", "--segment", "High Net Worth"]),
    (
        "small_partitioned",
        "2023",
        ["--region", "West", "--region", "South", "--category", "ETF", "--category", "Bond Fund"],
    ),  # fmt: skip
    (
        "small_parquet",
        "2024-01..2024-06",
        ["--age-band", "45-59", "--channel", "Phone", "--device", "Mobile Phone"],
    ),  # fmt: skip
]


def _invoke(args: list[str]) -> str:
    result = CliRunner().invoke(app, args, env={"NO_COLOR": "1", "COLUMNS": "120"})
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.stdout


@pytest.fixture(scope="module")
def units(small_parquet, spark_config_file) -> dict[str, str]:
    """Each KPI's unit, from `finrep measures --format csv` (metadata, not a result)."""
    out = _invoke(["--engine", "duckdb", "measures", "--data", str(small_parquet),
                   "--format", "csv"])  # fmt: skip
    return {row["key"]: row["unit"] for row in csv.DictReader(io.StringIO(out))}


def _close(a: float | None, b: float | None, tolerance: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=0, abs_tol=tolerance)


@pytest.mark.parametrize(("data", "period", "filters"), CASES, ids=[c[1] for c in CASES])
def test_measures_json_equal_on_spark_and_duckdb(
    request, spark_session, spark_config_file, units, data, period, filters
):
    folder = request.getfixturevalue(data)
    args = ["measures", "--data", str(folder), "--format", "json", "--period", period, *filters]
    duck = json.loads(_invoke(["--config", str(spark_config_file), "--engine", "duckdb", *args]))
    spark = json.loads(_invoke(["--config", str(spark_config_file), *args]))  # engine = spark

    for part in ("period", "comparison", "filters", "as_of"):
        assert spark[part] == duck[part], part
    assert set(spark["kpis"]) == set(duck["kpis"]) == set(units)
    # The case must exercise something: most KPIs have a value.
    assert sum(k["value"] is not None for k in duck["kpis"].values()) >= len(units) // 2

    mismatches = []
    for key, fields in duck["kpis"].items():
        for name, expected in fields.items():
            money = units[key] == "currency" and name in ("value", "previous", "last_year",
                                                          "change")  # fmt: skip
            tolerance = MONEY_TOLERANCE if money else RATE_TOLERANCE * max(1, abs(expected or 0))
            got = spark["kpis"][key][name]
            if not _close(expected, got, tolerance):
                mismatches.append(f"{key}.{name}: duckdb {expected!r}, spark {got!r}")
    assert not mismatches, "\n".join(mismatches)
