"""Properties of the measures on generated data (the `small_data` session fixture: 300
customers, 2021-01 … 2024-12), checked against a plain pandas reading of the same CSV files
written here from MEASURES.md — not against the code under test."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from finrep.config import load_config
from finrep.filters import Filters
from finrep.measures import compute
from finrep.measures.assets import reconciliation
from finrep.measures.kpis import open_run
from finrep.pack import build_pack
from finrep.period import parse_period
from finrep.schema import SEGMENTS

PERIODS = ["2024-06", "2023-Q4", "2022"]
RATES = (
    "retention_rate",
    "csat_pct",
    "fcr_rate",
    "digital_engagement_rate",
    "mobile_adoption_rate",
)
ADDITIVE = (
    "aum",
    "aum_open",
    "new_money",
    "contributions",
    "withdrawals",
    "investment_returns",
    "fees",
    "net_flows",
    "reconciliation_residual",
    "active_customers",
    "new_customers",
    "churned_customers",
    "contacts",
    "sessions",
    "digital_active_users",
)


# ---- an independent reading of MEASURES.md in pandas ----------------------------------------
class Plain:
    def __init__(self, folder):
        read = lambda name, dates: pd.read_csv(folder / f"{name}.csv", parse_dates=dates)  # noqa: E731
        self.customers = read("customers", ["enrollment_date", "birth_date"])
        self.enrollments = read("enrollments", ["enrollment_date"])
        self.balances = read("account_balances", ["date"])
        self.retention = read("retention", ["churn_date"])
        b = self.balances.sort_values(["date", "balance_id"])
        b["month"] = b["date"].dt.to_period("M")
        self.snapshots = b.groupby(["customer_id", "product_id", "month"]).tail(1)
        pos = self.enrollments.groupby(["customer_id", "product_id"]).agg(
            open_date=("enrollment_date", "min"),
            closed=("status", lambda s: (s == "Closed").any()),
        )
        r = self.retention[self.retention["recovered_flag"] == "No"]
        churn = r.groupby(["customer_id", "product_id"])["churn_date"].min()
        last = b.groupby(["customer_id", "product_id"])["date"].max()
        pos["close_date"] = churn.reindex(pos.index)
        fallback = last.reindex(pos.index).where(pos["closed"])
        pos["close_date"] = pos["close_date"].fillna(fallback)
        self.positions = pos.reset_index()

    def active(self, t) -> set[str]:
        t = pd.Timestamp(t)
        p = self.positions
        is_open = (p["open_date"] <= t) & (p["close_date"].isna() | (p["close_date"] > t))
        return set(p.loc[is_open, "customer_id"])

    def aum(self, month) -> float:
        s = self.snapshots
        return float(s.loc[s["month"] == pd.Period(month, "M"), "balance"].sum())

    def flows(self, period) -> dict[str, float]:
        s = self.snapshots
        months = pd.period_range(period.start, period.end, freq="M")
        inside = s[s["month"].isin(months)]
        e = self.enrollments
        new = e[(e["enrollment_date"] >= pd.Timestamp(period.start)) &
                (e["enrollment_date"] <= pd.Timestamp(period.end))]  # fmt: skip
        return {
            "new_money": float(new["initial_investment"].sum()),
            "contributions": float(inside["contributions_mtd"].sum()),
            "withdrawals": float(inside["withdrawals_mtd"].sum()),
            "investment_returns": float(inside["investment_returns_mtd"].sum()),
            "fees": float(inside["fees_mtd"].sum()),
        }

    def churned(self, period) -> int:
        p = self.positions
        s, e = pd.Timestamp(period.start), pd.Timestamp(period.end)
        start = p["open_date"].where(p["open_date"] > s, s)
        during = (p["open_date"] <= e) & (p["close_date"].isna() | (p["close_date"] > start))
        active_in_p = set(p.loc[during, "customer_id"])
        by_e = p[p["open_date"] <= e].groupby("customer_id")["close_date"].max()
        closed_in_p = set(by_e[(by_e >= s) & (by_e <= e)].index)
        return len((active_in_p & closed_in_p) - self.active(e))


@pytest.fixture(scope="module")
def plain(small_data):
    return Plain(small_data)


@pytest.fixture(scope="module")
def measured(small_data):
    return {p: compute(small_data, p).kpis for p in PERIODS}


@pytest.mark.parametrize("spec", PERIODS)
def test_asset_kpis_match_a_plain_reading(spec, measured, plain):
    k = measured[spec]
    period = parse_period(spec)
    assert k["aum"].value == pytest.approx(plain.aum(period.end), abs=0.005)
    assert k["aum_open"].value == pytest.approx(plain.aum(period.opening), abs=0.005)
    for key, value in plain.flows(period).items():
        assert k[key].value == pytest.approx(value, abs=0.005), key


@pytest.mark.parametrize("spec", PERIODS)
def test_customer_kpis_match_a_plain_reading(spec, measured, plain):
    k = measured[spec]
    period = parse_period(spec)
    a_end, a_open = plain.active(period.end), plain.active(period.opening)
    assert k["active_customers"].value == len(a_end)
    assert k["retention_rate"].value == pytest.approx(len(a_open & a_end) / len(a_open))
    assert k["churned_customers"].value == plain.churned(period)
    c = plain.customers
    new = c[(c["enrollment_date"] >= pd.Timestamp(period.start)) &
            (c["enrollment_date"] <= pd.Timestamp(period.end))]  # fmt: skip
    assert k["new_customers"].value == len(new)
    p = plain.positions
    t = pd.Timestamp(period.end)
    n_open = ((p["open_date"] <= t) & (p["close_date"].isna() | (p["close_date"] > t))).sum()
    assert k["products_per_customer"].value == pytest.approx(n_open / len(a_end))


@pytest.mark.parametrize("spec", PERIODS)
def test_the_bridge_closes_within_a_cent_per_position(spec, small_data, plain, measured):
    config = load_config()
    run = open_run(small_data, spec, config=config)
    r = reconciliation(run.book, run.period, config.measures.residual_tolerance)
    assert len(r) == run.period.n_months
    for row in r.itertuples():
        positions = plain.snapshots["month"].eq(pd.Period(row.month, "M")).sum()
        assert abs(row.residual) <= 0.01 * max(positions, 1), row
        assert not row.flagged
    residual = measured[spec]["reconciliation_residual"].value
    assert abs(residual) <= 0.01 * len(plain.positions)


@pytest.mark.parametrize("spec", PERIODS)
def test_rates_lie_between_zero_and_one(spec, measured):
    k = measured[spec]
    for key in RATES:
        for value in (k[key].value, k[key].previous, k[key].last_year):
            assert value is None or 0.0 <= value <= 1.0, (key, value)
    assert k["retention_rate"].value is not None


@pytest.mark.slow
def test_segments_add_up_to_the_total(small_data, measured):
    spec = "2023-Q4"
    total = measured[spec]
    parts = [compute(small_data, spec, Filters.of(segment=[v])).kpis for v in SEGMENTS]
    for key in ADDITIVE:
        for attr in ("value", "previous", "last_year"):
            got = sum(getattr(p[key], attr) or 0 for p in parts)
            want = getattr(total[key], attr) or 0
            assert got == pytest.approx(want, abs=0.01), (key, attr)


def test_active_customers_follow_the_growth_identity(measured, plain):
    """active = A(S⁻) + new still active − churned, up to what the definitions leave out:
    customers re-activated in P, customers who joined and churned within P, and customers
    whose last position closed on S itself (active at S⁻, never active in P)."""
    for spec in PERIODS:
        k = measured[spec]
        period = parse_period(spec)
        a_open, a_end = plain.active(period.opening), plain.active(period.end)
        c = plain.customers
        new = set(c.loc[(c["enrollment_date"] >= pd.Timestamp(period.start)) &
                        (c["enrollment_date"] <= pd.Timestamp(period.end)), "customer_id"])  # fmt: skip
        new_active = len(new & a_end)
        other = k["active_customers"].value - (
            len(a_open) + new_active - k["churned_customers"].value
        )
        reactivated = len(a_end - a_open - new)
        joined_and_left = len((new - a_end) & (new - a_open))
        lost_on_s = len(a_open - plain.active(period.start) - a_end)
        assert -(joined_and_left + lost_on_s) <= other <= reactivated + joined_and_left


@pytest.mark.slow
def test_product_returns_are_finite_and_forecast_runs(small_data):
    pack = build_pack(small_data, "2024-12")
    matrix = pack.page("products").visual("product_matrix").data
    assert len(matrix) >= 5
    r12 = matrix["return_12m"].dropna()
    assert len(r12) and np.isfinite(r12).all() and (r12.abs() < 1).all()
    assert (matrix["benchmark_12m"].dropna().abs() < 1).all()
    trend = pack.page("executive").visual("aum_trend")
    assert trend.data["forecast"].notna().sum() >= 6  # 48 months of history → a forecast
    assert "MAPE" in trend.caption
    assert trend.data["x"].max() == pd.Timestamp(date(2025, 6, 1))


def test_parquet_and_csv_give_the_same_kpis(small_data, small_parquet, measured):
    a = measured["2024-06"]
    b = compute(small_parquet, "2024-06", config=load_config()).kpis
    for key in a:
        va, vb = a[key].value, b[key].value
        assert (va is None) == (vb is None), key
        if va is not None:
            assert va == pytest.approx(vb, rel=1e-9, abs=1e-6), key
