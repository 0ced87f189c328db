"""Executive narrative: the exact sentences, written out by hand, for hand-made KPIs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from finrep.measures.narrative import build_narrative
from finrep.pack import KPI
from finrep.period import parse_period

SEPT = parse_period("2024-09")

UNITS = {
    "aum": "currency",
    "net_flows": "currency",
    "investment_returns": "currency",
    "fees": "currency",
    "retention_rate": "pct",
    "new_customers": "count",
    "churned_customers": "count",
    "active_customers": "count",
    "fcr_rate": "pct",
    "avg_satisfaction": "score",
    "digital_active_users": "count",
    "digital_engagement_rate": "pct",
    "mobile_adoption_rate": "pct",
}


def kpi(key, value, previous=None, change=None, change_pct=None, change_ly=None, ly_pct=None):
    return KPI(
        key=key,
        label=key,
        unit=UNITS[key],
        value=value,
        previous=previous,
        last_year=None,
        change=change,
        change_pct=change_pct,
        change_ly=change_ly,
        change_ly_pct=ly_pct,
    )


def full_kpis() -> dict[str, KPI]:
    items = [
        kpi("aum", 243_000_000, 237_300_000, 5_700_000, 0.024, 27_000_000, 0.125),
        kpi("net_flows", 1_200_000),
        kpi("investment_returns", 3_400_000),
        kpi("fees", 210_000),
        kpi("retention_rate", 0.952, 0.956, -0.004),
        kpi("new_customers", 12),
        kpi("churned_customers", 8),
        kpi("active_customers", 1234),
        kpi("fcr_rate", 0.721, 0.711, 0.01),
        kpi("avg_satisfaction", 3.85),
        kpi("digital_active_users", 812),
        kpi("digital_engagement_rate", 0.658),
        kpi("mobile_adoption_rate", 0.581),
    ]
    return {k.key: k for k in items}


def matrix(rows) -> pd.DataFrame:
    columns = ["product", "category", "aum", "fee_revenue", "net_flows", "return_period",
               "return_12m", "benchmark_12m", "excess_12m"]  # fmt: skip
    return pd.DataFrame(
        [
            {"product": p, "category": c, "aum": a, "return_12m": r, "benchmark_12m": b}
            for p, c, a, r, b in rows
        ],
        columns=columns,
    )


PRODUCTS = matrix(
    [
        ("Beta ETF", "ETF", 5e6, 0.0812, 0.06),
        ("Alpha Bond", "Bond Fund", 8e6, -0.012, 0.01),
        ("Gamma Savings", "Savings Account", 1e6, 0.02, np.nan),
        ("Delta New", "ETF", 2e6, np.nan, np.nan),  # launched < 12 months ago
    ]
)


def test_full_narrative_exact_sentences():
    got = build_narrative(full_kpis(), PRODUCTS, SEPT, "$")
    assert got == (
        "AUM stood at $243.0M at the end of September 2024 "
        "(▲ 2.4% vs August 2024, ▲ 12.5% vs September 2023).",
        "In September 2024, investment returns of $3.4M outweighed net flows of $1.2M: "
        "markets rather than client flows drove the change in AUM, and fees took $210.0K.",
        "Over the 12 months to September 2024, the best product was Beta ETF (ETF) at +8.12% "
        "against a benchmark of +6.00%, and the weakest was Alpha Bond (Bond Fund) at -1.20% "
        "against a benchmark of +1.00%.",
        "Retention was 95.2% (▼ 0.4 pts vs August 2024); 12 new customers joined and 8 "
        "churned, leaving 1,234 active customers.",
        "In service, first-contact resolution was 72.1% (▲ 1.0 pts vs August 2024) and "
        "average satisfaction 3.85 out of 5.",
        "812 customers used digital channels in September 2024 (65.8% of active customers), "
        "58.1% of them on a mobile device.",
    )


def test_deterministic_and_currency_symbol():
    a = build_narrative(full_kpis(), PRODUCTS, SEPT, "€")
    assert a == build_narrative(full_kpis(), PRODUCTS, SEPT, "€")
    assert a[0].startswith("AUM stood at €243.0M")
    assert "$" not in " ".join(a)


def test_nothing_known_still_gives_three_sentences():
    got = build_narrative({}, matrix([]), SEPT, "$")
    assert got == (
        "AUM is not available for September 2024.",
        "The drivers of the change in AUM (net flows, investment returns) are not available "
        "for September 2024.",
        "Retention is not available for September 2024.",
    )


def test_none_values_are_skipped_or_not_available():
    kpis = full_kpis()
    for key in ("aum", "retention_rate", "fcr_rate", "digital_active_users"):
        kpis[key] = kpi(key, None)
    got = build_narrative(kpis, PRODUCTS, SEPT, "$")
    assert 3 <= len(got) <= 6
    assert got[0] == "AUM is not available for September 2024."
    assert got[3] == (
        "Retention is not available for September 2024; 12 new customers joined and 8 "
        "churned, leaving 1,234 active customers."
    )
    # FCR missing: the service sentence falls back to satisfaction; no digital sentence.
    assert got[4] == "In service, average satisfaction was 3.85 out of 5."
    assert len(got) == 5
    assert not any("None" in s or "nan" in s for s in got)


def test_flows_dominate_and_negative_amounts():
    q3 = parse_period("2024-Q3")
    kpis = {
        "net_flows": kpi("net_flows", -2_500_000),
        "investment_returns": kpi("investment_returns", 1_000_000),
    }
    got = build_narrative(kpis, matrix([]), q3, "$")
    assert got[1] == (
        "In Q3 2024, net flows of -$2.5M outweighed investment returns of $1.0M: client flows "
        "rather than markets drove the change in AUM."
    )


def test_best_and_worst_ties_go_to_the_larger_aum():
    products = matrix(
        [
            ("Small Winner", "ETF", 1e6, 0.05, np.nan),
            ("Big Winner", "ETF", 3e6, 0.05, np.nan),
            ("Small Loser", "Bond Fund", 2e6, 0.01, np.nan),
            ("Big Loser", "Bond Fund", 5e6, 0.01, np.nan),
        ]
    )
    got = build_narrative({}, products, SEPT, "$")
    assert got[2] == (
        "Over the 12 months to September 2024, the best product was Big Winner (ETF) at "
        "+5.00%, and the weakest was Big Loser (Bond Fund) at +1.00%."
    )


def test_single_product_with_a_return():
    products = matrix([("Solo", "ETF", 1e6, 0.031, 0.02), ("New", "ETF", 1e5, np.nan, np.nan)])
    got = build_narrative({}, products, SEPT, "$")
    assert got[2] == (
        "Over the 12 months to September 2024, the only product with a 12-month return was "
        "Solo (ETF) at +3.10% against a benchmark of +2.00%."
    )


def test_one_new_customer_is_singular():
    kpis = {
        "new_customers": kpi("new_customers", 1),
        "churned_customers": kpi("churned_customers", 0),
    }
    got = build_narrative(kpis, matrix([]), SEPT, "$")
    assert (
        got[2]
        == "Retention is not available for September 2024; 1 new customer joined and 0 churned."
    )
