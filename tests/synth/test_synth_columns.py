"""The byte-level formatting helpers the writers rely on, against hand-written expectations."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from finrep.synth.columns import (
    Codes,
    Scaled,
    Serial,
    csv_lines,
    decimal_text,
    digits,
    iso_dates,
    make_ids,
)


def test_digits_are_zero_padded():
    got = digits(np.array([0, 7, 42, 9999, 10000, 123456789]), 9)
    assert [bytes(r).decode() for r in got] == [
        "000000000", "000000007", "000000042", "000009999", "000010000", "123456789",
    ]  # fmt: skip
    assert [bytes(r).decode() for r in digits(np.array([5, 12]), 2)] == ["05", "12"]


def test_ids_and_serial_ids():
    assert make_ids("CUS", np.array([1, 1000000]), 7).to_pylist() == ["CUS0000001", "CUS1000000"]
    # Consecutive ids across a block of 10,000 (the template path) and a short width.
    assert Serial("BAL", 8, 4, first=9997).to_arrow().to_pylist() == [
        "BAL00009998", "BAL00009999", "BAL00010000", "BAL00010001",
    ]  # fmt: skip
    assert Serial("X", 3, 2, first=0).to_arrow().to_pylist() == ["X001", "X002"]
    assert Serial("ENG", 7, 0, first=5).to_arrow().to_pylist() == []


def test_decimal_text_has_exact_decimals_signs_and_blanks():
    values = np.array([0, 5, -5, 100, -123456, 1234567890123, 7])
    valid = np.array([True, True, True, True, True, True, False])
    assert decimal_text(values, 2, valid).to_pylist() == [
        "0.00", "0.05", "-0.05", "1.00", "-1234.56", "12345678901.23", None,
    ]  # fmt: skip
    assert decimal_text(np.array([35, -7, 0]), 1).to_pylist() == ["3.5", "-0.7", "0.0"]
    assert decimal_text(np.array([35, -7, 0]), 0).to_pylist() == ["35", "-7", "0"]


def test_scaled_to_arrow_is_the_decimal_value():
    arrow = Scaled(np.array([12345, -1, 0]), 2, valid=np.array([True, True, False])).to_arrow()
    assert arrow.type == pa.float64()
    assert arrow.to_pylist() == [123.45, -0.01, None]


def test_iso_dates():
    days = np.array([0, 19723, -1, 19723])  # 1970-01-01, 2024-01-01, 1969-12-31
    assert iso_dates(days).to_pylist() == ["1970-01-01", "2024-01-01", "1969-12-31", "2024-01-01"]


def test_codes_blank_and_csv_quoting():
    codes = Codes(np.array([0, 1, -1, 2]), ("plain", 'say "hi"', "a, b"))
    assert codes.to_arrow().to_pylist() == ["plain", 'say "hi"', None, "a, b"]
    assert codes.to_text().to_pylist() == ["plain", '"say ""hi"""', None, '"a, b"']


def test_csv_lines_joins_columns_with_blanks_for_nulls():
    body = csv_lines([pa.array(["a", "b"]), pa.array([None, "2"]), pa.array(["x", None])])
    assert body.to_pybytes() == b"a,,x\nb,2,\n"
