"""Fact tables on a tiny hand-made dataset; every expected number is worked out by hand below.

Three customers, two products, a snapshot tie, a closed position, repeat contacts:

- C1 Affluent, CA (West), born 1980-05-01 (44 at E: 30-44): P1 via Web, enrolled 2024-09-15,
  and P2 via Web from 2024-11-15 (two open positions: one active customer).
- C2 Mass Market, NY (Northeast), born 1995-01-01 (29: Under 30): P1 via Phone (2024-10-10,
  500), P2 via Phone (2024-11-05, 2,000), churned 2024-11-20 (not recovered: closed).
- C3 Affluent, CA, born 1950-01-01 (60+): P2 In-person since 2023-01-01; two balance rows on
  2024-11-30 (B13 wins the tie over B12).

The pack is December 2024 with a 3-month trend window: October to December 2024.
"""

from __future__ import annotations

from datetime import date

import ibis
import pandas as pd
import pytest

from finrep.config import load_config
from finrep.errors import DataError
from finrep.filters import Filters
from finrep.measures import facts
from finrep.measures.context import MeasureContext
from finrep.measures.facts import fact_tables
from finrep.period import Period
from finrep.schema import TABLES
from finrep.sources import load_tables

PERIOD = Period(date(2024, 12, 1), date(2024, 12, 31))

ROWS = {
    "customers": [
        ("C1", "Ann", "Lee", "1980-05-01", "2024-09-15", "Affluent", "", "", "", "LA", "CA"),
        ("C2", "Bo", "Kim", "1995-01-01", "2024-10-10", "Mass Market", "", "", "", "NYC", "NY"),
        ("C3", "Cy", "Ray", "1950-01-01", "2023-01-01", "Affluent", "", "", "", "SF", "CA"),
    ],
    "products": [
        ("P1", "Alpha Fund", "ETF", "2020-01-01", "100", "0.5", "0", "High", "Active"),
        ("P2", "Beta Bonds", "Bond Fund", "2020-01-01", "100", "0.2", "0", "Low", "Active"),
    ],
    "advisors": [("A1", "Al", "Bo", "NYC, NY", "Senior", "5", "4.1", "3")],
    "market_data": [("2024-12-31", "5000", "100", "3.0", "8.5", "4.0")],
    "enrollments": [
        ("E1", "C1", "P1", "2024-09-15", "1000", "Monthly", "0", "A1", "Web", "Active"),
        ("E2", "C2", "P1", "2024-10-10", "500", "Monthly", "0", "A1", "Phone", "Active"),
        ("E3", "C2", "P2", "2024-11-05", "2000", "One-time", "0", "A1", "Phone", "Closed"),
        ("E4", "C3", "P2", "2023-01-01", "3000", "One-time", "0", "A1", "In-person", "Active"),
        ("E5", "C1", "P2", "2024-11-15", "400", "One-time", "0", "A1", "Web", "Active"),
    ],
    # balance_id, customer, product, date, balance, contributions, withdrawals, returns, fees
    "account_balances": [
        ("B01", "C1", "P1", "2024-09-30", "1010", "0", "0", "10", "0"),
        ("B02", "C1", "P1", "2024-10-15", "1050", "40", "0", "0", "0"),
        ("B03", "C1", "P1", "2024-10-31", "1100", "80", "0", "10", "0"),
        ("B04", "C1", "P1", "2024-11-30", "1120", "0", "0", "25", "5"),
        ("B05", "C1", "P1", "2024-12-31", "1130", "0", "0", "12", "2"),
        ("B06", "C2", "P1", "2024-10-31", "505", "0", "0", "5", "0"),
        ("B07", "C2", "P1", "2024-11-30", "600", "100", "0", "-5", "0"),
        ("B08", "C2", "P1", "2024-12-31", "590", "0", "10", "0", "0"),
        ("B09", "C2", "P2", "2024-11-20", "1990", "0", "0", "-10", "0"),
        ("B10", "C3", "P2", "2024-09-30", "3300", "0", "0", "0", "0"),
        ("B11", "C3", "P2", "2024-10-31", "3310", "0", "0", "10", "0"),
        ("B12", "C3", "P2", "2024-11-30", "3320", "0", "0", "10", "0"),
        ("B13", "C3", "P2", "2024-11-30", "3330", "0", "0", "20", "0"),
        ("B14", "C3", "P2", "2024-12-31", "3300", "0", "30", "0", "0"),
        ("B15", "C1", "P2", "2024-11-30", "400", "0", "0", "0", "0"),
        ("B16", "C1", "P2", "2024-12-31", "410", "0", "0", "10", "0"),
    ],
    "retention": [("C2", "P2", "2024-11-20", "Fee Concerns", "2", "No", "15")],
    # id, customer, date, channel, reason, minutes, score, status, agent
    "service_interactions": [
        ("S01", "C1", "2024-10-02", "Phone", "Account Inquiry", "10", "4", "Resolved", "G1"),
        ("S02", "C1", "2024-10-05", "Chat", "Account Inquiry", "6", "2", "Unresolved", "G1"),
        ("S03", "C2", "2024-11-10", "Phone", "Complaint", "20", "", "Resolved", "G1"),
        ("S04", "C3", "2024-09-28", "Phone", "Fee Inquiry", "5", "5", "Resolved", "G1"),
        ("S05", "C3", "2024-10-03", "Phone", "Fee Inquiry", "8", "3", "Resolved", "G1"),
        ("S06", "C3", "2024-12-20", "Email", "Fee Inquiry", "7", "5", "Resolved", "G1"),
    ],
    # id, customer, date, action, device, minutes, pages, actions
    "engagement": [
        ("G01", "C1", "2024-10-01", "Login", "Desktop", "5.0", "3", "1"),
        ("G02", "C1", "2024-10-20", "Login", "Desktop", "7.0", "5", "2"),
        ("G03", "C3", "2024-10-21", "Login", "Desktop", "3.0", "1", "1"),
        ("G04", "C2", "2024-12-01", "View Balance", "Mobile Phone", "2.5", "2", "0"),
        ("G05", "C2", "2024-08-01", "Login", "Desktop", "1.0", "1", "1"),
    ],
}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("facts_tiny")
    for name, rows in ROWS.items():
        frame = pd.DataFrame(rows, columns=list(TABLES[name].column_names))
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def config():
    return load_config().with_overrides(report={"trend_months": 3})


def _facts(tiny_dir, config, filters=None):
    tables = load_tables(ibis.duckdb.connect(), tiny_dir)
    ctx = MeasureContext(tables, filters or Filters(), config, PERIOD.end)
    return fact_tables(ctx, PERIOD, config)


@pytest.fixture(scope="module")
def tiny(tiny_dir, config):
    return _facts(tiny_dir, config)


def _rows(frame: pd.DataFrame, columns: list[str]) -> set[tuple]:
    out = set()
    for rec in frame[columns].itertuples(index=False):
        out.add(tuple(v.date() if isinstance(v, pd.Timestamp) else v for v in rec))
    return out


OCT, NOV, DEC = date(2024, 10, 1), date(2024, 11, 1), date(2024, 12, 1)


def test_positions_by_hand(tiny):
    f = tiny["fact_positions_monthly"]
    assert list(f.columns) == [
        "month", "product_id", "product", "category", "segment", "region", "state", "channel",
        "aum", "new_money", "contributions", "withdrawals", "investment_returns", "fees",
        "open_positions", "active_customers",
    ]  # fmt: skip
    c1 = ("P1", "Alpha Fund", "ETF", "Affluent", "West", "CA", "Web")
    c2a = ("P1", "Alpha Fund", "ETF", "Mass Market", "Northeast", "NY", "Phone")
    c2b = ("P2", "Beta Bonds", "Bond Fund", "Mass Market", "Northeast", "NY", "Phone")
    c3 = ("P2", "Beta Bonds", "Bond Fund", "Affluent", "West", "CA", "In-person")
    c1b = ("P2", "Beta Bonds", "Bond Fund", "Affluent", "West", "CA", "Web")
    # aum, new_money, contributions, withdrawals, returns, fees, open, active
    expected = {
        (OCT, *c1, 1100.0, 0.0, 80.0, 0.0, 10.0, 0.0, 1, 1),
        (OCT, *c2a, 505.0, 500.0, 0.0, 0.0, 5.0, 0.0, 1, 1),
        (OCT, *c3, 3310.0, 0.0, 0.0, 0.0, 10.0, 0.0, 1, 1),
        (NOV, *c1, 1120.0, 0.0, 0.0, 0.0, 25.0, 5.0, 1, 1),
        (NOV, *c2a, 600.0, 0.0, 100.0, 0.0, -5.0, 0.0, 1, 1),
        (NOV, *c2b, 1990.0, 2000.0, 0.0, 0.0, -10.0, 0.0, 0, 0),  # closed 2024-11-20
        (NOV, *c3, 3330.0, 0.0, 0.0, 0.0, 20.0, 0.0, 1, 1),  # B13 wins the 11-30 tie
        (NOV, *c1b, 400.0, 400.0, 0.0, 0.0, 0.0, 0.0, 1, 1),
        (DEC, *c1b, 410.0, 0.0, 0.0, 0.0, 10.0, 0.0, 1, 1),
        (DEC, *c1, 1130.0, 0.0, 0.0, 0.0, 12.0, 2.0, 1, 1),
        (DEC, *c2a, 590.0, 0.0, 0.0, 10.0, 0.0, 0.0, 1, 1),
        (DEC, *c3, 3300.0, 0.0, 0.0, 30.0, 0.0, 0.0, 1, 1),
    }
    assert _rows(f, list(f.columns)) == expected
    assert len(f) == 12
    # Sorted by the dimensions, months first: stable, deterministic output.
    assert list(f["month"].dt.date) == [OCT] * 3 + [NOV] * 5 + [DEC] * 4


def test_typed_columns_and_dictionary(tiny):
    f = tiny["fact_positions_monthly"]
    assert str(f["month"].dtype) == "datetime64[ns]"
    assert f["open_positions"].dtype == "int64"
    assert f["aum"].dtype == "float64"
    assert f.attrs["units"]["aum"] == "currency"
    assert f.attrs["units"]["month"] == "date"
    assert "not additive" in f.attrs["descriptions"]["active_customers"]
    assert set(f.attrs["descriptions"]) == set(f.columns)


def test_service_by_hand(tiny):
    f = tiny["fact_service_monthly"]
    dims = ["month", "channel", "reason", "segment", "region"]
    counts = ["contacts", "first_contacts", "fcr_contacts", "resolved_contacts",
              "issue_contacts", "scored_contacts", "satisfaction_sum", "csat_contacts",
              "handle_minutes"]  # fmt: skip
    assert list(f.columns) == dims + counts + ["avg_satisfaction", "avg_handle_minutes"]
    expected = {
        # S01 is first but repeated by S02 three days later (other channel): not FCR.
        (OCT, "Phone", "Account Inquiry", "Affluent", "West", 1, 1, 0, 1, 0, 1, 4.0, 1, 10.0),
        (OCT, "Chat", "Account Inquiry", "Affluent", "West", 1, 0, 0, 0, 0, 1, 2.0, 0, 6.0),
        # S05 follows S04 (2024-09-28, before the window) by five days: not a first contact.
        (OCT, "Phone", "Fee Inquiry", "Affluent", "West", 1, 0, 0, 1, 0, 1, 3.0, 0, 8.0),
        (NOV, "Phone", "Complaint", "Mass Market", "Northeast", 1, 1, 1, 1, 1, 0, 0.0, 0, 20.0),
        (DEC, "Email", "Fee Inquiry", "Affluent", "West", 1, 1, 1, 1, 0, 1, 5.0, 1, 7.0),
    }
    assert _rows(f, dims + counts) == expected
    complaint = f[f["reason"] == "Complaint"].iloc[0]
    assert pd.isna(complaint["avg_satisfaction"])  # nothing scored: no mean, not 0
    assert complaint["avg_handle_minutes"] == 20.0


def test_engagement_by_hand(tiny):
    f = tiny["fact_engagement_monthly"]
    cols = ["month", "device", "action", "segment", "age_band", "region", "sessions",
            "session_minutes", "pages_viewed", "actions_taken", "avg_session_minutes"]  # fmt: skip
    assert list(f.columns) == cols
    assert _rows(f, cols) == {
        (OCT, "Desktop", "Login", "Affluent", "30-44", "West", 2, 12.0, 8, 3, 6.0),
        (OCT, "Desktop", "Login", "Affluent", "60+", "West", 1, 3.0, 1, 1, 3.0),
        (DEC, "Mobile Phone", "View Balance", "Mass Market", "Under 30", "Northeast",
         1, 2.5, 2, 0, 2.5),
    }  # fmt: skip


def test_filters_partition_the_flows(tiny_dir, config, tiny):
    whole = tiny["fact_positions_monthly"]
    parts = [
        _facts(tiny_dir, config, Filters.of(segment=[s]))["fact_positions_monthly"]
        for s in ("Affluent", "Mass Market")
    ]
    assert set(parts[0]["segment"]) == {"Affluent"}
    for col in ("aum", "new_money", "contributions", "withdrawals", "fees", "open_positions"):
        assert sum(p[col].sum() for p in parts) == pytest.approx(whole[col].sum())
    assert whole["aum"][whole["month"] == pd.Timestamp(DEC)].sum() == 1130 + 590 + 3300 + 410


def test_configured_grain_coarsens(tiny_dir, config):
    coarse = config.with_overrides(
        xlsx={"positions_grain": ["month", "category"], "engagement_grain": ["device"]}
    )
    f = _facts(tiny_dir, coarse)
    pos = f["fact_positions_monthly"]
    assert list(pos.columns[:2]) == ["month", "category"]
    nov_bond = pos[(pos["month"] == pd.Timestamp(NOV)) & (pos["category"] == "Bond Fund")]
    assert nov_bond["aum"].tolist() == [1990.0 + 3330.0 + 400.0]
    assert nov_bond["open_positions"].tolist() == [2]  # C3's and C1's; C2's closed 11-20
    assert nov_bond["active_customers"].tolist() == [2]
    eng = f["fact_engagement_monthly"]
    assert list(eng.columns[:2]) == ["month", "device"]  # month is always first
    oct_desktop = eng[(eng["month"] == pd.Timestamp(OCT)) & (eng["device"] == "Desktop")]
    assert oct_desktop["sessions"].tolist() == [3]
    assert oct_desktop["session_minutes"].tolist() == [15.0]


def test_active_customers_are_distinct_within_a_row(tiny_dir, config):
    by_segment = config.with_overrides(xlsx={"positions_grain": ["month", "segment"]})
    pos = _facts(tiny_dir, by_segment)["fact_positions_monthly"]
    got = {
        (m.date(), seg): (o, a)
        for m, seg, o, a in pos[
            ["month", "segment", "open_positions", "active_customers"]
        ].itertuples(index=False)
    }
    # Affluent: C1 (P1, and P2 from November) and C3; Mass Market: C2 (P2 closed 11-20).
    assert got == {
        (OCT, "Affluent"): (2, 2), (NOV, "Affluent"): (3, 2), (DEC, "Affluent"): (3, 2),
        (OCT, "Mass Market"): (1, 1), (NOV, "Mass Market"): (1, 1),
        (DEC, "Mass Market"): (1, 1),
    }  # fmt: skip


def test_filters_that_match_nothing_give_empty_typed_tables(tiny_dir, config):
    out = _facts(tiny_dir, config, Filters.of(segment=["Ultra High Net Worth"]))
    for name, frame in out.items():
        assert frame.empty, name
    pos = out["fact_positions_monthly"]
    assert list(pos.columns[:8]) == [
        "month", "product_id", "product", "category", "segment", "region", "state", "channel"
    ]  # fmt: skip
    assert str(pos["month"].dtype) == "datetime64[ns]"


def test_unknown_dimension_is_refused(tiny_dir, config):
    bad = config.with_overrides(xlsx={"service_grain": ["month", "colour"]})
    with pytest.raises(DataError, match=r"xlsx.service_grain: unknown dimension 'colour'"):
        _facts(tiny_dir, bad)


def test_too_many_rows_is_refused_with_advice(tiny_dir, config, monkeypatch):
    monkeypatch.setattr(facts, "EXCEL_MAX_ROWS", 12)  # positions has 12 rows + header
    with pytest.raises(DataError) as info:
        _facts(tiny_dir, config)
    text = str(info.value)
    assert "fact_positions_monthly: 12 rows" in text
    assert "[xlsx] positions_grain" in text and "'channel'" in text
