"""The generated files: names, exact columns in order, types, manifest, determinism."""

from __future__ import annotations

import csv
import hashlib
import json

import pyarrow.parquet as pq
import pytest

from finrep.synth import generate

TABLE_COLUMNS = {
    "customers": "customer_id,first_name,last_name,birth_date,enrollment_date,customer_segment,"
    "employer_id,email,phone,address_city,address_state",
    "products": "product_id,product_name,product_category,launch_date,min_investment,"
    "annual_fee_percentage,management_fee_fixed,risk_level,active_status",
    "enrollments": "enrollment_id,customer_id,product_id,enrollment_date,initial_investment,"
    "contribution_frequency,monthly_contribution,advisor_id,channel,status",
    "account_balances": "balance_id,customer_id,product_id,date,balance,contributions_mtd,"
    "withdrawals_mtd,investment_returns_mtd,fees_mtd",
    "service_interactions": "interaction_id,customer_id,date,channel,reason_code,"
    "duration_minutes,satisfaction_score,resolution_status,agent_id",
    "engagement": "engagement_id,customer_id,date,action_type,device_type,session_duration,"
    "pages_viewed,actions_taken",
    "advisors": "advisor_id,first_name,last_name,office_location,certification_level,"
    "years_experience,customer_satisfaction_avg,clients_count",
    "market_data": "date,sp500_index,bond_index,inflation_rate,prime_rate,unemployment_rate",
    "retention": "customer_id,product_id,churn_date,churn_reason,exit_survey_score,"
    "recovered_flag,total_customer_lifetime_value",
}
MONEY = {
    "products": ["min_investment", "management_fee_fixed"],
    "enrollments": ["initial_investment", "monthly_contribution"],
    "account_balances": ["balance", "contributions_mtd", "withdrawals_mtd",
                         "investment_returns_mtd", "fees_mtd"],
    "retention": ["total_customer_lifetime_value"],
}  # fmt: skip


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("table", sorted(TABLE_COLUMNS))
def test_csv_header_is_exactly_the_seed_columns(small_data, table):
    with (small_data / f"{table}.csv").open(newline="") as fh:
        header = next(csv.reader(fh))
    assert header == TABLE_COLUMNS[table].split(",")


@pytest.mark.parametrize("table", sorted(TABLE_COLUMNS))
def test_parquet_columns_and_types(small_parquet, table):
    schema = pq.read_schema(small_parquet / f"{table}.parquet")
    assert schema.names == TABLE_COLUMNS[table].split(",")
    types = {f.name: str(f.type) for f in schema}
    for name in MONEY.get(table, []):
        assert types[name] == "double"
    for name in ("date", "birth_date", "enrollment_date", "launch_date", "churn_date"):
        if name in types:
            assert types[name] == "date32[day]"
    for name in ("pages_viewed", "actions_taken", "years_experience", "clients_count"):
        if name in types:
            assert types[name] == "int64"


def test_every_table_has_rows(small_data):
    for table in TABLE_COLUMNS:
        with (small_data / f"{table}.csv").open() as fh:
            assert sum(1 for _ in fh) > 1, table


@pytest.mark.parametrize("table", sorted(MONEY))
def test_money_has_exactly_two_decimals_in_csv(small_data, table):
    with (small_data / f"{table}.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            for col in MONEY[table]:
                value = row[col]
                if value:
                    whole, _, frac = value.lstrip("-").partition(".")
                    assert whole.isdigit() and len(frac) == 2 and frac.isdigit(), (col, value)


def test_csv_and_parquet_hold_the_same_data(small_data, small_parquet):
    import pandas as pd

    for table in TABLE_COLUMNS:
        from_csv = pd.read_csv(small_data / f"{table}.csv", dtype=str, keep_default_na=False)
        from_pq = pq.read_table(small_parquet / f"{table}.parquet").to_pandas()
        assert len(from_csv) == len(from_pq), table
        for col in MONEY.get(table, []):
            cents_csv = (from_csv[col].astype(float) * 100).round().astype("int64")
            cents_pq = (from_pq[col] * 100).round().astype("int64")
            assert (cents_csv.values == cents_pq.values).all(), (table, col)
        first = TABLE_COLUMNS[table].split(",")[0]
        assert list(from_csv[first]) == [str(v) for v in from_pq[first]], table


def test_manifest_lists_options_counts_and_hashes(small_data):
    manifest = json.loads((small_data / "manifest.json").read_text())
    assert manifest["options"] == {"customers": 300, "start": "2021-01", "end": "2024-12",
                                   "seed": 7, "format": "csv", "partition": False}  # fmt: skip
    assert manifest["seed"] == 7
    assert manifest["finrep_version"]
    assert set(manifest["row_counts"]) == set(TABLE_COLUMNS)
    assert manifest["row_counts"]["customers"] == 300
    by_path = {f["path"]: f for f in manifest["files"]}
    assert set(by_path) == {f"{t}.csv" for t in TABLE_COLUMNS}
    for path, entry in by_path.items():
        assert entry["sha256"] == _sha(small_data / path)
        lines = (small_data / path).read_bytes().count(b"\n")
        assert manifest["row_counts"][entry["table"]] == lines - 1


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_options_give_byte_identical_files(tmp_path, fmt):
    options = {"customers": 120, "start": "2023-01", "end": "2024-06", "seed": 3, "format": fmt}
    generate(tmp_path / "a", **options)
    generate(tmp_path / "b", **options)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert len(names) == 10
    for name in names:
        assert _sha(tmp_path / "a" / name) == _sha(tmp_path / "b" / name), name


def test_another_seed_gives_other_data(tmp_path):
    options = {"customers": 80, "start": "2023-01", "end": "2024-06"}
    generate(tmp_path / "a", seed=1, **options)
    generate(tmp_path / "b", seed=2, **options)
    for table in ("customers", "account_balances", "market_data", "engagement"):
        assert _sha(tmp_path / "a" / f"{table}.csv") != _sha(tmp_path / "b" / f"{table}.csv")


def test_partitioned_balances_read_back_whole(tmp_path):
    import duckdb

    out = tmp_path / "p"
    manifest = generate(out, customers=60, start="2024-01", end="2024-06", seed=5,
                        format="parquet", partition=True)  # fmt: skip
    folder = out / "account_balances"
    assert folder.is_dir() and not (out / "account_balances.parquet").exists()
    months = sorted(p.name for p in folder.iterdir())
    assert months == [f"year_month=2024-0{m}" for m in range(1, 7)]
    rows = duckdb.sql(
        f"select year_month, strftime(date, '%Y-%m') as ym, count(*) as n "
        f"from read_parquet('{folder}/**/*.parquet', hive_partitioning = true) group by all"
    ).fetchall()
    assert all(str(ym) == ym2 for ym, ym2, _ in rows)
    assert sum(n for *_, n in rows) == manifest["row_counts"]["account_balances"]
    listed = [f["path"] for f in manifest["files"] if f["table"] == "account_balances"]
    assert listed == [f"account_balances/{m}/part-0.parquet" for m in months]
