"""The computed pack: plain, immutable data that both renderers take.

Compute once, render twice: `build_pack` runs every measure once; `render/pdf.py` and
`render/xlsx.py` only read a `Pack` (they never query), which is why the PDF and the workbook
always agree.

Visual data contract
--------------------
`Visual.data` is a small pandas frame whose columns depend on `Visual.kind`:

========== =================================================================================
kind       columns (in this order; extra columns are ignored by charts, kept in workbooks)
========== =================================================================================
line       ``x`` (month start date or label), then one numeric column per series.
           ``options["secondary"]``: series drawn on a second y axis.
forecast   ``x``, ``actual`` (null in future months), ``forecast`` (null in history, except
           the last actual month, so the lines join), ``lo80``, ``hi80``, ``lo95``, ``hi95``.
donut      ``label``, ``value``.
combo      ``x``, ``inflows`` (≥0, drawn up), ``withdrawals`` (≥0, drawn down), ``net`` (line).
waterfall  ``label``, ``value`` (signed change; for total bars, the level), ``total`` (bool).
bar        ``label``, ``value``.  ``options["orientation"]``: ``"h"`` (default) or ``"v"``.
diverging  ``label``, ``value``, ``group`` (e.g. ``Top 5`` / ``Bottom 5``).
stacked    ``x``, then one numeric column per stacked series (wide).
           ``options["orientation"]``: ``"v"`` (columns, default) or ``"h"``.
bubble     ``label``, ``x``, ``y``, ``size``, ``group``.
scatter    ``x``, ``y``, ``group``; optional ``size`` and ``label``.
heatmap    ``row`` (row label), then one numeric column per heat-map column (wide);
           null cells are blank.
state_map  ``state`` (two-letter code), ``value`` (colour), ``value2`` (label, optional).
sankey     ``source``, ``target``, ``value``, ``stage`` (0 = first link column, 1 = next…).
gauge      one row: ``value``, ``target`` (both 0–1).
funnel     ``label``, ``value``.
table      any columns; ``units`` gives each column's format; ``options["bars"]``: columns
           drawn with data bars in the workbook.
========== =================================================================================

`Visual.units` maps a column to one of `UNITS`; `Visual.labels` maps a column to its display
name (defaults to the column name). A visual with no data has an empty frame and says why in
`note`; renderers draw a clear "no data" panel instead of failing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any

import pandas as pd

from finrep.filters import Filters
from finrep.period import Period

# currency: money; pct: a share 0–1 shown as %; return: a rate of return (signed %);
# count: whole number; number: any number; ratio: e.g. 1.8 products per customer;
# minutes, months, score (1–5): units of those names; date: a date; text: a label.
UNITS = ("currency", "pct", "return", "count", "number", "ratio", "minutes", "months",
         "score", "date", "text")  # fmt: skip

KINDS = ("line", "forecast", "donut", "combo", "waterfall", "bar", "diverging", "stacked",
         "bubble", "scatter", "heatmap", "state_map", "sankey", "gauge", "funnel", "table")  # fmt: skip

PAGE_KEYS = ("executive", "products", "customers", "service", "digital")
PAGE_TITLES = {
    "executive": "Executive Summary",
    "products": "Product Performance",
    "customers": "Customer Insights",
    "service": "Service Quality",
    "digital": "Digital Engagement",
}


def _frozen(mapping: Mapping | None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, eq=False)
class KPI:
    """One measure with its comparisons. Any number may be None (not computable)."""

    key: str  # as in MEASURES.md, e.g. "aum"
    label: str  # e.g. "AUM"
    unit: str  # one of UNITS
    value: float | None
    previous: float | None  # previous period of the same length
    last_year: float | None  # same period one year earlier
    change: float | None  # value − previous
    change_pct: float | None  # change / |previous|; None when previous is 0 or None
    change_ly: float | None = None  # value − last_year
    change_ly_pct: float | None = None
    higher_is_better: bool = True  # colours ▲/▼ (more churned customers is bad)

    def as_json(self) -> dict[str, float | None]:
        return {
            "value": self.value,
            "previous": self.previous,
            "last_year": self.last_year,
            "change": self.change,
            "change_pct": self.change_pct,
        }


@dataclass(frozen=True, eq=False)
class Visual:
    key: str  # e.g. "aum_trend"; unique within a pack
    title: str
    caption: str  # one line under the chart
    kind: str  # one of KINDS
    data: pd.DataFrame
    units: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    definitions: tuple[str, ...] = ()  # measure keys (Pack.definitions) it uses
    options: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""  # why the visual is empty or partial, in plain words

    def __post_init__(self) -> None:
        object.__setattr__(self, "units", _frozen(self.units))
        object.__setattr__(self, "labels", _frozen(self.labels))
        object.__setattr__(self, "options", _frozen(self.options))

    def label_of(self, column: str) -> str:
        return self.labels.get(column, column)

    def unit_of(self, column: str) -> str:
        return self.units.get(column, "number")


@dataclass(frozen=True, eq=False)
class Page:
    key: str  # one of PAGE_KEYS
    title: str
    kpis: tuple[KPI, ...]
    visuals: tuple[Visual, ...]
    narrative: tuple[str, ...] = ()  # sentences (executive page)

    def visual(self, key: str) -> Visual:
        for v in self.visuals:
            if v.key == key:
                return v
        raise KeyError(key)


@dataclass(frozen=True)
class Definition:
    key: str  # measure key or visual concept, e.g. "aum", "fcr_rate", "period_return"
    label: str
    text: str  # plain words, for the Definitions appendix and sheet


@dataclass(frozen=True)
class SourceFile:
    table: str
    path: str  # file name relative to the data folder
    rows: int
    sha256: str
    format: str  # csv | parquet


@dataclass(frozen=True)
class RunInfo:
    finrep_version: str
    engine: str
    data_dir: str
    sources: tuple[SourceFile, ...]
    options: Mapping[str, Any] = field(default_factory=dict)  # command options, for the record


@dataclass(frozen=True, eq=False)
class Pack:
    company: str
    title: str
    period: Period
    comparison: Period  # previous period of the same length
    last_year: Period
    filters: Filters
    as_of: date  # latest balance date in the data; documents are dated by it, never the clock
    kpis: Mapping[str, KPI]  # every KPI key of MEASURES.md (and a few more), by key
    pages: tuple[Page, ...]
    definitions: tuple[Definition, ...]
    findings: tuple[Any, ...]  # validate.Finding, warnings shown in the data-quality appendix
    reconciliation: pd.DataFrame  # AUM bridge per month of P: aum_open … aum, residual, flagged
    facts: Mapping[str, pd.DataFrame]  # pivot-ready tables for the workbook, by sheet name
    run: RunInfo

    def page(self, key: str) -> Page:
        for p in self.pages:
            if p.key == key:
                return p
        raise KeyError(key)

    def measures_json(self) -> dict[str, Any]:
        """The `finrep measures --format json` document (DESIGN.md)."""
        return {
            "period": self.period.as_dict(),
            "comparison": {
                "previous": self.comparison.as_dict(),
                "last_year": self.last_year.as_dict(),
            },
            "filters": self.filters.as_dict(),
            "as_of": self.as_of.isoformat(),
            "kpis": {k: kpi.as_json() for k, kpi in self.kpis.items()},
        }


# The pages of a pack: KPI keys (strip order) and visuals (key, kind) in reading order.
# Measures produce exactly these; renderers draw whatever a page holds, dispatching on kind.
PAGE_LAYOUT: dict[str, dict[str, tuple]] = {
    "executive": {
        "kpis": ("aum", "net_flows", "active_customers", "retention_rate", "fee_revenue"),
        "visuals": (
            ("aum_trend", "forecast"),  # 24m history + forecast, MAPE in caption
            ("aum_by_category", "donut"),
            ("net_flows_trend", "combo"),  # 24m
            ("aum_bridge", "waterfall"),
            ("products_per_customer_by_segment", "bar"),
            ("customer_map", "state_map"),  # value = active customers, value2 = AUM
        ),
    },
    "products": {
        "kpis": (
            "aum",
            "fee_revenue",
            "net_flows",
            "return_period",
            "return_12m",
            "excess_return_12m",
        ),  # fmt: skip
        "visuals": (
            ("product_matrix", "table"),
            ("risk_return", "bubble"),
            ("roi_vs_benchmark", "line"),  # cumulative 24m: portfolio vs blended benchmark
            ("top_bottom_products", "diverging"),
            ("fee_revenue_by_product", "bar"),
            ("aum_by_risk", "bar"),
        ),
    },
    "customers": {
        "kpis": ("new_customers", "churned_customers", "active_customers", "avg_tenure_months"),
        "visuals": (
            ("acquisition_trend", "line"),  # 24m new customers per month
            ("customer_growth", "waterfall"),
            ("balance_by_segment_age", "heatmap"),
            ("channel_flows", "sankey"),  # channel → category → status
            ("customer_value", "scatter"),  # tenure (months) vs balance, group = segment
            ("retention_cohorts", "heatmap"),  # cohort quarter × months since enrollment
        ),
    },
    "service": {
        "kpis": (
            "contacts",
            "avg_satisfaction",
            "fcr_rate",
            "avg_handle_minutes",
            "issues_per_1000",
        ),  # fmt: skip
        "visuals": (
            ("volume_by_channel", "stacked"),  # 12m, months × channels
            ("satisfaction_by_reason", "bar"),
            ("fcr_gauge", "gauge"),
            ("resolution_funnel", "funnel"),
            ("issues_by_segment_category", "heatmap"),
            ("top_contact_reasons", "table"),
        ),
    },
    "digital": {
        "kpis": (
            "digital_active_users",
            "digital_engagement_rate",
            "mobile_adoption_rate",
            "avg_session_minutes",
        ),  # fmt: skip
        "visuals": (
            ("engagement_trend", "line"),  # 24m MAU and sessions (sessions on secondary axis)
            ("device_distribution", "donut"),
            ("digital_actions", "bar"),
            ("usage_by_age_device", "stacked"),  # age band × device, orientation h
            ("session_duration_trend", "line"),  # mean and median
            ("engagement_vs_growth", "scatter"),  # per state, with size and label
        ),
    },
}


def build_pack(*args: Any, **kwargs: Any) -> Pack:
    """Compute every measure once and assemble the `Pack` (see `finrep.pack_builder`)."""
    from finrep.pack_builder import build_pack as _build

    return _build(*args, **kwargs)
