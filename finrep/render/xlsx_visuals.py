"""Each visual of a page as a small, labelled data range and a native Excel chart beside it.

Every chart series points at cells on the same sheet (names, categories and values), so a
user can restyle or re-source any chart. Where Excel has no chart type for a visual, the
chart is built from visible helper columns labelled ``Chart: …`` (waterfall steps, forecast
bands, gauge slices). Heat maps and the state map are cell grids with colour scales; tables
get data bars. A visual without data shows its note instead of a chart.

`write_visual(sheet, visual, row)` writes one visual starting at `row` and returns the first
free row after it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from finrep.pack import Visual
from finrep.render import formats
from finrep.render.theme import STATE_TILES
from finrep.render.xlsx_bubble import add_bubble_chart
from finrep.render.xlsx_cells import is_missing, write_text, write_value
from finrep.render.xlsx_style import (
    BORDER,
    INK,
    LOW,
    MUTED,
    Styles,
    axis_number_format,
    excel_number_format,
)

CHART_WIDTH = 640  # pixels
CHART_HEIGHT = 320
CHART_ROWS = 17  # rows a chart covers at the default row height (20 px), plus a margin
FIRST_COL = 1  # data ranges start in column B


@dataclass
class Sheet:
    """Where a page is being written: workbook, worksheet, its (quoted-as-needed) name."""

    workbook: Any
    ws: Any
    name: str
    styles: Styles
    scatter_max_points: int = 2000
    charts: list[tuple[str, Any]] = field(default_factory=list)  # (visual key, chart)

    def ref(self, r1: int, c1: int, r2: int | None = None, c2: int | None = None) -> list:
        return [self.name, r1, c1, r1 if r2 is None else r2, c1 if c2 is None else c2]


# ---- shared pieces --------------------------------------------------------------------------
def _safe_label(text: object) -> str:
    """Literal text for chart properties (a leading = would make xlsxwriter read a formula)."""
    s = "" if text is None else str(text)
    return " " + s if s.startswith("=") else s


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(frame[column], errors="coerce").astype("float64")


def _finite(values: Any) -> list[float]:
    out = []
    for v in values:
        if not is_missing(v):
            try:
                f = float(v)
            except (TypeError, ValueError):
                continue
            if math.isfinite(f):
                out.append(f)
    return out


def _colour(sheet: Sheet, i: int) -> str:
    palette = sheet.styles.palette or ("#0072B2",)
    return palette[i % len(palette)]


def _lighten(hex_colour: str, amount: float) -> str:
    """Blend `hex_colour` towards white by `amount` (0–1)."""
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    mix = [round(c + (255 - c) * amount) for c in (r, g, b)]
    return "#" + "".join(f"{c:02X}" for c in mix)


def _font(sheet: Sheet, size: float = 9, **extra: Any) -> dict:
    return {"name": sheet.styles.font, "size": size, "color": MUTED, **extra}


def _new_chart(sheet: Sheet, kind: str, subtype: str | None = None) -> Any:
    if kind == "bubble":
        chart = add_bubble_chart(sheet.workbook)
    else:
        options = {"type": kind}
        if subtype:
            options["subtype"] = subtype
        chart = sheet.workbook.add_chart(options)
    chart.set_size({"width": CHART_WIDTH, "height": CHART_HEIGHT})
    chart.set_chartarea({"border": {"color": BORDER}, "fill": {"color": "#FFFFFF"}})
    chart.set_legend({"position": "bottom", "font": _font(sheet)})
    return chart


def _title(sheet: Sheet, chart: Any, title_row: int) -> None:
    """Chart title bound to the visual's title cell."""
    chart.set_title(
        {
            "name": sheet.ref(title_row, FIRST_COL),
            "name_font": {"name": sheet.styles.font, "size": 11, "bold": True,
                          "color": sheet.styles.primary},
            "overlay": False,
        }
    )  # fmt: skip


def _value_axis(sheet: Sheet, unit: str, values: list[float], name: str = "", **extra) -> dict:
    axis = {
        "num_format": axis_number_format(unit, values, sheet.styles.symbol),
        "num_font": _font(sheet),
        "major_gridlines": {"visible": True, "line": {"color": sheet.styles.grid}},
        "line": {"none": True},
    }
    if name:
        axis["name"] = _safe_label(name)
        axis["name_font"] = _font(sheet, 9, bold=False)
    axis.update(extra)
    return axis


def _category_axis(sheet: Sheet, n: int, dates: bool = False, **extra) -> dict:
    axis = {
        "num_font": _font(sheet),
        "line": {"color": BORDER},
        "major_tick_mark": "none",
    }
    if dates:
        axis["num_format"] = "mmm yy"
        axis["text_axis"] = True
        axis["interval_unit"] = max(1, math.ceil(n / 8))
    axis.update(extra)
    return axis


def _set_axes(chart: Any, category: dict, value: dict, horizontal: bool = False) -> None:
    """Category and value axes; xlsxwriter's bar charts call the vertical axis `y_axis`."""
    if horizontal:
        chart.set_y_axis(category)
        chart.set_x_axis(value)
    else:
        chart.set_x_axis(category)
        chart.set_y_axis(value)


def _place(sheet: Sheet, key: str, chart: Any, row: int, col: int) -> None:
    sheet.ws.insert_chart(row, col, chart, {"object_position": 1})
    sheet.charts.append((key, chart))


def _is_date_column(frame: pd.DataFrame, column: str, visual: Visual) -> bool:
    if visual.unit_of(column) == "date":
        return True
    return pd.api.types.is_datetime64_any_dtype(frame[column])


def _write_range(
    sheet: Sheet,
    row: int,
    col: int,
    frame: pd.DataFrame,
    columns: list[str],
    visual: Visual,
    headers: dict[str, str] | None = None,
    units: dict[str, str] | None = None,
) -> tuple[int, int]:
    """Header row at `row`, values below; returns (first data row, last data row)."""
    st = sheet.styles
    headers = headers or {}
    units = units or {}
    for j, c in enumerate(columns):
        text = headers.get(c) or column_label(visual, c, _is_date_column(frame, c, visual))
        write_text(sheet.ws, row, col + j, text, st.header())
    for i, rec in enumerate(frame[columns].itertuples(index=False, name=None)):
        for j, (c, value) in enumerate(zip(columns, rec, strict=True)):
            unit = units.get(c, visual.unit_of(c))
            props = {}
            if unit == "date" and _is_monthly(frame, c):
                props["num_format"] = "mmm yyyy"
            if unit == "number" and not isinstance(value, int | float | np.number):
                unit = "text"
            write_value(sheet.ws, row + 1 + i, col + j, value, unit, st, **props)
    return row + 1, row + len(frame)


def column_label(v: Visual, column: str, is_date: bool = False) -> str:
    """A column's header: the visual's label, else a readable form of a code-like name."""
    if column in v.labels:
        return v.labels[column]
    if column == "x":
        return "Month" if is_date else "Category"
    if re.fullmatch(r"[a-z0-9_]+", column):
        return column.replace("_", " ").capitalize()
    return column


def _is_monthly(frame: pd.DataFrame, column: str) -> bool:
    stamps = pd.to_datetime(frame[column], errors="coerce").dropna()
    return len(stamps) > 1 and bool((stamps.dt.day == 1).all())


def _numeric_columns(frame: pd.DataFrame, skip: tuple[str, ...]) -> list[str]:
    return [
        c
        for c in frame.columns
        if c not in skip
        and pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
    ]


def _data_labels(sheet: Sheet, unit: str, values: list[float], **extra) -> dict:
    return {
        "value": True,
        "num_format": axis_number_format(unit, values, sheet.styles.symbol)
        if unit == "currency"
        else _label_format(unit, sheet),
        "font": _font(sheet, 8, color=INK),
        **extra,
    }


def _label_format(unit: str, sheet: Sheet) -> str:
    return excel_number_format(unit, None, sheet.styles.symbol)


# ---- chart kinds ----------------------------------------------------------------------------
def _line(sheet: Sheet, v: Visual, title_row: int, row: int) -> int:
    data = v.data
    x = "x" if "x" in data.columns else data.columns[0]
    series = _numeric_columns(data, (x,))
    first, last = _write_range(sheet, row, FIRST_COL, data, [x, *series], v)
    secondary = set(v.options.get("secondary", ()))
    chart = _new_chart(sheet, "line")
    _title(sheet, chart, title_row)
    primary_vals, secondary_vals, unit1, unit2 = [], [], "number", "number"
    for i, c in enumerate(series):
        col = FIRST_COL + 1 + i
        on_y2 = c in secondary
        chart.add_series(
            {
                "name": sheet.ref(row, col),
                "categories": sheet.ref(first, FIRST_COL, last, FIRST_COL),
                "values": sheet.ref(first, col, last, col),
                "line": {"color": _colour(sheet, i), "width": 2.25},
                "marker": {"type": "none"},
                "y2_axis": on_y2,
            }
        )
        if on_y2:
            secondary_vals += _finite(data[c])
            unit2 = v.unit_of(c)
        else:
            primary_vals += _finite(data[c])
            unit1 = v.unit_of(c)
    chart.set_x_axis(_category_axis(sheet, len(data), _is_date_column(data, x, v)))
    chart.set_y_axis(_value_axis(sheet, unit1, primary_vals))
    if secondary:
        chart.set_y2_axis(_value_axis(sheet, unit2, secondary_vals, major_gridlines={}))
    _place(sheet, v.key, chart, title_row, FIRST_COL + len(series) + 2)
    return max(len(data) + 1, CHART_ROWS)


def _forecast(sheet: Sheet, v: Visual, title_row: int, row: int) -> int:
    data = v.data.copy()
    lines = [c for c in ("actual", "forecast") if c in data.columns]
    bands = [c for c in ("lo95", "lo80", "hi80", "hi95") if c in data.columns]
    main = ["x", *lines, *bands]
    helper = pd.DataFrame(index=data.index)
    if len(bands) == 4:
        lo95, lo80, hi80, hi95 = (_numeric(data, c) for c in bands)
        helper["Chart: band base (95% low)"] = lo95
        helper["Chart: 95% band, lower part"] = lo80 - lo95
        helper["Chart: 80% band"] = hi80 - lo80
        helper["Chart: 95% band, upper part"] = hi95 - hi80
    frame = pd.concat([data[main], helper], axis=1)
    units = {c: "currency" if v.unit_of("actual") == "currency" else v.unit_of("actual")
             for c in helper.columns}  # fmt: skip
    headers = {c: c for c in helper.columns}
    first, last = _write_range(
        sheet, row, FIRST_COL, frame, list(frame.columns), v, headers=headers, units=units
    )
    cats = sheet.ref(first, FIRST_COL, last, FIRST_COL)
    col_of = {c: FIRST_COL + j for j, c in enumerate(frame.columns)}
    st = sheet.styles
    lines_chart = _new_chart(sheet, "line")
    for c in lines:
        lines_chart.add_series(
            {
                "name": sheet.ref(row, col_of[c]),
                "categories": cats,
                "values": sheet.ref(first, col_of[c], last, col_of[c]),
                "line": {"color": st.primary if c == "actual" else st.accent, "width": 2.25,
                         "dash_type": "solid" if c == "actual" else "dash"},
                "marker": {"type": "none"},
            }
        )  # fmt: skip
    values = _finite(pd.concat([_numeric(data, c) for c in lines + bands]))
    if helper.empty:
        chart = lines_chart
    else:
        chart = _new_chart(sheet, "area", "stacked")
        fills = (None, 0.78, 0.55, 0.78)
        for j, c in enumerate(helper.columns):
            fill = {"none": True} if fills[j] is None else {"color": _lighten(st.accent, fills[j])}
            chart.add_series(
                {
                    "name": sheet.ref(row, col_of[c]),
                    "categories": cats,
                    "values": sheet.ref(first, col_of[c], last, col_of[c]),
                    "fill": fill,
                    "border": {"none": True},
                }
            )
        chart.combine(lines_chart)
        chart.set_legend({"position": "bottom", "font": _font(sheet), "delete_series": [0]})
    _title(sheet, chart, title_row)
    low = min(values) if values else 0.0
    axis_min = _nice_floor(low * 0.95) if low > 0 else None
    extra = {"min": axis_min} if axis_min is not None else {}
    chart.set_x_axis(_category_axis(sheet, len(data), True))
    chart.set_y_axis(_value_axis(sheet, v.unit_of("actual"), values, **extra))
    _place(sheet, v.key, chart, title_row, FIRST_COL + len(frame.columns) + 1)
    return max(len(frame) + 1, CHART_ROWS)


def _nice_floor(value: float) -> float:
    """`value` rounded down to 1, 2 or 5 × a power of ten (a clean axis minimum)."""
    if value <= 0:
        return 0.0
    power = 10 ** math.floor(math.log10(value))
    for step in (5, 2, 1):
        if value >= step * power:
            return math.floor(value / (step * power)) * step * power
    return power


def _donut(sheet: Sheet, v: Visual, title_row: int, row: int) -> int:
    data = v.data
    first, last = _write_range(sheet, row, FIRST_COL, data, ["label", "value"], v)
    chart = _new_chart(sheet, "doughnut")
    _title(sheet, chart, title_row)
    chart.add_series(
        {
            "name": sheet.ref(row, FIRST_COL + 1),
            "categories": sheet.ref(first, FIRST_COL, last, FIRST_COL),
            "values": sheet.ref(first, FIRST_COL + 1, last, FIRST_COL + 1),
            "points": [{"fill": {"color": _colour(sheet, i)}, "border": {"color": "#FFFFFF"}}
                       for i in range(len(data))],
            "data_labels": {"percentage": True, "font": _font(sheet, 8, color=INK),
                            "num_format": "0%"},
        }
    )  # fmt: skip
    chart.set_hole_size(55)
    chart.set_legend({"position": "right", "font": _font(sheet)})
    _place(sheet, v.key, chart, title_row, FIRST_COL + 3)
    return max(len(data) + 1, CHART_ROWS)


def _combo(sheet: Sheet, v: Visual, title_row: int, row: int) -> int:
    data = v.data.copy()
    helper = "Chart: withdrawals drawn down"
    data[helper] = -_numeric(data, "withdrawals")
    cols = ["x", "inflows", "withdrawals", "net", helper]
    first, last = _write_range(
        sheet, row, FIRST_COL, data, cols, v, headers={helper: helper},
        units={helper: v.unit_of("withdrawals")},
    )  # fmt: skip
    cats = sheet.ref(first, FIRST_COL, last, FIRST_COL)
    st = sheet.styles
    chart = _new_chart(sheet, "column", "stacked")
    for c, colour in (("inflows", st.positive), (helper, st.negative)):
        col = FIRST_COL + cols.index(c)
        chart.add_series(
            {
                "name": sheet.ref(row, FIRST_COL + (2 if c == helper else 1)),
                "categories": cats,
                "values": sheet.ref(first, col, last, col),
                "fill": {"color": colour},
                "border": {"none": True},
                "gap": 60,
            }
        )
    net = _new_chart(sheet, "line")
    col = FIRST_COL + 3
    net.add_series(
        {
            "name": sheet.ref(row, col),
            "categories": cats,
            "values": sheet.ref(first, col, last, col),
            "line": {"color": st.primary, "width": 2.25},
            "marker": {"type": "circle", "size": 4, "fill": {"color": st.primary},
                       "border": {"color": st.primary}},
        }
    )  # fmt: skip
    chart.combine(net)
    _title(sheet, chart, title_row)
    values = _finite(pd.concat([_numeric(data, c) for c in ("inflows", "net", helper)]))
    chart.set_x_axis(_category_axis(sheet, len(data), True, label_position="low"))
    chart.set_y_axis(_value_axis(sheet, v.unit_of("inflows"), values))
    _place(sheet, v.key, chart, title_row, FIRST_COL + len(cols) + 1)
    return max(len(data) + 1, CHART_ROWS)


def waterfall_steps(data: pd.DataFrame) -> pd.DataFrame:
    """Stacked-column pieces of a waterfall: invisible base, increase, decrease, total.

    Non-total rows move a running level by `value`; total rows set the level. Cells that do
    not apply are null (no bar, no label).
    """
    level = 0.0
    rows = []
    for value, total in zip(_numeric(data, "value"), data["total"].astype(bool), strict=True):
        v = 0.0 if not math.isfinite(value) else float(value)
        if total:
            rows.append((None, None, None, v))
            level = v
        elif v >= 0:
            rows.append((level, v, None, None))
            level += v
        else:
            level += v
            rows.append((level, None, -v, None))
    return pd.DataFrame(
        rows,
        columns=["Chart: base", "Chart: increase", "Chart: decrease", "Chart: total"],
        dtype="float64",
    )


def _waterfall(sheet: Sheet, v: Visual, title_row: int, row: int) -> int:
    data = v.data.reset_index(drop=True)
    steps = waterfall_steps(data)
    frame = pd.concat([data[["label", "value"]], steps], axis=1)
    unit = v.unit_of("value")
    headers = {c: c for c in steps.columns}
    units = {c: unit for c in steps.columns}
    first, last = _write_range(
        sheet, row, FIRST_COL, frame, list(frame.columns), v, headers=headers, units=units
    )
    st = sheet.styles
    chart = _new_chart(sheet, "column", "stacked")
    _title(sheet, chart, title_row)
    cats = sheet.ref(first, FIRST_COL, last, FIRST_COL)
    values = _finite(_numeric(data, "value"))
    fills = {"Chart: base": None, "Chart: increase": st.positive,
             "Chart: decrease": st.negative, "Chart: total": st.primary}  # fmt: skip
    for j, c in enumerate(steps.columns):
        col = FIRST_COL + 2 + j
        series = {
            "name": sheet.ref(row, col),
            "categories": cats,
            "values": sheet.ref(first, col, last, col),
            "gap": 50,
        }
        if fills[c] is None:
            series.update({"fill": {"none": True}, "border": {"none": True}})
        else:
            series.update(
                {
                    "fill": {"color": fills[c]},
                    "border": {"none": True},
                    "data_labels": _data_labels(sheet, unit, values, position="inside_end"),
                }
            )
        chart.add_series(series)
    chart.set_legend({"none": True})
    chart.set_x_axis(_category_axis(sheet, len(data)))
    chart.set_y_axis(_value_axis(sheet, unit, values))
    _place(sheet, v.key, chart, title_row, FIRST_COL + len(frame.columns) + 1)
    return max(len(frame) + 1, CHART_ROWS)


def _bar_like(sheet: Sheet, v: Visual, title_row: int, row: int, signed: bool = False) -> int:
    data = v.data
    cols = ["label", "value"] + (["group"] if "group" in data.columns else [])
    first, last = _write_range(sheet, row, FIRST_COL, data, cols, v)
    horizontal = v.options.get("orientation", "h") != "v" or v.kind == "funnel"
    chart = _new_chart(sheet, "bar" if horizontal else "column")
    _title(sheet, chart, title_row)
    unit = v.unit_of("value")
    values = _finite(_numeric(data, "value"))
    st = sheet.styles
    series = {
        "name": sheet.ref(row, FIRST_COL + 1),
        "categories": sheet.ref(first, FIRST_COL, last, FIRST_COL),
        "values": sheet.ref(first, FIRST_COL + 1, last, FIRST_COL + 1),
        "fill": {"color": st.accent},
        "border": {"none": True},
        "gap": 60,
        "data_labels": _data_labels(sheet, unit, values, position="outside_end"),
    }
    if signed:
        series["points"] = [
            {"fill": {"color": st.positive if val >= 0 else st.negative}}
            for val in _numeric(data, "value").fillna(0)
        ]
    chart.add_series(series)
    chart.set_legend({"none": True})
    # Bars read top-down in data order: reverse the category axis and keep the value axis
    # at the bottom.
    cat = _category_axis(sheet, len(data))
    if horizontal:
        cat.update({"reverse": True, "crossing": "max"})
    _set_axes(chart, cat, _value_axis(sheet, unit, values), horizontal)
    _place(sheet, v.key, chart, title_row, FIRST_COL + len(cols) + 1)
    return max(len(data) + 1, CHART_ROWS)


def _bar(sheet: Sheet, v: Visual, title_row: int, row: int) -> int:
    return _bar_like(sheet, v, title_row, row)


def _diverging(sheet: Sheet, v: Visual, title_row: int, row: int) -> int:
    return _bar_like(sheet, v, title_row, row, signed=True)


def _funnel(sheet: Sheet, v: Visual, title_row: int, row: int) -> int:
    return _bar_like(sheet, v, title_row, row)


def _stacked(sheet: Sheet, v: Visual, title_row: int, row: int) -> int:
    data = v.data
    x = "x" if "x" in data.columns else data.columns[0]
    series = _numeric_columns(data, (x,))
    first, last = _write_range(sheet, row, FIRST_COL, data, [x, *series], v)
    horizontal = v.options.get("orientation", "v") == "h"
    chart = _new_chart(sheet, "bar" if horizontal else "column", "stacked")
    _title(sheet, chart, title_row)
    values = []
    for i in range(len(series)):
        col = FIRST_COL + 1 + i
        chart.add_series(
            {
                "name": sheet.ref(row, col),
                "categories": sheet.ref(first, FIRST_COL, last, FIRST_COL),
                "values": sheet.ref(first, col, last, col),
                "fill": {"color": _colour(sheet, i)},
                "border": {"color": "#FFFFFF"},
                "gap": 50,
            }
        )
    totals = data[series].apply(pd.to_numeric, errors="coerce").sum(axis=1)
    values = _finite(totals)
    unit = v.unit_of(series[0]) if series else "number"
    cat = _category_axis(sheet, len(data), _is_date_column(data, x, v))
    if horizontal:
        cat.update({"reverse": True, "crossing": "max"})
    _set_axes(chart, cat, _value_axis(sheet, unit, values), horizontal)
    _place(sheet, v.key, chart, title_row, FIRST_COL + len(series) + 2)
    return max(len(data) + 1, CHART_ROWS)


def _grouped(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, int, int]]]:
    """Rows sorted so each group is contiguous (groups in order of first appearance);
    returns the frame and (group, first offset, last offset) per group."""
    if "group" not in frame.columns:
        return frame.reset_index(drop=True), [("", 0, len(frame) - 1)]
    keys = frame["group"].astype(str)
    order = {g: i for i, g in enumerate(dict.fromkeys(keys))}
    frame = frame.assign(_g=keys.map(order)).sort_values("_g", kind="stable")
    frame = frame.drop(columns="_g").reset_index(drop=True)
    spans = []
    keys = frame["group"].astype(str).tolist()
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            spans.append((keys[start], start, i - 1))
            start = i
    return frame, spans


def sample_points(frame: pd.DataFrame, limit: int) -> pd.DataFrame:
    """At most `limit` rows, evenly spaced in data order (deterministic)."""
    if limit <= 0 or len(frame) <= limit:
        return frame
    picks = np.unique(np.linspace(0, len(frame) - 1, limit).round().astype(int))
    return frame.iloc[picks]


def _scatter_like(sheet: Sheet, v: Visual, title_row: int, row: int, bubble: bool) -> int:
    data = v.data
    if not bubble:
        data = sample_points(data, sheet.scatter_max_points)
    cols = [c for c in ("label", "group", "x", "y", "size") if c in data.columns]
    frame, spans = _grouped(data)
    if len(data) < len(v.data):
        note = f"Showing {len(data):,} of {len(v.data):,} points (evenly sampled)."
        write_text(sheet.ws, row, FIRST_COL, note, sheet.styles.caption())
        row += 1
    first, last = _write_range(sheet, row, FIRST_COL, frame, cols, v)
    col_of = {c: FIRST_COL + j for j, c in enumerate(cols)}
    chart = _new_chart(sheet, "bubble" if bubble else "scatter")
    _title(sheet, chart, title_row)
    for i, (_group, lo, hi) in enumerate(spans):
        r1, r2 = first + lo, first + hi
        series = {
            "categories": sheet.ref(r1, col_of["x"], r2, col_of["x"]),
            "values": sheet.ref(r1, col_of["y"], r2, col_of["y"]),
        }
        if "group" in col_of:
            series["name"] = sheet.ref(r1, col_of["group"])
        else:
            series["name"] = sheet.ref(row, col_of["y"])
        colour = _colour(sheet, i)
        if bubble:
            series["size"] = sheet.ref(r1, col_of["size"], r2, col_of["size"])
            series["fill"] = {"color": colour, "transparency": 35}
            series["border"] = {"color": "#FFFFFF"}
        else:
            series["marker"] = {"type": "circle", "size": 5, "fill": {"color": colour},
                                "border": {"color": colour}}  # fmt: skip
        chart.add_series(series)
    xs, ys = _finite(_numeric(frame, "x")), _finite(_numeric(frame, "y"))
    chart.set_x_axis(_value_axis(sheet, v.unit_of("x"), xs, v.label_of("x"), major_gridlines={}))
    chart.set_y_axis(_value_axis(sheet, v.unit_of("y"), ys, v.label_of("y")))
    _place(sheet, v.key, chart, title_row, FIRST_COL + len(cols) + 1)
    return max(len(frame) + 1 + (row - (title_row + 2)), CHART_ROWS)


def _bubble(sheet: Sheet, v: Visual, title_row: int, row: int) -> int:
    return _scatter_like(sheet, v, title_row, row, bubble=True)


def _scatter(sheet: Sheet, v: Visual, title_row: int, row: int) -> int:
    return _scatter_like(sheet, v, title_row, row, bubble=False)


def _heatmap(sheet: Sheet, v: Visual, title_row: int, row: int) -> int:
    data = v.data
    row_col = "row" if "row" in data.columns else data.columns[0]
    cols = [row_col, *[c for c in data.columns if c != row_col]]
    first, last = _write_range(sheet, row, FIRST_COL, data, cols, v)
    if len(cols) > 1 and len(data):
        st = sheet.styles
        sheet.ws.conditional_format(
            first, FIRST_COL + 1, last, FIRST_COL + len(cols) - 1,
            {"type": "2_color_scale", "min_color": LOW,
             "max_color": _lighten(st.accent, 0.25)},
        )  # fmt: skip
    return len(data) + 1


def _state_map(sheet: Sheet, v: Visual, title_row: int, row: int) -> int:
    """The tile grid (8 × 12 cells, colour scale on the value) with its data list below."""
    data = v.data
    cols = [c for c in ("state", "value", "value2") if c in data.columns]
    st = sheet.styles
    ws = sheet.ws
    unit, unit2 = v.unit_of("value"), v.unit_of("value2")
    by_state = {str(s).upper(): rec for s, rec in zip(data["state"], data.to_dict("records"),
                                                          strict=True)}  # fmt: skip
    hover = v.label_of("value2") if "value2" in cols else "its value"
    write_text(ws, row, FIRST_COL, f"Colour: {v.label_of('value')}. Hover a state for {hover}.",
               st.caption())  # fmt: skip
    top = row + 1
    tile = {"align": "center", "valign": "vcenter", "border": 2, "border_color": "#FFFFFF",
            "font_size": 9}  # fmt: skip
    for state, (r, c) in STATE_TILES.items():
        rec = by_state.get(state)
        cell_row, cell_col = top + r, FIRST_COL + 1 + c  # column C on: equal widths
        value = None if rec is None else rec.get("value")
        if is_missing(value):
            write_text(ws, cell_row, cell_col, state, st.get(bg_color=st.grid, **tile))
            continue
        fmt = st.get(num_format=f'"{state} "{excel_number_format(unit, float(value), st.symbol)}',
                     **tile)  # fmt: skip
        ws.write_number(cell_row, cell_col, float(value), fmt)
        note = f"{state}: {v.label_of('value')} {formats.format_value(value, unit, st.symbol)}"
        if "value2" in cols and not is_missing(rec.get("value2")):
            note += f"; {v.label_of('value2')} "
            note += formats.format_value(rec["value2"], unit2, st.symbol)
        ws.write_comment(cell_row, cell_col, note, {"x_scale": 1.6, "y_scale": 0.5})
    ws.conditional_format(
        top, FIRST_COL + 1, top + 7, FIRST_COL + 12,
        {"type": "2_color_scale", "min_color": LOW, "max_color": _lighten(st.accent, 0.15)},
    )  # fmt: skip
    for r in range(8):
        ws.set_row(top + r, 26)
    below = top + 9
    _write_range(sheet, below, FIRST_COL, data, cols, v, headers={"state": "State"})
    return below - row + len(data) + 1


def _sankey(sheet: Sheet, v: Visual, title_row: int, row: int) -> int:
    data = v.data
    cols = [c for c in ("source", "target", "value", "stage") if c in data.columns]
    _write_range(sheet, row, FIRST_COL, data, cols, v,
                 headers={"source": "From", "target": "To", "stage": "Stage"},
                 units={"stage": "count"})  # fmt: skip
    st = sheet.styles
    ws = sheet.ws
    unit = v.unit_of("value")
    col0 = FIRST_COL + len(cols) + 1
    r = row
    stages = sorted(int(s) for s in pd.to_numeric(data["stage"]).dropna().unique())
    for s in stages:
        part = data[pd.to_numeric(data["stage"]) == s]
        sources = list(dict.fromkeys(part["source"].astype(str)))
        targets = list(dict.fromkeys(part["target"].astype(str)))
        matrix = (
            part.assign(source=part["source"].astype(str), target=part["target"].astype(str))
            .pivot_table(index="source", columns="target", values="value", aggfunc="sum")
            .reindex(index=sources, columns=targets)
        )
        write_text(ws, r, col0, f"Stage {s + 1}: from \\ to", st.header())
        for j, t in enumerate(targets):
            write_text(ws, r, col0 + 1 + j, t, st.header())
        for i, src in enumerate(sources):
            write_text(ws, r + 1 + i, col0, src, st.label())
            for j, t in enumerate(targets):
                write_value(ws, r + 1 + i, col0 + 1 + j, matrix.loc[src, t], unit, st)
        chart = _new_chart(sheet, "bar", "stacked")
        chart.set_title(
            {"name": _safe_label(f"{v.title}: stage {s + 1}"),
             "name_font": {"name": st.font, "size": 11, "bold": True, "color": st.primary}}
        )  # fmt: skip
        for j in range(len(targets)):
            chart.add_series(
                {
                    "name": sheet.ref(r, col0 + 1 + j),
                    "categories": sheet.ref(r + 1, col0, r + len(sources), col0),
                    "values": sheet.ref(r + 1, col0 + 1 + j, r + len(sources), col0 + 1 + j),
                    "fill": {"color": _colour(sheet, j)},
                    "border": {"color": "#FFFFFF"},
                    "gap": 50,
                }
            )
        _set_axes(
            chart,
            _category_axis(sheet, len(sources), reverse=True, crossing="max"),
            _value_axis(sheet, unit, _finite(matrix.sum(axis=1))),
            horizontal=True,
        )
        _place(sheet, v.key, chart, r, col0 + len(targets) + 2)
        r += max(len(sources) + 2, CHART_ROWS)
    return max(len(data) + 1, r - row)


def gauge_slices(value: float, target: float | None) -> tuple[list[float], list[float]]:
    """Doughnut-gauge pieces: (achieved, rest, hidden half) and the target tick ring."""
    v = min(max(value, 0.0), 1.0)
    ring = [v, 1.0 - v, 1.0]
    if target is None or not math.isfinite(target):
        return ring, []
    t = min(max(target, 0.0), 1.0)
    tick = 0.006
    lo = max(t - tick / 2, 0.0)
    return ring, [lo, tick, max(1.0 - lo - tick, 0.0), 1.0]


def _gauge(sheet: Sheet, v: Visual, title_row: int, row: int) -> int:
    """A half doughnut: achieved / remaining / hidden lower half, and a thin target ring."""
    data = v.data
    cols = [c for c in ("value", "target") if c in data.columns]
    _write_range(sheet, row, FIRST_COL, data.iloc[:1], cols, v)
    value = float(pd.to_numeric(data["value"]).iloc[0])
    target = float(pd.to_numeric(data["target"]).iloc[0]) if "target" in cols else None
    target = None if target is not None and not math.isfinite(target) else target
    ring, tick = gauge_slices(value if math.isfinite(value) else 0.0, target)
    st = sheet.styles
    ws = sheet.ws
    r = row + 3
    hidden = {"fill": {"none": True}, "border": {"none": True}}
    good = target is None or value >= target
    chart = _new_chart(sheet, "doughnut")
    _title(sheet, chart, title_row)
    rings = [
        ("Chart: gauge", ["Achieved", "Remaining", "Hidden lower half"], ring,
         [{"fill": {"color": st.positive if good else st.negative}},
          {"fill": {"color": st.grid}}, hidden]),
        ("Chart: target ring", ["Up to target", "Target", "After target", "Hidden lower half"],
         tick, [hidden, {"fill": {"color": INK}, "border": {"color": INK}}, hidden, hidden]),
    ]  # fmt: skip
    for k, (header, names, values, points) in enumerate(rings):
        if not values:
            continue
        c = FIRST_COL + 3 * k
        write_text(ws, r, c, header, st.header())
        write_text(ws, r, c + 1, "Share", st.header())
        for i, (name, value_i) in enumerate(zip(names, values, strict=True)):
            write_text(ws, r + 1 + i, c, name, st.text())
            write_value(ws, r + 1 + i, c + 1, value_i, "pct", st)
        chart.add_series(
            {
                "name": sheet.ref(r, c),
                "categories": sheet.ref(r + 1, c, r + len(values), c),
                "values": sheet.ref(r + 1, c + 1, r + len(values), c + 1),
                "points": points,
            }
        )
    chart.set_rotation(270)
    chart.set_hole_size(50)
    chart.set_legend({"none": True})
    _place(sheet, v.key, chart, title_row, FIRST_COL + 6)
    caption = f"{formats.format_pct(value)} against a target of {formats.format_pct(target)}"
    write_text(ws, r + 6, FIRST_COL, caption, st.caption())
    return CHART_ROWS


def _table(sheet: Sheet, v: Visual, title_row: int, row: int) -> int:
    data = v.data
    cols = list(data.columns)
    first, last = _write_range(sheet, row, FIRST_COL, data, cols, v)
    st = sheet.styles
    for c in v.options.get("bars", ()):
        if c in cols and len(data):
            j = FIRST_COL + cols.index(c)
            sheet.ws.conditional_format(
                first, j, last, j,
                {"type": "data_bar", "bar_color": _lighten(st.accent, 0.45), "bar_solid": True},
            )  # fmt: skip
    return len(data) + 1


WRITERS: dict[str, Callable[[Sheet, Visual, int, int], int]] = {
    "line": _line,
    "forecast": _forecast,
    "donut": _donut,
    "combo": _combo,
    "waterfall": _waterfall,
    "bar": _bar,
    "diverging": _diverging,
    "stacked": _stacked,
    "bubble": _bubble,
    "scatter": _scatter,
    "heatmap": _heatmap,
    "state_map": _state_map,
    "sankey": _sankey,
    "gauge": _gauge,
    "funnel": _funnel,
    "table": _table,
}


def write_visual(sheet: Sheet, v: Visual, row: int) -> int:
    """Title, caption, note, then the visual's range and chart; returns the next free row."""
    st = sheet.styles
    ws = sheet.ws
    write_text(ws, row, FIRST_COL, v.title, st.heading())
    write_text(ws, row + 1, FIRST_COL, v.caption, st.caption())
    body = row + 2
    if v.note:
        write_text(ws, body, FIRST_COL, v.note, st.caption())
        body += 1
    if v.data is None or v.data.empty:
        write_text(ws, body, FIRST_COL, "No data" + (f": {v.note}" if v.note else "."),
                   st.get(italic=True, font_color=MUTED, bg_color="#F4F6F9"))  # fmt: skip
        return body + 3
    writer = WRITERS.get(v.kind, _table)
    used = writer(sheet, v, row, body)
    return body + used + 2
