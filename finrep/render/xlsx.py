"""The Excel workbook of a pack (xlsxwriter): the PDF's sibling, for analysts who pivot further.

Sheets, in order:

- ``Summary``: title, period and comparisons, filters, data as-of date, the headline KPIs with
  their changes, and a linked index of every sheet;
- one sheet per dashboard page: its KPI block, the narrative (executive page), then each
  visual as a native Excel chart bound to a visible, labelled data range beside it (see
  `xlsx_visuals`);
- the pivot-ready fact tables of ``Pack.facts`` as Excel Tables with typed columns (see
  `xlsx_facts`);
- ``Definitions``, ``Data dictionary`` (every column of every Table, and the source tables of
  `schema.py`), ``Data quality`` (findings, AUM reconciliation) and ``Run information``.

Numbers are written raw with Excel number formats equal to the PDF's text (`xlsx_style`).
The workbook is dated by `Pack.as_of`, never the clock, and xlsxwriter writes fixed zip
timestamps, so the same pack gives a byte-identical file. No string from the data becomes a
formula or a link (`xlsx_cells`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter
from xlsxwriter.exceptions import XlsxWriterException

from finrep.atomic import atomic_path
from finrep.config import Config
from finrep.errors import RenderError
from finrep.pack import KPI, PAGE_LAYOUT, Pack, Page
from finrep.render import formats
from finrep.render.xlsx_cells import clip_text, sheet_names, write_text, write_value
from finrep.render.xlsx_facts import FactSheet, column_kind, table_name, write_fact_sheet
from finrep.render.xlsx_style import MUTED, Styles
from finrep.render.xlsx_visuals import FIRST_COL, Sheet, write_visual
from finrep.schema import TABLES

Progress = Callable[[str, int, int], None]

WORKBOOK_OPTIONS = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "nan_inf_to_errors": False,
    "remove_timezone": True,
    "default_date_format": "yyyy-mm-dd",
}
PAPER = {"Letter": 1, "A4": 9}
KPI_HEADERS = ("Measure", "Value", "vs previous", "Previous", "vs last year",
               "Last year")  # fmt: skip


def render_xlsx(
    pack: Pack, config: Config, path: str | Path, progress: Progress | None = None
) -> None:
    """Write the workbook of `pack` to `path` (atomically: a temporary file, then renamed).

    Raises RenderError when the workbook cannot be built or written.
    """
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            _write(pack, config, tmp, progress)
    except XlsxWriterException as exc:
        raise RenderError(f"{path}: the workbook could not be built ({exc})") from None
    except OSError as exc:
        raise RenderError(f"{path}: the workbook could not be written ({exc})") from None


# ---- plan -------------------------------------------------------------------------------------
def _plan(pack: Pack) -> list[tuple[str, str, Any]]:
    """(role, wanted sheet name, payload) for every sheet, in order."""
    plan: list[tuple[str, str, Any]] = [("summary", "Summary", None)]
    plan += [("page", page.title, page) for page in pack.pages]
    plan += [("fact", str(name), frame) for name, frame in pack.facts.items()]
    plan += [
        ("definitions", "Definitions", None),
        ("dictionary", "Data dictionary", None),
        ("quality", "Data quality", None),
        ("run", "Run information", None),
    ]
    return plan


def _write(pack: Pack, config: Config, target: Path, progress: Progress | None) -> None:
    plan = _plan(pack)
    names = sheet_names(wanted for _, wanted, _ in plan)
    wb = xlsxwriter.Workbook(str(target), WORKBOOK_OPTIONS)
    try:
        _properties(wb, pack, config)
        styles = Styles(wb, config)
        sheets = [
            wb.add_worksheet(name, worksheet_class=FactSheet if role == "fact" else None)
            for (role, _, _), name in zip(plan, names, strict=True)
        ]
        index = list(zip(plan, names, strict=True))
        tables: set[str] = set()
        for done, ((role, _, payload), name, ws) in enumerate(
            zip(plan, names, sheets, strict=True)
        ):
            if role == "summary":
                _summary(ws, pack, config, styles, index)
            elif role == "page":
                _page(wb, ws, name, payload, pack, config, styles)
            elif role == "fact":
                units = _fact_units(payload)
                write_fact_sheet(ws, payload, styles, table_name(name, tables), units)
            elif role == "definitions":
                _definitions(ws, pack, styles)
            elif role == "dictionary":
                _dictionary(ws, pack, styles, dict(zip(range(len(plan)), names, strict=True)))
            elif role == "quality":
                _quality(ws, pack, config, styles)
            else:
                _run_information(ws, pack, config, styles)
            _print_setup(ws, name, pack, config, landscape=True, repeat_header=role == "fact")
            if progress:
                progress("workbook", done + 1, len(plan))
    finally:
        wb.close()


def _properties(wb: Any, pack: Pack, config: Config) -> None:
    as_of = datetime(pack.as_of.year, pack.as_of.month, pack.as_of.day)
    wb.set_properties(
        {
            "title": clip_text(pack.title)[:255],
            "subject": clip_text(f"{pack.period.label} · {pack.filters.label() or 'All data'}")[
                :255
            ],
            "author": clip_text(config.report.author)[:255],
            "company": clip_text(pack.company)[:255],
            "category": "Report pack",
            "keywords": "finrep, wealth management, AUM, KPIs",
            "comments": clip_text(
                f"Period {pack.period.start.isoformat()} to {pack.period.end.isoformat()}; "
                f"data as of {pack.as_of.isoformat()}; finrep {pack.run.finrep_version}."
            )[:255],
            "created": as_of,
        }
    )


# ---- shared blocks ----------------------------------------------------------------------------
def _header_lines(ws: Any, pack: Pack, styles: Styles, title: str) -> None:
    write_text(ws, 0, FIRST_COL, title, styles.title())
    filters = pack.filters.label() or "All data (no filters)"
    line = f"{pack.company} · {pack.period.label} · {filters} · Data as of {pack.as_of.isoformat()}"
    write_text(ws, 1, FIRST_COL, line, styles.subtitle())
    ws.set_row(0, 24)


def _kpi_block(ws: Any, row: int, kpis: list[KPI], styles: Styles) -> int:
    """The KPI table (value, changes, comparison values) at `row`; returns the next free row."""
    col = FIRST_COL
    for j, h in enumerate(KPI_HEADERS):
        write_text(ws, row, col + j, h, styles.header())
    sym = styles.symbol
    for i, k in enumerate(kpis):
        r = row + 1 + i
        write_text(ws, r, col, k.label, styles.label())
        _kpi_value(ws, r, col + 1, k.value, k.unit, styles, bold=True, font_size=12)
        change = formats.format_change(k.change, k.change_pct, k.unit, sym)
        write_text(ws, r, col + 2, change, styles.change(formats.direction(k.change,
                                                                          k.higher_is_better)))  # fmt: skip
        _kpi_value(ws, r, col + 3, k.previous, k.unit, styles)
        change_ly = formats.format_change(k.change_ly, k.change_ly_pct, k.unit, sym)
        write_text(ws, r, col + 4, change_ly,
                   styles.change(formats.direction(k.change_ly, k.higher_is_better)))  # fmt: skip
        _kpi_value(ws, r, col + 5, k.last_year, k.unit, styles)
        ws.set_row(r, 18)
    return row + 1 + len(kpis)


def _kpi_value(ws: Any, row: int, col: int, value: Any, unit: str, styles: Styles, **props) -> None:
    """A KPI number, shown as the PDF shows it; `n/a` (text, as in the PDF) when missing."""
    if value is None or (isinstance(value, float) and value != value):
        write_text(ws, row, col, formats.NA, styles.get(align="right", font_color=MUTED, **props))
    else:
        write_value(ws, row, col, value, unit, styles, align="right", **props)


def _print_setup(
    ws: Any, name: str, pack: Pack, config: Config, landscape: bool, repeat_header: bool
) -> None:
    if landscape:
        ws.set_landscape()
    ws.set_paper(PAPER.get(config.report.page_size, 1))
    ws.fit_to_pages(1, 0)  # fit to width, as many pages tall as needed
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    company = _header_text(pack.company, 80)
    ws.set_header(f"&L{company}&R{_header_text(name, 60)}")
    footer = _header_text(config.company.confidentiality, 120)
    ws.set_footer(f"&L{footer}&RPage &P of &N")
    if repeat_header:
        ws.repeat_rows(0)
    ws.hide_gridlines(2 if not repeat_header else 0)


def _header_text(text: str, limit: int) -> str:
    """Text for a print header/footer: & doubled (it starts a code), kept short."""
    return clip_text(text)[:limit].replace("&", "&&")


# ---- summary ----------------------------------------------------------------------------------
_DESCRIPTIONS = {
    "summary": "This sheet: period, filters, headline KPIs and this index.",
    "definitions": "Every measure in plain words.",
    "dictionary": "Every column of every Table, and the source tables.",
    "quality": "Validation findings and the AUM reconciliation.",
    "run": "Source files, engine, version and options of this run.",
}


def _summary(ws: Any, pack: Pack, config: Config, styles: Styles, index: list) -> None:
    ws.set_column(0, 0, 2)
    ws.set_column(FIRST_COL, FIRST_COL, 30)
    ws.set_column(FIRST_COL + 1, FIRST_COL + 5, 18)
    ws.set_column(FIRST_COL + 6, FIRST_COL + 6, 60)
    write_text(ws, 0, FIRST_COL, pack.company, styles.title())
    write_text(ws, 1, FIRST_COL, pack.title, styles.heading())
    ws.set_row(0, 24)
    p = pack.period
    rows = [
        ("Period", f"{p.label} ({p.start.isoformat()} to {p.end.isoformat()})"),
        ("Compared with", f"{pack.comparison.label} (previous period) and "
                          f"{pack.last_year.label} (last year)"),
        ("Filters", pack.filters.label() or "None: all customers, products, channels, devices"),
    ]  # fmt: skip
    r = 3
    for label, text in rows:
        write_text(ws, r, FIRST_COL, label, styles.label())
        write_text(ws, r, FIRST_COL + 1, text, styles.text())
        r += 1
    write_text(ws, r, FIRST_COL, "Data as of", styles.label())
    write_value(ws, r, FIRST_COL + 1, pack.as_of, "date", styles, align="left")
    r += 2
    write_text(ws, r, FIRST_COL, "Headline KPIs", styles.heading())
    keys = PAGE_LAYOUT["executive"]["kpis"]
    headline = [pack.kpis[k] for k in keys if k in pack.kpis] or list(pack.kpis.values())[:5]
    r = _kpi_block(ws, r + 1, headline, styles) + 1
    write_text(ws, r, FIRST_COL, "Sheets", styles.heading())
    r += 1
    write_text(ws, r, FIRST_COL, "Sheet", styles.header())
    write_text(ws, r, FIRST_COL + 1, "What it holds", styles.header())
    for (role, _, payload), name in index:
        r += 1
        target = "internal:'" + name.replace("'", "''") + "'!A1"
        ws.write_url(r, FIRST_COL, target, styles.link(), string=clip_text(name))
        write_text(ws, r, FIRST_COL + 1, _describe(role, payload), styles.text())
    ws.freeze_panes(2, 0)


def _describe(role: str, payload: Any) -> str:
    if role == "page":
        kinds = ", ".join(v.title for v in payload.visuals)
        return f"KPIs and charts: {kinds}"
    if role == "fact":
        title = payload.attrs.get("title") if hasattr(payload, "attrs") else None
        return f"Excel Table for pivots ({len(payload):,} rows). {title or ''}".strip()
    return _DESCRIPTIONS.get(role, "")


# ---- pages ------------------------------------------------------------------------------------
def _page(
    wb: Any, ws: Any, name: str, page: Page, pack: Pack, config: Config, styles: Styles
) -> None:
    ws.set_column(0, 0, 2)
    ws.set_column(FIRST_COL, FIRST_COL, 30)
    ws.set_column(FIRST_COL + 1, FIRST_COL + 24, 14)
    _header_lines(ws, pack, styles, page.title)
    ws.write_url(0, FIRST_COL + 6, "internal:'Summary'!A1", styles.link(),
                 string="← Summary")  # fmt: skip
    row = 3
    if page.kpis:
        write_text(ws, row, FIRST_COL, "Key figures", styles.heading())
        row = _kpi_block(ws, row + 1, list(page.kpis), styles) + 2
    if page.narrative:
        write_text(ws, row, FIRST_COL, "What changed", styles.heading())
        row += 1
        for sentence in page.narrative:
            text = clip_text(sentence)
            ws.merge_range(row, FIRST_COL, row, FIRST_COL + 10, "", styles.narrative())
            write_text(ws, row, FIRST_COL, text, styles.narrative())
            ws.set_row(row, 16 * max(1, -(-len(text) // 150)) + 4)
            row += 1
        row += 2
    sheet = Sheet(wb, ws, name, styles, config.xlsx.scatter_max_points)
    for visual in page.visuals:
        row = write_visual(sheet, visual, row)
    ws.freeze_panes(2, 0)


# ---- facts ------------------------------------------------------------------------------------
def _fact_units(frame: pd.DataFrame) -> dict[str, str]:
    units = dict(frame.attrs.get("units", {})) if hasattr(frame, "attrs") else {}
    for c in frame.columns:
        if str(c) not in units:
            kind = column_kind(frame[c], None)
            units[str(c)] = {"date": "date", "number": "number"}.get(kind, "text")
    return units


# ---- appendices -------------------------------------------------------------------------------
def _appendix_header(ws: Any, title: str, pack: Pack, styles: Styles) -> None:
    ws.set_column(0, 0, 2)
    _header_lines(ws, pack, styles, title)


def _table_rows(
    ws: Any, row: int, headers: list[str], rows: list[list[Any]], styles: Styles,
    units: list[str] | None = None,
) -> int:  # fmt: skip
    for j, h in enumerate(headers):
        write_text(ws, row, FIRST_COL + j, h, styles.header())
    for i, rec in enumerate(rows):
        for j, value in enumerate(rec):
            unit = units[j] if units else "text"
            if unit == "text":
                write_text(ws, row + 1 + i, FIRST_COL + j, "" if value is None else value,
                           styles.wrap())  # fmt: skip
            else:
                write_value(ws, row + 1 + i, FIRST_COL + j, value, unit, styles, valign="top")
    if rows:
        ws.autofilter(row, FIRST_COL, row + len(rows), FIRST_COL + len(headers) - 1)
    return row + 1 + len(rows)


def _definitions(ws: Any, pack: Pack, styles: Styles) -> None:
    _appendix_header(ws, "Definitions", pack, styles)
    ws.set_column(FIRST_COL, FIRST_COL, 26)
    ws.set_column(FIRST_COL + 1, FIRST_COL + 1, 30)
    ws.set_column(FIRST_COL + 2, FIRST_COL + 2, 100)
    rows = [[d.key, d.label, d.text] for d in pack.definitions]
    _table_rows(ws, 3, ["Key", "Measure", "Definition"], rows, styles)
    ws.freeze_panes(4, 0)


def _dictionary(ws: Any, pack: Pack, styles: Styles, names: dict) -> None:
    _appendix_header(ws, "Data dictionary", pack, styles)
    widths = (26, 24, 10, 10, 80, 18)
    for j, w in enumerate(widths):
        ws.set_column(FIRST_COL + j, FIRST_COL + j, w)
    plan_names = list(names.values())
    fact_sheets = [n for n in plan_names if n in _fact_sheet_names(pack, plan_names)]
    rows: list[list[Any]] = []
    for sheet, frame in zip(fact_sheets, pack.facts.values(), strict=False):
        units = _fact_units(frame)
        texts = frame.attrs.get("descriptions", {}) if hasattr(frame, "attrs") else {}
        for c in frame.columns:
            kind = column_kind(frame[c], units.get(str(c)))
            text = texts.get(str(c), "")
            rows.append([sheet, str(c), kind.capitalize(), units.get(str(c), ""), text,
                         _additivity(kind, units.get(str(c), ""), text)])  # fmt: skip
    write_text(ws, 3, FIRST_COL, "Workbook Tables (pivot-ready data sheets)", styles.heading())
    headers = ["Table (sheet)", "Column", "Type", "Unit", "Description", "Sum across rows"]
    row = _table_rows(ws, 4, headers, rows, styles) + 2
    write_text(ws, row, FIRST_COL, "Source tables (read by finrep; not in this workbook)",
               styles.heading())  # fmt: skip
    src_rows = []
    for t in TABLES.values():
        for c in t.columns:
            notes = []
            if c.enum:
                notes.append("One of: " + ", ".join(c.enum))
            if c.name in t.primary_key:
                notes.append("Key")
            if c.nullable:
                notes.append("May be blank")
            if c.pii:
                notes.append("Personal data: masked, never written to a pack")
            src_rows.append([t.name, c.name, c.dtype, "money" if c.money else "",
                             c.description, "; ".join(notes)])  # fmt: skip
    headers = ["Table", "Column", "Type", "Unit", "Description", "Notes"]
    for j, h in enumerate(headers):
        write_text(ws, row + 1, FIRST_COL + j, h, styles.header())
    for i, rec in enumerate(src_rows):
        for j, value in enumerate(rec):
            write_text(ws, row + 2 + i, FIRST_COL + j, value, styles.wrap())
    ws.freeze_panes(3, 0)


def _fact_sheet_names(pack: Pack, plan_names: list[str]) -> list[str]:
    """The sanitised sheet names of the fact tables (they follow the page sheets)."""
    start = 1 + len(pack.pages)
    return plan_names[start : start + len(pack.facts)]


def _additivity(kind: str, unit: str, text: str) -> str:
    if kind != "number":
        return "Dimension"
    lowered = text.lower()
    if "not additive" in lowered:
        return "No"
    if "stock" in lowered:
        return "Not over months"
    return "Yes"


def _quality(ws: Any, pack: Pack, config: Config, styles: Styles) -> None:
    _appendix_header(ws, "Data quality", pack, styles)
    widths = (12, 24, 22, 10, 20, 20, 70)
    for j, w in enumerate(widths):
        ws.set_column(FIRST_COL + j, FIRST_COL + j, w)
    write_text(ws, 3, FIRST_COL, "Validation findings (warnings recorded with this pack)",
               styles.heading())  # fmt: skip
    rows = []
    for f in pack.findings:
        rows.append([
            getattr(f, "severity", ""), getattr(f, "file", getattr(f, "table", "")),
            getattr(f, "rule", ""), getattr(f, "row", None), getattr(f, "column", ""),
            getattr(f, "value", ""), getattr(f, "message", str(f)),
        ])  # fmt: skip
    headers = ["Severity", "File", "Rule", "Row", "Column", "Value", "Message"]
    units = ["text", "text", "text", "count", "text", "text", "text"]
    if rows:
        row = _table_rows(ws, 4, headers, rows, styles, units) + 2
    else:
        write_text(ws, 4, FIRST_COL, "No findings: the data passed every check.", styles.text())
        row = 7
    tol = config.measures.residual_tolerance
    write_text(ws, row, FIRST_COL, "AUM reconciliation", styles.heading())
    write_text(
        ws, row + 1, FIRST_COL,
        "AUM = opening AUM + new money + contributions − withdrawals + investment returns − "
        f"fees + residual; a residual above {tol:.2%} of AUM is flagged.",
        styles.caption(),
    )  # fmt: skip
    rec = pack.reconciliation
    if rec is None or rec.empty:
        write_text(ws, row + 2, FIRST_COL, "No reconciliation for this pack.", styles.text())
    else:
        labels = {"month": "Month", "aum_open": "Opening AUM", "new_money": "New money",
                  "contributions": "Contributions", "withdrawals": "Withdrawals",
                  "investment_returns": "Investment returns", "fees": "Fees",
                  "aum": "Closing AUM", "residual": "Residual", "flagged": "Flagged"}  # fmt: skip
        cols = list(rec.columns)
        money = f'"{styles.symbol}"#,##0.00;-"{styles.symbol}"#,##0.00'
        for j, c in enumerate(cols):
            write_text(ws, row + 2, FIRST_COL + j, labels.get(c, c), styles.header())
        for i, values in enumerate(rec.itertuples(index=False, name=None)):
            for j, (c, value) in enumerate(zip(cols, values, strict=True)):
                r = row + 3 + i
                if c == "month":
                    write_value(ws, r, FIRST_COL + j, value, "date", styles, num_format="yyyy-mm")
                elif isinstance(value, bool) or c == "flagged":
                    write_value(ws, r, FIRST_COL + j, bool(value), "text", styles)
                else:
                    write_value(ws, r, FIRST_COL + j, value, "currency", styles, num_format=money)
        for j in range(len(cols)):
            ws.set_column(FIRST_COL + j, FIRST_COL + j, max(widths[j] if j < 7 else 16, 16))
    ws.freeze_panes(3, 0)


def _run_information(ws: Any, pack: Pack, config: Config, styles: Styles) -> None:
    _appendix_header(ws, "Run information", pack, styles)
    widths = (24, 40, 14, 70, 10)
    for j, w in enumerate(widths):
        ws.set_column(FIRST_COL + j, FIRST_COL + j, w)
    run = pack.run
    items = [
        ("finrep version", run.finrep_version),
        ("Engine", run.engine),
        ("Data folder", run.data_dir),
        ("Data as of", pack.as_of.isoformat()),
        ("Period", f"{pack.period.start.isoformat()} to {pack.period.end.isoformat()}"),
        ("Filters", pack.filters.label() or "None"),
    ]
    items += [(f"Option: {k}", str(v)) for k, v in sorted(run.options.items())]
    row = 3
    for label, text in items:
        write_text(ws, row, FIRST_COL, label, styles.label())
        write_text(ws, row, FIRST_COL + 1, text, styles.text())
        row += 1
    row += 1
    write_text(ws, row, FIRST_COL, "Source files", styles.heading())
    rows = [[s.table, s.path, s.rows, s.sha256, s.format] for s in run.sources]
    _table_rows(ws, row + 1, ["Table", "File", "Rows", "SHA-256", "Format"], rows, styles,
                ["text", "text", "count", "text", "text"])  # fmt: skip
    ws.freeze_panes(3, 0)


__all__ = ["render_xlsx"]
