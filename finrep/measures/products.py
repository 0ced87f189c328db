"""Products and performance (MEASURES.md, Products and performance) and the Product
Performance page's visuals.

Returns are computed from the month × product book of `assets.py` (no further pass over the
balances): a Modified Dietz return per product and month, then per category or over all
products by summing numerators and denominators. Benchmarks come from the month-end closes
of `market_data` (one small aggregation), blended per product by its risk level's equity
weight (config ``measures.equity_weight``). A group's benchmark is the blend of its
products' benchmarks weighted like its return: by each product's Dietz denominator.

A return needs the AUM of the month before, so the first month of the data has none, and a
return window reaching back to it (or before) is not computable (None).
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd

from finrep.config import Config
from finrep.engine import execute
from finrep.errors import ConfigError
from finrep.measures.assets import Book, Coverage, trend_window
from finrep.pack import Visual
from finrep.period import Period, month_end, month_start
from finrep.sources import Tables

MIN_VOLATILITY_MONTHS = 6
MATRIX_COLUMNS = (
    "product",
    "category",
    "aum",
    "fee_revenue",
    "net_flows",
    "return_period",
    "return_12m",
    "benchmark_12m",
    "excess_12m",
)


def market_returns(tables: Tables, end: date) -> pd.DataFrame:
    """Month-indexed (month start) monthly returns ``equity`` (sp500_index) and ``bond``
    (bond_index) from the last market_data row of each month up to `end`. NaN where the
    month or the month before has no row."""
    m = tables["market_data"]
    m = m.filter(m.date <= end)
    g = m.group_by(month=m.date.truncate("M")).aggregate(
        equity=m.sp500_index.argmax(m.date), bond=m.bond_index.argmax(m.date)
    )
    closes = execute(g)
    if closes.empty:
        return pd.DataFrame(columns=["equity", "bond"], dtype="float64")
    closes["month"] = pd.to_datetime(closes["month"])
    closes = closes.set_index("month").sort_index().astype("float64")
    months = pd.date_range(closes.index.min(), closes.index.max(), freq="MS")
    closes = closes.reindex(months)
    returns = closes / closes.shift(1) - 1.0
    return returns.replace([np.inf, -np.inf], np.nan)


def equity_weights(risk_levels: pd.Series, config: Config) -> pd.Series:
    """The equity weight of each risk level (config ``measures.equity_weight``)."""
    weights = dict(config.measures.equity_weight)
    missing = sorted({str(r) for r in risk_levels.dropna().unique()} - set(weights))
    if missing:
        raise ConfigError(
            f"measures.equity_weight has no weight for risk level {missing[0]!r} "
            f"(known: {', '.join(weights)}); add it to your finrep.toml"
        )
    # astype: on an empty selection (a filter matching nothing) map() keeps the text dtype.
    return risk_levels.map(lambda r: float(weights[r]) if r in weights else np.nan).astype(
        "float64"
    )


def product_monthly(book: Book, market: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Per month and product: the book columns plus ``aum_prev`` (NaN in the first month of
    the data), ``denominator`` (aum_prev + (new money + contributions − withdrawals) / 2),
    ``r`` (Modified Dietz; NaN when the denominator is ≤ 0 or unknown) and ``bench`` (the
    blended benchmark return of the month)."""
    f = book.frame.sort_values(["product_id", "month"]).reset_index(drop=True)
    f["aum_prev"] = f.groupby("product_id")["aum"].shift(1)
    flows = f["new_money"] + f["contributions"] - f["withdrawals"]
    f["denominator"] = f["aum_prev"] + flows / 2.0
    f["r"] = (f["investment_returns"] / f["denominator"]).where(f["denominator"] > 0)
    w = equity_weights(f["risk_level"], config)
    eq = f["month"].map(market["equity"]) if len(market) else np.nan
    bond = f["month"].map(market["bond"]) if len(market) else np.nan
    f["bench"] = w * eq + (1.0 - w) * bond
    return f


def group_monthly(pm: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Monthly ``r`` and ``bench`` per `by` (category, …) or over all products (by=None):
    r = Σ investment returns / Σ denominators (NaN when ≤ 0); bench = the products'
    benchmarks weighted by their (positive) denominators."""
    keys = ["month"] if by is None else ["month", by]
    d = pm["denominator"]
    pos = d.where(d > 0)
    tmp = pm.assign(
        _d=d,
        _pos=pos,
        _pb=pos * pm["bench"],
        _pos_b=pos.where(pm["bench"].notna()),
        _bench_missing=(pos.notna() & pm["bench"].isna()).astype("int64"),
    )
    g = tmp.groupby(keys).agg(
        returns=("investment_returns", "sum"),
        d=("_d", lambda s: s.sum(min_count=1)),
        pb=("_pb", "sum"),
        pos_b=("_pos_b", "sum"),
        missing=("_bench_missing", "sum"),
    )
    out = pd.DataFrame(index=g.index)
    out["r"] = (g["returns"] / g["d"]).where(g["d"] > 0)
    bench = (g["pb"] / g["pos_b"]).where(g["pos_b"] > 0)
    out["bench"] = bench.where(g["missing"] == 0)
    return out


def _chain(r: pd.Series) -> float | None:
    v = r.dropna()
    if v.empty:
        return None
    return float(np.prod(1.0 + v.to_numpy(dtype="float64")) - 1.0)


def _annualise(value: float | None, months: int) -> float | None:
    if value is None or months <= 12:
        return value
    base = 1.0 + value
    return float(base ** (12.0 / months) - 1.0) if base > 0 else None


def returnable(period: Period, coverage: Coverage) -> bool:
    """A return over `period` needs the AUM of the month before S inside the data."""
    return coverage.first_month < period.start and period.end <= month_end(coverage.last)


def window_returns(monthly: pd.DataFrame, period: Period, coverage: Coverage) -> dict:
    """``ret``, ``bench``, ``excess`` chain-linked over the months of `period` in which the
    series has a return (annualised beyond 12 months); the benchmark over the same months.
    `monthly`: month-indexed frame with columns r, bench."""
    none = {"ret": None, "bench": None, "excess": None}
    if not returnable(period, coverage):
        return none
    w = monthly.loc[pd.Timestamp(period.start) : pd.Timestamp(period.end)]
    valid = w["r"].notna()
    if not valid.any():
        return none
    ret = _annualise(_chain(w.loc[valid, "r"]), period.n_months)
    bench = None
    if w.loc[valid, "bench"].notna().all():
        bench = _annualise(_chain(w.loc[valid, "bench"]), period.n_months)
    excess = None if ret is None or bench is None else ret - bench
    return {"ret": ret, "bench": bench, "excess": excess}


def volatility(monthly: pd.DataFrame, period: Period) -> float | None:
    """σ·√12 of the monthly returns in the 12 months ending E (sample σ); None with fewer
    than 6 returns."""
    trail = period.trailing(12)
    r = monthly.loc[pd.Timestamp(trail.start) : pd.Timestamp(trail.end), "r"].dropna()
    if len(r) < MIN_VOLATILITY_MONTHS:
        return None
    return float(r.std(ddof=1) * math.sqrt(12.0))


def product_values(all_monthly: pd.DataFrame, period: Period, coverage: Coverage) -> dict:
    """return_period, return_12m, benchmark_return_12m, excess_return_12m, volatility_12m over
    all products (MEASURES.md)."""
    whole = window_returns(all_monthly, period, coverage)
    trail = window_returns(all_monthly, period.trailing(12), coverage)
    return {
        "return_period": whole["ret"],
        "return_12m": trail["ret"],
        "benchmark_return_12m": trail["bench"],
        "excess_return_12m": trail["excess"],
        "volatility_12m": volatility(all_monthly, period) if coverage.covers(period) else None,
    }


# ---- visuals ------------------------------------------------------------------------------
def _labels(products: pd.DataFrame) -> pd.Series:
    """Product names, with the id added where two products share a name."""
    names = products["product_name"].fillna(products["product_id"]).astype(str)
    dup = names.duplicated(keep=False)
    return names.where(~dup, names + " (" + products["product_id"].astype(str) + ")")


def product_table(pm: pd.DataFrame, period: Period, coverage: Coverage) -> pd.DataFrame:
    """One row per product with activity (AUM at E, flows or fees in P, or a return in the 12
    months ending E): product_id, product, category, risk_level, aum, fee_revenue,
    net_flows, return_period, return_12m, benchmark_12m, excess_12m, volatility_12m."""
    trail = period.trailing(12)
    rows = []
    for pid, g in pm.groupby("product_id", sort=True):
        g = g.set_index("month")
        in_p = g.loc[pd.Timestamp(period.start) : pd.Timestamp(period.end)]
        in_t = g.loc[pd.Timestamp(trail.start) : pd.Timestamp(trail.end)]
        aum = float(g["aum"].get(pd.Timestamp(month_start(period.end)), 0.0))
        flows = float((in_p["new_money"] + in_p["contributions"] - in_p["withdrawals"]).sum())
        fees = float(in_p["fees"].sum())
        active = aum != 0 or flows != 0 or fees != 0 or in_t["r"].notna().any()
        if not active:
            continue
        whole = window_returns(g, period, coverage)
        t12 = window_returns(g, trail, coverage)
        rows.append(
            {
                "product_id": pid,
                "product_name": g["product_name"].iloc[0],
                "category": g["category"].iloc[0],
                "risk_level": g["risk_level"].iloc[0],
                "aum": aum,
                "fee_revenue": fees,
                "net_flows": flows,
                "return_period": whole["ret"],
                "return_12m": t12["ret"],
                "benchmark_12m": t12["bench"],
                "excess_12m": t12["excess"],
                "volatility_12m": volatility(g, period),
            }
        )
    columns = [
        "product_id",
        "product",
        "category",
        "risk_level",
        *MATRIX_COLUMNS[2:],
        "volatility_12m",
    ]
    if not rows:
        return pd.DataFrame(columns=columns)
    t = pd.DataFrame(rows)
    t["product"] = _labels(t)
    numeric = [*MATRIX_COLUMNS[2:], "volatility_12m"]
    t[numeric] = t[numeric].astype("float64")
    t = t.sort_values(["aum", "product"], ascending=[False, True], kind="stable")
    return t[columns].reset_index(drop=True)


_MATRIX_UNITS = {
    "product": "text",
    "category": "text",
    "aum": "currency",
    "fee_revenue": "currency",
    "net_flows": "currency",
    "return_period": "return",
    "return_12m": "return",
    "benchmark_12m": "return",
    "excess_12m": "return",
}


def product_matrix(table: pd.DataFrame, period: Period) -> Visual:
    data = table[list(MATRIX_COLUMNS)].reset_index(drop=True)
    return Visual(
        key="product_matrix",
        title="Product matrix",
        caption=(
            f"AUM at the end of {period.end:%B %Y}; fee revenue, net flows and return over "
            f"{period.label}; 12-month return, blended benchmark and excess return."
        ),
        kind="table",
        data=data,
        units=_MATRIX_UNITS,
        labels={
            "product": "Product",
            "category": "Category",
            "aum": "AUM",
            "fee_revenue": "Fee revenue",
            "net_flows": "Net flows",
            "return_period": f"Return {period.label}",
            "return_12m": "Return 12m",
            "benchmark_12m": "Benchmark 12m",
            "excess_12m": "Excess 12m",
        },
        definitions=(
            "aum",
            "fee_revenue",
            "net_flows",
            "return_period",
            "return_12m",
            "benchmark",
            "excess_return",
        ),
        options={"bars": ("aum", "fee_revenue")},
        note="" if len(data) else f"No product activity in {period.label}.",
    )


def risk_return(table: pd.DataFrame, period: Period) -> Visual:
    t = table.dropna(subset=["volatility_12m", "return_12m"])
    data = pd.DataFrame(
        {
            "label": t["product"].astype(str),
            "x": t["volatility_12m"].astype("float64"),
            "y": t["return_12m"].astype("float64"),
            "size": t["aum"].astype("float64"),
            "group": t["category"].astype(str),
        }
    ).reset_index(drop=True)
    note = ""
    if data.empty:
        note = (
            "No product has both a 12-month return and at least "
            f"{MIN_VOLATILITY_MONTHS} monthly returns in the 12 months to {period.end:%b %Y}."
        )
    return Visual(
        key="risk_return",
        title="Risk vs return",
        caption=(
            f"Volatility against 12-month return to {period.end:%b %Y}; bubble size = AUM, "
            "colour = category."
        ),
        kind="bubble",
        data=data,
        units={"label": "text", "x": "pct", "y": "return", "size": "currency", "group": "text"},
        labels={
            "label": "Product",
            "x": "Volatility (annualised)",
            "y": "12-month return",
            "size": "AUM",
            "group": "Category",
        },
        definitions=("volatility", "return_12m", "aum"),
        note=note,
    )


def roi_vs_benchmark(
    all_monthly: pd.DataFrame, period: Period, config: Config, coverage: Coverage
) -> Visual:
    """Cumulative return of all products (AUM-weighted, Modified Dietz) and of their blended
    benchmark over the trend window; months without a return count as 0."""
    trail = trend_window(period, config.report.trend_months, coverage)
    months = pd.date_range(pd.Timestamp(trail.start), pd.Timestamp(trail.end), freq="MS")
    w = all_monthly.reindex(months)
    data = pd.DataFrame(
        {
            "x": months,
            "portfolio": (1.0 + w["r"].fillna(0.0)).cumprod().to_numpy() - 1.0,
            "benchmark": (1.0 + w["bench"].fillna(0.0)).cumprod().to_numpy() - 1.0,
        }
    )
    empty = not w["r"].notna().any()
    return Visual(
        key="roi_vs_benchmark",
        title="Return vs benchmark",
        caption=(
            f"Cumulative return of all products (AUM-weighted) against their blended "
            f"benchmark, {trail.label}."
        ),
        kind="line",
        data=data.iloc[0:0] if empty else data,
        units={"x": "date", "portfolio": "return", "benchmark": "return"},
        labels={"x": "Month", "portfolio": "All products", "benchmark": "Blended benchmark"},
        definitions=("monthly_return", "benchmark"),
        note=f"No monthly returns in {trail.label}." if empty else "",
    )


def top_bottom(table: pd.DataFrame, period: Period, n: int) -> Visual:
    """The n best and n worst products by 12-month return (ties: larger AUM first); with
    fewer than 2n products, they are split between the two groups."""
    t = table.dropna(subset=["return_12m"])
    t = t.sort_values(["return_12m", "aum"], ascending=[False, False], kind="stable")
    k = len(t)
    n_top = min(n, math.ceil(k / 2))
    n_bottom = min(n, k - n_top)
    top = t.head(n_top).assign(group=f"Top {n}")
    bottom = t.tail(n_bottom).assign(group=f"Bottom {n}") if n_bottom else t.iloc[0:0]
    both = pd.concat([top, bottom])
    data = pd.DataFrame(
        {
            "label": both["product"].astype(str),
            "value": both["return_12m"].astype("float64"),
            "group": both["group"].astype(str),
        }
    ).reset_index(drop=True)
    return Visual(
        key="top_bottom_products",
        title=f"Top and bottom {n} products",
        caption=f"Products by 12-month return to {period.end:%b %Y} (ties: larger AUM first).",
        kind="diverging",
        data=data,
        units={"label": "text", "value": "return", "group": "text"},
        labels={"label": "Product", "value": "12-month return", "group": "Group"},
        definitions=("return_12m",),
        note="" if len(data) else f"No product has a 12-month return to {period.end:%b %Y}.",
    )


def fee_revenue_by_product(table: pd.DataFrame, period: Period) -> Visual:
    t = table[table["fee_revenue"] != 0].sort_values(
        ["fee_revenue", "product"], ascending=[False, True], kind="stable"
    )
    data = pd.DataFrame(
        {"label": t["product"].astype(str), "value": t["fee_revenue"].astype("float64")}
    ).reset_index(drop=True)
    return Visual(
        key="fee_revenue_by_product",
        title="Fee revenue by product",
        caption=f"Fees charged over {period.label}, by product.",
        kind="bar",
        data=data,
        units={"label": "text", "value": "currency"},
        labels={"label": "Product", "value": "Fee revenue"},
        definitions=("fee_revenue",),
        options={"orientation": "h"},
        note="" if len(data) else f"No fees in {period.label}.",
    )
