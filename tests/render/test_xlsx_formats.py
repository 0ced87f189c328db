"""Excel number formats show exactly what `render/formats.py` prints (the PDF's text)."""

from __future__ import annotations

import pytest
from xlsx_numfmt import excel_display

from finrep.render import formats
from finrep.render.xlsx_style import axis_number_format, excel_number_format

# Values on both sides of every currency tier, negatives, and small/large magnitudes;
# none sits exactly on a rounding half.
CURRENCY = [0.0, 7.0, 950.0, 9_499.4, 9_999.4, 10_000.0, 12_345.0, 999_949.0, 1_000_000.0,
            243_012_345.67, 999_940_000.0, 1_000_000_000.0, 1_243_000_000.0, 12_345_678_901.0,
            -152_479.0, -1_157_280.5, -3_210.0, -2_500_000_000.0]  # fmt: skip
SHARES = [0.0, 0.0001, 0.1234, 0.72141, 0.9871, 1.0, 1.2346]
RETURNS = [0.0, 0.0089, -0.0043, 0.07124, -0.15, 1.5, -0.00001]
COUNTS = [0, 1, 17, 982, 12_345, 1_234_567]
OTHER = {
    "ratio": [0.0, 1.84, 12.345_6, 1_234.5],
    "number": [61.1, 1_234_567.891, -3.21],
    "minutes": [7.9, 12.6, 1_234.56],
    "months": [38.4, 0.0, 120.04],
    "score": [3.87, 1.0, 4.999],
}


@pytest.mark.parametrize("value", CURRENCY)
@pytest.mark.parametrize("symbol", ["$", "€", "CHF "])
def test_currency_display_equals_format_currency(value, symbol):
    fmt = excel_number_format("currency", value, symbol)
    assert excel_display(fmt, value) == formats.format_value(value, "currency", symbol)


@pytest.mark.parametrize(
    ("unit", "values"),
    [("pct", SHARES), ("return", RETURNS), ("count", COUNTS), *OTHER.items()],
)
def test_other_units_display_equal_format_value(unit, values):
    for value in values:
        fmt = excel_number_format(unit, value)
        assert excel_display(fmt, value) == formats.format_value(value, unit), (unit, value)


def test_scale_tier_follows_the_value():
    assert excel_number_format("currency", 243e6) == '"$"0.0,,"M"'
    assert excel_number_format("currency", 12_345) == '"$"0.0,"K"'
    assert excel_number_format("currency", 950) == '"$"#,##0'
    assert excel_number_format("currency", -2.5e9) == '"$"0.00,,,"bn"'


def test_axis_formats_scale_with_the_largest_value():
    assert excel_display(axis_number_format("currency", [1e6, 250e6]), 200e6) == "$200M"
    assert excel_display(axis_number_format("currency", [1e5, 9e5]), 500_000) == "$500K"
    assert excel_display(axis_number_format("pct", [0.5]), 0.25) == "25%"
