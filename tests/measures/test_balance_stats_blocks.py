"""`balance_stats` finds positions with several balance rows in one month by a bit mask of
months per block. Whatever the block size (one block, or many), the answer is the same; the
fixture's two such positions are known by hand: C1/P1 (two rows in February 2024) and C3/P3
(two in March 2024)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

import finrep.measures.context as context
from finrep.config import load_config
from finrep.engine import connect, execute
from finrep.filters import Filters
from finrep.measures.context import MeasureContext
from finrep.sources import load_tables

DATA = Path(__file__).parents[1] / "fixtures" / "measures_tiny"
SEVERAL = {("C1", "P1"), ("C3", "P3")}


# The fixture spans 14 months (2023-03 to 2024-04): 62 gives one block; 5 and 2 give several
# blocks, with the repeated months falling inside later blocks.
@pytest.mark.parametrize("size", [62, 31, 5, 2])
def test_several_rows_per_month_for_any_block_size(monkeypatch, size):
    monkeypatch.setattr(context, "_block_months", lambda con: size)
    tables = load_tables(connect(), DATA)
    ctx = MeasureContext(tables, Filters(), load_config(), date(2024, 4, 30))
    stats = execute(ctx.balance_stats)
    several = {(r.customer_id, r.product_id) for r in stats.itertuples() if r.several_rows}
    assert several == SEVERAL
    last = stats.set_index(["customer_id", "product_id"])["last_balance_date"]
    assert last.loc[("C3", "P1")].date() == date(2024, 2, 15)
    # The snapshot months of the pack: April 2024 and April 2023 (no rows then: null).
    end = stats.set_index(["customer_id", "product_id"])["balance_end"]
    assert end.loc[("C3", "P1")] != end.loc[("C3", "P1")]  # closed in February: null
    assert end.loc[("C1", "P1")] == 1068  # its one row of April 2024
    assert end.loc[("C5", "P3")] == 1400
