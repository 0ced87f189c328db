"""Options shared by several commands (filters, data folder, period)."""

from __future__ import annotations

from typing import Annotated

import typer

from finrep.filters import Filters
from finrep.period import PERIOD_HELP

DataOpt = Annotated[
    str | None,
    typer.Option("--data", help="Folder with the nine tables (default: config data.dir)."),
]
PeriodOpt = Annotated[str, typer.Option("--period", help=f"Period: {PERIOD_HELP}.")]
SegmentOpt = Annotated[
    list[str] | None, typer.Option("--segment", help="Customer segment (repeatable).")
]
StateOpt = Annotated[list[str] | None, typer.Option("--state", help="US state code (repeatable).")]
RegionOpt = Annotated[
    list[str] | None, typer.Option("--region", help="Census region (repeatable).")
]
AgeBandOpt = Annotated[
    list[str] | None,
    typer.Option("--age-band", help="Age band: Under 30, 30-44, 45-59, 60+ (repeatable)."),
]
CategoryOpt = Annotated[
    list[str] | None, typer.Option("--category", help="Product category (repeatable).")
]
ProductOpt = Annotated[
    list[str] | None, typer.Option("--product", help="Product id or name (repeatable).")
]
ChannelOpt = Annotated[
    list[str] | None, typer.Option("--channel", help="Service channel (repeatable).")
]
DeviceOpt = Annotated[
    list[str] | None, typer.Option("--device", help="Engagement device (repeatable).")
]


def filters_from(
    segment: list[str] | None = None,
    state: list[str] | None = None,
    region: list[str] | None = None,
    age_band: list[str] | None = None,
    category: list[str] | None = None,
    product: list[str] | None = None,
    channel: list[str] | None = None,
    device: list[str] | None = None,
) -> Filters:
    return Filters.of(
        segment=segment, state=state, region=region, age_band=age_band,
        category=category, product=product, channel=channel, device=device,
    ).canonical()  # fmt: skip
