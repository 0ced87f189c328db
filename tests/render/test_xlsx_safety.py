"""RELIABILITY.md (Excel): hostile strings stay text, names are sanitised, writes are atomic."""

from __future__ import annotations

import dataclasses
import warnings
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest
from sample_pack import make_sample_pack

from finrep.errors import RenderError
from finrep.pack import Page, Visual
from finrep.render.xlsx import render_xlsx
from finrep.render.xlsx_cells import MAX_CELL_TEXT, sheet_names

HOSTILE = '=HYPERLINK("http://x","y")'
OTHER_HOSTILE = ["+1+2", "-3-4", "@SUM(A1)", "http://example.com/phish", "0012", "1e5"]


def _load(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return openpyxl.load_workbook(path)


def _replace_visual(pack, page_key: str, visual_key: str, **changes):
    pages = []
    for page in pack.pages:
        if page.key == page_key:
            visuals = tuple(
                dataclasses.replace(v, **changes) if v.key == visual_key else v
                for v in page.visuals
            )
            page = dataclasses.replace(page, visuals=visuals)
        pages.append(page)
    return dataclasses.replace(pack, pages=tuple(pages))


@pytest.fixture(scope="module")
def hostile_book(tmp_path_factory, config):
    pack = make_sample_pack()
    fees = pack.page("products").visual("fee_revenue_by_product").data.copy()
    fees.loc[0, "label"] = HOSTILE
    for i, text in enumerate(OTHER_HOSTILE, start=1):
        fees.loc[i, "label"] = text
    pack = _replace_visual(pack, "products", "fee_revenue_by_product", data=fees)
    scatter = pack.page("customers").visual("customer_value").data.copy()
    scatter.loc[0, "label"] = HOSTILE
    scatter.loc[1, "y"] = np.inf
    scatter.loc[2, "y"] = -np.inf
    scatter.loc[3, "y"] = np.nan
    pack = _replace_visual(pack, "customers", "customer_value", data=scatter)
    facts = dict(pack.facts)
    positions = facts["fact_positions_monthly"].copy()
    positions.loc[0, "product"] = HOSTILE
    positions.loc[1, "product"] = "  padded\tname\x07 _x0041_ "
    positions.loc[2, "aum"] = np.nan
    positions.loc[3, "aum"] = np.inf
    facts["fact_positions_monthly"] = positions
    narrative = (*pack.page("executive").narrative, HOSTILE, "x" * 40_000)
    pages = tuple(
        dataclasses.replace(p, narrative=narrative) if p.key == "executive" else p
        for p in pack.pages
    )
    pack = dataclasses.replace(pack, facts=facts, pages=pages)
    path = tmp_path_factory.mktemp("hostile") / "pack.xlsx"
    render_xlsx(pack, config, path)
    return path


def _string_cells(ws, text):
    return [c for row in ws.iter_rows() for c in row if c.value == text]


def test_a_formula_looking_name_stays_a_string(hostile_book):
    wb = _load(hostile_book)
    for sheet in ("Product Performance", "Customer Insights", "Executive Summary",
                  "fact_positions_monthly"):  # fmt: skip
        cells = _string_cells(wb[sheet], HOSTILE)
        assert cells, sheet
        assert all(c.data_type == "s" for c in cells), sheet
    for text in OTHER_HOSTILE:
        cells = _string_cells(wb["Product Performance"], text)
        assert cells and all(c.data_type == "s" for c in cells), text
    with zipfile.ZipFile(hostile_book) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/sheet"):
                xml = z.read(name).decode()
                assert "<f>" not in xml and "<f " not in xml, name
            if name.startswith("xl/worksheets/_rels/"):
                assert 'TargetMode="External"' not in z.read(name).decode(), name


def test_fact_strings_round_trip_exactly(hostile_book):
    ws = _load(hostile_book)["fact_positions_monthly"]
    col = [c.value for c in ws["B"]]  # product
    assert col[1] == HOSTILE  # first data row: written by xlsxwriter
    # Control characters are escaped as Excel does (_x0007_), and a literal "_x0041_" as
    # _x005F_x0041_ so that Excel does not decode it to "A". openpyxl strips the _x005F_ but
    # leaves _x0007_ as it is; Excel shows "\x07" and "_x0041_". Spaces at both ends survive.
    assert col[2] == "  padded\tname_x0007_ _x0041_ "
    with zipfile.ZipFile(hostile_book) as z:
        sst = z.read("xl/sharedStrings.xml").decode()
    assert '<t xml:space="preserve">  padded\tname_x0007_ _x005F_x0041_ </t>' in sst


def test_nan_and_inf_are_blank_cells(hostile_book):
    wb = _load(hostile_book)
    ws = wb["fact_positions_monthly"]
    header = [c.value for c in ws[1]]
    aum = header.index("aum") + 1
    assert ws.cell(4, aum).value is None and ws.cell(5, aum).value is None
    assert isinstance(ws.cell(3, aum).value, float)
    scatter = wb["Customer Insights"]
    for row in scatter.iter_rows():
        for c in row:
            if isinstance(c.value, float):
                assert np.isfinite(c.value)


def test_cell_text_is_cut_to_excels_limit(hostile_book):
    ws = _load(hostile_book)["Executive Summary"]
    longest = max(len(c.value) for row in ws.iter_rows() for c in row
                  if isinstance(c.value, str))  # fmt: skip
    assert longest == MAX_CELL_TEXT


def test_sheet_names_are_sanitised_and_unique():
    names = sheet_names(
        [
            "Summary",
            "summary",
            "Q3: A/B [draft]?*",
            "x" * 40,
            "x" * 40,
            "'quoted'",
            "History",
            "",
            "Back\\slash",
        ]  # fmt: skip
    )
    assert names[0] == "Summary"
    assert names[1] == "summary (2)"
    assert names[2] == "Q3- A-B -draft---"
    assert names[3] == "x" * 31 and names[4] == "x" * 27 + " (2)"
    assert names[5] == "’quoted’"
    assert names[6] == "History (sheet)"
    assert names[7] == "Sheet"
    assert names[8] == "Back-slash"
    assert all(len(n) <= 31 for n in names)
    assert len({n.lower() for n in names}) == len(names)


def test_page_titles_from_data_become_valid_sheet_names(tmp_path, config):
    pack = make_sample_pack()
    pages = list(pack.pages)
    pages[0] = dataclasses.replace(pages[0], title="Executive: West/South [Affluent]")
    pages[1] = dataclasses.replace(pages[1], title="SUMMARY")
    pack = dataclasses.replace(pack, pages=tuple(pages))
    path = tmp_path / "names.xlsx"
    render_xlsx(pack, config, path)
    names = _load(path).sheetnames
    assert names[1] == "Executive- West-South -Affluent"[:31]
    assert names[2] == "SUMMARY (2)"


def test_an_empty_visual_says_why_instead_of_a_chart(tmp_path, config):
    pack = make_sample_pack()
    empty = Visual("fcr_gauge", "First-contact resolution", "", "gauge", pd.DataFrame(),
                   note="no contacts in the period")  # fmt: skip
    pack = _replace_visual(pack, "service", "fcr_gauge", data=empty.data, note=empty.note)
    path = tmp_path / "empty.xlsx"
    render_xlsx(pack, config, path)
    ws = _load(path)["Service Quality"]
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert "No data: no contacts in the period" in texts
    with zipfile.ZipFile(path) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/")]
    assert len(charts) == 24  # one fewer than the full sample


def test_a_failed_write_keeps_the_previous_workbook(tmp_path, config):
    path = tmp_path / "pack.xlsx"
    path.write_bytes(b"previous good workbook")
    pack = make_sample_pack()
    bad = pd.DataFrame({"Month": [1], "month": [2]})  # Excel Tables need unique headers
    pack = dataclasses.replace(pack, facts={**pack.facts, "fact_bad": bad})
    with pytest.raises(RenderError, match="column names must be unique ignoring case"):
        render_xlsx(pack, config, path)
    assert path.read_bytes() == b"previous good workbook"
    assert [p.name for p in tmp_path.iterdir()] == ["pack.xlsx"]  # no temporary left


def test_unwritable_destination_is_a_render_error(tmp_path, config):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(RenderError, match="could not be written"):
        render_xlsx(make_sample_pack(), config, blocker / "pack.xlsx")


def test_a_page_without_kpis_or_visuals_still_renders(tmp_path, config):
    pack = make_sample_pack()
    bare = Page("service", "Service Quality", kpis=(), visuals=())
    pages = tuple(bare if p.key == "service" else p for p in pack.pages)
    path = tmp_path / "bare.xlsx"
    render_xlsx(dataclasses.replace(pack, pages=pages), config, path)
    assert "Service Quality" in _load(path).sheetnames
