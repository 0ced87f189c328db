"""`finrep.sources`: files in real-world layouts load as typed tables; what cannot load raises
DataError naming file and column. Expected values are read off the fixture files by hand."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from finrep.engine import connect, execute
from finrep.errors import DataError
from finrep.pack import SourceFile
from finrep.schema import TABLES
from finrep.sources import Tables, load, load_tables, source_files

SCHEMA_TYPES = {"string": "string", "date": "date", "int64": "int64", "float64": "float64"}


def column(tables: Tables, table: str, name: str, order: str) -> list:
    return execute(tables[table].order_by(order)[name]).tolist()


def test_tables_are_typed_per_schema(case_data):
    tables = load(case_data(None))
    assert set(tables.tables) == set(TABLES)
    for name, spec in TABLES.items():
        schema = tables[name].schema()
        assert tuple(schema.names) == spec.column_names
        for col in spec.columns:
            assert str(schema[col.name]).rstrip("?").lower() == SCHEMA_TYPES[col.dtype], (
                name,
                col.name,
            )


def test_tables_keep_connection_folder_and_files(case_data):
    data = case_data(None)
    con = connect()
    tables = load_tables(con, data)
    assert tables.con is con
    assert tables.data_dir == data
    assert tables.files["customers"] == data / "customers.csv"
    assert execute(tables["customers"].count()) == 3


def test_bom_and_crlf(case_data):
    tables = load(case_data("bom_crlf"))
    assert column(tables, "customers", "customer_id", "customer_id") == ["C001", "C002", "C003"]
    assert column(tables, "customers", "address_state", "customer_id") == ["NY", "CA", "TX"]


def test_latin1(case_data):
    tables = load(case_data("latin1"))
    assert column(tables, "customers", "first_name", "customer_id")[0] == "Zoë"
    assert column(tables, "customers", "last_name", "customer_id")[0] == "Müller"


def test_semicolon_and_tab_delimiters(case_data):
    tables = load(case_data("semicolon_tab"))
    assert column(tables, "products", "annual_fee_percentage", "product_id") == [0.9, 0.4]
    assert column(tables, "engagement", "device_type", "engagement_id") == [
        "Desktop",
        "Mobile Phone",
    ]


def test_quoted_newlines_are_one_record(case_data):
    tables = load(case_data("quoted_newlines"))
    offices = column(tables, "advisors", "office_location", "advisor_id")
    assert offices == ["Suite 4,\nAlbany, NY", "Austin, TX"]
    years = column(tables, "advisors", "years_experience", "advisor_id")
    assert years[0] == 12 and pd.isna(years[1])  # "ten" is not a number: null


def test_header_names_order_and_extra_columns(case_data):
    data = case_data(None)
    # Shuffled order, odd case and spaces, an extra column.
    (data / "products.csv").write_text(
        " Risk_Level ,PRODUCT_ID,product_name,product_category,launch_date,min_investment,"
        "annual_fee_percentage,management_fee_fixed,active_status,Comment\n"
        "High,P01,Alpha Equity ETF,ETF,2015-01-01,100,0.9,0,Active,x\n"
        "Low,P02,Beta Bond Fund,Bond Fund,2016-03-01,500,0.4,25,Active,y\n"
    )
    tables = load(data)
    assert tables["products"].columns == TABLES["products"].column_names
    assert column(tables, "products", "risk_level", "product_id") == ["High", "Low"]


def test_both_formats_present_parquet_wins(case_data):
    data = case_data(None)
    duckdb.connect().execute(
        f"COPY (SELECT * REPLACE ('Zed' AS product_name) FROM read_csv('{data / 'products.csv'}'))"
        f" TO '{data / 'products.parquet'}' (FORMAT parquet)"
    )
    tables = load(data)
    assert tables.files["products"] == data / "products.parquet"
    assert set(column(tables, "products", "product_name", "product_id")) == {"Zed"}


def test_parquet_folder_of_parts(case_data):
    data = case_data(None)
    folder = data / "account_balances"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT *, strftime(date::DATE, '%Y-%m') AS year_month FROM "
        f"read_csv('{data / 'account_balances.csv'}')) TO '{folder}' "
        "(FORMAT parquet, PARTITION_BY (year_month))"
    )
    (data / "account_balances.csv").unlink()
    tables = load(data)
    assert tables.files["account_balances"] == folder
    assert tables["account_balances"].columns == TABLES["account_balances"].column_names
    assert column(tables, "account_balances", "balance", "balance_id") == [
        1045.5, 1110.25, 1150.0, 501.2, 0.0, 2010.0, 2085.0,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "pattern"),
    [
        ("missing_file", r"engagement\.csv: file not found"),
        ("empty_file", r"customers\.csv: the file is empty \(0 bytes\)"),
        ("missing_column", r"customers\.csv: missing column `birth_date` \(found: customer_id"),
        ("duplicate_header", r"products\.csv: column `risk_level` appears 2 times"),
        ("wrong_delimiter", r"advisors\.csv: expected 8 columns, found 1"),
        ("ambiguous_dates", r"market_data\.csv: column `date` reads as both MM/DD/YYYY and DD/MM"),
    ],
)
def test_structural_problems_raise_data_error(case_data, case, pattern):
    with pytest.raises(DataError, match=pattern):
        load(case_data(case))


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="data folder not found"):
        load(tmp_path / "absent")


def test_warnings_do_not_stop_loading(case_data):
    for case in ("status_contradiction", "after_close", "month_gap", "unknown_values"):
        tables = load(case_data(case))
        assert execute(tables["account_balances"].count()) >= 6


def test_source_files(case_data):
    data = case_data(None)
    duckdb.connect().execute(
        f"COPY (SELECT * FROM read_csv('{data / 'engagement.csv'}')) TO "
        f"'{data / 'engagement.parquet'}' (FORMAT parquet)"
    )
    (data / "engagement.csv").unlink()
    files = {f.table: f for f in source_files(load(data))}
    assert set(files) == set(TABLES)
    expected_rows = {"customers": 3, "products": 2, "advisors": 1, "market_data": 3,
                     "enrollments": 3, "account_balances": 7, "service_interactions": 2,
                     "engagement": 2, "retention": 2}  # fmt: skip
    for name, f in files.items():
        assert isinstance(f, SourceFile)
        assert f.rows == expected_rows[name]
        assert f.sha256 == hashlib.sha256((data / f.path).read_bytes()).hexdigest()
    assert (files["engagement"].path, files["engagement"].format) == (
        "engagement.parquet",
        "parquet",
    )
    assert (files["customers"].path, files["customers"].format) == ("customers.csv", "csv")


def test_source_files_match_the_generator_manifest(small_parquet):
    manifest = json.loads((small_parquet / "manifest.json").read_text())
    files = {f.table: f for f in source_files(load(small_parquet))}
    assert {t: f.rows for t, f in files.items()} == manifest["row_counts"]
    hashes = {entry["table"]: entry["sha256"] for entry in manifest["files"]}
    assert {t: f.sha256 for t, f in files.items()} == hashes


@pytest.mark.slow
def test_csv_and_parquet_give_the_same_typed_tables(small_data, small_parquet):
    from_csv, from_parquet = load(small_data), load(small_parquet)
    for name, spec in TABLES.items():
        keys = list(spec.primary_key)
        a = execute(from_csv[name].order_by(keys))
        b = execute(from_parquet[name].order_by(keys))
        assert from_csv[name].schema() == from_parquet[name].schema(), name
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
        assert len(a) > 0, name


def test_dates_are_dates(case_data):
    tables = load(case_data(None))
    birth = column(tables, "customers", "birth_date", "customer_id")
    assert [pd.Timestamp(d).date() for d in birth] == [
        dt.date(1980, 6, 15), dt.date(1994, 4, 1), dt.date(1960, 12, 31)
    ]  # fmt: skip


def test_data_dir_path_types(case_data):
    data = case_data(None)
    assert load(str(data)).data_dir == Path(data)
