"""The workbook of the hand-made sample pack, read back with openpyxl and from its zip parts."""

from __future__ import annotations

import math
import warnings
import zipfile
from datetime import date, datetime

import openpyxl
import pandas as pd
import pytest
from xlsx_numfmt import excel_display
from xlsx_parts import charts_by_sheet, split_ref

from finrep.pack import PAGE_LAYOUT, PAGE_TITLES
from finrep.render import formats
from finrep.render.xlsx import render_xlsx

FACTS = ["fact_positions_monthly", "fact_service_monthly", "fact_engagement_monthly"]
EXPECTED_SHEETS = [
    "Summary",
    *(PAGE_TITLES[k] for k in PAGE_LAYOUT),
    *FACTS,
    "Definitions",
    "Data dictionary",
    "Data quality",
    "Run information",
]

# What each visual kind must become: the chart plot elements (one list per chart), or []
# for a cell grid / table. Sankey: one stacked bar per stage (the sample has two stages).
CHARTS_OF_KIND = {
    "forecast": [["areaChart", "lineChart"]],
    "donut": [["doughnutChart"]],
    "combo": [["barChart", "lineChart"]],
    "waterfall": [["barChart"]],
    "bar": [["barChart"]],
    "diverging": [["barChart"]],
    "stacked": [["barChart"]],
    "bubble": [["bubbleChart"]],
    "scatter": [["scatterChart"]],
    "line": [["lineChart"]],
    "gauge": [["doughnutChart"]],
    "funnel": [["barChart"]],
    "sankey": [["barChart"], ["barChart"]],
    "heatmap": [],
    "state_map": [],
    "table": [],
}


def _charts_of(visual) -> list[list[str]]:
    if visual.kind == "line" and visual.options.get("secondary"):
        return [["lineChart", "lineChart"]]  # a second plot on the secondary axis
    return CHARTS_OF_KIND[visual.kind]


@pytest.fixture(scope="module")
def book(tmp_path_factory, sample_pack, config):
    path = tmp_path_factory.mktemp("xlsx") / "pack.xlsx"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # xlsxwriter reports misuse as warnings
        render_xlsx(sample_pack, config, path)
    return path


@pytest.fixture(scope="module")
def wb(book):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl: "extension not supported" (data bars)
        return openpyxl.load_workbook(book)


def test_every_expected_sheet_in_order(wb):
    assert wb.sheetnames == EXPECTED_SHEETS


def test_chart_count_and_types_per_sheet(book, sample_pack):
    charts = charts_by_sheet(book)
    for page in sample_pack.pages:
        expected = [plots for v in page.visuals for plots in _charts_of(v)]
        assert [c.plots for c in charts[page.title]] == expected, page.title
    for name in ("Summary", *FACTS, "Definitions", "Data dictionary", "Data quality"):
        assert charts[name] == []
    total = sum(len(v) for v in charts.values())
    with zipfile.ZipFile(book) as z:
        parts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
    assert total == len(parts) == 25


def test_bar_directions_and_stacking(book):
    charts = charts_by_sheet(book)
    exe = charts["Executive Summary"]
    combo, waterfall, by_segment = exe[2], exe[3], exe[4]
    assert combo.bar_dirs == ["col"] and combo.groupings[0] == "stacked"
    assert waterfall.bar_dirs == ["col"] and waterfall.groupings == ["stacked"]
    assert by_segment.bar_dirs == ["bar"]  # horizontal (default orientation)
    products = charts["Product Performance"]
    assert products[-1].bar_dirs == ["col"]  # AUM by risk: orientation "v"
    digital = charts["Digital Engagement"]
    usage = digital[3]
    assert usage.bar_dirs == ["bar"] and usage.groupings == ["stacked"]


def _cells(wb, ref):
    sheet, rng = split_ref(ref)
    ws = wb[sheet]
    return [c.value for row in ws[rng] for c in row]


def test_every_series_references_ranges_that_hold_numbers(book, wb):
    checked = 0
    for sheet, charts in charts_by_sheet(book).items():
        for chart in charts:
            for s in chart.series:
                assert s.value_refs, (sheet, chart.part)
                for ref in s.value_refs:
                    assert split_ref(ref)[0] == sheet  # bound to the same sheet
                    values = _cells(wb, ref)
                    assert all(v is None or isinstance(v, int | float) for v in values), ref
                    assert any(isinstance(v, int | float) for v in values), ref
                    checked += 1
                if s.name_ref:
                    name = _cells(wb, s.name_ref)
                    assert len(name) == 1 and isinstance(name[0], str) and name[0], s.name_ref
                if s.category_ref:
                    assert all(v is not None for v in _cells(wb, s.category_ref))
    assert checked > 60


def test_line_chart_values_equal_the_pack(book, wb, sample_pack):
    """The acquisition line plots exactly the pack's numbers, in order."""
    chart = charts_by_sheet(book)["Customer Insights"][0]
    visual = sample_pack.page("customers").visual("acquisition_trend")
    values = _cells(wb, chart.series[0].value_refs[0])
    assert values == [float(v) for v in visual.data["new_customers"]]
    months = _cells(wb, chart.series[0].category_ref)
    assert [m.date() for m in months] == list(visual.data["x"])


def test_fact_sheets_are_typed_excel_tables(book, wb, sample_pack):
    with zipfile.ZipFile(book) as z:
        table_parts = sorted(n for n in z.namelist() if n.startswith("xl/tables/"))
    assert len(table_parts) == 3
    for name in FACTS:
        ws = wb[name]
        frame = sample_pack.facts[name]
        assert list(ws.tables) == [name]
        table = ws.tables[name]
        last = openpyxl.utils.get_column_letter(len(frame.columns))
        assert table.ref == f"A1:{last}{len(frame) + 1}"
        header = [c.value for c in ws[1]]
        assert header == list(frame.columns)
        assert ws.freeze_panes == "A2"
        rows = list(ws.iter_rows(min_row=2, values_only=True))
        assert len(rows) == len(frame)
        for got, want in zip(rows, frame.itertuples(index=False), strict=True):
            for g, w, col in zip(got, want, frame.columns, strict=True):
                if isinstance(w, pd.Timestamp):
                    assert isinstance(g, datetime) and g == w.to_pydatetime(), col
                elif isinstance(w, str):
                    assert g == w, col
                else:
                    assert isinstance(g, int | float) and not isinstance(g, bool), col
                    # xlsxwriter writes 16 significant digits, the fast path the shortest
                    # exact form: both well within Excel's 15 displayed digits.
                    assert g == pytest.approx(float(w), rel=1e-15, abs=0), col


def _kpi_rows(ws) -> dict[str, int]:
    """Label → row of the first KPI block on a sheet (column B labels under the header)."""
    rows = {}
    header = None
    for row in ws.iter_rows(min_col=2, max_col=2):
        cell = row[0]
        if cell.value == "Measure":
            header = cell.row
        elif header and cell.value:
            rows[cell.value] = cell.row
        elif header and not cell.value:
            break
    return rows


def _shown(cell) -> str:
    return excel_display(cell.number_format, cell.value)


@pytest.mark.parametrize("page_key", list(PAGE_LAYOUT))
def test_kpi_cells_equal_the_pack_and_the_pdf_text(wb, sample_pack, config, page_key):
    page = sample_pack.page(page_key)
    ws = wb[page.title]
    rows = _kpi_rows(ws)
    sym = config.company.currency_symbol
    assert list(rows) == [k.label for k in page.kpis]
    for k in page.kpis:
        r = rows[k.label]
        value, previous, last_year = ws.cell(r, 3), ws.cell(r, 5), ws.cell(r, 7)
        assert value.value == k.value  # the raw number, not rounded
        assert previous.value == k.previous and last_year.value == k.last_year
        # Displayed exactly as the PDF prints it (formats.format_value).
        assert _shown(value) == formats.format_value(k.value, k.unit, sym)
        assert _shown(previous) == formats.format_value(k.previous, k.unit, sym)
        assert _shown(last_year) == formats.format_value(k.last_year, k.unit, sym)
        assert ws.cell(r, 4).value == formats.format_change(k.change, k.change_pct, k.unit, sym)
        assert ws.cell(r, 6).value == formats.format_change(
            k.change_ly, k.change_ly_pct, k.unit, sym
        )


def test_summary_headline_kpis_and_facts(wb, sample_pack, config):
    ws = wb["Summary"]
    assert ws["B1"].value == sample_pack.company
    assert ws["B2"].value == sample_pack.title
    texts = {ws.cell(r, 2).value: ws.cell(r, 3).value for r in range(4, 9)}
    assert texts["Period"].startswith("December 2024")
    assert texts["Filters"].startswith("None")
    assert texts["Data as of"] == datetime(2024, 12, 31)
    rows = _kpi_rows(ws)
    keys = PAGE_LAYOUT["executive"]["kpis"]
    assert list(rows) == [sample_pack.kpis[k].label for k in keys]
    for k in keys:
        kpi = sample_pack.kpis[k]
        cell = ws.cell(rows[kpi.label], 3)
        assert cell.value == kpi.value
        assert _shown(cell) == formats.format_value(kpi.value, kpi.unit, "$")


def test_summary_links_every_sheet(wb):
    ws = wb["Summary"]
    links = {c.value: c.hyperlink for row in ws.iter_rows(min_col=2, max_col=2) for c in row
             if c.hyperlink is not None}  # fmt: skip
    assert set(links) == set(EXPECTED_SHEETS)
    for name, link in links.items():
        assert link.location == f"'{name}'!A1"


def test_narrative_block_on_the_executive_sheet(wb, sample_pack):
    ws = wb["Executive Summary"]
    texts = [c.value for row in ws.iter_rows(min_col=2, max_col=2) for c in row if c.value]
    for sentence in sample_pack.page("executive").narrative:
        assert sentence in texts
    # The hostile product name in a sentence is plain text, never markup or a formula.
    assert any("<b>Bold & Co</b>" in t for t in texts if isinstance(t, str))


def test_heat_maps_and_tile_map_have_colour_scales_and_bars(wb):
    customers = wb["Customer Insights"]
    kinds = [r.type for cf in customers.conditional_formatting for r in cf.rules]
    assert kinds.count("colorScale") == 2  # balance by segment × age, retention cohorts
    exe = wb["Executive Summary"]
    assert [r.type for cf in exe.conditional_formatting for r in cf.rules] == ["colorScale"]
    products = wb["Product Performance"]
    assert "dataBar" in [r.type for cf in products.conditional_formatting for r in cf.rules]


def test_state_tiles_hold_numbers_shown_with_their_state(wb, sample_pack):
    ws = wb["Executive Summary"]
    data = sample_pack.page("executive").visual("customer_map").data
    want = dict(zip(data["state"], data["value"], strict=True))
    seen = {}
    for row in ws.iter_rows():
        for c in row:
            code = c.number_format.split('"')[1].strip() if '"' in c.number_format else ""
            if isinstance(c.value, int | float) and len(code) == 2 and code.isupper():
                state = code
                seen[state] = c.value
                assert _shown(c) == f"{state} {formats.format_count(c.value)}"
    assert seen == {s: float(v) for s, v in want.items()}


def test_definitions_dictionary_quality_and_run(wb, sample_pack):
    defs = wb["Definitions"]
    keys = [defs.cell(r, 2).value for r in range(5, 5 + len(sample_pack.definitions))]
    assert keys == [d.key for d in sample_pack.definitions]
    dic = wb["Data dictionary"]
    listed = {(dic.cell(r, 2).value, dic.cell(r, 3).value) for r in range(1, dic.max_row + 1)}
    for name, frame in sample_pack.facts.items():
        for col in frame.columns:
            assert (name, col) in listed
    assert ("customers", "customer_segment") in listed  # source tables from schema.py
    quality = wb["Data quality"]
    values = [c.value for row in quality.iter_rows() for c in row if c.value is not None]
    assert "Dvořák" in values and "王" in values
    assert 243_012_345.67 in values  # closing AUM of the reconciliation
    run = wb["Run information"]
    hashes = [c.value for row in run.iter_rows() for c in row]
    assert sample_pack.run.sources[0].sha256 in hashes


def test_print_setup_and_frozen_panes(wb):
    for name in EXPECTED_SHEETS:
        ws = wb[name]
        assert ws.page_setup.orientation == "landscape", name
        assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0, name
        assert ws.sheet_properties.pageSetUpPr.fitToPage, name
        assert ws.freeze_panes is not None, name
    assert wb["Executive Summary"].freeze_panes == "A3"


def test_document_properties_from_config_and_as_of(wb, sample_pack, config):
    props = wb.properties
    assert props.title == sample_pack.title
    assert props.creator == config.report.author
    assert props.created == datetime(2024, 12, 31)
    assert props.modified == datetime(2024, 12, 31)
    assert "December 2024" in props.subject


def test_no_formulas_and_only_internal_links(book):
    with zipfile.ZipFile(book) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        for part in sheets:
            xml = z.read(part).decode()
            assert "<f>" not in xml and "<f " not in xml, part
        rels = [n for n in z.namelist() if n.startswith("xl/worksheets/_rels/")]
        for part in rels:
            assert "hyperlink" not in z.read(part).decode(), part  # internal links need none


def test_same_pack_twice_is_byte_identical(tmp_path, sample_pack, config, book):
    again = tmp_path / "again.xlsx"
    render_xlsx(sample_pack, config, again)
    assert again.read_bytes() == book.read_bytes()


def test_numbers_in_ranges_are_never_text(wb, sample_pack):
    """No page or fact cell holds a number stored as text (the Data quality sheet quotes
    raw values from the files, as text, on purpose)."""
    for name in [p.title for p in sample_pack.pages] + FACTS:
        ws = wb[name]
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str) and c.value.strip():
                    try:
                        float(c.value.replace(",", ""))
                    except ValueError:
                        continue
                    # Short codes that are labels by nature (months since enrollment).
                    assert c.value.isdigit() and len(c.value) <= 2, (ws.title, c.coordinate)


def test_nan_and_inf_are_blank(wb, sample_pack):
    """The UHNW × Under 30 heat-map cell is NaN in the pack: blank in the workbook."""
    ws = wb["Customer Insights"]
    for row in ws.iter_rows():
        for c in row:
            if isinstance(c.value, float):
                assert math.isfinite(c.value)
    heat = sample_pack.page("customers").visual("balance_by_segment_age").data
    assert heat.isna().sum().sum() == 1
    uhnw = [r for r in ws.iter_rows(min_col=2, max_col=6) if r[0].value == "Ultra High Net Worth"]
    assert uhnw and uhnw[0][1].value is None and isinstance(uhnw[0][2].value, float)


def test_dates_are_real_dates(wb):
    ws = wb["Executive Summary"]
    months = [
        c.value
        for row in ws.iter_rows(min_col=2, max_col=2)
        for c in row
        if isinstance(c.value, datetime)
    ]
    assert len(months) >= 30 + 24  # forecast x and net-flows x
    assert all(isinstance(m, datetime) and m.day == 1 for m in months)
    assert date(2025, 6, 1) in [m.date() for m in months]  # last forecast month


@pytest.fixture(scope="module")
def pdf_text(sample_pack, config) -> str:
    import io

    import pypdf

    from finrep.render.pdf import render_pdf
    from finrep.render.theme import Theme

    data = render_pdf(sample_pack, Theme.from_config(config))
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)


def test_every_kpi_cell_reads_as_the_pdf_prints_it(wb, sample_pack, pdf_text):
    """The workbook's KPI cells, displayed through their number formats, appear in the
    text of the PDF rendered from the same pack (values and both changes)."""
    checked = 0
    for page in sample_pack.pages:
        ws = wb[page.title]
        rows = _kpi_rows(ws)
        for k in page.kpis:
            r = rows[k.label]
            shown = _shown(ws.cell(r, 3))
            assert shown in pdf_text, (page.title, k.key, shown)
            for col in (4, 6):  # vs previous, vs last year
                assert ws.cell(r, col).value in pdf_text, (page.title, k.key, col)
            checked += 1
    assert checked == sum(len(p.kpis) for p in sample_pack.pages)


def test_state_tiles_follow_the_pdf_map_layout():
    from finrep.render.charts import STATE_TILES as PDF_TILES
    from finrep.render.xlsx_visuals import STATE_TILES
    from finrep.schema import STATES

    assert STATE_TILES == PDF_TILES
    assert sorted(STATE_TILES) == sorted(STATES)
    assert len(set(STATE_TILES.values())) == len(STATES)  # one tile per state
