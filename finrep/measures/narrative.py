"""The Executive Summary's narrative: 3–6 deterministic sentences built from the measures.

No randomness, no network, no clock. Every number goes through `render.formats.format_value`
(levels) or `format_change` (changes) with the KPI's own unit, so it reads exactly as the
same KPI in the KPI strips and the workbook. A sentence whose numbers are missing is
skipped, except the three the page always carries (AUM, its drivers, retention), which say
"not available" instead.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from finrep.pack import KPI
from finrep.period import Period
from finrep.render.formats import NA, format_change, format_value


class _Fmt:
    """Formats KPI values and changes with one currency symbol."""

    def __init__(self, kpis: Mapping[str, KPI], symbol: str) -> None:
        self.kpis = kpis
        self.symbol = symbol

    def get(self, key: str) -> KPI | None:
        kpi = self.kpis.get(key)
        return kpi if kpi is not None and kpi.value is not None else None

    def value(self, kpi: KPI, value: float | None = None) -> str:
        return format_value(kpi.value if value is None else value, kpi.unit, self.symbol)

    def change(self, kpi: KPI) -> str | None:
        text = format_change(kpi.change, kpi.change_pct, kpi.unit, self.symbol)
        return None if text == NA else text

    def change_ly(self, kpi: KPI) -> str | None:
        text = format_change(kpi.change_ly, kpi.change_ly_pct, kpi.unit, self.symbol)
        return None if text == NA else text

    def comparisons(self, kpi: KPI, period: Period) -> str:
        """`` (▲ 2.4% vs August 2024, ▲ 9.1% vs September 2023)`` or empty."""
        parts = []
        if (c := self.change(kpi)) is not None:
            parts.append(f"{c} vs {period.previous().label}")
        if (c := self.change_ly(kpi)) is not None:
            parts.append(f"{c} vs {period.last_year().label}")
        return f" ({', '.join(parts)})" if parts else ""


def _aum_sentence(f: _Fmt, period: Period) -> str:
    aum = f.get("aum")
    if aum is None:
        return f"AUM is not available for {period.label}."
    return (
        f"AUM stood at {f.value(aum)} at the end of {period.end:%B %Y}{f.comparisons(aum, period)}."
    )


def _drivers_sentence(f: _Fmt, period: Period) -> str:
    flows, returns, fees = f.get("net_flows"), f.get("investment_returns"), f.get("fees")
    if flows is None or returns is None:
        return (
            f"The drivers of the change in AUM (net flows, investment returns) are not "
            f"available for {period.label}."
        )
    if abs(returns.value) > abs(flows.value):
        text = (
            f"In {period.label}, investment returns of {f.value(returns)} outweighed net flows "
            f"of {f.value(flows)}: markets rather than client flows drove the change in AUM"
        )
    else:
        text = (
            f"In {period.label}, net flows of {f.value(flows)} outweighed investment returns "
            f"of {f.value(returns)}: client flows rather than markets drove the change in AUM"
        )
    if fees is not None:
        text += f", and fees took {f.value(fees)}"
    return text + "."


def _product_sentence(matrix: pd.DataFrame | None, period: Period, symbol: str) -> str | None:
    needed = {"product", "return_12m", "aum"}
    if matrix is None or not needed.issubset(matrix.columns):
        return None
    m = matrix[matrix["return_12m"].notna()].copy()
    if m.empty:
        return None
    m["_aum"] = pd.to_numeric(m["aum"]).fillna(0.0)
    # Ties by AUM (MEASURES.md, Top / bottom products), then by name for a fixed order.
    best = m.sort_values(["return_12m", "_aum", "product"], ascending=[False, False, True])
    worst = m.sort_values(["return_12m", "_aum", "product"], ascending=[True, False, True])

    def describe(row: pd.Series) -> str:
        name = str(row["product"])
        if "category" in row.index and pd.notna(row["category"]):
            name += f" ({row['category']})"
        text = f"{name} at {format_value(row['return_12m'], 'return', symbol)}"
        if "benchmark_12m" in row.index and pd.notna(row["benchmark_12m"]):
            text += f" against a benchmark of {format_value(row['benchmark_12m'], 'return')}"
        return text

    lead = f"Over the 12 months to {period.end:%B %Y}"
    if len(m) == 1:
        return f"{lead}, the only product with a 12-month return was {describe(best.iloc[0])}."
    return (
        f"{lead}, the best product was {describe(best.iloc[0])}, "
        f"and the weakest was {describe(worst.iloc[0])}."
    )


def _retention_sentence(f: _Fmt, period: Period) -> str:
    rate = f.get("retention_rate")
    if rate is None:
        head = f"Retention is not available for {period.label}"
    else:
        head = f"Retention was {f.value(rate)}{f.comparisons(rate, period)}"
    new, churned, active = (
        f.get("new_customers"),
        f.get("churned_customers"),
        f.get("active_customers"),
    )
    parts = []
    if new is not None:
        parts.append(f"{f.value(new)} new customer{'s' if new.value != 1 else ''} joined")
    if churned is not None:
        parts.append(f"{f.value(churned)} churned")
    tail = " and ".join(parts)
    if active is not None:
        tail = (tail + ", leaving " if tail else "") + f"{f.value(active)} active customers"
    return f"{head}; {tail}." if tail else f"{head}."


def _service_sentence(f: _Fmt, period: Period) -> str | None:
    fcr, sat = f.get("fcr_rate"), f.get("avg_satisfaction")
    if fcr is None and sat is None:
        return None
    if fcr is not None:
        text = (
            f"In service, first-contact resolution was {f.value(fcr)}{f.comparisons(fcr, period)}"
        )
        if sat is not None:
            text += f" and average satisfaction {f.value(sat)} out of 5"
    else:
        text = f"In service, average satisfaction was {f.value(sat)} out of 5"
        text += f.comparisons(sat, period)
    return text + "."


def _digital_sentence(f: _Fmt, period: Period) -> str | None:
    users = f.get("digital_active_users")
    if users is None:
        return None
    rate, mobile = f.get("digital_engagement_rate"), f.get("mobile_adoption_rate")
    text = f"{f.value(users)} customers used digital channels in {period.label}"
    if rate is not None:
        text += f" ({f.value(rate)} of active customers)"
    if mobile is not None:
        text += f", {f.value(mobile)} of them on a mobile device"
    return text + "."


def build_narrative(
    kpis: Mapping[str, KPI],
    product_matrix: pd.DataFrame,
    period: Period,
    currency_symbol: str,
) -> tuple[str, ...]:
    """3–6 sentences: AUM level and change; its drivers (net flows vs investment returns);
    best and worst product by 12-month return; retention; one service and one digital
    highlight. `kpis` by key (missing keys or None values are handled); `product_matrix`
    with columns product, category, aum, …, return_12m, benchmark_12m."""
    f = _Fmt(kpis, currency_symbol)
    sentences = [
        _aum_sentence(f, period),
        _drivers_sentence(f, period),
        _product_sentence(product_matrix, period, currency_symbol),
        _retention_sentence(f, period),
        _service_sentence(f, period),
        _digital_sentence(f, period),
    ]
    return tuple(s for s in sentences if s)
