"""Pivot-ready fact sheets: one Excel Table (ListObject) per fact frame, fast at 1M customers.

A fact table at one million customers has a few hundred thousand rows × ~16 columns. Written
cell by cell through xlsxwriter that is ~45 s (its per-cell bookkeeping, and `add_table`'s
per-cell overlap check); this module keeps xlsxwriter for everything it is good at (the
Table definition, styles, column widths, print setup, the header and first data row) and
renders the remaining rows as SpreadsheetML with vectorised pyarrow string kernels, streamed
into the sheet's ``<sheetData>`` when xlsxwriter writes the sheet. Cells are typed exactly as
xlsxwriter would type them: numbers as numbers, dates as date serials with a date style,
text as shared strings (xlsxwriter's table, which escapes them), so data can never turn into
a formula or a link.

xlsxwriter's ``constant_memory`` mode is not used: it cannot make Tables (``add_table`` is
refused in that mode), and it writes every string inline, which makes the file larger. The
rows here are rendered in chunks of `CHUNK_ROWS`, so memory stays bounded anyway.

Data cells carry no ``r`` (reference) attribute: it is optional in SpreadsheetML (ECMA-376
§18.3.1.4) and Excel, LibreOffice, openpyxl and pandas read cells in document order; left
out, the file is less than half the size (deflate cannot compress the ever-changing
references). Rows keep their ``r``.

Relies on three xlsxwriter internals, pinned by tests/render/test_xlsx_facts.py: a worksheet
subclass may override ``_write_dimension``/``_write_sheet_data``; a table's ranges live in
``worksheet.tables[-1]["range" | "a_range" | "autofilter"]``; the workbook's shared strings
are ``worksheet.str_table`` (``_get_shared_string_index`` and its ``count``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from xlsxwriter.utility import xl_range
from xlsxwriter.worksheet import Worksheet

from finrep.errors import RenderError
from finrep.render.xlsx_cells import MAX_CELL_TEXT, as_datetime, clip_text, is_missing
from finrep.render.xlsx_style import Styles

EXCEL_MAX_ROWS = 1_048_576
CHUNK_ROWS = 50_000  # rows rendered at a time: bounds the memory of the XML text
_EPOCH = np.datetime64("1899-12-30", "D")  # Excel's day 0 (1900 date system)


class FactSheet(Worksheet):
    """A worksheet whose rows after the first `head_rows` come pre-rendered (see module)."""

    def __init__(self) -> None:
        super().__init__()
        self._fact_chunks: Any = None  # callable(first_row) -> Iterator[str]
        self._fact_last: tuple[int, int] | None = None

    def set_fact_rows(self, chunks: Any, last_row: int, last_col: int) -> None:
        self._fact_chunks = chunks
        self._fact_last = (last_row, last_col)

    def _write_dimension(self) -> None:
        if self._fact_last is None:
            super()._write_dimension()
            return
        self._xml_empty_tag("dimension", [("ref", xl_range(0, 0, *self._fact_last))])

    def _write_sheet_data(self) -> None:
        if self._fact_chunks is None:
            super()._write_sheet_data()
            return
        self._xml_start_tag("sheetData")
        self._write_rows()  # header and first data row, held by xlsxwriter
        raw = getattr(self.fh, "buffer", None)  # a file: write the UTF-8 bytes as they are
        self.fh.flush()
        for chunk in self._fact_chunks():
            if raw is not None:
                raw.write(chunk)
            else:  # in-memory workbook (StringIO)
                self.fh.write(bytes(chunk).decode("utf-8"))
        self._xml_end_tag("sheetData")


def _text(value: object) -> str:
    """A text cell's content; booleans read Yes / No, as everywhere in the workbook."""
    if isinstance(value, bool | np.bool_):
        return "Yes" if value else "No"
    return str(value)


def column_kind(series: pd.Series, unit: str | None) -> str:
    """``date``, ``number`` or ``text`` for one fact column."""
    if pd.api.types.is_datetime64_any_dtype(series) or unit == "date":
        return "date"
    if pd.api.types.is_bool_dtype(series):
        return "text"
    if pd.api.types.is_numeric_dtype(series) and unit != "text":
        return "number"
    return "text"


def _s(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.large_string())


def _join(*parts: Any) -> pa.Array:
    """Element-wise concatenation of large-string arrays and literal strings."""
    args = [_s(p) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*args, _s(""))


def _cells(series: pd.Series, kind: str, style: int) -> pa.Array:
    """One column's cells as SpreadsheetML (blank cells keep the column's style)."""
    blank = f'<c s="{style}"/>' if style else "<c/>"
    if kind == "date":
        stamps = pd.to_datetime(series, errors="coerce")
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_localize(None)
        days = stamps.to_numpy(dtype="datetime64[D]")
        valid = ~np.isnat(days)
        serial = np.where(valid, (days - _EPOCH).astype("int64"), 0)
        text = pc.cast(pa.array(serial), pa.large_string())
        cells = _join(f'<c s="{style}"><v>', text, "</v></c>")
        return pc.if_else(pa.array(valid), cells, _s(blank))
    if kind == "number":
        values = series.to_numpy()
        if values.dtype.kind in "iu":
            arr = pa.array(values.astype("int64"))
            valid = None
        else:
            floats = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64")
            valid = np.isfinite(floats)
            arr = pa.array(np.where(valid, floats, 0.0))
        text = pc.cast(arr, pa.large_string())
        cells = _join(f'<c s="{style}"><v>', text, "</v></c>")
        if valid is None or valid.all():
            return cells
        return pc.if_else(pa.array(valid), cells, _s(blank))
    raise ValueError(f"text columns are pre-registered, not rendered here ({kind})")


def shared_text(series: pd.Series, sst: Any) -> tuple[np.ndarray, pa.Array]:
    """Register a text column's distinct values in xlsxwriter's shared-string table `sst`
    (it escapes them when it writes the table) and return (per-row codes, cell per code).

    Must run before the workbook closes: xlsxwriter freezes the table before it writes the
    sheets. The reference count is kept exact for the ``<sst count>`` attribute.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    index = [sst._get_shared_string_index(clip_text(_text(u))) for u in uniques]
    sst.count += int((codes >= 0).sum()) - len(uniques)
    table = [f'<c t="s"><v>{i}</v></c>' for i in index]
    table.append("<c/>")  # code -1 (missing) → last entry
    codes = np.where(codes < 0, len(table) - 1, codes)
    return codes, pa.array(table, type=pa.large_string())


def render_rows(
    frame: pd.DataFrame,
    first_row: int,
    kinds: list[str],
    styles: list[int],
    texts: dict[int, tuple[np.ndarray, pa.Array]],
) -> Iterator[memoryview]:
    """``<row>`` elements (UTF-8) for `frame`, whose first row is sheet row `first_row`
    (0-based); text column j comes from `texts[j]` (see `shared_text`)."""
    for start in range(0, len(frame), CHUNK_ROWS):
        part = frame.iloc[start : start + CHUNK_ROWS]
        cols = []
        for j in range(len(frame.columns)):
            if j in texts:
                codes, table = texts[j]
                cols.append(table.take(pa.array(codes[start : start + len(part)])))
            else:
                cols.append(_cells(part.iloc[:, j], kinds[j], styles[j]))
        numbers = np.arange(first_row + start + 1, first_row + start + len(part) + 1)
        refs = pc.cast(pa.array(numbers), pa.large_string())
        rows = _join('<row r="', refs, '">', *cols, "</row>")
        offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64)
        lo, hi = offsets[rows.offset], offsets[rows.offset + len(rows)]
        yield memoryview(rows.buffers()[2])[lo:hi]


_TABLE_NAME = re.compile(r"[^0-9A-Za-z_.]")
_CELL_LIKE = re.compile(r"^([A-Za-z]{1,3}\d+|[Rr]\d*[Cc]\d*|[RrCc])$")


def table_name(sheet: str, taken: set[str]) -> str:
    """An Excel Table name from a sheet name: letters, digits, _ and ., not a cell ref."""
    name = _TABLE_NAME.sub("_", sheet)[:250] or "Table"
    if not (name[0].isalpha() or name[0] == "_") or _CELL_LIKE.match(name):
        name = "T_" + name
    candidate, n = name, 2
    while candidate.lower() in taken:
        candidate = f"{name}_{n}"
        n += 1
    taken.add(candidate.lower())
    return candidate


def write_fact_sheet(
    ws: FactSheet,
    frame: pd.DataFrame,
    styles: Styles,
    table: str,
    units: dict[str, str],
) -> None:
    """Write `frame` on `ws` as an Excel Table named `table`, header in row 1 (frozen)."""
    n, ncol = len(frame), len(frame.columns)
    if ncol == 0:
        raise RenderError(f"{table}: a fact table has no columns")
    if n + 1 > EXCEL_MAX_ROWS:
        raise RenderError(
            f"{table}: {n:,} rows do not fit on one Excel sheet ({EXCEL_MAX_ROWS - 1:,} data "
            "rows at most); coarsen the grain in the config's [xlsx] section or cut the pack "
            "with filters"
        )
    names = [clip_text(c)[:255] for c in frame.columns]
    if len({c.lower() for c in names}) != len(names):
        raise RenderError(f"{table}: column names must be unique ignoring case: {names}")
    kinds = [column_kind(frame.iloc[:, j], units.get(str(c))) for j, c in enumerate(frame.columns)]
    formats = []
    for j, c in enumerate(frame.columns):
        unit = units.get(str(c), "text" if kinds[j] == "text" else "number")
        if kinds[j] == "date":
            formats.append(styles.get(num_format="yyyy-mm-dd" if unit == "date" else "yyyy-mm"))
        elif kinds[j] == "number":
            formats.append(styles.get(num_format=_fact_number_format(unit, frame.iloc[:, j])))
        else:
            formats.append(None)  # text: General, like every shared string
        # The month column reads better as yyyy-mm; the cell still holds the real date.
        if kinds[j] == "date" and str(c) == "month":
            formats[-1] = styles.get(num_format="yyyy-mm")

    header = styles.header()
    # The first data row goes through xlsxwriter (that registers the column styles), the
    # rest is pre-rendered. The table is declared on header + first row, then widened:
    # xlsxwriter's add_table checks overlaps cell by cell, seconds for a big table.
    for j in range(ncol):
        if n:
            _write_first(ws, 1, j, frame.iloc[0, j], kinds[j], formats[j])
    ws.add_table(
        0, 0, 1, ncol - 1,
        {
            "name": table,
            "style": "Table Style Light 9",
            "columns": [{"header": names[j], "header_format": header} for j in range(ncol)],
        },
    )  # fmt: skip
    if n > 1:
        full = xl_range(0, 0, n, ncol - 1)
        spec = ws.tables[-1]
        spec["range"] = full
        spec["a_range"] = full
        if spec.get("autofilter"):
            spec["autofilter"] = full
        rest = frame.iloc[1:]
        texts = {
            j: shared_text(rest.iloc[:, j], ws.str_table) for j in range(ncol) if kinds[j] == "text"
        }

        def chunks() -> Iterator[memoryview]:
            # Style ids are assigned when xlsxwriter writes row 1, just before this runs.
            ids = [(f.xf_index or 0) if f is not None else 0 for f in formats]
            return render_rows(rest, 2, kinds, ids, texts)

        ws.set_fact_rows(chunks, n, ncol - 1)
    ws.freeze_panes(1, 0)
    for j, c in enumerate(frame.columns):
        width = 12 if kinds[j] != "text" else min(40, max(12, _text_width(frame.iloc[:, j])))
        ws.set_column(j, j, max(width, len(str(c)) + 3))


def _write_first(ws: Worksheet, row: int, col: int, value: object, kind: str, fmt: Any) -> None:
    """One cell through xlsxwriter, typed like the pre-rendered ones (see `_cells`)."""
    if is_missing(value):
        ws.write_blank(row, col, None, fmt)
    elif kind == "date":
        when = as_datetime(value)
        if when is None:
            ws.write_blank(row, col, None, fmt)
        else:
            ws.write_datetime(row, col, when, fmt)
    elif kind == "number":
        ws.write_number(row, col, float(value), fmt)
    else:
        text = _text(value)
        ws.write_string(row, col, clip_text(text), fmt)


def _fact_number_format(unit: str, series: pd.Series) -> str:
    """Raw, pivot-friendly formats: money to the cent, counts whole, means to 2 decimals."""
    if unit == "currency":
        return "#,##0.00"
    if unit == "count" or pd.api.types.is_integer_dtype(series):
        return "#,##0"
    if unit == "pct":
        return "0.0%"
    return "#,##0.00"


def _text_width(series: pd.Series) -> int:
    sample = series.dropna().astype(str).unique()[:2000]
    return max((len(s) for s in sample), default=8) + 2


__all__ = ["MAX_CELL_TEXT", "FactSheet", "render_rows", "table_name", "write_fact_sheet"]
