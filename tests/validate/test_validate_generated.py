"""Generated data validates clean (CSV, Parquet, partitioned Parquet); Parquet sources get the
same findings and row numbers as CSV; a large number of bad rows is counted exactly while the
listing stays capped."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from finrep.config import load_config
from finrep.synth import generate
from finrep.validate import has_errors, validate


def test_generated_csv_is_clean(small_data):
    assert validate(small_data) == []


def test_generated_parquet_is_clean(small_parquet):
    assert validate(small_parquet) == []


@pytest.mark.slow
def test_generated_partitioned_parquet_is_clean(tmp_path):
    out = tmp_path / "part"
    generate(out, customers=150, start="2022-01", end="2024-06", seed=3, format="parquet",
             partition=True)  # fmt: skip
    assert (out / "account_balances").is_dir()
    assert validate(out) == []


def _to_parquet(csv: Path, parquet: Path, sql_select: str = "*") -> None:
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT {sql_select} FROM read_csv('{csv}', header=true)) TO '{parquet}' "
        "(FORMAT parquet)"
    )


def test_parquet_rows_are_numbered_like_csv(case_data):
    csv_dir = case_data("orphan_keys")
    pq_dir = case_data("orphan_keys")
    for name in ("enrollments", "engagement", "account_balances"):
        _to_parquet(pq_dir / f"{name}.csv", pq_dir / f"{name}.parquet")
        (pq_dir / f"{name}.csv").unlink()
    from_csv = [(f.rule, f.row, f.column, f.value) for f in validate(csv_dir)]
    from_parquet = [(f.rule, f.row, f.column, f.value) for f in validate(pq_dir)]
    assert from_csv == from_parquet == [
        ("orphan-key", 5, "customer_id", "C999"),
        ("orphan-key", 9, "customer_id, product_id", "C003, P02"),
        ("orphan-key", 4, "customer_id", "C404"),
    ]  # fmt: skip


def test_parquet_value_checks_beyond_statistics(case_data):
    """Negative balance and a duplicate id in a typed Parquet file (statistics show the minimum
    below 0; the id bitmap finds the duplicate)."""
    data = case_data("negative_balance")
    text = (data / "account_balances.csv").read_text().replace("B006,", "B003,")
    (data / "account_balances.csv").write_text(text)
    _to_parquet(data / "account_balances.csv", data / "account_balances.parquet")
    (data / "account_balances.csv").unlink()
    got = [(f.file, f.rule, f.row) for f in validate(data)]
    assert ("account_balances.parquet", "out-of-range", 5) in got
    assert ("account_balances.parquet", "duplicate-key", 7) in got


def test_folder_may_mix_csv_and_parquet(case_data):
    data = case_data(None)
    for name in ("customers", "account_balances"):
        _to_parquet(data / f"{name}.csv", data / f"{name}.parquet")
        (data / f"{name}.csv").unlink()
    assert validate(data) == []


def test_csv_and_parquet_side_by_side_is_a_warning(case_data):
    data = case_data(None)
    _to_parquet(data / "products.csv", data / "products.parquet")
    findings = validate(data)
    assert [(f.file, f.rule, f.severity) for f in findings] == [
        ("products.parquet", "several-files", "warning")
    ]


def test_many_bad_rows_are_counted_and_capped(case_data, tmp_path):
    """50,000 engagement rows: every 2nd has an unknown device, every 5th a customer that does
    not exist, and ids repeat every 10,000 rows. Counts are exact; each listing stays at 3."""
    data = case_data(None)
    n = 50_000
    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT 'G' || lpad(((i % 10000) + 1)::VARCHAR, 5, '0') AS engagement_id,
                   CASE WHEN i % 5 = 0 THEN 'C404' ELSE 'C001' END AS customer_id,
                   DATE '2024-02-10' AS date, 'Login' AS action_type,
                   CASE WHEN i % 2 = 0 THEN 'Fax Machine' ELSE 'Desktop' END AS device_type,
                   5.5 AS session_duration, 3 AS pages_viewed, 1 AS actions_taken
            FROM range({n}) t(i)) TO '{data / "engagement.csv"}' (HEADER, DELIMITER ',')"""
    )
    config = load_config().with_overrides(validate={"max_rows_per_rule": 3})
    findings = validate(data, config)
    assert has_errors(findings)
    by_rule: dict[str, list] = {}
    for f in findings:
        by_rule.setdefault(f.rule, []).append(f)
    # Unknown devices: rows i = 0, 2, 4 … (record number i + 2): 25,000 in all.
    assert [f.row for f in by_rule["unknown-value"]] == [2, 4, 6, None]
    assert by_rule["unknown-value"][-1].message == "+24,997 more"
    # Orphans: i = 0, 5, 10 …: 10,000 rows.
    assert [f.row for f in by_rule["orphan-key"]] == [2, 7, 12, None]
    assert by_rule["orphan-key"][-1].message == "+9,997 more"
    # Duplicates: each id appears 5 times; the first repeat of G00001 is i = 10,000.
    assert [f.row for f in by_rule["duplicate-key"]] == [10_002, 10_003, 10_004, None]
    assert by_rule["duplicate-key"][-1].message == f"+{40_000 - 3:,} more"


def test_validate_reads_files_in_place(case_data):
    data = case_data(None)
    before = {p.name: p.stat().st_mtime_ns for p in data.iterdir()}
    validate(data)
    assert {p.name: p.stat().st_mtime_ns for p in data.iterdir()} == before
    shutil.rmtree(data)
