"""Fact sheets: the fast pre-rendered rows read back exactly, typed, inside a full-size Table.

These tests also pin the two xlsxwriter internals `xlsx_facts` relies on (a worksheet
subclass writing its own ``<sheetData>`` rows, and the table ranges it widens).
"""

from __future__ import annotations

import warnings
import zipfile
from datetime import datetime
from xml.etree import ElementTree as ET

import numpy as np
import openpyxl
import pandas as pd
import pytest
import xlsxwriter

from finrep.config import load_config
from finrep.errors import RenderError
from finrep.render import xlsx_facts
from finrep.render.xlsx_facts import FactSheet, table_name, write_fact_sheet
from finrep.render.xlsx_style import Styles


def _frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    months = pd.date_range("2023-01-01", periods=12, freq="MS")
    frame = pd.DataFrame(
        {
            "month": months[np.arange(n) % 12],
            "segment": np.array(["Mass Market", "Affluent", "A & B <c>", None], dtype=object)[
                np.arange(n) % 4
            ],
            "aum": rng.uniform(0, 1e7, n).round(2),
            "count": np.arange(n, dtype="int64") * 3,
            "flag": (np.arange(n) % 2 == 0),
            "ratio": rng.uniform(-1, 1, n),
        }
    )
    if n > 8:
        frame.loc[5, "aum"] = np.nan
        frame.loc[6, "ratio"] = np.inf
        frame.loc[8, "month"] = pd.NaT
    return frame


def _write(path, frame, units=None):
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False})
    ws = wb.add_worksheet("facts", worksheet_class=FactSheet)
    styles = Styles(wb, load_config())
    write_fact_sheet(ws, frame, styles, "facts", units or {})
    wb.close()


def _read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return openpyxl.load_workbook(path)["facts"]


@pytest.mark.parametrize("chunk", [7, 10_000])
def test_rows_read_back_exactly(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(xlsx_facts, "CHUNK_ROWS", chunk)  # several chunks, or one
    frame = _frame(50)
    path = tmp_path / "f.xlsx"
    _write(path, frame, {"month": "date", "aum": "currency", "count": "count"})
    ws = _read(path)
    assert [c.value for c in ws[1]] == list(frame.columns)
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 50
    for i, (got, want) in enumerate(zip(rows, frame.itertuples(index=False), strict=True)):
        month, segment, aum, count, flag, ratio = got
        if pd.isna(want.month):
            assert month is None
        else:
            assert isinstance(month, datetime) and month == want.month.to_pydatetime()
        assert segment == (None if pd.isna(want.segment) else want.segment)  # blank
        assert (aum is None) if np.isnan(want.aum) else (aum == pytest.approx(want.aum, 1e-15))
        assert count == want.count and isinstance(count, int)
        assert flag == ("Yes" if want.flag else "No")
        assert (ratio is None) if not np.isfinite(want.ratio) else ratio == want.ratio, i


def test_table_spans_every_row_and_pandas_reads_typed_columns(tmp_path):
    frame = _frame(50)
    path = tmp_path / "f.xlsx"
    _write(path, frame, {"month": "date"})
    ws = _read(path)
    assert ws.tables["facts"].ref == "A1:F51"
    assert ws.auto_filter.ref is None or ws.auto_filter.ref == "A1:F51"
    with zipfile.ZipFile(path) as z:
        table = ET.fromstring(z.read("xl/tables/table1.xml"))
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert table.get("ref") == "A1:F51"
    auto = table.find("{http://schemas.openxmlformats.org/spreadsheetml/2006/main}autoFilter")
    assert auto.get("ref") == "A1:F51"
    assert '<dimension ref="A1:F51"/>' in sheet
    back = pd.read_excel(path, sheet_name="facts")
    assert pd.api.types.is_datetime64_any_dtype(back["month"])
    assert pd.api.types.is_float_dtype(back["aum"])
    assert pd.api.types.is_integer_dtype(back["count"])
    assert back["count"].tolist() == frame["count"].tolist()


def test_a_table_too_big_for_a_sheet_is_refused(tmp_path):
    frame = pd.DataFrame({"x": np.zeros(1_048_576, dtype="int8")})
    with pytest.raises(RenderError, match=r"1,048,576 rows do not fit .* coarsen the grain"):
        _write(tmp_path / "big.xlsx", frame)


def test_one_row_and_empty_tables(tmp_path):
    one = _frame(1)
    _write(tmp_path / "one.xlsx", one)
    ws = _read(tmp_path / "one.xlsx")
    assert ws.tables["facts"].ref == "A1:F2"
    assert ws.cell(2, 4).value == 0
    empty = _frame(3).iloc[:0]
    _write(tmp_path / "empty.xlsx", empty)
    ws = _read(tmp_path / "empty.xlsx")
    assert ws.tables["facts"].ref == "A1:F2"  # Excel needs one (blank) data row
    assert ws.cell(2, 1).value is None


def test_table_names_are_valid_and_unique():
    taken: set[str] = set()
    assert table_name("fact_positions_monthly", taken) == "fact_positions_monthly"
    assert table_name("fact positions (2)", taken) == "fact_positions__2_"
    assert table_name("2024 data", taken) == "T_2024_data"
    assert table_name("A1", taken) == "T_A1"
    assert table_name("FACT_POSITIONS_MONTHLY", taken) == "FACT_POSITIONS_MONTHLY_2"
