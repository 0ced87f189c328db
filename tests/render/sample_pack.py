"""A complete, plausible `Pack` built by hand, for renderer tests (PDF and workbook).

No query runs here: every frame is typed in or drawn from a seeded generator, so the pack is
identical on every call. Hostile strings are planted where data strings reach a document:
a product named ``<b>Bold & Co</b>``, people named ``Dvořák`` and ``王``.

Use ``make_sample_pack(**overrides)``; any `Pack` field may be overridden, e.g.
``make_sample_pack(filters=Filters.of(segment=["Affluent"]))``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from finrep.filters import Filters
from finrep.pack import (
    KPI,
    PAGE_LAYOUT,
    PAGE_TITLES,
    Definition,
    Pack,
    Page,
    RunInfo,
    SourceFile,
    Visual,
)
from finrep.period import Period, add_months

HOSTILE_PRODUCT = "<b>Bold & Co</b>"
HOSTILE_NAMES = ("Dvořák", "王")

PERIOD = Period(date(2024, 12, 1), date(2024, 12, 31))
AS_OF = date(2024, 12, 31)

SEGMENTS = ("Mass Market", "Affluent", "High Net Worth", "Ultra High Net Worth")
AGE_BANDS = ("Under 30", "30-44", "45-59", "60+")
CATEGORIES = (
    "Savings Account",
    "Money Market Fund",
    "Bond Fund",
    "Retirement Account",
    "Annuity",
    "Insurance Product",
    "Mutual Fund",
    "Investment Fund",
    "ETF",
)
SERVICE_CHANNELS = ("Phone", "In-person", "Email", "Chat", "Web", "Mobile App")
ENROLLMENT_CHANNELS = ("In-person", "Phone", "Web", "Mobile App")
REASONS = (
    "Account Inquiry",
    "Statement Request",
    "Password Reset",
    "Fee Inquiry",
    "Investment Advice",
    "Market Information",
    "Transaction Issue",
    "Technical Support",
    "Complaint",
)
DEVICES = ("Desktop", "Mobile Phone", "Tablet", "Smart TV", "Voice Assistant")
ACTIONS = (
    "Login",
    "View Balance",
    "Download Statement",
    "Research Product",
    "Modify Investment",
    "Use Planning Tool",
    "Update Profile",
    "Contact Support",
    "Complete Survey",
    "Watch Educational Video",
)
RISKS = ("Low", "Medium-Low", "Medium", "Medium-High", "High")
REGION_OF = {
    "CA": "West", "WA": "West", "OR": "West", "AZ": "West", "CO": "West", "NV": "West",
    "UT": "West", "TX": "South", "FL": "South", "GA": "South", "NC": "South", "VA": "South",
    "TN": "South", "NY": "Northeast", "MA": "Northeast", "PA": "Northeast", "NJ": "Northeast",
    "IL": "Midwest", "OH": "Midwest", "MI": "Midwest", "MN": "Midwest", "WI": "Midwest",
}  # fmt: skip

# (product_id, name, category, risk)
PRODUCTS = (
    ("P001", "Core Savings", "Savings Account", "Low"),
    ("P002", "Treasury Money Market", "Money Market Fund", "Low"),
    ("P003", "Aggregate Bond Fund", "Bond Fund", "Medium-Low"),
    ("P004", "Municipal Bond Fund", "Bond Fund", "Medium-Low"),
    ("P005", "Target Retirement 2045", "Retirement Account", "Medium"),
    ("P006", "Fixed Income Annuity", "Annuity", "Low"),
    ("P007", "Whole Life Plus", "Insurance Product", "Medium-Low"),
    ("P008", "Balanced Growth Fund", "Mutual Fund", "Medium"),
    ("P009", HOSTILE_PRODUCT, "Investment Fund", "Medium-High"),
    ("P010", "US Large Cap ETF", "ETF", "High"),
    ("P011", "Emerging Markets Opportunities and Sustainable Infrastructure Fund", "ETF", "High"),
    ("P012", "Dividend Income Fund", "Mutual Fund", "Medium"),
)


@dataclass(frozen=True)
class SampleFinding:
    """Stands in for `finrep.validate.Finding` (same attributes)."""

    file: str
    rule: str
    severity: str
    row: int | None
    column: str | None
    value: str | None
    message: str


def _kpi(key, label, unit, value, previous, last_year, higher_is_better=True) -> KPI:
    def change(a, b):
        return None if a is None or b is None else a - b

    def pct(a, b):
        return None if a is None or b is None or b == 0 else (a - b) / abs(b)

    return KPI(
        key=key,
        label=label,
        unit=unit,
        value=value,
        previous=previous,
        last_year=last_year,
        change=change(value, previous),
        change_pct=pct(value, previous),
        change_ly=change(value, last_year),
        change_ly_pct=pct(value, last_year),
        higher_is_better=higher_is_better,
    )


def sample_kpis() -> dict[str, KPI]:
    """Every KPI of the pages (plus the bridge pieces), by key."""
    ks = [
        _kpi("aum", "AUM", "currency", 243_012_345.67, 239_876_543.21, 214_500_000.00),
        _kpi("aum_open", "Opening AUM", "currency", 239_876_543.21, 237_100_000.0, 212_000_000.0),
        _kpi("new_money", "New money", "currency", 1_850_000.0, 1_620_000.0, 2_010_000.0),
        _kpi("contributions", "Contributions", "currency", 2_412_500.5, 2_380_000.0, 2_100_000.0),
        _kpi(
            "withdrawals", "Withdrawals", "currency", 3_105_220.0, 2_950_000.0, 2_700_000.0, False
        ),
        _kpi(
            "investment_returns",
            "Investment returns",
            "currency",
            2_131_000.96,
            1_200_000.0,
            1_500_000.0,
        ),  # fmt: skip
        _kpi("fees", "Fees", "currency", 152_479.0, 149_800.0, 131_000.0),
        _kpi("net_flows", "Net flows", "currency", 1_157_280.5, 1_050_000.0, 1_410_000.0),
        _kpi("active_customers", "Active customers", "count", 982, 975, 931),
        _kpi("retention_rate", "Retention rate", "pct", 0.9871, 0.9902, 0.9815),
        _kpi("fee_revenue", "Fee revenue", "currency", 152_479.0, 149_800.0, 131_000.0),
        _kpi("return_period", "Period return", "return", 0.0089, 0.0050, 0.0072),
        _kpi("return_12m", "12m return", "return", 0.0712, 0.0695, 0.0420),
        _kpi("excess_return_12m", "12m excess return", "return", -0.0043, 0.0011, -0.0102),
        _kpi("new_customers", "New customers", "count", 17, 21, 15),
        _kpi("churned_customers", "Churned customers", "count", 9, 6, 11, False),
        _kpi("avg_tenure_months", "Avg tenure", "months", 38.4, 37.9, 31.2),
        _kpi("products_per_customer", "Products per customer", "ratio", 1.84, 1.83, 1.79),
        _kpi(
            "avg_balance_per_customer",
            "Avg balance per customer",
            "currency",
            247_466.75,
            246_027.22,
            230_397.42,
        ),  # fmt: skip
        _kpi("contacts", "Contacts", "count", 412, 398, 377, False),
        _kpi("avg_satisfaction", "Avg satisfaction", "score", 3.87, 3.91, 3.74),
        _kpi("csat_pct", "CSAT", "pct", 0.684, 0.701, 0.652),
        _kpi("fcr_rate", "First-contact resolution", "pct", 0.7214, 0.7302, 0.6950),
        _kpi("avg_handle_minutes", "Avg handle time", "minutes", 12.6, 12.1, 13.4, False),
        _kpi("issues_per_1000", "Issues per 1,000", "number", 61.1, 55.4, 70.2, False),
        _kpi("digital_active_users", "Digital active users", "count", 655, 640, 570),
        _kpi("digital_engagement_rate", "Engagement rate", "pct", 0.667, 0.656, 0.612),
        _kpi("mobile_adoption_rate", "Mobile adoption", "pct", 0.581, 0.574, 0.512),
        _kpi("sessions", "Sessions", "count", 4_208, 4_050, 3_610),
        _kpi("avg_session_minutes", "Avg session", "minutes", 7.9, 8.1, 7.2),
        _kpi("reconciliation_residual", "Reconciliation residual", "currency", 0.0, 0.0, 0.0),
    ]
    return {k.key: k for k in ks}


def _months(n: int, end: date = PERIOD.start) -> list[date]:
    return [add_months(end, i - n + 1) for i in range(n)]


def _executive(rng: np.random.Generator) -> tuple[Visual, ...]:
    hist = _months(24)
    aum = 190e6 * np.cumprod(1 + rng.normal(0.011, 0.012, 24))
    aum[-1] = 243_012_345.67
    future = [add_months(PERIOD.start, i) for i in range(1, 7)]
    step = np.arange(1, 7)
    fc = aum[-1] * (1 + 0.009) ** step
    width = aum[-1] * 0.012 * np.sqrt(step)
    n = 30
    forecast = pd.DataFrame(
        {
            "x": hist + future,
            "actual": list(aum) + [None] * 6,
            "forecast": [None] * 23 + [aum[-1]] + list(fc),
            "lo80": [None] * 23 + [aum[-1]] + list(fc - 1.28 * width),
            "hi80": [None] * 23 + [aum[-1]] + list(fc + 1.28 * width),
            "lo95": [None] * 23 + [aum[-1]] + list(fc - 1.96 * width),
            "hi95": [None] * 23 + [aum[-1]] + list(fc + 1.96 * width),
        }
    )
    for c in forecast.columns[1:]:
        forecast[c] = forecast[c].astype("float64")
    assert len(forecast) == n
    shares = np.array([0.08, 0.06, 0.14, 0.22, 0.07, 0.05, 0.17, 0.09, 0.12])
    donut = pd.DataFrame({"label": list(CATEGORIES), "value": shares * 243_012_345.67})
    donut = donut.sort_values("value", ascending=False, ignore_index=True)
    inflows = rng.uniform(3.0e6, 5.5e6, 24)
    withdrawals = rng.uniform(2.2e6, 4.2e6, 24)
    combo = pd.DataFrame(
        {"x": hist, "inflows": inflows, "withdrawals": withdrawals, "net": inflows - withdrawals}
    )
    bridge = pd.DataFrame(
        {
            "label": [
                "Opening AUM",
                "New money",
                "Contributions",
                "Withdrawals",
                "Investment returns",
                "Fees",
                "Closing AUM",
            ],
            "value": [
                239_876_543.21,
                1_850_000.0,
                2_412_500.5,
                -3_105_220.0,
                2_131_000.96,
                -152_479.0,
                243_012_345.67,
            ],
            "total": [True, False, False, False, False, False, True],
        }
    )
    ppc = pd.DataFrame({"label": list(SEGMENTS), "value": [1.41, 1.78, 2.15, 2.62]})
    states = sorted(REGION_OF)
    cust = rng.integers(5, 120, len(states))
    state_map = pd.DataFrame(
        {"state": states, "value": cust, "value2": cust * rng.uniform(1.5e5, 3.5e5, len(states))}
    )
    money = {"value": "currency"}
    return (
        Visual("aum_trend", "AUM trend and forecast",
               "24 months of AUM with a 6-month forecast (80% and 95% bands); backtest MAPE 1.8%.",
               "forecast", forecast,
               units={c: "currency" for c in forecast.columns[1:]} | {"x": "date"},
               labels={"actual": "AUM", "forecast": "Forecast", "lo80": "80% low",
                       "hi80": "80% high", "lo95": "95% low", "hi95": "95% high"},
               definitions=("aum", "aum_forecast")),
        Visual("aum_by_category", "AUM by product category",
               "Share of closing AUM by product category.", "donut", donut, units=money,
               labels={"label": "Category", "value": "AUM"}, definitions=("aum",)),
        Visual("net_flows_trend", "Net flows",
               "Inflows (new money + contributions) up, withdrawals down, net flows as a line.",
               "combo", combo,
               units={"x": "date", "inflows": "currency", "withdrawals": "currency",
                      "net": "currency"},
               labels={"inflows": "Inflows", "withdrawals": "Withdrawals", "net": "Net flows"},
               definitions=("net_flows",)),
        Visual("aum_bridge", "AUM bridge", "From opening to closing AUM in December 2024.",
               "waterfall", bridge, units=money, definitions=("aum", "net_flows")),
        Visual("products_per_customer_by_segment", "Products per customer by segment",
               "Positions open at period end per active customer.", "bar", ppc,
               units={"value": "ratio"}, labels={"label": "Segment", "value": "Products"},
               definitions=("products_per_customer",)),
        Visual("customer_map", "Customers by state",
               "Colour: active customers; label: AUM.", "state_map", state_map,
               units={"value": "count", "value2": "currency"},
               labels={"value": "Active customers", "value2": "AUM"},
               definitions=("active_customers", "aum")),
    )  # fmt: skip


def _products(rng: np.random.Generator) -> tuple[Visual, ...]:
    n = len(PRODUCTS)
    aum = rng.uniform(4e6, 40e6, n)
    ret12 = rng.normal(0.06, 0.04, n)
    bench = ret12 - rng.normal(0.0, 0.015, n)
    matrix = pd.DataFrame(
        {
            "product": [p[1] for p in PRODUCTS],
            "category": [p[2] for p in PRODUCTS],
            "aum": aum,
            "fee_revenue": aum * rng.uniform(0.0003, 0.0012, n),
            "net_flows": rng.normal(50_000, 150_000, n),
            "return_period": rng.normal(0.006, 0.01, n),
            "return_12m": ret12,
            "benchmark_12m": bench,
            "excess_12m": ret12 - bench,
        }
    ).sort_values("aum", ascending=False, ignore_index=True)
    matrix_units = {
        "product": "text", "category": "text", "aum": "currency", "fee_revenue": "currency",
        "net_flows": "currency", "return_period": "return", "return_12m": "return",
        "benchmark_12m": "return", "excess_12m": "return",
    }  # fmt: skip
    matrix_labels = {
        "product": "Product", "category": "Category", "aum": "AUM",
        "fee_revenue": "Fee revenue", "net_flows": "Net flows", "return_period": "Period return",
        "return_12m": "12m return", "benchmark_12m": "Benchmark 12m", "excess_12m": "Excess 12m",
    }  # fmt: skip
    bubble = pd.DataFrame(
        {
            "label": matrix["product"],
            "x": rng.uniform(0.01, 0.18, n),
            "y": matrix["return_12m"],
            "size": matrix["aum"],
            "group": matrix["category"],
        }
    )
    months = _months(24)
    port = np.cumprod(1 + rng.normal(0.006, 0.01, 24)) - 1
    bmk = np.cumprod(1 + rng.normal(0.0055, 0.011, 24)) - 1
    roi = pd.DataFrame({"x": months, "portfolio": port, "benchmark": bmk})
    ranked = matrix.sort_values("return_12m", ascending=False)
    top = ranked.head(5)
    bottom = ranked.tail(5)
    diverging = pd.DataFrame(
        {
            "label": list(top["product"]) + list(bottom["product"]),
            "value": list(top["return_12m"]) + list(bottom["return_12m"]),
            "group": ["Top 5"] * 5 + ["Bottom 5"] * 5,
        }
    )
    fees = (
        matrix[["product", "fee_revenue"]]
        .rename(columns={"product": "label", "fee_revenue": "value"})
        .sort_values("value", ascending=False, ignore_index=True)
    )
    risk = pd.DataFrame({"label": list(RISKS), "value": [52e6, 61e6, 70e6, 38e6, 22e6]})
    return (
        Visual("product_matrix", "Product matrix",
               "AUM, fee revenue, flows and returns by product; benchmark is the blended index.",
               "table", matrix, units=matrix_units, labels=matrix_labels,
               definitions=("aum", "fee_revenue", "net_flows", "return_period", "return_12m",
                            "benchmark", "excess_return_12m"),
               options={"bars": ("aum",)}),
        Visual("risk_return", "Risk vs return",
               "Volatility (12m, annualised) against 12-month return; bubble size is AUM.",
               "bubble", bubble,
               units={"x": "pct", "y": "return", "size": "currency", "label": "text",
                      "group": "text"},
               labels={"x": "Volatility", "y": "12m return", "size": "AUM", "group": "Category"},
               definitions=("volatility", "return_12m")),
        Visual("roi_vs_benchmark", "Cumulative return vs benchmark",
               "All products, AUM-weighted, against the blended benchmark over 24 months.",
               "line", roi, units={"x": "date", "portfolio": "return", "benchmark": "return"},
               labels={"portfolio": "Portfolio", "benchmark": "Benchmark"},
               definitions=("period_return", "benchmark")),
        Visual("top_bottom_products", "Best and worst products",
               "Five best and five worst products by 12-month return.", "diverging", diverging,
               units={"value": "return"}, labels={"label": "Product", "value": "12m return"},
               definitions=("return_12m",)),
        Visual("fee_revenue_by_product", "Fee revenue by product",
               "Fees charged in the period, by product.", "bar", fees, units={"value": "currency"},
               labels={"label": "Product", "value": "Fee revenue"}, definitions=("fee_revenue",)),
        Visual("aum_by_risk", "AUM by risk level", "Closing AUM by product risk level.", "bar",
               risk, units={"value": "currency"}, labels={"label": "Risk", "value": "AUM"},
               options={"orientation": "v"}, definitions=("aum",)),
    )  # fmt: skip


def _customers(rng: np.random.Generator) -> tuple[Visual, ...]:
    months = _months(24)
    acq = pd.DataFrame({"x": months, "new_customers": rng.integers(8, 30, 24)})
    growth = pd.DataFrame(
        {
            "label": ["Active at start", "New", "Churned", "Other", "Active at end"],
            "value": [975, 15, -9, 1, 982],
            "total": [True, False, False, False, True],
        }
    )
    heat = pd.DataFrame({"row": list(SEGMENTS)})
    base = np.array([25e3, 140e3, 620e3, 2.9e6])
    for j, band in enumerate(AGE_BANDS):
        heat[band] = base * (0.6 + 0.25 * j) * rng.uniform(0.9, 1.1, 4)
    heat.loc[3, "Under 30"] = np.nan  # no UHNW customer under 30
    links = []
    for ch in ENROLLMENT_CHANNELS:
        for cat in CATEGORIES[:5]:
            links.append((ch, cat, int(rng.integers(10, 80)), 0))
    for cat in CATEGORIES[:5]:
        inflow = sum(v for _, t, v, _ in links if t == cat)
        closed = int(inflow * 0.12)
        links.append((cat, "Active", inflow - closed, 1))
        links.append((cat, "Closed", closed, 1))
    sankey = pd.DataFrame(links, columns=["source", "target", "value", "stage"])
    npts = 300
    seg = rng.choice(SEGMENTS, npts, p=[0.45, 0.3, 0.18, 0.07])
    mult = pd.Series(seg).map(dict(zip(SEGMENTS, [2e4, 1.5e5, 6e5, 3e6], strict=True)))
    names = [f"Customer {i:03d}" for i in range(npts)]
    names[0], names[1] = HOSTILE_NAMES
    scatter = pd.DataFrame(
        {
            "x": rng.integers(1, 60, npts),
            "y": mult.to_numpy() * rng.lognormal(0, 0.4, npts),
            "group": seg,
            "label": names,
        }
    )
    ages = ["0", "3", "6", "12", "18", "24", "36"]
    cohorts = [f"{y}-Q{q}" for y in (2022, 2023, 2024) for q in (1, 2, 3, 4)]
    rows = []
    for i, cohort in enumerate(cohorts):
        age_max = (len(cohorts) - 1 - i) * 3 + 2  # months from cohort start to E
        rows.append(
            [cohort]
            + [
                (1.0 if a == "0" else max(0.5, 1 - 0.006 * int(a) - rng.uniform(0, 0.03)))
                if int(a) <= age_max
                else np.nan
                for a in ages
            ]
        )
    cohort_heat = pd.DataFrame(rows, columns=["row", *ages])
    return (
        Visual("acquisition_trend", "New customers",
               "Customers enrolling for the first time, per month.", "line", acq,
               units={"x": "date", "new_customers": "count"},
               labels={"new_customers": "New customers"}, definitions=("new_customers",)),
        Visual("customer_growth", "Customer growth", "Active customers from start to end of period.",
               "waterfall", growth, units={"value": "count"},
               definitions=("active_customers", "new_customers", "churned_customers")),
        Visual("balance_by_segment_age", "Average balance by segment and age",
               "Mean balance per active customer; blank where no customer.", "heatmap", heat,
               units={b: "currency" for b in AGE_BANDS}, labels={"row": "Segment"},
               definitions=("avg_balance_per_customer",)),
        Visual("channel_flows", "Channel to product to status",
               "Positions by enrollment channel, product category and status.", "sankey", sankey,
               units={"value": "count"}),
        Visual("customer_value", "Customer value",
               "Tenure against balance per active customer, coloured by segment.", "scatter",
               scatter, units={"x": "months", "y": "currency", "group": "text", "label": "text"},
               labels={"x": "Tenure (months)", "y": "Balance", "group": "Segment"},
               definitions=("avg_tenure_months",)),
        Visual("retention_cohorts", "Retention by cohort",
               "Share of each enrollment quarter still active, by months since enrollment.",
               "heatmap", cohort_heat, units={a: "pct" for a in ages}, labels={"row": "Cohort"},
               definitions=("retention_rate",)),
    )  # fmt: skip


def _service(rng: np.random.Generator) -> tuple[Visual, ...]:
    months = _months(12)
    vol = pd.DataFrame({"x": months})
    for ch, base in zip(SERVICE_CHANNELS, (120, 40, 80, 70, 50, 45), strict=True):
        vol[ch] = rng.integers(int(base * 0.8), int(base * 1.2), 12)
    sat = pd.DataFrame(
        {"label": list(REASONS), "value": rng.uniform(3.1, 4.5, len(REASONS)).round(2)}
    ).sort_values("value", ascending=False, ignore_index=True)
    gauge = pd.DataFrame({"value": [0.7214], "target": [0.75]})
    funnel = pd.DataFrame(
        {
            "label": ["Contacts", "First contacts", "Resolved", "Resolved on first contact"],
            "value": [412, 355, 301, 256],
        }
    )
    issues = pd.DataFrame({"row": list(SEGMENTS)})
    for cat in (*CATEGORIES[:6], "None"):
        issues[cat] = rng.integers(0, 14, 4)
    contacts = rng.integers(15, 90, len(REASONS))
    top = pd.DataFrame(
        {
            "reason": list(REASONS),
            "contacts": contacts,
            "share": contacts / contacts.sum(),
            "avg_satisfaction": rng.uniform(3.1, 4.5, len(REASONS)),
            "avg_handle_minutes": rng.uniform(6, 22, len(REASONS)),
            "fcr_rate": rng.uniform(0.55, 0.9, len(REASONS)),
            "change": rng.integers(-10, 12, len(REASONS)),
        }
    ).sort_values("contacts", ascending=False, ignore_index=True)
    return (
        Visual("volume_by_channel", "Contact volume by channel",
               "Contacts per month over 12 months, stacked by channel.", "stacked", vol,
               units={"x": "date"} | {c: "count" for c in SERVICE_CHANNELS},
               definitions=("contacts",)),
        Visual("satisfaction_by_reason", "Satisfaction by contact reason",
               "Mean satisfaction score (1–5) of scored contacts.", "bar", sat,
               units={"value": "score"}, labels={"label": "Reason", "value": "Satisfaction"},
               definitions=("avg_satisfaction",)),
        Visual("fcr_gauge", "First-contact resolution", "Against the 75% target.", "gauge",
               gauge, units={"value": "pct", "target": "pct"}, definitions=("fcr_rate",)),
        Visual("resolution_funnel", "Resolution funnel",
               "From all contacts to those resolved on first contact.", "funnel", funnel,
               units={"value": "count"}, definitions=("contacts", "fcr_rate")),
        Visual("issues_by_segment_category", "Issues by segment and primary product",
               "Complaints, technical and transaction issues.", "heatmap", issues,
               units={c: "count" for c in issues.columns[1:]}, labels={"row": "Segment"},
               definitions=("issues_per_1000",)),
        Visual("top_contact_reasons", "Top contact reasons",
               "Contacts by reason, with change vs the previous period.", "table", top,
               units={"reason": "text", "contacts": "count", "share": "pct",
                      "avg_satisfaction": "score", "avg_handle_minutes": "minutes",
                      "fcr_rate": "pct", "change": "count"},
               labels={"reason": "Reason", "contacts": "Contacts", "share": "Share",
                       "avg_satisfaction": "Satisfaction", "avg_handle_minutes": "Handle time",
                       "fcr_rate": "FCR", "change": "Change"},
               options={"bars": ("contacts",)},
               definitions=("contacts", "avg_satisfaction", "avg_handle_minutes", "fcr_rate")),
    )  # fmt: skip


def _digital(rng: np.random.Generator) -> tuple[Visual, ...]:
    months = _months(24)
    mau = np.linspace(480, 655, 24).round() + rng.integers(-15, 15, 24)
    trend = pd.DataFrame({"x": months, "mau": mau, "sessions": mau * rng.uniform(5.5, 6.8, 24)})
    devices = pd.DataFrame({"label": list(DEVICES), "value": [1710, 1590, 640, 170, 98]})
    actions = pd.DataFrame(
        {"label": list(ACTIONS), "value": sorted(rng.integers(80, 900, len(ACTIONS)))[::-1]}
    )
    usage = pd.DataFrame({"x": list(AGE_BANDS)})
    for dev, w in zip(DEVICES, (0.35, 0.4, 0.15, 0.06, 0.04), strict=True):
        usage[dev] = (rng.uniform(600, 1300, 4) * w).round()
    mean = rng.uniform(7.2, 8.4, 24)
    duration = pd.DataFrame({"x": months, "mean": mean, "median": mean * 0.82})
    states = sorted(REGION_OF)
    evg = pd.DataFrame(
        {
            "x": rng.uniform(2.0, 7.5, len(states)),
            "y": rng.normal(0.12, 0.06, len(states)),
            "group": [REGION_OF[s] for s in states],
            "size": rng.integers(5, 120, len(states)),
            "label": states,
        }
    )
    return (
        Visual("engagement_trend", "Digital engagement",
               "Monthly active users and sessions (right axis).", "line", trend,
               units={"x": "date", "mau": "count", "sessions": "count"},
               labels={"mau": "Monthly active users", "sessions": "Sessions"},
               options={"secondary": ("sessions",)},
               definitions=("digital_active_users", "sessions")),
        Visual("device_distribution", "Sessions by device", "Share of sessions in the period.",
               "donut", devices, units={"value": "count"}, definitions=("sessions",)),
        Visual("digital_actions", "Most common digital actions", "Sessions by main action.",
               "bar", actions, units={"value": "count"},
               labels={"label": "Action", "value": "Sessions"}, definitions=("sessions",)),
        Visual("usage_by_age_device", "Usage by age band and device",
               "Sessions by age band, stacked by device.", "stacked", usage,
               units={d: "count" for d in DEVICES} | {"x": "text"},
               options={"orientation": "h"}, definitions=("sessions",)),
        Visual("session_duration_trend", "Session duration",
               "Mean and median session length per month.", "line", duration,
               units={"x": "date", "mean": "minutes", "median": "minutes"},
               labels={"mean": "Mean", "median": "Median"},
               definitions=("avg_session_minutes",)),
        Visual("engagement_vs_growth", "Engagement vs growth by state",
               "Sessions per active customer against AUM change YoY; size is active customers.",
               "scatter", evg,
               units={"x": "ratio", "y": "return", "size": "count", "label": "text",
                      "group": "text"},
               labels={"x": "Sessions per customer", "y": "AUM change YoY", "group": "Region"},
               definitions=("sessions", "aum")),
    )  # fmt: skip


NARRATIVE = (
    "AUM closed December 2024 at $243.0M, up 1.3% on November and 13.3% on a year earlier.",
    "Net flows were $1.2M: $4.3M of new money and contributions against $3.1M of withdrawals.",
    "Investment returns added $2.1M; fees took $152,479.",
    "Active customers rose to 982 (17 new, 9 churned); retention held at 98.7%.",
    f"The {HOSTILE_PRODUCT} fund led on 12-month return among growth products.",
)


def sample_definitions() -> tuple[Definition, ...]:
    items = [
        ("aum", "AUM", "Assets under management: the sum of each position's last balance in "
         "the final month of the period. A stock, never summed over months."),
        ("net_flows", "Net flows", "New money plus contributions minus withdrawals."),
        ("active_customers", "Active customers", "Customers with at least one open position "
         "at the period end."),
        ("retention_rate", "Retention rate", "Share of customers active at the start of the "
         "period who are still active at its end."),
        ("fee_revenue", "Fee revenue", "Fees charged to positions during the period."),
        ("return_12m", "12m return", "Chain-linked Modified Dietz return over the 12 months "
         "ending with the period."),
        ("benchmark", "Benchmark", "Blend of equity and bond index returns weighted by the "
         "product's risk level."),
        ("fcr_rate", "First-contact resolution", "Share of first contacts resolved with no "
         "follow-up on the same reason within 7 days."),
        ("aum_forecast", "AUM forecast", "Damped-trend exponential smoothing; MAPE scored on "
         "the last 6 months held out."),
    ]  # fmt: skip
    return tuple(Definition(k, label, text) for k, label, text in items)


def sample_findings() -> tuple[SampleFinding, ...]:
    return (
        SampleFinding("customers.csv", "name_unusual", "warning", 17, "last_name",
                      HOSTILE_NAMES[0], "last name has non-ASCII characters (kept as is)"),
        SampleFinding("advisors.csv", "name_unusual", "warning", 4, "last_name",
                      HOSTILE_NAMES[1], "last name is one character long"),
        SampleFinding("account_balances.csv", "balance_identity", "warning", 20_311,
                      "balance", "10233.17",
                      "balance differs from the previous balance plus flows by 0.12"),
    )  # fmt: skip


def sample_reconciliation() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "month": [PERIOD.start],
            "aum_open": [239_876_543.21],
            "new_money": [1_850_000.0],
            "contributions": [2_412_500.5],
            "withdrawals": [3_105_220.0],
            "investment_returns": [2_131_000.96],
            "fees": [152_479.0],
            "aum": [243_012_345.67],
            "residual": [0.0],
            "flagged": [False],
        }
    )


def sample_facts(rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    months = _months(3)
    rows = []
    for m in months:
        for _pid, name, cat, _ in PRODUCTS[:4] + PRODUCTS[8:9]:
            for seg in SEGMENTS[:2]:
                st = "CA" if seg == "Affluent" else "NY"
                aum = float(rng.uniform(1e5, 5e6))
                rows.append(
                    (m, name, cat, seg, REGION_OF[st], st, "Web", aum,
                     float(rng.uniform(0, 5e4)), float(rng.uniform(0, 2e4)),
                     float(rng.uniform(0, 2e4)), float(rng.normal(5e3, 3e3)),
                     aum * 0.0008, int(rng.integers(1, 40)), int(rng.integers(1, 40)))
                )  # fmt: skip
    positions = pd.DataFrame(
        rows,
        columns=[
            "month", "product", "category", "segment", "region", "state", "channel", "aum",
            "new_money", "contributions", "withdrawals", "investment_returns", "fees",
            "open_positions", "active_customers",
        ],
    )  # fmt: skip
    service = pd.DataFrame(
        [
            (m, ch, r, seg, "West", int(rng.integers(1, 30)), float(rng.uniform(3, 4.6)),
             float(rng.uniform(5, 20)), int(rng.integers(0, 20)))
            for m in months for ch in SERVICE_CHANNELS[:3] for r in REASONS[:3]
            for seg in SEGMENTS[:1]
        ],
        columns=["month", "channel", "reason", "segment", "region", "contacts",
                 "avg_satisfaction", "avg_handle_minutes", "resolved"],
    )  # fmt: skip
    engagement = pd.DataFrame(
        [
            (m, dev, act, "Affluent", band, "South", int(rng.integers(1, 80)),
             int(rng.integers(1, 40)), float(rng.uniform(50, 600)))
            for m in months for dev in DEVICES[:2] for act in ACTIONS[:2]
            for band in AGE_BANDS[1:3]
        ],
        columns=["month", "device", "action", "segment", "age_band", "region", "sessions",
                 "users", "minutes"],
    )  # fmt: skip
    for frame in (positions, service, engagement):
        frame["month"] = pd.to_datetime(frame["month"])
    return {
        "fact_positions_monthly": positions,
        "fact_service_monthly": service,
        "fact_engagement_monthly": engagement,
    }


def sample_run() -> RunInfo:
    rows = {
        "customers": 1_000, "products": 12, "enrollments": 1_843, "account_balances": 88_412,
        "service_interactions": 9_120, "engagement": 61_004, "advisors": 25,
        "market_data": 1_305, "retention": 402,
    }  # fmt: skip
    sources = tuple(
        SourceFile(t, f"{t}.csv", n, hashlib.sha256(f"{t}:{n}".encode()).hexdigest(), "csv")
        for t, n in rows.items()
    )
    return RunInfo("0.1.0", "duckdb", "data", sources, {"period": "2024-12", "pages": "all"})


def make_sample_pack(**overrides) -> Pack:
    """A complete pack for December 2024 (unfiltered unless `filters=` is given)."""
    rng = np.random.default_rng(20241231)
    kpis = sample_kpis()
    builders = {
        "executive": _executive,
        "products": _products,
        "customers": _customers,
        "service": _service,
        "digital": _digital,
    }
    pages = []
    for key, layout in PAGE_LAYOUT.items():
        visuals = builders[key](rng)
        assert tuple((v.key, v.kind) for v in visuals) == layout["visuals"], key
        pages.append(
            Page(
                key=key,
                title=PAGE_TITLES[key],
                kpis=tuple(kpis[k] for k in layout["kpis"]),
                visuals=visuals,
                narrative=NARRATIVE if key == "executive" else (),
            )
        )
    fields = dict(
        company="Northwind Wealth Partners",
        title="Monthly Client & Asset Report",
        period=PERIOD,
        comparison=PERIOD.previous(),
        last_year=PERIOD.last_year(),
        filters=Filters(),
        as_of=AS_OF,
        kpis=kpis,
        pages=tuple(pages),
        definitions=sample_definitions(),
        findings=sample_findings(),
        reconciliation=sample_reconciliation(),
        facts=sample_facts(rng),
        run=sample_run(),
    )
    fields.update(overrides)
    return Pack(**fields)


__all__ = ["HOSTILE_NAMES", "HOSTILE_PRODUCT", "SampleFinding", "make_sample_pack"]
