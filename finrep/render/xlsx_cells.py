"""Safe cell writing for the workbook (RELIABILITY.md, Excel).

- Strings are written with `write_string`, never `write`, so text from the data that starts
  with ``=``, ``+``, ``-`` or ``@`` stays text (and the workbook is opened with
  ``strings_to_formulas``, ``strings_to_urls`` and ``strings_to_numbers`` off as well).
- NaN, ±inf and None become blank cells; dates are written without time zones.
- Text is cut to Excel's 32,767 characters per cell.
- Sheet names are ≤ 31 characters, without ``[]:*?/\\``, not starting or ending with an
  apostrophe, and unique ignoring case.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from finrep.render.xlsx_style import Styles

MAX_CELL_TEXT = 32_767
MAX_SHEET_NAME = 31
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\\x00-\x1f\x7f]")
_RESERVED_SHEET_NAMES = {"history"}  # Excel reserves it for change tracking


def clip_text(text: object) -> str:
    s = "" if text is None else str(text)
    if len(s) > MAX_CELL_TEXT:
        s = s[: MAX_CELL_TEXT - 1] + "…"
    return s


def sheet_names(wanted: Iterable[str]) -> list[str]:
    """Excel-safe, case-insensitively unique sheet names, in the order given."""
    out: list[str] = []
    seen: set[str] = set()
    for raw in wanted:
        name = _BAD_SHEET_CHARS.sub("-", str(raw)).replace("'", "’").strip()
        name = name[:MAX_SHEET_NAME].strip() or "Sheet"
        if name.lower() in _RESERVED_SHEET_NAMES:
            name = f"{name} (sheet)"
        candidate, n = name, 2
        while candidate.lower() in seen:
            suffix = f" ({n})"
            candidate = name[: MAX_SHEET_NAME - len(suffix)].rstrip() + suffix
            n += 1
        seen.add(candidate.lower())
        out.append(candidate)
    return out


def is_missing(value: object) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return not math.isfinite(float(value))
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def as_datetime(value: object) -> datetime | None:
    """A naive datetime for a date-like value (time zones dropped), else None."""
    if isinstance(value, pd.Timestamp):
        if value.tzinfo is not None:
            value = value.tz_localize(None)
        return value.to_pydatetime()
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value).to_pydatetime()
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return None


def write_text(ws: Any, row: int, col: int, text: object, fmt: Any = None) -> None:
    ws.write_string(row, col, clip_text(text), fmt)


def write_value(
    ws: Any, row: int, col: int, value: object, unit: str, styles: Styles, **props: Any
) -> None:
    """Write one value by its unit: numbers with the unit's format, dates as Excel dates,
    text as text; missing values as blanks (keeping the cell's style)."""
    if is_missing(value):
        ws.write_blank(row, col, None, styles.get(**props) if props else None)
        return
    if isinstance(value, bool | np.bool_):
        write_text(ws, row, col, "Yes" if value else "No", styles.get(**props))
        return
    when = as_datetime(value)
    if when is not None:
        fmt = props.pop("num_format", None) or ("yyyy-mm-dd" if unit == "date" else "mmm yyyy")
        ws.write_datetime(row, col, when, styles.get(num_format=fmt, **props))
        return
    if isinstance(value, int | float | np.integer | np.floating) and unit != "text":
        v = float(value)
        fmt = styles.get(**props) if "num_format" in props else styles.number(unit, v, **props)
        ws.write_number(row, col, v, fmt)
        return
    write_text(ws, row, col, value, styles.get(**props))
