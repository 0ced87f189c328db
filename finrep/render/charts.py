"""Charts: one function per visual kind of `finrep.pack`, drawn with matplotlib into a figure of
the exact size it takes on the page (so 7 pt text is 7 pt on paper).

Every chart function has the signature ``(fig, spec, theme) -> None`` and copes with edge data:
an empty frame (a "no data" panel), one point, zeros, very long names (shortened with "…")
and many categories (the first ``theme.max_categories``, the rest folded into "Other" where
the unit adds up). `draw_chart` records a figure as vector operations (`vector.Drawing`);
`draw_charts` does that for many charts on worker processes. Numbers are formatted only by
`finrep.render.formats`.
"""

from __future__ import annotations

import math
import textwrap
import warnings
from collections.abc import Callable, Sequence
from datetime import date, datetime

import matplotlib

matplotlib.use("Agg")  # never a GUI backend, even where a display exists

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import colors as mcolors  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import PathPatch, Rectangle, Wedge  # noqa: E402
from matplotlib.path import Path as MplPath  # noqa: E402
from matplotlib.ticker import Formatter, MaxNLocator  # noqa: E402

from finrep import schema  # noqa: E402
from finrep.errors import RenderError  # noqa: E402
from finrep.render import formats  # noqa: E402
from finrep.render.chart_pool import ChartPool, ChartSpec  # noqa: E402,F401 (re-exported)
from finrep.render.theme import STATE_TILES, Theme, mpl_rc  # noqa: E402
from finrep.render.vector import Drawing, record_figure  # noqa: E402

OTHER = "Other"
HEXBIN_ABOVE = 20_000  # scatter points drawn one by one up to this many; above, density hexes
ADDITIVE_UNITS = ("currency", "count", "number")  # units whose values can be summed into Other
LABEL_CHARS = 28  # longest category label before it is shortened with "…"
MIN_SLOTS = 5  # a chart of one or two bars keeps bars of a sensible thickness

# Enum domains with a fixed colour per value, so a category has the same colour everywhere.
_DOMAINS: tuple[tuple[str, ...], ...] = (
    schema.SEGMENTS,
    schema.PRODUCT_CATEGORIES,
    schema.REGIONS,
    schema.RISK_LEVELS,
    schema.AGE_BANDS,
    schema.DEVICE_TYPES,
    schema.SERVICE_CHANNELS,
    schema.ENROLLMENT_CHANNELS,
    schema.RESOLUTION_STATUSES,
    schema.ENROLLMENT_STATUSES,
)


# Small helpers ---------------------------------------------------------------------------------


def shorten(text: object, limit: int = LABEL_CHARS) -> str:
    """`text` cut to `limit` characters with "…" (at a word boundary where one is near)."""
    s = " ".join(str(text).split())
    if len(s) <= limit:
        return s
    cut = s[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–") + "…"


def _wrap(text: object, width: int, lines: int = 2) -> str:
    parts = textwrap.wrap(str(text), width, break_long_words=False) or [""]
    if len(parts) > lines:
        parts = parts[: lines - 1] + [shorten(" ".join(parts[lines - 1 :]), width)]
    return "\n".join(parts)


def _fmt(spec: ChartSpec, theme: Theme, column: str) -> Callable[[object], str]:
    unit = spec.unit(column)
    return lambda v: formats.format_value(v, unit, theme.currency_symbol)


class _TickFormatter(Formatter):
    """Axis labels by `formats.format_ticks`: one scale, the fewest decimals."""

    def __init__(self, unit: str, symbol: str) -> None:
        self.unit = unit
        self.symbol = symbol

    def format_ticks(self, values):
        self.set_locs(values)
        return formats.format_ticks(list(values), self.unit, self.symbol)

    def __call__(self, x, pos=None):
        return formats.format_ticks([x], self.unit, self.symbol)[0]


def _value_axis(axis, unit: str, theme: Theme, nbins: int = 4) -> None:
    integer = unit == "count"
    axis.set_major_locator(MaxNLocator(nbins=nbins, integer=integer, min_n_ticks=2))
    axis.set_major_formatter(_TickFormatter(unit, theme.currency_symbol))


def _style(ax, theme: Theme, grid: str | None = "y") -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if grid == "y":
        ax.spines["left"].set_visible(False)
        ax.tick_params(axis="y", length=0)
    elif grid == "x":
        ax.spines["bottom"].set_visible(False)
        ax.tick_params(axis="x", length=0)
    if grid:
        ax.grid(axis=grid, color=theme.grid, linewidth=0.6)
    ax.set_axisbelow(True)
    ax.spines["bottom"].set_color(theme.border)
    ax.spines["left"].set_color(theme.border)


def _as_months(values: pd.Series) -> list[date] | None:
    """The x values as dates when they are dates (any flavour), else None (categories)."""
    if len(values) == 0:
        return None
    if pd.api.types.is_datetime64_any_dtype(values):
        return [pd.Timestamp(v).date() for v in values]
    if all(isinstance(v, date | datetime | pd.Timestamp) for v in values):
        return [v.date() if isinstance(v, datetime) else v for v in values]
    return None


def _x_axis(ax, xs: pd.Series, theme: Theme, max_labels: int = 12) -> np.ndarray:
    """Put categories or months on the x axis at 0..n−1 and return those positions."""
    n = len(xs)
    pos = np.arange(n, dtype=float)
    months = _as_months(xs)
    if months is not None:
        room = ax.figure.get_size_inches()[0] * 72 * 0.85 / max(1, n)  # points per month
        step = next((s for s in (1, 3, 6, 12) if room * s >= 20), 12)
        ticks, labels = [], []
        for i, m in enumerate(months):
            if step > 1 and (m.month - 1) % step:
                continue
            first = not ticks
            text = formats.format_month(m, "short")
            if first or m.month == 1:
                text += f"\n{m.year}"
            ticks.append(i)
            labels.append(text)
        if not ticks:
            ticks, labels = [0], [formats.format_month(months[0], "medium")]
        ax.set_xticks(ticks, labels)
    else:
        labels = [str(v) for v in xs]
        every = max(1, math.ceil(n / max_labels))
        width = max(6, int(60 / max(1, min(n, max_labels))))
        ax.set_xticks(pos[::every], [_wrap(shorten(v, 24), width) for v in labels[::every]])
    ax.set_xlim(-0.6, n - 0.4)
    return pos


def series_palette(theme: Theme) -> list[str]:
    """The palette's colours fit for areas: very dark and grey entries are left out (grey
    reads as "Other", black overpowers everything next to it)."""
    usable = []
    for c in theme.palette:
        r, g, b = mcolors.to_rgb(c)
        if _luminance(c) < 0.08 or max(r, g, b) - min(r, g, b) < 0.08:
            continue
        usable.append(c)
    return usable or list(theme.palette)


def _domain_of(labels: Sequence[str]) -> tuple[str, ...] | None:
    named = [x for x in labels if x != OTHER]
    for domain in _DOMAINS:
        if named and set(named) <= set(domain):
            return domain
    return None


def _colours(labels: Sequence[str], theme: Theme) -> list[str]:
    """A colour per label: fixed per enum value where the labels come from one small domain
    (a segment has the same colour in every chart), else in order."""
    palette = series_palette(theme)
    domain = _domain_of(labels)
    if domain is not None and len(domain) <= len(palette):
        return [theme.other if x == OTHER else palette[domain.index(x)] for x in labels]
    out, i = [], 0
    for x in labels:
        if x == OTHER:
            out.append(theme.other)
        else:
            out.append(palette[i % len(palette)])
            i += 1
    return out


def top_n(frame: pd.DataFrame, label: str, value: str, n: int, additive: bool) -> pd.DataFrame:
    """The first `n` rows; the rest summed into one "Other" row when `additive`, else dropped."""
    if len(frame) <= n:
        return frame.reset_index(drop=True)
    head = frame.iloc[: n - 1] if additive else frame.iloc[:n]
    if not additive:
        return head.reset_index(drop=True)
    rest = frame.iloc[n - 1 :]
    other = {c: (rest[c].sum() if c == value else None) for c in frame.columns}
    other[label] = OTHER
    return pd.concat([head, pd.DataFrame([other])], ignore_index=True)


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(frame[column], errors="coerce").astype("float64")


def _series_columns(spec: ChartSpec, skip: Sequence[str] = ("x",)) -> list[str]:
    return [
        c
        for c in spec.data.columns
        if c not in skip and pd.api.types.is_numeric_dtype(spec.data[c])
    ]


def _luminance(colour) -> float:
    r, g, b = mcolors.to_rgb(colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _sequential(theme: Theme) -> mcolors.Colormap:
    return mcolors.LinearSegmentedColormap.from_list(
        "finrep", ["#F2F6FB", theme.accent, theme.primary]
    )


def _note(fig, text: str, theme: Theme, ax=None) -> None:
    """A small remark: above the plot on the right (given `ax`), else in the bottom corner."""
    if ax is not None:
        ax.set_title(text, loc="right", fontsize=6, color=theme.muted, pad=3)
    else:
        fig.text(0.99, 0.005, text, ha="right", va="bottom", fontsize=6, color=theme.muted)


def _legend(fig, handles, labels, ncol: int | None = None) -> None:
    """A one- or two-row legend above the plot, as many columns as fit the figure's width."""
    if not handles:
        return
    from finrep.render.theme import text_width

    family = matplotlib.rcParams["font.family"][0]
    size = matplotlib.rcParams["legend.fontsize"]
    room = fig.get_size_inches()[0] * 72 - 12
    widths = [text_width(str(x), size, family) + 2.4 * size + 6 for x in labels]
    # One row when everything fits, else as many equal columns as fit.
    fits = len(widths) if sum(widths) <= room else max(1, int(room // max(widths)))
    fig.legend(
        handles,
        labels,
        loc="outside upper left",
        ncol=max(1, min(ncol or len(handles), fits, len(handles))),
        handlelength=1.0,
        columnspacing=1.2,
    )


def _end_labels(ax, items: list[tuple[float, float, str, str]], theme: Theme) -> None:
    """Label line ends at (x, y) with text in colour, nudged apart so they never overlap."""
    if not items:
        return
    items = [i for i in items if np.isfinite(i[1])]
    height = ax.get_window_extent().height or 100
    y0, y1 = ax.get_ylim()
    span = (y1 - y0) or 1.0
    gap = 8.0 * span / height  # 8 pt in data units
    items = sorted(items, key=lambda t: t[1])
    placed: list[float] = []
    for _, y, _, _ in items:
        yy = y if not placed else max(y, placed[-1] + gap)
        placed.append(yy)
    overflow = placed[-1] - (y1 - gap / 2)
    if overflow > 0:
        placed = [p - overflow for p in placed]
    for (x, _, text, colour), yy in zip(items, placed, strict=True):
        ax.annotate(
            text,
            (x, yy),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            ha="left",
            fontsize=6.5,
            color=colour,
            fontweight="bold",
            annotation_clip=False,
        )


def no_data(fig, spec: ChartSpec, theme: Theme) -> None:
    """The panel drawn instead of a chart when a visual has no data."""
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.add_patch(
        Rectangle((0, 0), 1, 1, transform=ax.transAxes, facecolor=theme.panel, edgecolor="none")
    )
    ax.text(0.5, 0.56, "No data", ha="center", va="center", fontsize=9, color=theme.muted,
            fontweight="bold", transform=ax.transAxes)  # fmt: skip
    reason = spec.note or "Nothing to show for this period and these filters."
    chars = max(12, int(fig.get_size_inches()[0] * 72 * 0.9 / 3.6))
    ax.text(0.5, 0.42, _wrap(reason, chars, 4), ha="center", va="center", fontsize=6.5,
            color=theme.muted, transform=ax.transAxes)  # fmt: skip


# Chart kinds ------------------------------------------------------------------------------------


def line(fig, spec: ChartSpec, theme: Theme) -> None:
    """Series over `x`; `options["secondary"]` series on a right-hand axis; ends labelled."""
    data = spec.data
    secondary = [c for c in spec.options.get("secondary", ()) if c in data.columns]
    series = [c for c in _series_columns(spec) if c not in secondary]
    if not series and secondary:
        series, secondary = secondary, []
    ax = fig.add_subplot()
    _style(ax, theme)
    pos = _x_axis(ax, data["x"], theme)
    handles, names = [], []
    ends: list[tuple[float, float, str, str]] = []
    marker = "o" if len(data) <= 2 else None
    for i, col in enumerate(series):
        y = _numeric(data, col).to_numpy()
        colour = theme.colour(i)
        (h,) = ax.plot(pos, y, color=colour, marker=marker, markersize=3.5, lw=1.6)
        _isolated(ax, pos, y, colour)
        handles.append(h)
        names.append(spec.label(col))
        last = _last_valid(y)
        if last is not None:
            ends.append((pos[last], y[last], _fmt(spec, theme, col)(y[last]), colour))
    _value_axis(ax.yaxis, spec.unit(series[0]) if series else "number", theme)
    if series and spec.unit(series[0]) in ("return",) and np.nanmin(_numbers(data, series)) < 0:
        ax.axhline(0, color=theme.neutral, lw=0.6)
    if secondary:
        ax2 = ax.twinx()
        _style(ax2, theme, grid=None)
        ax2.spines["left"].set_visible(False)
        ax2.spines["right"].set_visible(False)
        ax2.tick_params(axis="y", length=0)
        for j, col in enumerate(secondary):
            y = _numeric(data, col).to_numpy()
            colour = theme.colour(len(series) + j)
            (h,) = ax2.plot(pos, y, color=colour, lw=1.4, ls=(0, (4, 2)), marker=marker,
                            markersize=3.5)  # fmt: skip
            handles.append(h)
            names.append(f"{spec.label(col)} (right axis)")
        _value_axis(ax2.yaxis, spec.unit(secondary[0]), theme)
        _pad_limits(ax2, _numbers(data, secondary))
    # Counts read against zero (new customers per month); levels and rates need not.
    zero = bool(series) and spec.unit(series[0]) == "count" and _numbers(data, series).min() >= 0
    _pad_limits(ax, _numbers(data, series), zero=zero)
    if len(handles) > 1 or secondary:
        _legend(fig, handles, names)
    if not secondary:
        _end_labels(ax, ends, theme)


def _isolated(ax, pos: np.ndarray, y: np.ndarray, colour: str) -> None:
    """Mark values with no neighbour (gaps on both sides): a line alone would not show them."""
    ok = np.isfinite(y)
    before = np.concatenate([[False], ok[:-1]])
    after = np.concatenate([ok[1:], [False]])
    lone = ok & ~before & ~after
    if lone.any():
        ax.plot(pos[lone], y[lone], ls="none", marker="o", markersize=3, color=colour)


def _numbers(data: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    if not columns:
        return np.array([0.0])
    values = np.concatenate([_numeric(data, c).to_numpy() for c in columns])
    values = values[np.isfinite(values)]
    return values if len(values) else np.array([0.0])


def _pad_limits(ax, values: np.ndarray, zero: bool = False) -> None:
    lo, hi = float(np.min(values)), float(np.max(values))
    if zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    pad = (abs(hi) * 0.1 or 1.0) if hi == lo else (hi - lo) * 0.08
    ax.set_ylim(lo - (0 if zero and lo == 0 else pad), hi + pad)


def _last_valid(values: np.ndarray) -> int | None:
    idx = np.flatnonzero(np.isfinite(values))
    return int(idx[-1]) if len(idx) else None


def forecast(fig, spec: ChartSpec, theme: Theme) -> None:
    """Actuals, then the forecast (dashed) inside its 80% and 95% bands."""
    data = spec.data
    ax = fig.add_subplot()
    _style(ax, theme)
    pos = _x_axis(ax, data["x"], theme)
    col = {c: _numeric(data, c).to_numpy() if c in data.columns else np.full(len(data), np.nan)
           for c in ("actual", "forecast", "lo80", "hi80", "lo95", "hi95")}  # fmt: skip
    fmt = _fmt(spec, theme, "actual")
    handles, names = [], []
    band = np.isfinite(col["lo95"]) & np.isfinite(col["hi95"])
    if band.any():
        h95 = ax.fill_between(pos, col["lo95"], col["hi95"], where=band, color=theme.accent,
                              alpha=0.12, lw=0, interpolate=True)  # fmt: skip
        band80 = np.isfinite(col["lo80"]) & np.isfinite(col["hi80"])
        h80 = ax.fill_between(pos, col["lo80"], col["hi80"], where=band80, color=theme.accent,
                              alpha=0.22, lw=0, interpolate=True)  # fmt: skip
    last = _last_valid(col["actual"])
    marker = "o" if np.isfinite(col["actual"]).sum() <= 2 else None
    (ha,) = ax.plot(pos, col["actual"], color=theme.primary, lw=1.8, marker=marker, markersize=3.5)
    handles.append(ha)
    names.append(spec.label("actual") if spec.label("actual") != "actual" else "Actual")
    ends = []
    if np.isfinite(col["forecast"]).any():
        (hf,) = ax.plot(pos, col["forecast"], color=theme.accent, lw=1.6, ls=(0, (4, 2)))
        handles.append(hf)
        names.append("Forecast")
        if band.any():
            handles += [h80, h95]
            names += ["80% interval", "95% interval"]
        if last is not None and last < len(pos) - 1:
            ax.axvline(last, color=theme.neutral, lw=0.6, ls=(0, (1, 2)))
        fl = _last_valid(col["forecast"])
        if fl is not None and fl != last:
            ends.append((pos[fl], col["forecast"][fl], fmt(col["forecast"][fl]), theme.accent))
    if last is not None and ends:
        # The forecast starts where the actuals end: label the last actual above its point.
        ax.annotate(fmt(col["actual"][last]), (pos[last], col["actual"][last]), xytext=(4, -7),
                    textcoords="offset points", ha="left", va="top", fontsize=6.5,
                    color=theme.primary, fontweight="bold")  # fmt: skip
    elif last is not None:
        ends.append((pos[last], col["actual"][last], fmt(col["actual"][last]), theme.primary))
    _value_axis(ax.yaxis, spec.unit("actual") if "actual" in spec.units else "currency", theme)
    values = np.concatenate([v[np.isfinite(v)] for v in col.values()] + [np.array([])])
    _pad_limits(ax, values if len(values) else np.array([0.0]))
    _legend(fig, handles, names)
    _end_labels(ax, ends, theme)


def donut(fig, spec: ChartSpec, theme: Theme) -> None:
    """Shares of a whole: a ring with the total in the middle and a legend with shares."""
    frame = spec.data.assign(value=_numeric(spec.data, "value")).fillna({"value": 0.0})
    frame = frame[frame["value"] > 0]
    if frame.empty:
        no_data(fig, _with_note(spec, "All values are zero."), theme)
        return
    n = min(theme.max_categories, len(series_palette(theme)) + 1)
    frame = top_n(frame.reset_index(drop=True), "label", "value", n, additive=True)
    labels = [str(x) for x in frame["label"]]
    values = frame["value"].to_numpy(dtype=float)
    total = values.sum()
    colours = _colours(labels, theme)
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    ax.set_axis_off()
    wedges, _ = ax.pie(values, colors=colours, startangle=90, counterclock=False,
                       wedgeprops={"width": 0.34, "edgecolor": "white", "linewidth": 1.0})  # fmt: skip
    ax.text(0, 0.08, formats.format_value(total, spec.unit("value"), theme.currency_symbol),
            ha="center", va="center", fontsize=9.5, fontweight="bold", color=theme.ink)  # fmt: skip
    ax.text(0, -0.16, "Total", ha="center", va="center", fontsize=6.5, color=theme.muted)
    legend = [f"{shorten(lab, 24)}  {formats.format_pct(v / total)}" for lab, v in
              zip(labels, values, strict=True)]  # fmt: skip
    ax.legend(wedges, legend, loc="center left", bbox_to_anchor=(1.0, 0.5), handlelength=0.9,
              handleheight=0.9, labelspacing=0.45)  # fmt: skip


def _with_note(spec: ChartSpec, note: str) -> ChartSpec:
    return ChartSpec(spec.key, spec.kind, spec.data.iloc[0:0], spec.units, spec.labels,
                     spec.options, spec.note or note)  # fmt: skip


def combo(fig, spec: ChartSpec, theme: Theme) -> None:
    """Inflows as columns up, withdrawals as columns down, net as a line."""
    data = spec.data
    ax = fig.add_subplot()
    _style(ax, theme)
    pos = _x_axis(ax, data["x"], theme)
    inflows = _numeric(data, "inflows").fillna(0).to_numpy()
    outflows = -_numeric(data, "withdrawals").fillna(0).abs().to_numpy()
    net = _numeric(data, "net").to_numpy()
    width = 0.7 if len(pos) > 1 else 0.4
    h1 = ax.bar(pos, inflows, width, color=theme.accent, lw=0)
    h2 = ax.bar(pos, outflows, width, color=theme.colour(1), lw=0)
    marker = "o" if len(pos) <= 30 else None
    (h3,) = ax.plot(pos, net, color=theme.primary, lw=1.4, marker=marker, markersize=2.6)
    ax.axhline(0, color=theme.neutral, lw=0.6)
    _value_axis(ax.yaxis, spec.unit("net") if "net" in spec.units else "currency", theme)
    _pad_limits(ax, np.concatenate([inflows, outflows, net[np.isfinite(net)]]), zero=True)
    names = [spec.label(c) if spec.label(c) != c else c.capitalize()
             for c in ("inflows", "withdrawals", "net")]  # fmt: skip
    _legend(fig, [h1, h2, h3], names, ncol=3)


def waterfall(fig, spec: ChartSpec, theme: Theme) -> None:
    """Opening level, signed changes floating, closing level; each bar labelled."""
    data = spec.data.reset_index(drop=True)
    values = _numeric(data, "value").fillna(0).to_numpy()
    totals = data["total"].fillna(False).astype(bool).to_numpy() if "total" in data else (
        np.zeros(len(data), dtype=bool))  # fmt: skip
    unit = spec.unit("value")
    bottoms, tops = [], []
    level = 0.0
    for v, is_total in zip(values, totals, strict=True):
        if is_total:
            level = v
            bottoms.append(0.0)
            tops.append(v)
        else:
            bottoms.append(level)
            level += v
            tops.append(level)
    bottoms_a, tops_a = np.array(bottoms), np.array(tops)
    ax = fig.add_subplot()
    _style(ax, theme)
    pos = np.arange(len(data), dtype=float)
    levels = np.concatenate([tops_a, bottoms_a[~totals]])
    lo, hi = float(levels.min()), float(levels.max())
    if totals.any() and lo > 0 and (hi - lo) < 0.5 * hi:
        # Totals dwarf the changes: start the axis near the lowest level so the changes show.
        floor = max(0.0, lo - (hi - lo) * 0.9 - abs(hi) * 0.002)
    else:
        floor = min(0.0, lo)
    colours = []
    for v, is_total in zip(values, totals, strict=True):
        colours.append(theme.primary if is_total else theme.positive if v >= 0 else theme.negative)
    base = np.where(totals, floor, np.minimum(bottoms_a, tops_a))
    height = np.where(totals, tops_a - floor, np.abs(tops_a - bottoms_a))
    ax.bar(pos, height, 0.62, bottom=base, color=colours, lw=0)
    for i in range(len(pos) - 1):
        ax.plot([pos[i] + 0.31, pos[i + 1] - 0.31], [tops_a[i], tops_a[i]], color=theme.neutral,
                lw=0.5, ls=(0, (1, 1.5)))  # fmt: skip
    span = (hi - floor) or 1.0
    for i, (v, is_total) in enumerate(zip(values, totals, strict=True)):
        text = (formats.format_value(v, unit, theme.currency_symbol) if is_total
                else formats.format_signed(v, unit, theme.currency_symbol))  # fmt: skip
        y = max(tops_a[i], bottoms_a[i]) + span * 0.02
        ax.text(pos[i], y, text, ha="center", va="bottom", fontsize=6.3,
                color=theme.ink if is_total else colours[i], fontweight="bold")  # fmt: skip
    slot = fig.get_size_inches()[0] * 72 * 0.85 / max(1, len(pos))  # points per bar
    chars = max(4, int(slot / 3.4))
    names = [shorten(x, 30) for x in data["label"]]
    if max(len(w) for n in names for w in (n.split() or [""])) <= chars:
        ax.set_xticks(pos, [_wrap(n, chars, 3) for n in names])
    else:
        ax.set_xticks(pos, names, rotation=30, ha="right", rotation_mode="anchor")
    ax.tick_params(axis="x", length=0)
    ax.set_xlim(-0.6, len(pos) - 0.4)
    ax.set_ylim(floor, hi + span * 0.14)
    _value_axis(ax.yaxis, unit, theme)


def bar(fig, spec: ChartSpec, theme: Theme) -> None:
    """Bars with direct value labels; `options["orientation"]` ``h`` (default) or ``v``."""
    unit = spec.unit("value")
    frame = spec.data.assign(value=_numeric(spec.data, "value")).reset_index(drop=True)
    total = len(frame)
    frame = top_n(frame, "label", "value", theme.max_categories, unit in ADDITIVE_UNITS)
    labels = [str(x) for x in frame["label"]]
    values = frame["value"].fillna(0).to_numpy(dtype=float)
    has_negative = (values < 0).any()
    colours = [
        theme.other if lab == OTHER else
        (theme.positive if v >= 0 else theme.negative) if has_negative else theme.accent
        for lab, v in zip(labels, values, strict=True)
    ]  # fmt: skip
    fmt = _fmt(spec, theme, "value")
    ax = fig.add_subplot()
    pos = np.arange(len(values), dtype=float)
    span = (max(values.max(), 0) - min(values.min(), 0)) or 1.0
    if spec.options.get("orientation", "h") == "v":
        _style(ax, theme, grid=None)
        ax.spines["left"].set_visible(False)
        ax.set_yticks([])
        ax.bar(pos, values, 0.64, color=colours, lw=0)
        slots = max(len(pos), MIN_SLOTS)
        for x, v in zip(pos, values, strict=True):
            ax.text(x, v + (span * 0.02 if v >= 0 else -span * 0.02), fmt(v), ha="center",
                    va="bottom" if v >= 0 else "top", fontsize=6.3, color=theme.ink)  # fmt: skip
        width = max(6, int(70 / max(1, len(values))))
        ax.set_xticks(pos, [_wrap(shorten(x, 30), width) for x in labels])
        ax.tick_params(axis="x", length=0)
        extra = (slots - len(pos)) / 2
        ax.set_xlim(-0.6 - extra, len(pos) - 0.4 + extra)  # few bars: centred, not fat
        ax.set_ylim(min(values.min(), 0) - (span * 0.1 if has_negative else 0),
                    max(values.max(), 0) + span * 0.14)  # fmt: skip
        ax.axhline(0, color=theme.border, lw=0.8)
    else:
        _style(ax, theme, grid=None)
        ax.spines["bottom"].set_visible(False)
        ax.set_xticks([])
        ax.barh(pos, values, 0.66, color=colours, lw=0)
        ax.set_yticks(pos, [shorten(x) for x in labels])
        ax.tick_params(axis="y", length=0)
        ax.set_ylim(max(len(pos), MIN_SLOTS) - 0.5, -0.5)  # top to bottom
        for y, v in zip(pos, values, strict=True):
            ax.annotate(fmt(v), (v, y), xytext=(3 if v >= 0 else -3, 0),
                        textcoords="offset points", ha="left" if v >= 0 else "right",
                        va="center", fontsize=6.3, color=theme.ink)  # fmt: skip
        lo = min(values.min(), 0)
        ax.set_xlim(lo - (span * 0.22 if has_negative else 0), max(values.max(), 0) + span * 0.2)
        ax.axvline(0, color=theme.border, lw=0.8)
    if total > len(frame) and unit not in ADDITIVE_UNITS:
        _note(fig, f"First {len(frame)} of {total} shown", theme)


def diverging(fig, spec: ChartSpec, theme: Theme) -> None:
    """Signed bars around zero, in groups (e.g. Top 5 / Bottom 5) with group headings."""
    frame = spec.data.assign(value=_numeric(spec.data, "value")).reset_index(drop=True)
    if "group" not in frame:
        frame["group"] = ""
    fmt = _fmt(spec, theme, "value")
    rows: list[tuple[float, str, float | None, str]] = []  # (y, label, value, kind)
    y = 0.0
    for group, part in frame.groupby("group", sort=False):
        if str(group):
            rows.append((y, str(group), None, "heading"))
            y += 1
        for _, r in part.head(theme.max_categories).iterrows():
            rows.append((y, shorten(r["label"], 30), float(r["value"]), "bar"))
            y += 1
        y += 0.4
    values = np.array([v for _, _, v, k in rows if k == "bar" and np.isfinite(v)] or [0.0])
    span = (max(values.max(), 0) - min(values.min(), 0)) or 1.0
    ax = fig.add_subplot()
    _style(ax, theme, grid=None)
    ax.spines["bottom"].set_visible(False)
    ax.spines["left"].set_visible(False)
    ax.set_xticks([])
    ticks, ticklabels = [], []
    for yy, label, v, kind in rows:
        if kind == "heading":
            ax.text(0, yy, label.upper(), transform=ax.get_yaxis_transform(), ha="right",
                    va="center", fontsize=6, color=theme.muted, fontweight="bold")  # fmt: skip
            continue
        ticks.append(yy)
        ticklabels.append(label)
        v = 0.0 if not np.isfinite(v) else v
        ax.barh(yy, v, 0.66, color=theme.positive if v >= 0 else theme.negative, lw=0)
        ax.text(v + (span * 0.015 if v >= 0 else -span * 0.015), yy, fmt(v), va="center",
                ha="left" if v >= 0 else "right", fontsize=6.3, color=theme.ink)  # fmt: skip
    ax.set_yticks(ticks, ticklabels)
    ax.tick_params(axis="y", length=0)
    ax.axvline(0, color=theme.neutral, lw=0.6)
    lo, hi = min(values.min(), 0), max(values.max(), 0)
    ax.set_xlim(lo - span * 0.25, hi + span * 0.25)
    ax.set_ylim(y - 0.4, -1.0 if rows and rows[0][3] == "heading" else -0.6)


def stacked(fig, spec: ChartSpec, theme: Theme) -> None:
    """Series stacked per `x`; `options["orientation"]` ``v`` (columns, default) or ``h``."""
    data = spec.data.reset_index(drop=True)
    series = _series_columns(spec)
    limit = min(theme.max_categories, len(series_palette(theme)) + 1)
    if len(series) > limit:
        keep = sorted(series, key=lambda c: -float(_numeric(data, c).fillna(0).sum()))[: limit - 1]
        rest = [c for c in series if c not in keep]
        data = data.assign(**{OTHER: data[rest].apply(pd.to_numeric, errors="coerce").sum(axis=1)})
        series = [c for c in series if c in keep] + [OTHER]
    names = [spec.label(c) for c in series]
    colours = _colours(names, theme)
    matrix = np.nan_to_num(np.vstack([_numeric(data, c).to_numpy() for c in series]))
    totals = matrix.sum(axis=0)
    unit = spec.unit(series[0]) if series else "count"
    ax = fig.add_subplot()
    handles = []
    horizontal = spec.options.get("orientation", "v") == "h"
    base = np.zeros(matrix.shape[1])
    if horizontal:
        _style(ax, theme, grid="x")
        pos = np.arange(len(data), dtype=float)
        for row, colour in zip(matrix, colours, strict=True):
            handles.append(ax.barh(pos, row, 0.62, left=base, color=colour, lw=0))
            base = base + row
        ax.set_yticks(pos, [shorten(x, 22) for x in data["x"]])
        ax.tick_params(axis="y", length=0)
        ax.set_ylim(max(len(pos), MIN_SLOTS - 1) - 0.5, -0.5)
        _value_axis(ax.xaxis, unit, theme)
        ax.set_xlim(0, max(totals.max(), 1) * 1.15)
        for y, t in zip(pos, totals, strict=True):
            ax.annotate(formats.format_value(t, unit, theme.currency_symbol), (t, y),
                        xytext=(3, 0), textcoords="offset points", va="center", fontsize=6.3,
                        color=theme.ink)  # fmt: skip
    else:
        _style(ax, theme)
        pos = _x_axis(ax, data["x"], theme)
        for row, colour in zip(matrix, colours, strict=True):
            handles.append(ax.bar(pos, row, 0.66, bottom=base, color=colour, lw=0))
            base = base + row
        _value_axis(ax.yaxis, unit, theme)
        ax.set_ylim(0, max(totals.max(), 1) * 1.1)
    _legend(fig, handles, [shorten(n, 20) for n in names], ncol=min(len(names), 6))


def _group_colours(groups: pd.Series, theme: Theme) -> tuple[list[str], dict[str, str]]:
    names = list(dict.fromkeys(str(g) for g in groups))
    domain = _domain_of(names)
    if domain is not None:
        names.sort(key=domain.index)
    limit = min(theme.max_categories, len(series_palette(theme)) + 1)
    if len(names) > limit:
        counts = groups.astype(str).value_counts()
        keep = set(counts.index[: limit - 1])
        names = [n for n in names if n in keep] + [OTHER]
    mapping = dict(zip(names, _colours(names, theme), strict=True))
    return names, mapping


def bubble(fig, spec: ChartSpec, theme: Theme) -> None:
    """x against y, bubble area by `size`, colour by `group`; the largest bubbles labelled."""
    data = spec.data.reset_index(drop=True)
    x, y = _numeric(data, "x"), _numeric(data, "y")
    size = _numeric(data, "size").fillna(0).clip(lower=0) if "size" in data else x * 0 + 1
    ok = x.notna() & y.notna()
    data, x, y, size = data[ok], x[ok], y[ok], size[ok]
    if data.empty:
        no_data(fig, _with_note(spec, "No point has both values."), theme)
        return
    groups = data["group"].astype(str) if "group" in data else pd.Series([""] * len(data))
    names, mapping = _group_colours(groups, theme)
    area = 12 + 420 * (size / (size.max() or 1.0))
    ax = fig.add_subplot()
    _style(ax, theme, grid="both")
    ax.spines["left"].set_visible(True)
    handles = []
    for name in names:
        mask = groups.isin([name]) if name != OTHER else ~groups.isin(mapping)
        if not mask.any():
            continue
        h = ax.scatter(x[mask], y[mask], s=area[mask], color=mapping[name], alpha=0.72,
                       edgecolors="white", linewidths=0.6)  # fmt: skip
        handles.append((h, shorten(name, 22)))
    _margins(ax, x.to_numpy(), y.to_numpy(), 0.12)
    if "label" in data:
        top = size.sort_values(ascending=False).index[:8]
        place_labels(ax, x[top].to_numpy(), y[top].to_numpy(),
                     [shorten(data.at[i, "label"], 22) for i in top], 5.8, theme.ink,
                     offset=float(np.sqrt(area[top].max())) / 2 + 1)  # fmt: skip
    _value_axis(ax.xaxis, spec.unit("x"), theme)
    _value_axis(ax.yaxis, spec.unit("y"), theme)
    if y.min() < 0 < y.max():
        ax.axhline(0, color=theme.neutral, lw=0.6)
    ax.set_xlabel(spec.label("x"))
    ax.set_ylabel(spec.label("y"))
    if len(handles) > 1:
        _legend(fig, [h for h, _ in handles], [n for _, n in handles], ncol=min(len(handles), 5))
        for leg in fig.legends:
            for handle in leg.legend_handles:
                handle.set_sizes([30])


def _margins(ax, x: np.ndarray, y: np.ndarray, frac: float) -> None:
    for values, setter in ((x, ax.set_xlim), (y, ax.set_ylim)):
        lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
        pad = (hi - lo) * frac if hi > lo else (abs(hi) * 0.1 or 1.0)
        setter(lo - pad, hi + pad)


def _robust_range(values: np.ndarray) -> tuple[float, float]:
    """Axis limits that keep a few extreme outliers from flattening everything else."""
    lo, hi = float(np.min(values)), float(np.max(values))
    if len(values) < 10:
        return lo, hi
    q1, q3 = (float(v) for v in np.percentile(values, [25, 75]))
    iqr = (q3 - q1) or abs(q3) or 1.0
    return max(lo, q1 - 3 * iqr), min(hi, q3 + 3 * iqr)


def place_labels(ax, xs, ys, labels, size: float, colour: str, offset: float = 3.0) -> int:
    """Label points (in priority order) beside them, skipping labels that would overlap an
    earlier one or leave the plot; returns how many were placed."""
    from finrep.render.theme import text_width

    fig = ax.figure
    engine = fig.get_layout_engine()
    if engine is not None and hasattr(fig.canvas, "get_renderer"):
        engine.execute(fig)  # final axes position, so points map to real page positions
    extent = ax.get_window_extent()
    aw, ah = extent.width, extent.height
    family = matplotlib.rcParams["font.family"][0]
    boxes: list[tuple[float, float, float, float]] = []
    placed = 0
    for x, y, text in zip(xs, ys, labels, strict=True):
        px, py = ax.transData.transform((x, y))
        fx, fy = px - extent.x0, py - extent.y0
        w, h = text_width(text, size, family) + 1, size * 1.1
        for dx, dy, ha, va in ((offset, 0, "left", "center"), (-offset, 0, "right", "center"),
                               (0, offset, "center", "bottom"), (0, -offset, "center", "top")):  # fmt: skip
            left = fx + dx - (w if ha == "right" else w / 2 if ha == "center" else 0)
            bottom = fy + dy - (h / 2 if va == "center" else 0 if va == "bottom" else h)
            box = (left, bottom, left + w, bottom + h)
            if box[0] < 0 or box[2] > aw or box[1] < 0 or box[3] > ah:
                continue
            if any(not (box[2] <= b[0] or box[0] >= b[2] or box[3] <= b[1] or box[1] >= b[3])
                   for b in boxes):  # fmt: skip
                continue
            boxes.append(box)
            label = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points",
                                ha=ha, va=va, fontsize=size, color=colour)  # fmt: skip
            label.set_in_layout(False)  # placed for the layout as it is; must not change it
            placed += 1
            break
    return placed


def scatter(fig, spec: ChartSpec, theme: Theme) -> None:
    """Points coloured by `group` (sized by `size`, labelled by `label` when few); above
    `HEXBIN_ABOVE` points, a density of hexagons instead. A few extreme outliers are pinned
    to the edge of the plot (hollow markers) rather than squashing the rest."""
    data = spec.data.reset_index(drop=True)
    x, y = _numeric(data, "x"), _numeric(data, "y")
    ok = (x.notna() & y.notna()).to_numpy()
    data = data[ok].reset_index(drop=True)
    x, y = x[ok].to_numpy(), y[ok].to_numpy()
    if data.empty:
        no_data(fig, _with_note(spec, "No point has both values."), theme)
        return
    ax = fig.add_subplot()
    _style(ax, theme, grid="both")
    ax.spines["left"].set_visible(True)
    log_y = spec.unit("y") == "currency" and y.min() > 0 and y.max() / y.min() > 50
    if log_y:
        ax.set_yscale("log")
    if len(data) > HEXBIN_ABOVE:
        hb = ax.hexbin(x, y, gridsize=(36, 18), mincnt=1, cmap=_sequential(theme), lw=0.2,
                       edgecolors="white", yscale="log" if log_y else "linear",
                       bins="log")  # fmt: skip
        bar_ = fig.colorbar(hb, ax=ax, fraction=0.04, pad=0.01)
        bar_.outline.set_visible(False)
        bar_.ax.tick_params(labelsize=5.5, length=0)
        bar_.set_label("Points per hexagon", fontsize=6, color=theme.muted)
        _note(fig, f"{formats.format_count(len(data))} points", theme, ax)
        clipped = np.zeros(len(data), dtype=bool)
    else:
        xr = _robust_range(x)
        yr = (float(y.min()), float(y.max())) if log_y else _robust_range(y)
        clipped = (x < xr[0]) | (x > xr[1]) | (y < yr[0]) | (y > yr[1])
        xs, ys = np.clip(x, *xr), np.clip(y, *yr)
        groups = data["group"].astype(str) if "group" in data else pd.Series([""] * len(data))
        names, mapping = _group_colours(groups, theme)
        if "size" in data:
            s = _numeric(data, "size").fillna(0).clip(lower=0)
            area = (8 + 160 * s / (s.max() or 1.0)).to_numpy()
        else:
            area = np.full(len(data), 9.0 if len(data) > 500 else 14.0 if len(data) > 60 else 24.0)
        alpha = 0.75 if len(data) <= 500 else 0.45
        handles = []
        for name in names:
            mask = ((groups == name) if name != OTHER else ~groups.isin(mapping)).to_numpy()
            if not mask.any():
                continue
            inner, outer = mask & ~clipped, mask & clipped
            h = ax.scatter(xs[inner], ys[inner], s=area[inner], color=mapping[name], alpha=alpha,
                           lw=0.3, edgecolors="white")  # fmt: skip
            if outer.any():
                ax.scatter(xs[outer], ys[outer], s=area[outer], facecolors="none",
                           edgecolors=mapping[name], lw=1.0, clip_on=False)  # fmt: skip
            handles.append((h, shorten(name, 22)))
        if not log_y:
            _margins(ax, xs, ys, 0.06 if len(data) >= 10 else 0.14)
        if "label" in data and len(data) <= 60:
            order = np.argsort(-area, kind="stable")
            place_labels(ax, xs[order], ys[order],
                         [shorten(data.at[i, "label"], 14) for i in order], 5.5, theme.muted)  # fmt: skip
        if len(handles) > 1:
            _legend(fig, [h for h, _ in handles], [n for _, n in handles],
                    ncol=min(len(handles), 5))  # fmt: skip
            for leg in fig.legends:
                for handle in leg.legend_handles:
                    handle.set_sizes([20])
                    handle.set_alpha(1)
    _value_axis(ax.xaxis, spec.unit("x"), theme)
    if log_y:
        ax.yaxis.set_major_formatter(_LogFormatter(spec.unit("y"), theme.currency_symbol))
        ax.yaxis.set_minor_formatter(_NoLabels())
    else:
        _value_axis(ax.yaxis, spec.unit("y"), theme)
        lo, hi = ax.get_ylim()
        if lo < 0 < hi:
            ax.axhline(0, color=theme.neutral, lw=0.6)
    if clipped.any():
        n = int(clipped.sum())
        _note(fig, f"{n} point{'s' * (n != 1)} off scale (hollow, at the edge)", theme, ax)
    ax.set_xlabel(spec.label("x"))
    ax.set_ylabel(spec.label("y"))


class _LogFormatter(_TickFormatter):
    """Log axes: each label on its own scale (``$10K``, ``$100K``, ``$1M``)."""

    def format_ticks(self, values):
        self.set_locs(values)
        return [formats.format_ticks([v], self.unit, self.symbol)[0] for v in values]


class _NoLabels(Formatter):
    def __call__(self, x, pos=None):
        return ""


def heatmap(fig, spec: ChartSpec, theme: Theme) -> None:
    """A matrix of rows × columns, shaded by value and labelled; null cells stay blank."""
    data = spec.data.reset_index(drop=True)
    columns = _series_columns(spec, skip=("row",))
    if not columns:
        no_data(fig, _with_note(spec, "No numeric columns."), theme)
        return
    rows = [shorten(r, 22) for r in data["row"]]
    matrix = np.vstack([_numeric(data, c).to_numpy() for c in columns]).T
    masked = np.ma.masked_invalid(matrix)
    finite = matrix[np.isfinite(matrix)]
    lo = float(finite.min()) if len(finite) else 0.0
    hi = float(finite.max()) if len(finite) else 1.0
    # The palest colour is the smallest value (not zero): retention rates of 83–100% must differ.
    norm = mcolors.Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1)
    cmap = _sequential(theme)
    cmap.set_bad(theme.panel)
    ax = fig.add_subplot()
    ax.pcolormesh(masked, cmap=cmap, norm=norm, edgecolors="white", linewidth=1.2)
    ax.set_xlim(0, len(columns))
    ax.set_ylim(max(len(rows), 3), 0)  # one or two rows stay rows, not slabs
    for side in ax.spines.values():
        side.set_visible(False)
    ax.xaxis.tick_top()
    # Cell labels sized to the cells (estimated: the row labels take about a quarter).
    fw, fh = fig.get_size_inches() * 72
    cell_w = fw * 0.72 / max(1, len(columns))
    cell_h = fh * 0.78 / max(1, len(rows))
    names = [shorten(spec.label(c), 24) for c in columns]
    chars = max(4, int(cell_w / 3.3))  # characters of 6 pt text that fit a column
    if max(len(w) for n in names for w in n.split() or [""]) <= chars:
        ax.set_xticks(np.arange(len(columns)) + 0.5, [_wrap(n, chars, 3) for n in names])
    else:
        ax.set_xticks(np.arange(len(columns)) + 0.5, [shorten(n, 22) for n in names],
                      rotation=90)  # fmt: skip
    ax.tick_params(axis="x", labelsize=6)
    ax.set_yticks(np.arange(len(rows)) + 0.5, rows)
    ax.tick_params(length=0)
    size = max(4.5, min(6.5, cell_h * 0.5, cell_w / 6.0))
    for i in range(len(rows)):
        for j, c in enumerate(columns):
            v = matrix[i, j]
            if not np.isfinite(v):
                continue
            colour = "white" if _luminance(cmap(norm(v))) < 0.5 else theme.ink
            ax.text(j + 0.5, i + 0.5, _cell(v, spec.unit(c), theme), ha="center", va="center",
                    fontsize=size, color=colour)  # fmt: skip


def _cell(value: float, unit: str, theme: Theme) -> str:
    if unit == "pct":
        return formats.format_pct(value, 0)
    return formats.format_value(value, unit, theme.currency_symbol)


def state_map(fig, spec: ChartSpec, theme: Theme) -> None:
    """A US tile grid: one square per state, shaded by `value`, labelled with `value2`."""
    data = spec.data
    values = dict(zip(data["state"].astype(str).str.upper(), _numeric(data, "value"), strict=True))
    second = (dict(zip(data["state"].astype(str).str.upper(), _numeric(data, "value2"),
                       strict=True)) if "value2" in data else {})  # fmt: skip
    finite = [v for v in values.values() if np.isfinite(v)]
    hi = max(finite) if finite else 1.0
    norm = mcolors.Normalize(vmin=0, vmax=hi or 1.0)
    cmap = _sequential(theme)
    ax = fig.add_axes((0, 0.12, 1, 0.88))
    ax.set_axis_off()
    ax.set_aspect("equal")
    fw, fh = fig.get_size_inches() * 72
    tile = min(fw / 12, fh * 0.88 / 8)  # points per tile
    for state, (r, c) in STATE_TILES.items():
        v = values.get(state, np.nan)
        face = cmap(norm(v)) if np.isfinite(v) else theme.panel
        ax.add_patch(Rectangle((c + 0.04, -r - 0.96), 0.92, 0.92, facecolor=face,
                               edgecolor="white", lw=0))  # fmt: skip
        ink = "white" if np.isfinite(v) and _luminance(face) < 0.5 else theme.ink
        if not np.isfinite(v):
            ink = theme.muted
        has2 = state in second and np.isfinite(second[state]) and tile >= 20
        ax.text(c + 0.5, -r - (0.38 if has2 else 0.5), state, ha="center", va="center",
                fontsize=min(7.0, tile * 0.27), fontweight="bold", color=ink)  # fmt: skip
        if has2:
            ax.text(c + 0.5, -r - 0.72, formats.format_value(second[state], spec.unit("value2"),
                    theme.currency_symbol), ha="center", va="center",
                    fontsize=min(5.6, tile * 0.21), color=ink)  # fmt: skip
    ax.set_xlim(0, 12)
    ax.set_ylim(-8, 0)
    cax = fig.add_axes((0.30, 0.03, 0.40, 0.035))
    from matplotlib.cm import ScalarMappable

    bar_ = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax, orientation="horizontal")
    bar_.outline.set_visible(False)
    cax.tick_params(labelsize=5.5, length=0, pad=1.5)
    cax.xaxis.set_major_locator(MaxNLocator(nbins=3, integer=spec.unit("value") == "count"))
    cax.xaxis.set_major_formatter(_TickFormatter(spec.unit("value"), theme.currency_symbol))
    fig.text(0.29, 0.047, spec.label("value"), ha="right", va="center", fontsize=6,
             color=theme.muted)  # fmt: skip
    fig.set_layout_engine("none")


def sankey(fig, spec: ChartSpec, theme: Theme) -> None:
    """Flows between columns of nodes (stage 0: column 0 → 1, stage 1: column 1 → 2, …)."""
    data = spec.data.copy()
    data["value"] = _numeric(data, "value").fillna(0)
    data = data[data["value"] > 0]
    if data.empty:
        no_data(fig, _with_note(spec, "No flows."), theme)
        return
    data["stage"] = pd.to_numeric(data.get("stage", 0), errors="coerce").fillna(0).astype(int)
    stages = sorted(data["stage"].unique())
    data["stage"] = data["stage"].map({s: i for i, s in enumerate(stages)})
    data["source"] = data["source"].astype(str)
    data["target"] = data["target"].astype(str)
    limit = max(3, min(theme.max_categories, 8))
    columns: list[list[str]] = []
    totals: list[dict[str, float]] = []
    for k in range(len(stages) + 1):
        outgoing = data[data["stage"] == k].groupby("source", sort=False)["value"].sum()
        incoming = data[data["stage"] == k - 1].groupby("target", sort=False)["value"].sum()
        size = pd.concat([outgoing, incoming], axis=1).max(axis=1).sort_values(ascending=False)
        if len(size) > limit:
            rest = list(size.index[limit - 1 :])
            data.loc[(data["stage"] == k) & data["source"].isin(rest), "source"] = OTHER
            data.loc[(data["stage"] == k - 1) & data["target"].isin(rest), "target"] = OTHER
            size = pd.concat(
                [size.iloc[: limit - 1], pd.Series({OTHER: size.iloc[limit - 1 :].sum()})]
            )
        columns.append([str(n) for n in size.index])
        totals.append({str(n): float(v) for n, v in size.items()})
    data = data.groupby(["stage", "source", "target"], as_index=False, sort=False)["value"].sum()
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    fw, fh = fig.get_size_inches() * 72
    ncols = len(columns)
    gap = 6.0 / fh  # 6 pt between nodes
    biggest = max(sum(t.values()) for t in totals)
    most = max(len(c) for c in columns)
    scale = (0.94 - gap * (most - 1)) / biggest
    node_w = 7.0 / fw
    label_room = 0.16
    xs = [label_room + (1 - 2 * label_room - node_w) * k / max(1, ncols - 1) for k in range(ncols)]
    unit = spec.unit("value")
    colour_of: dict[tuple[int, str], str] = {}
    spans: dict[tuple[int, str], list[float]] = {}
    for k, names in enumerate(columns):
        col_total = sum(totals[k][n] for n in names) * scale + gap * (len(names) - 1)
        top = 0.97 - (0.94 - col_total) / 2
        palette = _colours(names, theme)
        for name, colour in zip(names, palette, strict=True):
            h = totals[k][name] * scale
            spans[(k, name)] = [top - h, top, top, top]  # bottom, top, out cursor, in cursor
            colour_of[(k, name)] = colour
            ax.add_patch(Rectangle((xs[k], top - h), node_w, h, facecolor=colour, lw=0))
            text = f"{shorten(name, 22)}  {formats.format_value(totals[k][name], unit, theme.currency_symbol)}"
            size = 6.0 if h * fh >= 7 else 5.0
            if k == 0:
                ax.text(xs[k] - 0.008, top - h / 2, text, ha="right", va="center", fontsize=size,
                        color=theme.ink)  # fmt: skip
            else:
                ax.text(xs[k] + node_w + 0.008, top - h / 2, text, ha="left", va="center",
                        fontsize=size, color=theme.ink)  # fmt: skip
            top -= h + gap
    order = {key: i for k, names in enumerate(columns) for i, key in enumerate(names)}
    data = data.assign(_s=data["source"].map(order), _t=data["target"].map(order))
    for _, link in data.sort_values(["stage", "_s", "_t"]).iterrows():
        k = int(link["stage"])
        src, dst = (k, link["source"]), (k + 1, link["target"])
        if src not in spans or dst not in spans:
            continue
        h = float(link["value"]) * scale
        y0 = spans[src][2]
        spans[src][2] -= h
        y1 = spans[dst][3]
        spans[dst][3] -= h
        x0, x1 = xs[k] + node_w, xs[k + 1]
        mid = (x0 + x1) / 2
        verts = [(x0, y0), (mid, y0), (mid, y1), (x1, y1), (x1, y1 - h), (mid, y1 - h),
                 (mid, y0 - h), (x0, y0 - h), (x0, y0)]  # fmt: skip
        codes = [MplPath.MOVETO, MplPath.CURVE4, MplPath.CURVE4, MplPath.CURVE4, MplPath.LINETO,
                 MplPath.CURVE4, MplPath.CURVE4, MplPath.CURVE4, MplPath.CLOSEPOLY]  # fmt: skip
        ax.add_patch(PathPatch(MplPath(verts, codes), facecolor=colour_of[src], alpha=0.32, lw=0))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    fig.set_layout_engine("none")


def gauge(fig, spec: ChartSpec, theme: Theme) -> None:
    """A half-ring from 0 to 100% filled to `value`, with a tick at `target`."""
    row = spec.data.iloc[0]
    value = float(pd.to_numeric(row.get("value"), errors="coerce"))
    target = (
        float(pd.to_numeric(row.get("target"), errors="coerce")) if "target" in row else math.nan
    )
    if not np.isfinite(value):
        no_data(fig, _with_note(spec, "No value to show."), theme)
        return
    shown = min(max(value, 0.0), 1.0)
    ok = np.isfinite(target) and value >= target
    colour = theme.positive if ok or not np.isfinite(target) else theme.negative
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_aspect("equal")
    r, w = 1.0, 0.28
    ax.add_patch(Wedge((0, 0), r, 0, 180, width=w, facecolor=theme.grid, lw=0))
    if shown > 0:
        ax.add_patch(Wedge((0, 0), r, 180 - 180 * shown, 180, width=w, facecolor=colour, lw=0))
    unit = spec.unit("value") if "value" in spec.units else "pct"
    ax.text(0, 0.14, formats.format_value(value, unit, theme.currency_symbol), ha="center",
            va="center", fontsize=16, fontweight="bold", color=theme.ink)  # fmt: skip
    if np.isfinite(target):
        t = math.radians(180 - 180 * min(max(target, 0.0), 1.0))
        ax.plot([math.cos(t) * (r - w - 0.05), math.cos(t) * (r + 0.05)],
                [math.sin(t) * (r - w - 0.05), math.sin(t) * (r + 0.05)], color=theme.ink,
                lw=1.6, solid_capstyle="butt")  # fmt: skip
        delta = formats.format_change(value - target, None, unit, theme.currency_symbol)
        target_text = formats.format_value(target, unit, theme.currency_symbol)
        ax.text(0, -0.08, f"{delta} vs target", ha="center", va="center", fontsize=6.8,
                color=theme.positive if ok else theme.negative, fontweight="bold")  # fmt: skip
        ax.text(0, -0.24, f"Target {target_text}", ha="center", va="center", fontsize=6.5,
                color=theme.muted)  # fmt: skip
    ax.text(-r + w / 2, -0.08, formats.format_ticks([0.0], unit)[0], ha="center", va="center",
            fontsize=6, color=theme.muted)  # fmt: skip
    ax.text(r - w / 2, -0.08, formats.format_ticks([1.0], unit)[0], ha="center", va="center",
            fontsize=6, color=theme.muted)  # fmt: skip
    # Fill the box: the drawing spans x −1.08…1.08 and y −0.34…1.1, centred.
    fw, fh = fig.get_size_inches() * 72
    sx, sy = 2.16, 1.44
    scale = max(sx / fw, sy / fh)
    half_w, half_h = fw * scale / 2, fh * scale / 2
    cy = (1.1 - 0.34) / 2
    ax.set_xlim(-half_w, half_w)
    ax.set_ylim(cy - half_h, cy + half_h)
    fig.set_layout_engine("none")


def funnel(fig, spec: ChartSpec, theme: Theme) -> None:
    """Centred bars narrowing stage by stage; each with its value and share of the first."""
    data = spec.data.reset_index(drop=True)
    values = _numeric(data, "value").fillna(0).clip(lower=0).to_numpy()
    labels = [shorten(x, 30) for x in data["label"]]
    first = values[0] if len(values) and values[0] > 0 else (values.max() if len(values) else 0)
    top = values.max() or 1.0
    fmt = _fmt(spec, theme, "value")
    ax = fig.add_subplot()
    ax.set_axis_off()
    n = len(values)
    for i, v in enumerate(values):
        shade = mcolors.to_hex(
            np.array(mcolors.to_rgb(theme.primary)) * (1 - i / max(1, n))
            + np.array(mcolors.to_rgb(theme.accent)) * (i / max(1, n))
        )
        width = max(0.86 * v / top, 0.004)
        ax.add_patch(Rectangle((0.5 - width / 2, -i - 0.84), width, 0.74, facecolor=shade, lw=0))
        share = formats.format_pct(v / first) if first else formats.NA
        inside = width > 0.36
        ax.text(0.5, -i - 0.47, f"{fmt(v)} · {share}", ha="center", va="center", fontsize=6.8,
                color="white" if inside else theme.ink, fontweight="bold",
                zorder=3) if inside else ax.text(
            0.5 + width / 2 + 0.02, -i - 0.47, f"{fmt(v)} · {share}", ha="left", va="center",
            fontsize=6.5, color=theme.ink)  # fmt: skip
        ax.text(0.5, -i - 0.02, labels[i], ha="center", va="bottom", fontsize=6.3,
                color=theme.muted)  # fmt: skip
    ax.set_xlim(0, 1)
    ax.set_ylim(-n - 0.05, 0.25)


CHARTS: dict[str, Callable[[Figure, ChartSpec, Theme], None]] = {
    "line": line,
    "forecast": forecast,
    "donut": donut,
    "combo": combo,
    "waterfall": waterfall,
    "bar": bar,
    "diverging": diverging,
    "stacked": stacked,
    "bubble": bubble,
    "scatter": scatter,
    "heatmap": heatmap,
    "state_map": state_map,
    "sankey": sankey,
    "gauge": gauge,
    "funnel": funnel,
}

_REQUIRED = {
    "line": ("x",),
    "forecast": ("x", "actual"),
    "donut": ("label", "value"),
    "combo": ("x", "inflows", "withdrawals", "net"),
    "waterfall": ("label", "value"),
    "bar": ("label", "value"),
    "diverging": ("label", "value"),
    "stacked": ("x",),
    "bubble": ("x", "y"),
    "scatter": ("x", "y"),
    "heatmap": ("row",),
    "state_map": ("state", "value"),
    "sankey": ("source", "target", "value"),
    "gauge": ("value",),
    "funnel": ("label", "value"),
}


def chart_figure(spec: ChartSpec, theme: Theme, width: float, height: float) -> Figure:
    """A matplotlib figure of `width` × `height` points showing `spec` (call inside
    `matplotlib.rc_context(mpl_rc(theme))`)."""
    if spec.kind not in CHARTS:
        raise RenderError(f"visual {spec.key!r}: no chart for kind {spec.kind!r}")
    missing = [c for c in _REQUIRED[spec.kind] if c not in spec.data.columns]
    from finrep.render.vector import RecordingCanvas

    fig = Figure(figsize=(width / 72, height / 72), dpi=72, layout="constrained")
    RecordingCanvas(fig, theme.font)  # text is measured as the PDF will draw it
    fig.get_layout_engine().set(w_pad=1 / 72, h_pad=1 / 72, wspace=0.02, hspace=0.02)
    if spec.data.empty:
        no_data(fig, spec, theme)
    elif missing:
        raise RenderError(
            f"visual {spec.key!r} ({spec.kind}): data lacks column(s) {', '.join(missing)}; "
            f"found {', '.join(map(str, spec.data.columns))}"
        )
    else:
        CHARTS[spec.kind](fig, spec, theme)
    return fig


def draw_chart(spec: ChartSpec, theme: Theme, width: float, height: float) -> Drawing:
    """Draw `spec` at `width` × `height` points and record it as vector operations."""
    with matplotlib.rc_context(mpl_rc(theme)), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing-glyph notices: the PDF falls back per glyph
        try:
            fig = chart_figure(spec, theme, width, height)
            return record_figure(fig, theme.font)
        except RenderError:
            raise
        except Exception as exc:  # a bug or odd data: say which chart, keep the cause
            raise RenderError(
                f"visual {spec.key!r} ({spec.kind}) could not be drawn: {exc}; "
                "run with --debug for details"
            ) from exc
