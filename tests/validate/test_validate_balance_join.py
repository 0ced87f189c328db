"""The balance scan's shortcuts give the same findings as the long way.

On typed Parquet balances, validate screens the rows with one NaN test over the sum of the five
money columns, and looks each position's first and last rows up by the hash of (customer,
product) alone when no two positions share a hash. Here a NaN, an orphan pair and a balance
dated before its enrollment are injected by hand; the findings must name those records, and be
the same when the positions are looked up by their texts too.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import finrep.validate as validate_module
from finrep.synth import generate
from finrep.validate import validate


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, set[tuple[str, int, str]]]:
    out = tmp_path_factory.mktemp("balance_join")
    generate(out, customers=40, start="2024-01", end="2024-12", seed=11, format="parquet")
    path = out / "account_balances.parquet"
    b = pd.read_parquet(path)
    enrolled = set(zip(*pd.read_parquet(out / "enrollments.parquet")[
        ["customer_id", "product_id"]].values.T, strict=True))  # fmt: skip
    products = sorted(pd.read_parquet(out / "products.parquet")["product_id"])
    # Rows are position-major; pick three positions with several rows each.
    pair = b["customer_id"] + "/" + b["product_id"]
    runs = [rows for rows in b.groupby(pair, sort=False).indices.values() if len(rows) >= 3]
    nan_row, orphan_rows, early_row = runs[0][1], runs[1], runs[2][0]
    b.loc[nan_row, "contributions_mtd"] = float("nan")
    # A whole position moved to a product its customer never enrolled in: an orphan pair.
    customer = b.loc[orphan_rows[0], "customer_id"]
    stray = next(p for p in products if (customer, p) not in enrolled)
    b.loc[orphan_rows, "product_id"] = stray
    # The position's first balance a year before its enrollment.
    b.loc[early_row, "date"] = b.loc[early_row, "date"] - pd.DateOffset(years=1)
    b.to_parquet(path, index=False)
    # Parquet records are numbered as a CSV's would be (header = 1): row i is record i + 2.
    money, pair_cols, date = "contributions_mtd", "customer_id, product_id", "date"
    expected = {
        ("missing-value", int(nan_row) + 2, money),
        *(("orphan-key", int(r) + 2, pair_cols) for r in orphan_rows),
        ("balance-before-open", int(early_row) + 2, date),
        # Its next row is now a year after it: a month gap is reported there too.
        ("month-gap", int(early_row) + 3, date),
    }
    return out, expected


def _keyed(findings) -> set[tuple[str, int | None, str | None]]:
    """(rule, record, column) of each finding."""
    return {(f.rule, f.row, f.column) for f in findings}


def test_injected_problems_are_found_on_their_records(data):
    folder, expected = data
    findings = validate(folder)
    assert _keyed(findings) == expected
    assert len(findings) == len(expected)  # each listed once (the NaN not once per column)


def test_lookup_by_texts_gives_the_same_findings(data, monkeypatch):
    folder, _ = data
    by_hash = validate(folder)
    original = validate_module._Balances.__init__

    def by_texts(self, *args, **kwargs):
        original(self, *args, **kwargs)
        assert self.by_hash  # the shortcut was on: no two positions share a hash here
        self.by_hash = False

    monkeypatch.setattr(validate_module._Balances, "__init__", by_texts)
    assert validate(folder) == by_hash


def test_positions_file_is_used_and_removed(data, monkeypatch):
    """The positions are kept in a Parquet file during the run, and the file is gone after."""
    folder, expected = data
    original = validate_module._Run.parquet_table
    made = []

    def spy(self, *args, **kwargs):
        name = original(self, *args, **kwargs)
        made.append(self.files[-1])
        assert made[-1].is_file()
        return name

    monkeypatch.setattr(validate_module._Run, "parquet_table", spy)
    assert _keyed(validate(folder)) == expected
    assert made and not any(path.exists() for path in made)
