"""`build_pack` on the hand-made `measures_tiny` dataset: the pack follows PAGE_LAYOUT, carries
the same KPIs as `compute`, and its visuals hold the numbers worked out by hand (see
test_measures_tiny.py for the dataset's table of snapshots)."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import pandas as pd
import pytest

from finrep.config import load_config
from finrep.measures import compute
from finrep.measures.customers import customer_growth
from finrep.measures.kpis import open_run
from finrep.pack import KINDS, PAGE_KEYS, PAGE_LAYOUT, UNITS, build_pack

DATA = Path(__file__).parents[1] / "fixtures" / "measures_tiny"

KIND_COLUMNS = {
    "line": ["x"],
    "forecast": ["x", "actual", "forecast", "lo80", "hi80", "lo95", "hi95"],
    "donut": ["label", "value"],
    "combo": ["x", "inflows", "withdrawals", "net"],
    "waterfall": ["label", "value", "total"],
    "bar": ["label", "value"],
    "diverging": ["label", "value", "group"],
    "stacked": ["x"],
    "bubble": ["label", "x", "y", "size", "group"],
    "scatter": ["x", "y", "group"],
    "heatmap": ["row"],
    "state_map": ["state", "value"],
    "sankey": ["source", "target", "value", "stage"],
    "gauge": ["value", "target"],
    "funnel": ["label", "value"],
    "table": [],
}


def approx(x):
    return pytest.approx(x, rel=1e-9, abs=1e-9)


@pytest.fixture(scope="module")
def pack():
    config = load_config()
    config = config.with_overrides(xlsx={"scatter_max_points": 2})
    return build_pack(DATA, "2024-03", config=config, findings=("a finding",))


@pytest.fixture(scope="module")
def april():
    return build_pack(DATA, "2024-04")


def visual(pack, page, key):
    return pack.page(page).visual(key)


# ---- structure --------------------------------------------------------------------------------
def test_pages_follow_the_layout(pack):
    assert tuple(p.key for p in pack.pages) == PAGE_KEYS
    for page in pack.pages:
        layout = PAGE_LAYOUT[page.key]
        assert tuple(k.key for k in page.kpis) == layout["kpis"]
        assert tuple((v.key, v.kind) for v in page.visuals) == layout["visuals"]


def test_every_visual_is_complete(pack):
    keys = {d.key for d in pack.definitions}
    for page in pack.pages:
        for v in page.visuals:
            assert v.kind in KINDS
            assert v.title and v.caption, v.key
            assert "\n" not in v.caption
            assert list(v.data.columns[: len(KIND_COLUMNS[v.kind])]) == KIND_COLUMNS[v.kind], v.key
            assert set(v.units.values()) <= set(UNITS), v.key
            assert v.definitions and set(v.definitions) <= keys, (v.key, v.definitions)
            assert v.note or len(v.data), v.key


def test_every_kpi_key_is_in_the_pack_with_a_definition(pack):
    keys = {d.key for d in pack.definitions}
    expected = {
        "aum", "aum_open", "new_money", "contributions", "withdrawals", "investment_returns",
        "fees", "net_flows", "reconciliation_residual", "fee_revenue",
        "avg_balance_per_customer", "active_customers", "new_customers", "churned_customers",
        "retention_rate", "products_per_customer", "avg_tenure_months", "return_period",
        "return_12m", "benchmark_return_12m", "excess_return_12m", "volatility_12m",
        "contacts", "avg_satisfaction", "csat_pct", "avg_handle_minutes", "fcr_rate",
        "issues_per_1000", "digital_active_users", "digital_engagement_rate",
        "mobile_adoption_rate", "sessions", "avg_session_minutes",
    }  # fmt: skip
    assert set(pack.kpis) == expected
    assert expected <= keys
    for kpi in pack.kpis.values():
        assert kpi.unit in UNITS and kpi.label
    assert pack.kpis["churned_customers"].higher_is_better is False


def test_pack_and_compute_agree(pack):
    m = compute(DATA, "2024-03")
    assert m.measures_json() == pack.measures_json()


def test_pack_header(pack):
    assert (pack.period.spec, pack.comparison.spec, pack.last_year.spec) == (
        "2024-03",
        "2024-02",
        "2023-03",
    )
    assert pack.as_of.isoformat() == "2024-04-30"
    assert pack.findings == ("a finding",)
    assert pack.run.finrep_version
    assert pack.run.engine == "duckdb"
    sources = {s.table: s for s in pack.run.sources}
    assert sources["account_balances"].rows == 39
    for source in pack.run.sources:  # hashed on a side thread: each its own file's digest
        assert source.sha256 == hashlib.sha256((DATA / source.path).read_bytes()).hexdigest()
    assert sources["customers"].format == "csv"


def test_fact_tables_are_there_unless_left_out(pack):
    assert set(pack.facts) == {
        "fact_positions_monthly",
        "fact_service_monthly",
        "fact_engagement_monthly",
    }
    lean = build_pack(DATA, "2024-03", facts=False)
    assert dict(lean.facts) == {}
    assert lean.measures_json() == pack.measures_json()


def test_reconciliation(pack):
    r = pack.reconciliation
    assert list(r.columns) == [
        "month", "aum_open", "new_money", "contributions", "withdrawals",
        "investment_returns", "fees", "aum", "residual", "flagged",
    ]  # fmt: skip
    assert len(r) == 1
    row = r.iloc[0]
    assert row["aum_open"] == approx(18208) and row["aum"] == approx(17103.5)
    assert row["residual"] == approx(0) and not row["flagged"]


# ---- executive --------------------------------------------------------------------------------
def test_aum_bridge(pack):
    d = visual(pack, "executive", "aum_bridge").data
    assert list(d["label"]) == [
        "Opening AUM",
        "New money",
        "Contributions",
        "Withdrawals",
        "Investment returns",
        "Fees",
        "Closing AUM",
    ]  # fmt: skip  (no residual bar: it is zero)
    assert list(d["value"]) == pytest.approx([18208, 800, 291, -2124, -62.6, -8.9, 17103.5])
    assert list(d["total"]) == [True, False, False, False, False, False, True]


def test_aum_by_category_and_risk(pack):
    d = visual(pack, "executive", "aum_by_category").data
    assert dict(zip(d["label"], d["value"], strict=True)) == {
        "Bond Fund": approx(10025 + 609 + 803.5),
        "Savings Account": approx(3207 + 1400),
        "ETF": approx(1059),
    }
    assert list(d["label"]) == ["Bond Fund", "Savings Account", "ETF"]  # largest first
    r = visual(pack, "products", "aum_by_risk").data
    assert list(r["label"]) == ["Low", "Medium", "High"]  # risk order
    assert list(r["value"]) == pytest.approx([11437.5, 4607, 1059])


def test_net_flows_trend(pack):
    d = visual(pack, "executive", "net_flows_trend").data
    # 24 months to March 2024, cut to the data: March 2023 … March 2024
    assert len(d) == 13 and d["x"].iloc[0] == pd.Timestamp("2023-03-01")
    last = d.iloc[-1]
    assert (last["inflows"], last["withdrawals"], last["net"]) == (
        approx(800 + 291),
        approx(2124),
        approx(-1033),
    )
    assert d.iloc[0]["inflows"] == approx(10000)
    assert d.iloc[1:10]["net"].abs().sum() == 0  # Apr–Dec 2023: nothing moved


def test_customer_map_and_products_per_segment(pack):
    m = visual(pack, "executive", "customer_map").data.set_index("state")
    assert m.loc["NY", "value"] == 2 and m.loc["NY", "value2"] == approx(1668 + 1400)
    assert m.loc["CA", "value"] == 1 and m.loc["CA", "value2"] == approx(803.5)
    assert m.loc["TX", "value"] == 1 and m.loc["IL", "value2"] == approx(10025)
    assert m["value2"].sum() == approx(17103.5)
    s = visual(pack, "executive", "products_per_customer_by_segment").data
    assert list(s["label"]) == ["Mass Market", "Affluent", "High Net Worth", "Ultra High Net Worth"]
    assert list(s["value"]) == pytest.approx([1.0, 1.5, 1.0, 1.0])


def test_aum_trend_has_no_forecast_with_little_history(pack):
    v = visual(pack, "executive", "aum_trend")
    assert v.data["actual"].iloc[-1] == approx(17103.5)
    assert v.data["forecast"].isna().all()  # 13 months ≥ 12, but the caption says what ran
    assert len(v.data) >= 13


def test_narrative(pack):
    narrative = pack.page("executive").narrative
    assert 3 <= len(narrative) <= 6
    assert any("$17.1K" in s for s in narrative)  # AUM, formatted like the KPI strip


# ---- products ---------------------------------------------------------------------------------
def chain(*returns):
    out = 1.0
    for r in returns:
        out *= 1 + r
    return out - 1


def test_product_matrix_returns_and_benchmarks_blended_by_risk(pack):
    v = visual(pack, "products", "product_matrix")
    assert list(v.data.columns) == [
        "product", "category", "aum", "fee_revenue", "net_flows", "return_period",
        "return_12m", "benchmark_12m", "excess_12m",
    ]  # fmt: skip
    d = v.data.set_index("product")
    assert list(d.index) == ["Beta Bond Fund", "Gamma Savings", "Alpha Equity ETF"]  # by AUM
    p1, p2, p3 = d.loc["Alpha Equity ETF"], d.loc["Beta Bond Fund"], d.loc["Gamma Savings"]
    assert (p1["aum"], p1["fee_revenue"], p1["net_flows"]) == (
        approx(1059),
        approx(1 + 2),
        approx(-2124),
    )
    assert (p2["fee_revenue"], p2["net_flows"]) == (approx(1 + 0.5), approx(800 + 91))
    assert p3["net_flows"] == approx(200)
    assert p1["return_period"] == approx(-60 / 2184)
    assert p2["return_period"] == approx(-11 / 11004.5)
    assert p3["return_period"] == approx(8.4 / 4503)
    # 12 months: months without assets have no return; the benchmark uses the same months.
    # High (0.9): Jan 0.9·5% + 0.1·(−1%), Feb 0.9·(−2%) + 0.1·2%, Mar 0.9·3% + 0.1·0.5%
    assert p1["return_12m"] == approx(chain(60 / 1550, 92 / 3157, -60 / 2184))
    assert p1["benchmark_12m"] == approx(chain(0.044, -0.016, 0.0275))
    # Low (0.1): flat Apr–Dec 2023, then −0.4%, +1.6%, +0.75%
    assert p2["return_12m"] == approx(chain(5 / 10250, 55 / 10504.5, -11 / 11004.5))
    assert p2["benchmark_12m"] == approx(chain(-0.004, 0.016, 0.0075))
    # Medium (0.5): +2%, 0%, +1.75%
    assert p3["benchmark_12m"] == approx(chain(0.02, 0.0, 0.0175))
    assert p3["excess_12m"] == approx(
        chain(4.5 / 2250, 7.5 / 4450, 8.4 / 4503) - chain(0.02, 0.0, 0.0175)
    )


def test_risk_return_needs_six_monthly_returns(pack):
    d = visual(pack, "products", "risk_return").data
    assert list(d["label"]) == ["Beta Bond Fund"]  # P1, P3: only 3 monthly returns
    r = [0.0] * 9 + [5 / 10250, 55 / 10504.5, -11 / 11004.5]
    mean = sum(r) / 12
    sd = math.sqrt(sum((x - mean) ** 2 for x in r) / 11)
    assert d.iloc[0]["x"] == approx(sd * math.sqrt(12))
    assert d.iloc[0]["size"] == approx(11437.5) and d.iloc[0]["group"] == "Bond Fund"


def test_top_bottom_and_fee_revenue(pack):
    d = visual(pack, "products", "top_bottom_products").data
    r12 = {
        "Alpha Equity ETF": chain(60 / 1550, 92 / 3157, -60 / 2184),
        "Beta Bond Fund": chain(5 / 10250, 55 / 10504.5, -11 / 11004.5),
        "Gamma Savings": chain(4.5 / 2250, 7.5 / 4450, 8.4 / 4503),
    }
    ranked = sorted(r12, key=r12.get, reverse=True)
    # three products: two on top, one at the bottom
    assert list(d["label"]) == ranked
    assert list(d["group"]) == ["Top 5", "Top 5", "Bottom 5"]
    f = visual(pack, "products", "fee_revenue_by_product").data
    assert list(f["label"]) == ["Gamma Savings", "Alpha Equity ETF", "Beta Bond Fund"]
    assert list(f["value"]) == pytest.approx([3 + 1.4, 3, 1.5])


def test_roi_vs_benchmark_is_cumulative(pack):
    d = visual(pack, "products", "roi_vs_benchmark").data
    jan, feb, mar = 69.5 / 14050, 154.5 / 18111.5, -62.6 / 17691.5
    assert d["portfolio"].iloc[-1] == approx(chain(jan, feb, mar))
    b_jan = (1550 * 0.044 + 10250 * -0.004 + 2250 * 0.02) / 14050
    assert d["benchmark"].iloc[-3] == approx(b_jan)
    assert d["portfolio"].iloc[0] == 0  # March 2023: first month, no return


# ---- customers --------------------------------------------------------------------------------
def test_customer_growth(pack):
    d = visual(pack, "customers", "customer_growth").data
    assert list(d["label"]) == ["Active Feb 2024", "New customers", "Churned", "Active Mar 2024"]
    assert list(d["value"]) == [5, 1, -1, 5]


def test_customer_growth_other_bar():
    # Q1 2024: A(Dec 31) = {C6}; new and active at E: C1 C3 C4 C5; churned: C2 (who also
    # joined in Q1, so he is in no "new" bar): 1 + 4 − 1 = 4 ≠ 5 → "Other" = +1
    run = open_run(DATA, "2024-Q1")
    d = customer_growth(run.counts[0], run.period).data
    assert list(d["label"]) == [
        "Active Dec 2023", "New customers", "Churned", "Other", "Active Mar 2024",
    ]  # fmt: skip
    assert list(d["value"]) == [1, 4, -1, 1, 5]


def test_acquisition_trend(pack):
    d = visual(pack, "customers", "acquisition_trend").data.set_index("x")["new_customers"]
    assert d[pd.Timestamp("2023-03-01")] == 1
    assert d[pd.Timestamp("2024-01-01")] == 4
    assert d[pd.Timestamp("2024-02-01")] == 0
    assert d[pd.Timestamp("2024-03-01")] == 1
    assert d.sum() == 6


def test_balance_by_segment_and_age_band(pack):
    d = visual(pack, "customers", "balance_by_segment_age").data.set_index("row")
    assert d.loc["Affluent", "30-44"] == approx(1668)  # C1
    assert d.loc["Affluent", "45-59"] == approx(803.5)  # C4, 54 on the day
    assert d.loc["Mass Market", "30-44"] == approx(1400)  # C5, 30 on the day
    assert pd.isna(d.loc["Mass Market", "Under 30"])  # C2 (29) is not active
    assert d.loc["High Net Worth", "60+"] == approx(3207)
    assert d.loc["Ultra High Net Worth", "60+"] == approx(10025)


def test_channel_flows(pack):
    d = visual(pack, "customers", "channel_flows").data
    links = {(r.source, r.target, r.stage): r.value for r in d.itertuples()}
    assert links[("Web", "ETF", 0)] == 2  # C1·P1, C3·P1
    assert links[("Phone", "Savings Account", 0)] == 2
    assert links[("Phone", "Bond Fund", 0)] == 1
    assert links[("Mobile App", "ETF", 0)] == 1
    assert links[("ETF", "Closed", 1)] == 2  # C2·P1 (churn), C3·P1 (status)
    assert links[("ETF", "Active", 1)] == 1
    assert links[("Bond Fund", "Active", 1)] == 3
    assert d.loc[d["stage"] == 0, "value"].sum() == 8


def test_customer_value_is_sampled_deterministically(pack):
    v = visual(pack, "customers", "customer_value")
    # active customers in id order C1 C3 C4 C5 C6; at most 2 points → every 3rd: C1, C5
    assert list(v.data["x"]) == [2, 2]
    assert list(v.data["y"]) == pytest.approx([1668, 1400])
    assert list(v.data["group"]) == ["Affluent", "Mass Market"]


def test_retention_cohorts(april):
    d = april.page("customers").visual("retention_cohorts").data.set_index("row")
    assert list(d.index) == ["2023 Q1", "2024 Q1"]
    assert list(d.columns) == ["0", "3", "6", "12", "18", "24", "36"]
    assert list(d.loc["2023 Q1", ["0", "3", "6", "12"]]) == [1.0, 1.0, 1.0, 1.0]
    assert d.loc["2023 Q1", ["18", "24", "36"]].isna().all()  # ages after April 2024
    # 2024 Q1 at 3 months: C1 (Apr 10), C3 (Apr 20), C5 (Apr 15) active, C2 (Apr 5) closed;
    # C4 (Jun 15) has not reached it
    assert d.loc["2024 Q1", "0"] == 1.0
    assert d.loc["2024 Q1", "3"] == approx(3 / 4)
    assert d.loc["2024 Q1", ["6", "12"]].isna().all()
