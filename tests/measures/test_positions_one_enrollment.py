"""When every (customer, product) pair is enrolled once, positions are read straight off the
enrollments (no grouping). Expected rows worked out by hand from the measures_tiny fixture;
the grouped path (taken when some pair repeats) must give the same table."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from finrep.config import load_config
from finrep.engine import connect, execute
from finrep.filters import Filters
from finrep.measures.context import MeasureContext
from finrep.sources import load_tables

DATA = Path(__file__).parents[1] / "fixtures" / "measures_tiny"

# (customer, product): open_date, close_date, channel, advisor, category, initial investment.
# C2/P1 closes on its unrecovered churn (2024-03-20); C3/P1 is Closed without a churn, so on
# its last balance row (2024-02-15); C5/P3's churn was recovered, so it stays open.
EXPECTED = {
    ("C1", "P1"): ("2024-01-10", None, "Web", "A1", "ETF", 1000.0),
    ("C1", "P2"): ("2024-01-10", None, "In-person", "A1", "Bond Fund", 500.0),
    ("C2", "P1"): ("2024-01-05", "2024-03-20", "Mobile App", "A2", "ETF", 2000.0),
    ("C3", "P3"): ("2024-01-20", None, "Phone", "A2", "Savings Account", 3000.0),
    ("C4", "P2"): ("2024-03-15", None, "Web", "A2", "Bond Fund", 800.0),
    ("C5", "P3"): ("2024-01-15", None, "Phone", "A1", "Savings Account", 1500.0),
    ("C6", "P2"): ("2023-03-01", None, "Phone", "A2", "Bond Fund", 10000.0),
    ("C3", "P1"): ("2024-01-20", "2024-02-15", "Web", "A2", "ETF", 100.0),
}


def _ctx() -> MeasureContext:
    tables = load_tables(connect(), DATA)
    return MeasureContext(tables, Filters(), load_config(), date(2024, 4, 30))


def _positions(ctx: MeasureContext) -> pd.DataFrame:
    frame = execute(ctx.positions).sort_values(["customer_id", "product_id"])
    return frame.reset_index(drop=True)


def _day(value) -> str | None:
    return None if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def test_positions_of_single_enrollments_by_hand():
    ctx = _ctx()
    assert ctx._one_enrollment_per_pair
    frame = _positions(ctx)
    got = {
        (r.customer_id, r.product_id): (
            _day(r.open_date),
            _day(r.close_date),
            r.channel,
            r.advisor_id,
            r.category,
            float(r.initial_investment),
        )
        for r in frame.itertuples()
    }
    assert got == EXPECTED


def _grouped_ctx() -> MeasureContext:
    """A context forced onto the grouping path (as when some pair repeats)."""
    ctx = _ctx()
    ctx.__dict__["_stored_positions"] = (ctx._positions_grouped(), False)
    assert not ctx._one_enrollment_per_pair
    return ctx


def test_grouped_path_gives_the_same_positions():
    fast = _positions(_ctx())
    grouped = _positions(_grouped_ctx())
    assert list(fast.columns) == list(grouped.columns)
    pd.testing.assert_frame_equal(fast, grouped, check_dtype=False)


# The fixture's enrollments as `enrollments` gives them (contribution plan left out, product
# attributes joined): enrollment_id, customer, product, date, investment, advisor, channel,
# status, category.
ENROLLMENTS = {
    "E1": ("C1", "P1", "2024-01-10", 1000.0, "A1", "Web", "Active", "ETF"),
    "E2": ("C1", "P2", "2024-01-10", 500.0, "A1", "In-person", "Active", "Bond Fund"),
    "E3": ("C2", "P1", "2024-01-05", 2000.0, "A2", "Mobile App", "Active", "ETF"),
    "E4": ("C3", "P3", "2024-01-20", 3000.0, "A2", "Phone", "Active", "Savings Account"),
}


def _enrollments(ctx: MeasureContext) -> pd.DataFrame:
    return execute(ctx.enrollments).sort_values("enrollment_id").reset_index(drop=True)


def test_enrollments_read_from_the_positions_file_are_the_enrollments():
    """With one enrollment per pair the enrollments come from the positions' stored file
    (their own columns under a prefix): the same columns, names and values as when they are
    stored on their own."""
    ctx = _ctx()
    fast = _enrollments(ctx)
    assert not [c for c in fast.columns if c.startswith("_enrollment_")]
    assert list(fast.columns) == [
        "enrollment_id", "customer_id", "product_id", "enrollment_date", "initial_investment",
        "advisor_id", "channel", "status", "product_name", "category", "risk_level",
    ]  # fmt: skip
    assert len(fast) == len(EXPECTED)  # one enrollment per position
    assert set(ENROLLMENTS) <= set(fast["enrollment_id"])
    for r in fast.itertuples():
        if r.enrollment_id in ENROLLMENTS:
            got = (r.customer_id, r.product_id, _day(r.enrollment_date),
                   float(r.initial_investment), r.advisor_id, r.channel, r.status, r.category)  # fmt: skip
            assert got == ENROLLMENTS[r.enrollment_id]
    grouped = _enrollments(_grouped_ctx())
    pd.testing.assert_frame_equal(fast, grouped, check_dtype=False)
