"""Assets and flows (MEASURES.md, Assets and flows) and the Executive page's asset visuals.

One query builds the *book*: month × product totals of AUM (snapshot balances), the four
month-to-date flows of the snapshot rows and new money (initial investments by enrollment
month), for every month from the first month with balance rows up to E. Every asset KPI of
the period and of its comparison periods, the trends, the AUM bridge, the category and risk
splits and the monthly returns of `products.py` are read from that one small frame, so they
agree with one another by construction.

A month before the first month with balance rows is outside the data: its AUM is unknown
(None), not zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np
import pandas as pd

from finrep.config import Config
from finrep.engine import execute
from finrep.errors import DataError
from finrep.measures.context import MeasureContext
from finrep.pack import Visual
from finrep.period import Period, month_start
from finrep.schema import PRODUCT_CATEGORIES, RISK_LEVELS
from finrep.sources import Tables

FLOWS = ("new_money", "contributions", "withdrawals", "investment_returns", "fees")
BOOK_VALUES = ("aum", *FLOWS)
BRIDGE_COLUMNS = ("aum_open", *FLOWS, "aum", "residual")


def _none(value: object) -> float | None:
    """A plain float, or None for missing / NaN / infinite values."""
    if value is None:
        return None
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


@dataclass(frozen=True)
class Coverage:
    """The dates of the balance rows (before filters): `first` and `last` (the as-of date)."""

    first: date
    last: date

    @property
    def first_month(self) -> date:
        return month_start(self.first)

    @property
    def last_month(self) -> date:
        return month_start(self.last)

    def has_month(self, month: date) -> bool:
        return self.first_month <= month_start(month) <= self.last_month

    def covers(self, period: Period) -> bool:
        return self.has_month(period.start) and self.has_month(period.end)


def data_coverage(tables: Tables) -> Coverage:
    """First and last balance dates of the whole data folder (filters do not move them)."""
    b = tables["account_balances"]
    row = execute(b.aggregate(first=b.date.min(), last=b.date.max())).iloc[0]
    if pd.isna(row["first"]) or pd.isna(row["last"]):
        where = tables.files.get("account_balances", "account_balances")
        raise DataError(
            f"{where}: no balance rows with a date, so there is no month to report on; "
            "check the file (or run `finrep validate`)"
        )
    return Coverage(pd.Timestamp(row["first"]).date(), pd.Timestamp(row["last"]).date())


@dataclass(frozen=True, eq=False)
class Book:
    """Month × product totals up to E (see the module docstring).

    `frame`: one row per month of `months` and product of the filtered positions, columns
    month (Timestamp, month start), product_id, product_name, category, risk_level, aum,
    new_money, contributions, withdrawals, investment_returns, fees (0 where nothing
    happened).
    """

    frame: pd.DataFrame
    coverage: Coverage
    months: pd.DatetimeIndex

    @cached_property
    def totals(self) -> pd.DataFrame:
        """Month-indexed totals over every product, with the bridge columns:
        aum_open (previous month's AUM; NaN for the first month of the data) and residual."""
        t = self.frame.groupby("month")[list(BOOK_VALUES)].sum().reindex(self.months, fill_value=0)
        t["aum_open"] = t["aum"].shift(1)  # NaN for the first month: outside the data
        t["residual"] = t["aum"] - (
            t["aum_open"]
            + t["new_money"]
            + t["contributions"]
            - t["withdrawals"]
            + t["investment_returns"]
            - t["fees"]
        )
        return t

    def by(self, column: str) -> pd.DataFrame:
        """Totals per month and `column` (product_id, category, risk_level): a frame with a
        (month, column) MultiIndex and the book values."""
        return self.frame.groupby(["month", column])[list(BOOK_VALUES)].sum()

    def aum_at(self, month: date) -> float | None:
        """AUM in `month` (its snapshots), None outside the data."""
        if not self.coverage.has_month(month):
            return None
        m = pd.Timestamp(month_start(month))
        return _none(self.totals["aum"].get(m, 0.0))

    def flows_in(self, period: Period) -> dict[str, float | None]:
        """Sums of the five flows over the months of `period` (None outside the data)."""
        if not self.coverage.covers(period):
            return dict.fromkeys(FLOWS)
        t = self.totals.loc[pd.Timestamp(period.start) : pd.Timestamp(period.end)]
        return {f: float(t[f].sum()) for f in FLOWS}

    def window(self, period: Period) -> pd.DataFrame:
        """`totals` for the months of `period` that lie in the data."""
        return self.totals.loc[pd.Timestamp(period.start) : pd.Timestamp(period.end)]


def build_book(ctx: MeasureContext, coverage: Coverage, end: date) -> Book:
    """Two aggregations in the engine (snapshots by month × product, new money by month ×
    product), merged into the complete month × product grid."""
    s = ctx.snapshots
    s = s.filter(s.date <= end)
    snaps = s.group_by(["month", "product_id"]).aggregate(
        aum=s.balance.sum(),
        contributions=s.contributions_mtd.sum(),
        withdrawals=s.withdrawals_mtd.sum(),
        investment_returns=s.investment_returns_mtd.sum(),
        fees=s.fees_mtd.sum(),
    )
    e = ctx.enrollments
    e = e.filter(e.enrollment_date >= coverage.first_month, e.enrollment_date <= end)
    new = e.group_by(month=e.enrollment_date.truncate("M"), product_id=e.product_id).aggregate(
        new_money=e.initial_investment.sum()
    )
    p = ctx.positions
    products = execute(
        p.select("product_id", "product_name", "category", "risk_level").distinct()
    ).drop_duplicates("product_id")

    months = pd.date_range(
        pd.Timestamp(coverage.first_month), pd.Timestamp(month_start(end)), freq="MS"
    )
    grid = pd.MultiIndex.from_product(
        [months, sorted(products["product_id"])], names=["month", "product_id"]
    )
    frame = pd.DataFrame(index=grid)
    for part in (execute(snaps), execute(new)):
        if part.empty:
            continue
        part["month"] = pd.to_datetime(part["month"])
        part = part.set_index(["month", "product_id"])
        frame = frame.join(part.astype("float64"), how="left")
    for column in BOOK_VALUES:
        if column not in frame:
            frame[column] = 0.0
        frame[column] = frame[column].fillna(0.0)
    frame = frame.reset_index().merge(products, on="product_id", how="left")
    columns = ["month", "product_id", "product_name", "category", "risk_level", *BOOK_VALUES]
    return Book(frame[columns], coverage, months)


# ---- KPIs ---------------------------------------------------------------------------------
def asset_values(book: Book, period: Period) -> dict[str, float | None]:
    """aum, aum_open, the flows, net_flows, reconciliation_residual and fee_revenue of
    `period` (MEASURES.md). None where the period (or S⁻ for aum_open) lies outside the data."""
    flows = book.flows_in(period)
    aum = book.aum_at(period.end) if book.coverage.covers(period) else None
    aum_open = book.aum_at(period.opening) if book.coverage.covers(period) else None
    out: dict[str, float | None] = {"aum": aum, "aum_open": aum_open, **flows}
    nm, c, w = flows["new_money"], flows["contributions"], flows["withdrawals"]
    out["net_flows"] = None if None in (nm, c, w) else nm + c - w  # type: ignore[operator]
    parts = (aum, aum_open, out["net_flows"], flows["investment_returns"], flows["fees"])
    if None in parts:
        out["reconciliation_residual"] = None
    else:
        a, a0, nf, r, f = parts
        out["reconciliation_residual"] = a - (a0 + nf + r - f)  # type: ignore[operator]
    out["fee_revenue"] = flows["fees"]
    return out


def reconciliation(book: Book, period: Period, tolerance: float) -> pd.DataFrame:
    """The AUM bridge per month of `period`: month, aum_open, new_money, contributions,
    withdrawals, investment_returns, fees, aum, residual, flagged (|residual| above
    `tolerance` × aum). aum_open and residual are NaN for the first month of the data."""
    t = book.window(period).reset_index().rename(columns={"index": "month"})
    t = t[["month", *BRIDGE_COLUMNS]].copy()
    t["flagged"] = (t["residual"].abs() > tolerance * t["aum"].abs()).fillna(False).astype(bool)
    return t.reset_index(drop=True)


# ---- visuals ------------------------------------------------------------------------------
def trend_window(period: Period, months: int, coverage: Coverage) -> Period:
    """The `months` months ending E, cut to the months that have data."""
    trail = period.trailing(months)
    if trail.start < coverage.first_month:
        return Period(coverage.first_month, trail.end)
    return trail


def aum_history(book: Book, period: Period) -> pd.Series:
    """Month-end AUM of every month of the data up to E (the forecast's input)."""
    t = book.totals.loc[: pd.Timestamp(period.end)]
    return t["aum"].astype("float64")


@dataclass(frozen=True, eq=False)
class _History:
    """The forecast's shape (frame, mape, note, has_forecast) with history only."""

    frame: pd.DataFrame
    mape: float | None
    note: str
    has_forecast: bool = False


def _no_forecast(history: pd.Series, note: str) -> _History:
    frame = pd.DataFrame({"x": pd.to_datetime(history.index), "actual": history.to_numpy()})
    for column in ("forecast", "lo80", "hi80", "lo95", "hi95"):
        frame[column] = np.nan
    return _History(frame, None, note)


def aum_trend(book: Book, period: Period, config: Config) -> Visual:
    from finrep.measures.forecast import forecast_aum

    m = config.measures
    history = aum_history(book, period)
    try:
        fc = forecast_aum(
            history,
            horizon=m.forecast_horizon,
            backtest=m.forecast_backtest,
            min_history=m.forecast_min_history,
        )
    except (ValueError, ArithmeticError, np.linalg.LinAlgError):
        # A model that cannot be fitted (e.g. a long flat history) is no reason to lose the
        # pack: the chart shows the history and says there is no forecast.
        fc = _no_forecast(history, "No forecast: the model could not be fitted to this history.")
    trail = trend_window(period, config.report.trend_months, book.coverage)
    frame = fc.frame
    frame = frame[pd.to_datetime(frame["x"]) >= pd.Timestamp(trail.start)].reset_index(drop=True)
    if fc.mape is not None:
        caption = (
            f"Month-end AUM, {trail.label}, with a {m.forecast_horizon}-month forecast "
            f"(80% and 95% bands); back-test MAPE {fc.mape * 100:.1f}% over the last "
            f"{m.forecast_backtest} months."
        )
    elif fc.has_forecast:
        caption = (
            f"Month-end AUM, {trail.label}, with a {m.forecast_horizon}-month forecast "
            "(80% and 95% bands)."
        )
    else:
        caption = f"Month-end AUM, {trail.label}. {fc.note}"
    money = ("actual", "forecast", "lo80", "hi80", "lo95", "hi95")
    return Visual(
        key="aum_trend",
        title="AUM trend and forecast",
        caption=caption,
        kind="forecast",
        data=frame,
        units={"x": "date", **dict.fromkeys(money, "currency")},
        labels={
            "x": "Month",
            "actual": "AUM",
            "forecast": "Forecast",
            "lo80": "80% low",
            "hi80": "80% high",
            "lo95": "95% low",
            "hi95": "95% high",
        },
        definitions=("aum", "aum_forecast", "forecast_mape"),
        options={"mape": fc.mape, "horizon": m.forecast_horizon},
        note="" if fc.has_forecast else fc.note,
    )


def _ordered(values, order: tuple[str, ...]) -> list[str]:
    present = list(dict.fromkeys(values))
    return [v for v in order if v in present] + sorted(v for v in present if v not in order)


def aum_by(book: Book, period: Period, column: str, order: tuple[str, ...]) -> pd.DataFrame:
    """label, value: AUM at E by `column`, in `order` (unknown labels after it)."""
    at = book.frame[book.frame["month"] == pd.Timestamp(month_start(period.end))]
    s = at.groupby(column)["aum"].sum()
    s = s[s != 0]
    labels = _ordered(s.index, order)
    return pd.DataFrame({"label": labels, "value": [float(s[x]) for x in labels]})


def aum_by_category(book: Book, period: Period) -> Visual:
    data = aum_by(book, period, "category", PRODUCT_CATEGORIES)
    data = data.sort_values("value", ascending=False, kind="stable").reset_index(drop=True)
    return Visual(
        key="aum_by_category",
        title="AUM by product category",
        caption=f"Share of month-end AUM by product category, {period.end:%B %Y}.",
        kind="donut",
        data=data,
        units={"label": "text", "value": "currency"},
        labels={"label": "Category", "value": "AUM"},
        definitions=("aum",),
        note="" if len(data) else f"No AUM at the end of {period.end:%B %Y}.",
    )


def aum_by_risk(book: Book, period: Period) -> Visual:
    data = aum_by(book, period, "risk_level", RISK_LEVELS)
    return Visual(
        key="aum_by_risk",
        title="AUM by risk level",
        caption=f"Month-end AUM by product risk level, {period.end:%B %Y}.",
        kind="bar",
        data=data,
        units={"label": "text", "value": "currency"},
        labels={"label": "Risk level", "value": "AUM"},
        definitions=("aum",),
        options={"orientation": "v"},
        note="" if len(data) else f"No AUM at the end of {period.end:%B %Y}.",
    )


def net_flows_trend(book: Book, period: Period, config: Config) -> Visual:
    trail = trend_window(period, config.report.trend_months, book.coverage)
    t = book.window(trail)
    data = pd.DataFrame(
        {
            "x": t.index,
            "inflows": (t["new_money"] + t["contributions"]).to_numpy(),
            "withdrawals": t["withdrawals"].to_numpy(),
            "net": (t["new_money"] + t["contributions"] - t["withdrawals"]).to_numpy(),
        }
    )
    return Visual(
        key="net_flows_trend",
        title="Net flows over time",
        caption=(
            f"Inflows (new money + contributions) up, withdrawals down, net flows as a line; "
            f"{trail.label}."
        ),
        kind="combo",
        data=data,
        units={"x": "date", "inflows": "currency", "withdrawals": "currency", "net": "currency"},
        labels={
            "x": "Month",
            "inflows": "Inflows",
            "withdrawals": "Withdrawals",
            "net": "Net flows",
        },
        definitions=("net_flows", "new_money", "contributions", "withdrawals"),
    )


def aum_bridge(values: dict[str, float | None], period: Period) -> Visual:
    """Opening AUM → +new money → +contributions → −withdrawals → +returns → −fees →
    (residual, only when it is not zero to the cent) → closing AUM."""
    v = values
    if v["aum"] is None or v["aum_open"] is None:
        return Visual(
            key="aum_bridge",
            title="AUM bridge",
            caption=f"From opening to closing AUM, {period.label}.",
            kind="waterfall",
            data=pd.DataFrame(columns=["label", "value", "total"]),
            units={"label": "text", "value": "currency", "total": "text"},
            labels={"label": "Step", "value": "Amount"},
            definitions=("aum_open", "aum", "reconciliation_residual"),
            note=f"No opening AUM: {period.opening:%B %Y} is before the first month of data.",
        )
    rows = [
        ("Opening AUM", v["aum_open"], True),
        ("New money", v["new_money"], False),
        ("Contributions", v["contributions"], False),
        ("Withdrawals", -v["withdrawals"], False),  # type: ignore[operator]
        ("Investment returns", v["investment_returns"], False),
        ("Fees", -v["fees"], False),  # type: ignore[operator]
    ]
    residual = v["reconciliation_residual"]
    if residual is not None and round(residual, 2) != 0:
        rows.append(("Residual", residual, False))
    rows.append(("Closing AUM", v["aum"], True))
    data = pd.DataFrame(rows, columns=["label", "value", "total"])
    data["value"] = data["value"].astype("float64")
    data["total"] = data["total"].astype(bool)
    return Visual(
        key="aum_bridge",
        title="AUM bridge",
        caption=f"From AUM at the end of {period.opening:%B %Y} to the end of {period.end:%B %Y}.",
        kind="waterfall",
        data=data,
        units={"label": "text", "value": "currency", "total": "text"},
        labels={"label": "Step", "value": "Amount"},
        definitions=(
            "aum_open",
            "new_money",
            "contributions",
            "withdrawals",
            "investment_returns",
            "fees",
            "reconciliation_residual",
            "aum",
        ),
    )


def customer_map(states: pd.DataFrame, period: Period) -> Visual:
    """`states`: state, active (customers active at E), aum (AUM at E)."""
    data = states[(states["active"] > 0) | (states["aum"] != 0)]
    data = pd.DataFrame(
        {
            "state": data["state"].astype(str),
            "value": data["active"].astype("int64"),
            "value2": data["aum"].astype("float64"),
        }
    ).sort_values("state", kind="stable")
    return Visual(
        key="customer_map",
        title="Customers by state",
        caption=f"Active customers by state at the end of {period.end:%B %Y} (label: AUM).",
        kind="state_map",
        data=data.reset_index(drop=True),
        units={"state": "text", "value": "count", "value2": "currency"},
        labels={"state": "State", "value": "Active customers", "value2": "AUM"},
        definitions=("active_customers", "aum"),
        note="" if len(data) else f"No active customers at the end of {period.end:%B %Y}.",
    )
