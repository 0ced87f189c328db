"""`finrep measures`: every KPI of MEASURES.md for a period and filters, as a table, JSON or
CSV. The JSON document is a public contract (DESIGN.md): numbers unrounded, dates ISO."""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from finrep.cli.options import (
    AgeBandOpt,
    CategoryOpt,
    ChannelOpt,
    DataOpt,
    DeviceOpt,
    PeriodOpt,
    ProductOpt,
    RegionOpt,
    SegmentOpt,
    StateOpt,
    filters_from,
)
from finrep.cli.state import State, console_out

NAME = "measures"
FORMATS = ("table", "json", "csv")
CSV_COLUMNS = (
    "key",
    "label",
    "unit",
    "value",
    "previous",
    "last_year",
    "change",
    "change_pct",
    "change_ly",
    "change_ly_pct",
)


def _csv_number(value: float | None) -> str:
    return "" if value is None else repr(value)


def render_csv(measures) -> str:
    """One row per KPI (CSV_COLUMNS); numbers unrounded, blanks where not computable."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for kpi in measures.kpis.values():
        writer.writerow(
            [
                kpi.key,
                kpi.label,
                kpi.unit,
                *(
                    _csv_number(getattr(kpi, c))
                    for c in CSV_COLUMNS[3:]  # value … change_ly_pct
                ),
            ]
        )
    return buf.getvalue()


def render_table(measures, symbol: str) -> Table:
    from finrep.render.formats import direction, format_change, format_value

    title = measures.period.label
    if not measures.filters.is_empty:
        title += f" · {measures.filters.label()}"
    table = Table(title=title, title_justify="left")
    table.add_column("KPI")
    table.add_column("Value", justify="right")
    table.add_column(f"Previous ({measures.comparison.label})", justify="right")
    table.add_column("Change", justify="right")
    table.add_column(f"Last year ({measures.last_year.label})", justify="right")
    table.add_column("Change YoY", justify="right")
    colours = {"good": "green", "bad": "red", "flat": ""}
    for kpi in measures.kpis.values():
        change = format_change(kpi.change, kpi.change_pct, kpi.unit, symbol)
        change_ly = format_change(kpi.change_ly, kpi.change_ly_pct, kpi.unit, symbol)
        c1 = colours[direction(kpi.change, kpi.higher_is_better)]
        c2 = colours[direction(kpi.change_ly, kpi.higher_is_better)]
        table.add_row(
            kpi.label,
            format_value(kpi.value, kpi.unit, symbol),
            format_value(kpi.previous, kpi.unit, symbol),
            f"[{c1}]{change}[/]" if c1 else change,
            format_value(kpi.last_year, kpi.unit, symbol),
            f"[{c2}]{change_ly}[/]" if c2 else change_ly,
        )
    return table


def command(
    ctx: typer.Context,
    data: DataOpt = None,
    period: PeriodOpt = "latest",
    format: Annotated[
        str, typer.Option("--format", help="Output: table, json or csv.", case_sensitive=False)
    ] = "table",
    segment: SegmentOpt = None,
    state: StateOpt = None,
    region: RegionOpt = None,
    age_band: AgeBandOpt = None,
    category: CategoryOpt = None,
    product: ProductOpt = None,
    channel: ChannelOpt = None,
    device: DeviceOpt = None,
) -> None:
    """Compute every KPI for a period (value, previous period, last year, changes)."""
    from finrep.measures import compute

    fmt = format.lower()
    if fmt not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--format")
    st: State = ctx.obj
    config = st.config
    filters = filters_from(segment, state, region, age_band, category, product, channel, device)
    with st.progress() as progress:
        measures = compute(
            data or config.data.dir, period=period, filters=filters, config=config,
            progress=progress,
        )  # fmt: skip
    if fmt == "json":
        sys.stdout.write(json.dumps(measures.measures_json(), indent=2, allow_nan=False) + "\n")
    elif fmt == "csv":
        sys.stdout.write(render_csv(measures))
    else:
        console_out().print(render_table(measures, config.company.currency_symbol))
