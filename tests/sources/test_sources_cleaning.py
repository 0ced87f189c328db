"""The cleaning rules (sources.py docstring) on real DuckDB: trimming, enum case, numbers with
separators and currency signs, blanks and NaN, whole numbers, one date format per column."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from finrep.engine import execute
from finrep.sources import DATE_FORMATS, ISO, load

HEADER = (
    "product_id,product_name,product_category,launch_date,min_investment,"
    "annual_fee_percentage,management_fee_fixed,risk_level,active_status\n"
)


def load_products(case_data, rows: list[str]):  # type: ignore[no-untyped-def]
    data = case_data(None)
    (data / "products.csv").write_text(HEADER + "\n".join(rows) + "\n")
    return execute(load(data)["products"].order_by("product_id"))


def values(frame: pd.DataFrame, column: str) -> list:
    return [None if pd.isna(v) else v for v in frame[column]]


def test_text_is_trimmed_and_enums_take_the_schema_spelling(case_data):
    frame = load_products(
        case_data,
        [
            " P01 ,  Alpha  ,etf,2015-01-01,100,0.9,0, high ,ACTIVE",
            "P02,Beta,bond fund,2016-03-01,500,0.4,25,medium-low,inactive",
            "P03,Gamma,Crypto,2016-03-01,500,0.4,25,Low,Active",
        ],
    )
    assert values(frame, "product_id") == ["P01", "P02", "P03"]
    assert values(frame, "product_name") == ["Alpha", "Beta", "Gamma"]
    assert values(frame, "product_category") == ["ETF", "Bond Fund", "Crypto"]  # unknown kept
    assert values(frame, "risk_level") == ["High", "Medium-Low", "Low"]
    assert values(frame, "active_status") == ["Active", "Inactive", "Active"]


def test_numbers(case_data):
    frame = load_products(
        case_data,
        [
            'P01,A,ETF,2015-01-01,"1,234.56",2.5%,$0.00,High,Active',
            'P02,B,ETF,2015-01-01,"$12,500",-1.5,€ 3,High,Active',
            "P03,C,ETF,2015-01-01,,NaN,N/A,High,Active",
            'P04,D,ETF,2015-01-01,"1.234,56",inf,12abc,High,Active',
            'P05,E,ETF,2015-01-01,"12,34",1e2, 7 ,High,Active',
        ],
    )
    assert values(frame, "min_investment") == [1234.56, 12500.0, None, None, None]
    assert values(frame, "annual_fee_percentage") == [2.5, -1.5, None, None, 100.0]
    assert values(frame, "management_fee_fixed") == [0.0, 3.0, None, None, 7.0]


def test_whole_numbers(case_data):
    data = case_data(None)
    (data / "advisors.csv").write_text(
        "advisor_id,first_name,last_name,office_location,certification_level,years_experience,"
        "customer_satisfaction_avg,clients_count\n"
        "A01,G,H,,Senior,12.0,4.1,2\n"
        'A02,I,J,,Senior,12.5,4.1,"1,200"\n'
        "A03,K,L,,Senior,,,3\n"
    )
    frame = execute(load(data)["advisors"].order_by("advisor_id"))
    assert values(frame, "years_experience") == [12, None, None]
    assert values(frame, "clients_count") == [2, 1200, 3]
    assert values(frame, "customer_satisfaction_avg") == [4.1, 4.1, None]
    assert values(frame, "office_location") == [None, None, None]  # blank → null


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["2024-01-31", "2024-02-29 00:00:00"], [dt.date(2024, 1, 31), dt.date(2024, 2, 29)]),
        (["31/01/2024", "29/02/2024"], [dt.date(2024, 1, 31), dt.date(2024, 2, 29)]),  # DD/MM
        (["01/31/2024", "2/29/2024"], [dt.date(2024, 1, 31), dt.date(2024, 2, 29)]),  # MM/DD
        (["31.01.2024", "29.02.2024"], [dt.date(2024, 1, 31), dt.date(2024, 2, 29)]),
        (["2024/01/31", "2024/02/29"], [dt.date(2024, 1, 31), dt.date(2024, 2, 29)]),
        # Mixed: ISO is read, the other value is null (validate reports it), never guessed.
        (["2024-01-31", "02/29/2024"], [dt.date(2024, 1, 31), None]),
        # The same day and month either way: no ambiguity in the result.
        (["01/01/2024", "02/02/2024"], [dt.date(2024, 1, 1), dt.date(2024, 2, 2)]),
    ],
)
def test_one_date_format_per_column(case_data, texts, expected):
    data = case_data(None)
    lines = (data / "market_data.csv").read_text().splitlines()
    rows = [f"{t},4800.5,100.2,3.1,8.5,3.7" for t in texts]
    (data / "market_data.csv").write_text("\n".join([lines[0], *rows]) + "\n")
    frame = execute(load(data)["market_data"])
    got = [None if pd.isna(v) else pd.Timestamp(v).date() for v in frame["date"]]
    assert got == expected


def test_date_formats_are_labelled():
    labels = [f[0] for f in DATE_FORMATS]
    assert ISO == "YYYY-MM-DD" and "DD/MM/YYYY" in labels and "MM/DD/YYYY" in labels
    assert len(set(labels)) == len(labels)


def test_parquet_text_is_cleaned_too(case_data):
    import duckdb

    data = case_data(None)
    duckdb.connect().execute(
        f"COPY (SELECT * REPLACE (' high' AS risk_level, '' AS product_name) FROM "
        f"read_csv('{data / 'products.csv'}', all_varchar=true)) TO "
        f"'{data / 'products.parquet'}' (FORMAT parquet)"
    )
    (data / "products.csv").unlink()
    frame = execute(load(data)["products"].order_by("product_id"))
    assert values(frame, "risk_level") == ["High", "High"]
    assert values(frame, "product_name") == [None, None]
    assert values(frame, "min_investment") == [100.0, 500.0]  # text numbers in Parquet
    assert [pd.Timestamp(v).date() for v in frame["launch_date"]] == [
        dt.date(2015, 1, 1), dt.date(2016, 3, 1)
    ]  # fmt: skip
