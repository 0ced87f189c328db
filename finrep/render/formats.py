"""Number formats shared by the PDF, the workbook, the narrative and the CLI.

Every number a reader sees goes through `format_value`, so one KPI reads the same everywhere.
Plain Python only (no rendering libraries), so `measures/narrative.py` may import it.
"""

from __future__ import annotations

import math
from datetime import date

NA = "n/a"
UP = "▲"
DOWN = "▼"


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def format_currency(value: float | None, symbol: str = "$", decimals: int | None = None) -> str:
    """Money with a scale: ``$950``, ``$12.3K``, ``$243.0M``, ``$1.24bn``; negatives ``-$1.2M``."""
    if _missing(value):
        return NA
    sign = "-" if value < 0 else ""
    v = abs(float(value))
    if v >= 1e9:
        text = f"{v / 1e9:.{2 if decimals is None else decimals}f}bn"
    elif v >= 1e6:
        text = f"{v / 1e6:.{1 if decimals is None else decimals}f}M"
    elif v >= 1e4:
        text = f"{v / 1e3:.{1 if decimals is None else decimals}f}K"
    else:
        text = f"{v:,.{0 if decimals is None else decimals}f}"
    if not text.strip("0.,"):  # rounds to zero: "$0.00", never "-$0.00"
        sign = ""
    return f"{sign}{symbol}{text}"


def format_pct(value: float | None, decimals: int = 1) -> str:
    """A share 0–1 as a percentage: 0.7234 → ``72.3%``."""
    if _missing(value):
        return NA
    return f"{value * 100:.{decimals}f}%"


def format_return(value: float | None, decimals: int = 2) -> str:
    """A rate of return, always signed: 0.0123 → ``+1.23%``."""
    if _missing(value):
        return NA
    return f"{value * 100:+.{decimals}f}%"


def format_count(value: float | None) -> str:
    if _missing(value):
        return NA
    return f"{round(value):,}"


def format_number(value: float | None, decimals: int = 2) -> str:
    if _missing(value):
        return NA
    return f"{value:,.{decimals}f}"


def format_value(value: object, unit: str, symbol: str = "$") -> str:
    """Format `value` by its unit (see `finrep.pack.UNITS`)."""
    if unit == "text":
        return "" if value is None else str(value)
    if unit == "date":
        return value.isoformat() if isinstance(value, date) else NA if value is None else str(value)
    if _missing(value):  # type: ignore[arg-type]
        return NA
    v = float(value)  # type: ignore[arg-type]
    match unit:
        case "currency":
            return format_currency(v, symbol)
        case "pct":
            return format_pct(v)
        case "return":
            return format_return(v)
        case "count":
            return format_count(v)
        case "ratio":
            return format_number(v, 2)
        case "minutes":
            return f"{v:,.1f} min"
        case "months":
            return f"{v:,.1f} mo"
        case "score":
            return f"{v:.2f}"
        case _:
            return format_number(v, 2)


def format_change(
    change: float | None, change_pct: float | None, unit: str, symbol: str = "$"
) -> str:
    """A change with an arrow: ``▲ 2.4%`` for levels, ``▼ 1.3 pts`` for shares and rates.

    Shares and rates change in percentage points (a retention rate going from 90% to 88%
    is ``▼ 2.0 pts``, not ``▼ 2.2%``); other units change in percent of the previous value,
    or in their own unit when the previous value was zero.
    """
    if unit in ("pct", "return"):
        if _missing(change):
            return NA
        arrow = UP if change > 0 else DOWN if change < 0 else "="
        return f"{arrow} {abs(change) * 100:.1f} pts"
    if not _missing(change_pct):
        arrow = UP if change_pct > 0 else DOWN if change_pct < 0 else "="
        return f"{arrow} {abs(change_pct) * 100:.1f}%"
    if _missing(change):
        return NA
    arrow = UP if change > 0 else DOWN if change < 0 else "="
    return f"{arrow} {format_value(abs(change), unit, symbol)}"


def direction(change: float | None, higher_is_better: bool = True) -> str:
    """``good``, ``bad`` or ``flat``: how to colour a change."""
    if _missing(change) or change == 0:
        return "flat"
    return "good" if (change > 0) == higher_is_better else "bad"


def format_signed(value: float | None, unit: str, symbol: str = "$") -> str:
    """A signed amount for bridges and changes: ``+$1.9M``, ``-$3.1M``, ``+17``, ``+1.2 pts``."""
    if _missing(value):
        return NA
    if unit in ("pct", "return"):
        return f"{value * 100:+.1f} pts"
    text = format_value(abs(value), unit, symbol)
    return ("-" if value < 0 else "+") + text


def format_month(d: date, style: str = "medium") -> str:
    """A month: ``Jan`` (short), ``Jan 2024`` (medium) or ``January 2024`` (long)."""
    return d.strftime({"short": "%b", "medium": "%b %Y", "long": "%B %Y"}[style])


def format_ticks(values: list[float], unit: str, symbol: str = "$") -> list[str]:
    """Axis tick labels: one scale and the fewest decimals that keep neighbours distinct.

    ``[0, 5e8, 1e9]`` → ``$0``, ``$0.5bn``, ``$1.0bn``; ``[0.02, 0.04]`` (pct) → ``2%``, ``4%``.
    Returns are not signed on axes (the zero line shows the sign).
    """
    vals = [float(v) for v in values if not _missing(v)]
    if not vals:
        return [NA for _ in values]
    finite = sorted(set(vals))
    steps = [b - a for a, b in zip(finite, finite[1:], strict=False) if b - a > 0]
    step = min(steps) if steps else (abs(finite[0]) or 1.0)
    top = max(abs(v) for v in vals)
    if unit in ("pct", "return"):
        scale, prefix, suffix = 0.01, "", "%"
    elif unit == "currency":
        scale, suffix = next(
            ((s, x) for s, x in ((1e9, "bn"), (1e6, "M"), (1e3, "K")) if top >= s), (1.0, "")
        )
        prefix = symbol
    elif unit == "count" and top >= 1e4:
        scale, prefix, suffix = (1e6, "", "M") if top >= 1e6 else (1e3, "", "K")
    else:
        scale, prefix, suffix = 1.0, "", ""
    decimals = max(0, -math.floor(math.log10(step / scale) + 1e-9)) if step / scale < 1 else 0
    decimals = min(decimals, 4)
    out = []
    for v in values:
        if _missing(v):
            out.append(NA)
            continue
        x = float(v) / scale
        text = f"{abs(x):,.{decimals}f}"
        if float(text.replace(",", "")) == 0:
            out.append(f"{prefix}0" + ("%" if suffix == "%" else ""))
            continue
        out.append(f"{'-' if x < 0 else ''}{prefix}{text}{suffix}")
    return out


def format_date(d: date, style: str = "long") -> str:
    """A day: ``31 December 2024`` (long), ``31 Dec 2024`` (medium), ``2024-12-31`` (iso)."""
    if style == "iso":
        return d.isoformat()
    return f"{d.day} {d.strftime('%B %Y' if style == 'long' else '%b %Y')}"
