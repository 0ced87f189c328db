"""KPI assembly: every KPI key of MEASURES.md with its value, comparison values and changes.

`MeasureRun` holds what one period and one set of filters need: the filtered context, the
data's coverage, and the per-month series computed once (the month × product book, market
returns, customer counts for the period and both comparison periods). The KPIs of the
period, the previous period and the same period last year are all read from those, and the
pack's visuals read the same series, so a number never differs between places.

A comparison period that reaches outside the months with balance data is not computable:
all its values are None (and so are the changes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path

import pandas as pd

from finrep.config import Config, load_config
from finrep.filters import Filters
from finrep.measures.assets import (
    Book,
    Coverage,
    asset_values,
    build_book,
    data_coverage,
)
from finrep.measures.context import MeasureContext
from finrep.measures.customers import CustomerCounts, customer_counts, customer_values
from finrep.measures.products import group_monthly, market_returns, product_monthly, product_values
from finrep.pack import KPI
from finrep.period import Period, check_within, parse_period
from finrep.sources import Tables

Progress = Callable[[str, int, int], None]

# key → (label, unit, higher_is_better). Service and digital keys: their modules' KPIS win.
KPI_META: dict[str, tuple[str, str, bool]] = {
    "aum": ("AUM", "currency", True),
    "aum_open": ("Opening AUM", "currency", True),
    "new_money": ("New money", "currency", True),
    "contributions": ("Contributions", "currency", True),
    "withdrawals": ("Withdrawals", "currency", False),
    "investment_returns": ("Investment returns", "currency", True),
    "fees": ("Fees", "currency", True),
    "net_flows": ("Net flows", "currency", True),
    "reconciliation_residual": ("Reconciliation residual", "currency", False),
    "fee_revenue": ("Fee revenue", "currency", True),
    "avg_balance_per_customer": ("Avg balance per customer", "currency", True),
    "active_customers": ("Active customers", "count", True),
    "new_customers": ("New customers", "count", True),
    "churned_customers": ("Churned customers", "count", False),
    "retention_rate": ("Retention rate", "pct", True),
    "products_per_customer": ("Products per customer", "ratio", True),
    "avg_tenure_months": ("Avg tenure", "months", True),
    "return_period": ("Period return", "return", True),
    "return_12m": ("12-month return", "return", True),
    "benchmark_return_12m": ("12-month benchmark", "return", True),
    "excess_return_12m": ("12-month excess return", "return", True),
    "volatility_12m": ("12-month volatility", "pct", False),
    "contacts": ("Contacts", "count", False),
    "avg_satisfaction": ("Avg satisfaction", "score", True),
    "csat_pct": ("CSAT (score ≥ 4)", "pct", True),
    "avg_handle_minutes": ("Avg handle time", "minutes", False),
    "fcr_rate": ("First-contact resolution", "pct", True),
    "issues_per_1000": ("Issues per 1,000 customers", "number", False),
    "digital_active_users": ("Digital active users", "count", True),
    "digital_engagement_rate": ("Digital engagement", "pct", True),
    "mobile_adoption_rate": ("Mobile adoption", "pct", True),
    "sessions": ("Sessions", "count", True),
    "avg_session_minutes": ("Avg session", "minutes", True),
}
KPI_KEYS = tuple(KPI_META)
SERVICE_KEYS = (
    "contacts",
    "avg_satisfaction",
    "csat_pct",
    "avg_handle_minutes",
    "fcr_rate",
    "issues_per_1000",
)
DIGITAL_KEYS = (
    "digital_active_users",
    "digital_engagement_rate",
    "mobile_adoption_rate",
    "sessions",
    "avg_session_minutes",
)


def kpi_meta() -> dict[str, tuple[str, str, bool]]:
    from finrep.measures import digital, service

    meta = dict(KPI_META)
    for module in (service, digital):
        for key, value in getattr(module, "KPIS", {}).items():
            if key in meta:
                meta[key] = tuple(value)  # type: ignore[assignment]
    return meta


def _num(value: object) -> float | None:
    """int/float as a plain Python number; None for None/NaN/inf (never a division error)."""
    if value is None:
        return None
    try:
        if pd.isna(value):  # type: ignore[arg-type]
            return None
    except (TypeError, ValueError):
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if v != v or v in (float("inf"), float("-inf")):
        return None
    if v.is_integer() and not isinstance(value, float) and abs(v) < 2**53:
        return int(v)
    return v


# A money base under half a cent is $0.00: a percentage change against it is rounding noise
# (e.g. a reconciliation residual of 1e-10 on one engine and 0.0 on another), so none.
_ZERO_MONEY = 0.005


def _change(
    value: float | None, base: float | None, zero: float = 0.0
) -> tuple[float | None, float | None]:
    if value is None or base is None:
        return None, None
    change = value - base
    return change, (change / abs(base) if abs(base) > zero else None)


def make_kpi(
    key: str,
    value: object,
    previous: object,
    last_year: object,
    meta: Mapping[str, tuple[str, str, bool]] | None = None,
) -> KPI:
    label, unit, higher = (meta or KPI_META)[key]
    v, p, ly = _num(value), _num(previous), _num(last_year)
    zero = _ZERO_MONEY if unit == "currency" else 0.0
    change, change_pct = _change(v, p, zero)
    change_ly, change_ly_pct = _change(v, ly, zero)
    return KPI(
        key=key,
        label=label,
        unit=unit,
        value=v,
        previous=p,
        last_year=ly,
        change=change,
        change_pct=change_pct,
        change_ly=change_ly,
        change_ly_pct=change_ly_pct,
        higher_is_better=higher,
    )


# ---- the run ------------------------------------------------------------------------------
def open_tables(data: Tables | str | Path, config: Config) -> Tables:
    """`data` as loaded tables: a `Tables` is used as is; a folder is opened on the
    configured engine."""
    if isinstance(data, Tables):
        return data
    from finrep.sources import load

    return load(data, config)


def resolve_period(period: str | Period | None, coverage: Coverage) -> Period:
    """Parse `period` against the data ('latest' = the latest month with balance rows) and
    refuse one outside the months with data (DataError naming them)."""
    p = period if isinstance(period, Period) else parse_period(period or "latest", coverage.last)
    check_within(p, coverage.first, coverage.last)
    return p


@dataclass(eq=False)
class MeasureRun:
    """Everything one pack (or `finrep measures`) computes, each part once, on demand."""

    ctx: MeasureContext
    period: Period
    coverage: Coverage
    config: Config
    _kpis: dict[str, KPI] | None = field(default=None, init=False, repr=False)

    @property
    def previous(self) -> Period:
        return self.period.previous()

    @property
    def last_year(self) -> Period:
        return self.period.last_year()

    @property
    def periods(self) -> tuple[Period, Period, Period]:
        return (self.period, self.previous, self.last_year)

    @property
    def as_of(self) -> date:
        return self.coverage.last

    @cached_property
    def book(self) -> Book:
        return build_book(self.ctx, self.coverage, self.period.end)

    @cached_property
    def market(self) -> pd.DataFrame:
        return market_returns(self.ctx.tables, self.period.end)

    @cached_property
    def product_monthly(self) -> pd.DataFrame:
        return product_monthly(self.book, self.market, self.config)

    @cached_property
    def all_monthly(self) -> pd.DataFrame:
        """Month-indexed r and bench over all products."""
        return group_monthly(self.product_monthly)

    @cached_property
    def counts(self) -> list[CustomerCounts]:
        return customer_counts(self.ctx, self.periods)

    def covered(self, index: int) -> bool:
        """Whether periods[index] lies inside the months with balance data (P always does)."""
        return index == 0 or self.coverage.covers(self.periods[index])

    def _base_values(self, index: int) -> dict[str, float | None]:
        """Asset, customer and product KPIs of periods[index]."""
        per = self.periods[index]
        counts = self.counts[index]
        out: dict[str, float | None] = {}
        out.update(asset_values(self.book, per))
        out.update(customer_values(counts))
        aum = out["aum"]
        out["avg_balance_per_customer"] = (
            aum / counts.active if aum is not None and counts.active else None
        )
        out.update(product_values(self.all_monthly, per, self.coverage))
        return out

    def _service_digital(self, indexes: list[int]) -> list[dict[str, float | None]]:
        """Service and digital KPIs of the given periods, one engine pass per table."""
        from finrep.measures import digital, service

        periods = [self.periods[i] for i in indexes]
        active = [self.counts[i].active for i in indexes]
        svc = _per_periods(service, "service_kpis", self.ctx, periods, active)
        dig = _per_periods(digital, "digital_kpis", self.ctx, periods, active)
        return [{**s, **d} for s, d in zip(svc, dig, strict=True)]

    def kpis(self, progress: Progress | None = None) -> dict[str, KPI]:
        """Every KPI of MEASURES.md with its comparisons, by key, in catalogue order."""
        if self._kpis is None:
            if self.ctx.with_visuals:  # the pages' forecast follows
                from finrep.measures.forecast import import_model_in_background

                import_model_in_background()
            report = progress or (lambda step, done, total: None)
            report("KPIs", 0, 3)
            indexes = [i for i in range(3) if self.covered(i)]
            rows = {i: self._base_values(i) for i in indexes}
            report("KPIs", 1, 3)
            for i, extra in zip(indexes, self._service_digital(indexes), strict=True):
                rows[i].update({k: extra.get(k) for k in (*SERVICE_KEYS, *DIGITAL_KEYS)})
            report("KPIs", 3, 3)
            blank = dict.fromkeys(KPI_KEYS)
            r = [rows.get(i, blank) for i in range(3)]
            meta = kpi_meta()
            self._kpis = {
                k: make_kpi(k, r[0].get(k), r[1].get(k), r[2].get(k), meta) for k in KPI_KEYS
            }
        return self._kpis


def _per_periods(module, name: str, ctx, periods, active) -> list[dict]:
    """`module.<name>_many` when the module has it (one pass), else one call per period."""
    many = getattr(module, f"{name}_many", None)
    if many is not None:
        return list(many(ctx, periods, active))
    one = getattr(module, name)
    return [one(ctx, p, a) for p, a in zip(periods, active, strict=True)]


def open_run(
    data: Tables | str | Path,
    period: str | Period | None = "latest",
    filters: Filters | None = None,
    config: Config | None = None,
    coverage: Coverage | None = None,
) -> MeasureRun:
    """Open the data, resolve the period and build the filtered context.

    `coverage`: the whole data's first and last balance dates when `data` holds only part of
    it (a burst's partition, whose own dates could be narrower); without it, a `coverage`
    attribute of `data` is used, else the dates are read from `data`'s balances.
    """
    config = config or load_config()
    tables = open_tables(data, config)
    if coverage is None:
        coverage = getattr(tables, "coverage", None) or data_coverage(tables)
    p = resolve_period(period, coverage)
    ctx = MeasureContext(tables, filters or Filters(), config, p.end)
    return MeasureRun(ctx, p, coverage, config)
