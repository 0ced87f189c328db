"""Workbook styles: Excel number formats that print exactly what `render/formats.py` prints,
and a cache of xlsxwriter formats built from the config's theme.

`excel_number_format(unit, value)` picks, for one value, the format whose display equals
`format_value(value, unit)` (the PDF's text): a currency amount of 243,012,345.67 gets
``"$"0.0,,"M"`` and shows ``$243.0M``; a negative one shows ``-$243.0M`` because a
one-section format puts Excel's minus sign in front of the currency literal. The scale tier
is chosen per value (like `format_currency`) because a conditional Excel format has room for
only two conditions, and `format_currency` has four tiers. Values stay raw numbers, so
formulas and pivot tables see the exact amounts.

Rounding: Excel rounds halves away from zero on the decimal value, Python rounds the binary
value to nearest-even, so a value exactly on a half (12.25 to one decimal) can differ by one
in the last digit. Measures are not on such boundaries in practice.
"""

from __future__ import annotations

import math
from typing import Any

from finrep.config import Config

# Colours beyond the config's theme, matching the PDF's card and text colours.
INK = "#1F2937"
MUTED = "#6B7280"
PANEL = "#F4F6F9"
BORDER = "#DDE1E7"
LOW = "#F7FBFF"  # light end of the colour scales


def _literal(text: str) -> str:
    """Text as a quoted literal inside an Excel number format."""
    return '"' + text.replace('"', "") + '"' if text else ""


def _currency_tier(value: float | None) -> str:
    v = abs(value) if value is not None and math.isfinite(value) else 0.0
    if v >= 1e9:
        return "bn"
    if v >= 1e6:
        return "M"
    if v >= 1e4:
        return "K"
    return ""


def excel_number_format(unit: str, value: float | None = None, symbol: str = "$") -> str:
    """The Excel number format that shows `value` as `format_value(value, unit, symbol)`.

    Currency depends on the value's magnitude (see the module docstring); every other unit
    has one format. Dates show ISO ``yyyy-mm-dd``; ``text`` is Excel's text format ``@``.
    """
    sym = _literal(symbol)
    match unit:
        case "currency":
            tier = _currency_tier(value)
            if tier == "bn":
                return f'{sym}0.00,,,"bn"'
            if tier == "M":
                return f'{sym}0.0,,"M"'
            if tier == "K":
                return f'{sym}0.0,"K"'
            return f"{sym}#,##0"
        case "pct":
            return "0.0%"
        case "return":
            return "+0.00%;-0.00%;+0.00%"
        case "count":
            return "#,##0"
        case "ratio" | "number":
            return "#,##0.00"
        case "minutes":
            return '#,##0.0" min"'
        case "months":
            return '#,##0.0" mo"'
        case "score":
            return "0.00"
        case "date":
            return "yyyy-mm-dd"
        case "text":
            return "@"
        case _:
            return "#,##0.00"


def axis_number_format(unit: str, values: list[float], symbol: str = "$") -> str:
    """A format for a chart axis or data labels over `values` (scale from the largest)."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    top = max(finite) if finite else 0.0
    sym = _literal(symbol)
    match unit:
        case "currency":
            tier = _currency_tier(top)
            if tier == "bn":
                return f'{sym}0.0,,,"bn"'
            if tier == "M":
                return f'{sym}0,,"M"' if top >= 1e7 else f'{sym}0.0,,"M"'
            if tier == "K":
                return f'{sym}0,"K"'
            return f"{sym}#,##0"
        case "pct":
            return "0%"
        case "return":
            return "+0.0%;-0.0%;0%"
        case "count":
            return "#,##0"
        case "minutes" | "months" | "score" | "ratio":
            return "#,##0.0"
        case "date":
            return "mmm yy"
        case _:
            return "General"


class Styles:
    """xlsxwriter formats, made once per distinct property set (a workbook holds few)."""

    def __init__(self, workbook: Any, config: Config) -> None:
        self._wb = workbook
        self._cache: dict[tuple, Any] = {}
        t = config.theme
        self.symbol = config.company.currency_symbol
        self.font = t.font
        self.palette = tuple(t.palette)
        self.primary = t.primary
        self.accent = t.accent
        self.positive = t.positive
        self.negative = t.negative
        self.neutral = t.neutral
        self.grid = t.grid

    def get(self, **props: Any) -> Any:
        merged = {"font_name": self.font, "font_size": 10, "font_color": INK, **props}
        key = tuple(sorted(merged.items()))
        fmt = self._cache.get(key)
        if fmt is None:
            fmt = self._wb.add_format(merged)
            self._cache[key] = fmt
        return fmt

    def number(self, unit: str, value: float | None = None, **props: Any) -> Any:
        return self.get(num_format=excel_number_format(unit, value, self.symbol), **props)

    # Named styles used across sheets.
    def title(self) -> Any:
        return self.get(bold=True, font_size=16, font_color=self.primary)

    def subtitle(self) -> Any:
        return self.get(font_size=10, font_color=MUTED)

    def heading(self) -> Any:
        return self.get(bold=True, font_size=12, font_color=self.primary)

    def caption(self) -> Any:
        return self.get(italic=True, font_size=9, font_color=MUTED)

    def header(self) -> Any:
        return self.get(
            bold=True, font_color="#FFFFFF", bg_color=self.primary, border=1,
            border_color=BORDER, text_wrap=True, valign="vcenter",
        )  # fmt: skip

    def label(self) -> Any:
        return self.get(bold=True)

    def text(self) -> Any:
        return self.get()

    def wrap(self) -> Any:
        return self.get(text_wrap=True, valign="top")

    def link(self) -> Any:
        return self.get(font_color=self.accent, underline=1)

    def change(self, direction: str) -> Any:
        colour = {"good": self.positive, "bad": self.negative}.get(direction, self.neutral)
        return self.get(font_color=colour, bold=True, align="right")

    def narrative(self) -> Any:
        return self.get(text_wrap=True, valign="top", bg_color=PANEL, font_size=11)
