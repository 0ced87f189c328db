"""`finrep report`: validate, build the pack once, write the PDF and/or workbook, and print the
files made and a one-screen summary of the KPIs."""

from __future__ import annotations

from pathlib import Path
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

NAME = "report"

PagesOpt = Annotated[
    str,
    typer.Option(
        "--pages",
        help="Pages: all, or some of executive,products,customers,service,digital.",
    ),
]
FormatOpt = Annotated[
    str | None,
    typer.Option("--format", help="pdf, xlsx or pdf,xlsx (default: config report.formats)."),
]
OutOpt = Annotated[
    str | None, typer.Option("--out", help="Output folder (default: config report.out).")
]
AllowInvalidOpt = Annotated[
    bool,
    typer.Option(
        "--allow-invalid", help="Report even when validation finds errors (listed in the pack)."
    ),
]


def _size(path: Path) -> str:
    n = path.stat().st_size
    return f"{n / 1_048_576:.1f} MB" if n >= 1_048_576 else f"{max(1, round(n / 1024))} KB"


def kpi_summary(pack, symbol: str) -> Table:
    """The KPIs of the pack's pages: value and changes vs the previous period and last year."""
    from finrep.render.formats import direction, format_change, format_value
    from finrep.render.pdf import comparison_label

    title = pack.period.label + (f" · {pack.filters.label()}" if not pack.filters.is_empty else "")
    table = Table(title=title, title_justify="left", pad_edge=False, box=None)
    table.add_column("KPI", no_wrap=True)
    table.add_column("Value", justify="right", no_wrap=True)
    table.add_column(f"vs {comparison_label(pack.comparison)}", justify="right", no_wrap=True)
    table.add_column(f"vs {comparison_label(pack.last_year)}", justify="right", no_wrap=True)
    colours = {"good": "green", "bad": "red", "flat": "dim"}
    seen: set[str] = set()
    for page in pack.pages:
        kpis = [k for k in page.kpis if k.key not in seen]
        if not kpis:
            continue
        table.add_row(f"[bold]{page.title}[/]", "", "", "")
        for kpi in kpis:
            seen.add(kpi.key)
            cells = []
            for change, pct in ((kpi.change, kpi.change_pct), (kpi.change_ly, kpi.change_ly_pct)):
                text = format_change(change, pct, kpi.unit, symbol)
                cells.append(f"[{colours[direction(change, kpi.higher_is_better)]}]{text}[/]")
            table.add_row(f"  {kpi.label}", format_value(kpi.value, kpi.unit, symbol), *cells)
    return table


def command(
    ctx: typer.Context,
    data: DataOpt = None,
    period: PeriodOpt = "latest",
    pages: PagesOpt = "all",
    format: FormatOpt = None,
    out: OutOpt = None,
    allow_invalid: AllowInvalidOpt = False,
    segment: SegmentOpt = None,
    state: StateOpt = None,
    region: RegionOpt = None,
    age_band: AgeBandOpt = None,
    category: CategoryOpt = None,
    product: ProductOpt = None,
    channel: ChannelOpt = None,
    device: DeviceOpt = None,
    burst: Annotated[
        str | None,
        typer.Option(
            "--burst",
            help="One pack per value of segment, region, state, category or advisor, "
            "written to <out>/<period>/.",
        ),
    ] = None,
) -> None:
    """Build the report pack (PDF and/or Excel) for a period and filters."""
    from finrep.report import make_report

    st: State = ctx.obj
    config = st.config
    filters = filters_from(segment, state, region, age_band, category, product, channel, device)
    if burst is not None:
        _burst(
            st, burst, data or config.data.dir, period, filters, format, out, pages, allow_invalid
        )
        return
    with st.progress() as progress:
        result = make_report(
            data or config.data.dir,
            period=period,
            filters=filters,
            config=config,
            formats=format,
            out_dir=out,
            pages=pages,
            allow_invalid=allow_invalid,
            progress=progress,
        )
    print_result(result, config.company.currency_symbol)


def _burst(st: State, key, data, period, filters, format, out, pages, allow_invalid) -> None:
    """`--burst KEY`: one pack per value (finrep.deliver.burst), then the files written."""
    from finrep.deliver.burst import BURST_KEYS, burst

    if key not in BURST_KEYS:
        raise typer.BadParameter(f"use one of {', '.join(BURST_KEYS)}", param_hint="--burst")
    with st.progress() as progress:
        result = burst(
            data, key, period=period, filters=filters, config=st.config, formats=format,
            out_dir=out, pages=pages, allow_invalid=allow_invalid, progress=progress,
        )  # fmt: skip
    console = console_out()
    for value, pack in result.packs.items():
        files = ", ".join(f"{p.name} ({_size(p)})" for p in pack.files)
        console.print(f"{key} {value}: {files}", highlight=False, soft_wrap=True)
    console.print(f"{len(result.packs)} packs in {result.folder}", highlight=False)


def print_result(result, symbol: str) -> None:
    """The files written, then the KPI summary."""
    console = console_out()
    for fmt, path in result.paths.items():
        console.print(
            f"Wrote {path} ({fmt.upper()}, {_size(path)})", highlight=False, soft_wrap=True
        )
    console.print()
    console.print(kpi_summary(result.pack, symbol))
