"""`build_pack`: compute every measure once and assemble the `Pack` (finrep.pack).

The KPIs come from the same `MeasureRun` as `finrep.measures.compute`, so the pack and
`finrep measures` always print the same numbers; the visuals of each page follow
`finrep.pack.PAGE_LAYOUT` exactly (keys, kinds and order), and a visual without data carries
an empty frame and a note instead of failing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

import finrep
from finrep.config import Config, load_config
from finrep.errors import DataError
from finrep.filters import Filters
from finrep.measures import assets, customers, products
from finrep.measures.definitions import all_definitions
from finrep.measures.kpis import MeasureRun, open_run
from finrep.pack import (
    KPI,
    PAGE_KEYS,
    PAGE_LAYOUT,
    PAGE_TITLES,
    Pack,
    Page,
    RunInfo,
    Visual,
)
from finrep.period import Period
from finrep.sources import Tables, file_digests, source_files

Progress = Callable[[str, int, int], None]


def _silent(step: str, done: int, total: int) -> None:
    return None


def _fact_tables(run: MeasureRun) -> dict[str, pd.DataFrame]:
    try:
        from finrep.measures.facts import fact_tables
    except ModuleNotFoundError as exc:  # the workbook's module is not there yet
        if exc.name != "finrep.measures.facts":
            raise
        return {}
    return dict(fact_tables(run.ctx, run.period, run.config))


def _check(page: str, visuals: Iterable[Visual]) -> tuple[Visual, ...]:
    """The page's visuals in PAGE_LAYOUT order; a missing or mis-kinded one is a bug."""
    by_key = {v.key: v for v in visuals}
    out = []
    for key, kind in PAGE_LAYOUT[page]["visuals"]:
        v = by_key.get(key)
        if v is None or v.kind != kind:
            raise RuntimeError(f"page {page!r}: visual {key!r} of kind {kind!r} was not built")
        out.append(v)
    return tuple(out)


def _page(key: str, kpis: dict[str, KPI], visuals, narrative: tuple[str, ...] = ()) -> Page:
    return Page(
        key=key,
        title=PAGE_TITLES[key],
        kpis=tuple(kpis[k] for k in PAGE_LAYOUT[key]["kpis"]),
        visuals=_check(key, visuals),
        narrative=narrative,
    )


def build_pages(
    run: MeasureRun,
    kpis: dict[str, KPI],
    progress: Progress,
    on_page: Callable[[Page], None] | None = None,
) -> tuple[Page, ...]:
    """The five pages of PAGE_LAYOUT, in PAGE_KEYS order. `on_page` gets each page as soon
    as it is complete (e.g. to start drawing its charts while the next pages compute)."""
    done = on_page or (lambda page: None)
    from finrep.measures.digital import digital_visuals
    from finrep.measures.narrative import build_narrative
    from finrep.measures.service import service_visuals

    ctx, period, config, book, cov = run.ctx, run.period, run.config, run.book, run.coverage
    total = len(PAGE_KEYS)
    progress("Pages", 0, total)
    values = assets.asset_values(book, period)
    cust = customers.customers_at(ctx, period.end)
    table = products.product_table(run.product_monthly, period, cov)
    matrix = products.product_matrix(table, period)
    executive = _page(
        "executive",
        kpis,
        (
            assets.aum_trend(book, period, config),
            assets.aum_by_category(book, period),
            assets.net_flows_trend(book, period, config),
            assets.aum_bridge(values, period),
            customers.products_per_customer_by_segment(cust, period),
            assets.customer_map(customers.by_state(cust), period),
        ),
        build_narrative(kpis, matrix.data, period, config.company.currency_symbol),
    )
    done(executive)
    progress("Pages", 1, total)
    product_page = _page(
        "products",
        kpis,
        (
            matrix,
            products.risk_return(table, period),
            products.roi_vs_benchmark(run.all_monthly, period, config, cov),
            products.top_bottom(table, period, config.measures.top_n),
            products.fee_revenue_by_product(table, period),
            assets.aum_by_risk(book, period),
        ),
    )
    done(product_page)
    progress("Pages", 2, total)
    customer_page = _page(
        "customers",
        kpis,
        (
            customers.acquisition_trend(ctx, period, config, cov),
            customers.customer_growth(run.counts[0], period),
            customers.balance_by_segment_age(cust, period),
            customers.channel_flows(ctx, period),
            customers.customer_value(cust, period, config.xlsx.scatter_max_points),
            customers.retention_cohorts(ctx, period),
        ),
    )
    done(customer_page)
    progress("Pages", 3, total)
    service_page = _page("service", kpis, service_visuals(ctx, period, config))
    done(service_page)
    progress("Pages", 4, total)
    digital_page = _page("digital", kpis, digital_visuals(ctx, period, config))
    done(digital_page)
    progress("Pages", 5, total)
    return (executive, product_page, customer_page, service_page, digital_page)


def build_pack(
    tables_or_data_dir: Tables | str | Path,
    period: str | Period = "latest",
    filters: Filters | None = None,
    config: Config | None = None,
    findings: Iterable[Any] = (),
    progress: Progress | None = None,
    options: dict[str, Any] | None = None,
    facts: bool = True,
    on_page: Callable[[Page], None] | None = None,
) -> Pack:
    """Compute every measure once for `period` and `filters` and assemble the `Pack`.

    `tables_or_data_dir`: loaded `Tables` or a data folder (opened on the configured
    engine). `findings`: validation findings for the data-quality appendix. `progress`:
    ``(step, done, total)`` callback. `options`: command options, kept in the run
    information. `facts=False` leaves out the workbook's fact tables (`Pack.facts` is empty):
    they are most of the work at scale, and a PDF does not use them. `on_page`: called with
    each page as soon as it is complete. Raises DataError for a period outside the data.
    """
    config = config or load_config()
    report = progress or _silent
    run = open_run(tables_or_data_dir, period, filters, config)
    digests = file_digests(run.ctx.tables)  # hashed while the measures run
    kpis = run.kpis(report)
    pages = build_pages(run, kpis, report, on_page)
    fact_tables: dict[str, pd.DataFrame] = {}
    if facts:
        report("Workbook tables", 0, 1)
        fact_tables = _fact_tables(run)
        report("Workbook tables", 1, 1)
    tables = run.ctx.tables
    try:
        sources = source_files(tables, digests.result())
    except OSError as exc:
        raise DataError(f"{tables.data_dir}: cannot read the source files ({exc})") from None
    return Pack(
        company=config.company.name,
        title=config.report.title,
        period=run.period,
        comparison=run.previous,
        last_year=run.last_year,
        filters=run.ctx.filters,
        as_of=run.as_of,
        kpis=kpis,
        pages=pages,
        definitions=all_definitions(),
        findings=tuple(findings),
        reconciliation=assets.reconciliation(
            run.book, run.period, config.measures.residual_tolerance
        ),
        facts=fact_tables,
        run=RunInfo(
            finrep_version=finrep.__version__,
            engine=config.engine.name,
            data_dir=str(tables.data_dir),
            sources=sources,
            options={
                "period": run.period.spec,
                "filters": run.ctx.filters.as_dict(),
                **(options or {}),
            },
        ),
    )
