"""Measures (MEASURES.md): ibis expressions executed by the engine into small pandas frames.

`compute` gives every KPI with its comparisons, without the visuals (what `finrep measures`
prints); `finrep.pack.build_pack` gives the whole pack. Both read the same `MeasureRun`, so
their KPI numbers are identical.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from finrep.config import Config
from finrep.filters import Filters
from finrep.pack import KPI
from finrep.period import Period
from finrep.sources import Tables

__all__ = ["Measures", "compute", "measures_document"]


def measures_document(
    period: Period,
    comparison: Period,
    last_year: Period,
    filters: Filters,
    as_of: date,
    kpis: Mapping[str, KPI],
) -> dict[str, Any]:
    """The `finrep measures --format json` document (DESIGN.md): period, comparison periods,
    filters, as-of date and every KPI's value, previous, last_year, change, change_pct."""
    return {
        "period": period.as_dict(),
        "comparison": {"previous": comparison.as_dict(), "last_year": last_year.as_dict()},
        "filters": filters.as_dict(),
        "as_of": as_of.isoformat(),
        "kpis": {k: kpi.as_json() for k, kpi in kpis.items()},
    }


@dataclass(frozen=True, eq=False)
class Measures:
    """Every KPI of one period and set of filters, with the periods it compares."""

    period: Period
    comparison: Period  # previous period of the same length
    last_year: Period
    filters: Filters
    as_of: date  # latest balance date in the data
    kpis: Mapping[str, KPI]

    def measures_json(self) -> dict[str, Any]:
        """Same document as `Pack.measures_json`."""
        return measures_document(
            self.period, self.comparison, self.last_year, self.filters, self.as_of, self.kpis
        )


def compute(
    data: Tables | str | Path,
    period: str | Period = "latest",
    filters: Filters | None = None,
    config: Config | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Measures:
    """Every KPI of MEASURES.md for `period` (``latest``, ``previous``, ``YYYY-MM``,
    ``YYYY-Qn``, ``YYYY``, ``YYYY-MM..YYYY-MM``) and `filters`, from a data folder or loaded
    `Tables`. Raises DataError for a period outside the data (naming the months it has)."""
    from finrep.measures.kpis import open_run

    run = open_run(data, period, filters, config)
    run.ctx.with_visuals = False  # no pages follow: read only the months the KPIs need
    kpis = run.kpis(progress)
    return Measures(
        period=run.period,
        comparison=run.previous,
        last_year=run.last_year,
        filters=run.ctx.filters,
        as_of=run.as_of,
        kpis=kpis,
    )
