"""The monthly median session duration, read off (month, duration) counts: ties, odd and even
counts, a single value and null durations, against medians worked out by hand."""

from __future__ import annotations

from datetime import date

import ibis
import pytest

from finrep.engine import execute
from finrep.measures.digital import _median_from_counts

ROWS = [
    # January: 1 1 1 5 → middle pair (1, 1) → 1
    *[(date(2024, 1, 1), v) for v in (1.0, 1.0, 5.0, 1.0)],
    # February: 1 2 2 9 → middle pair (2, 2) → 2
    *[(date(2024, 2, 1), v) for v in (9.0, 2.0, 1.0, 2.0)],
    # March: 3 alone → 3
    (date(2024, 3, 1), 3.0),
    # April: 2 4 → (2 + 4) / 2 = 3; the null is not a duration
    (date(2024, 4, 1), 4.0),
    (date(2024, 4, 1), 2.0),
    (date(2024, 4, 1), None),
    # May: 0.5 0.7 0.7 0.9 1.5 → middle row 0.7
    *[(date(2024, 5, 1), v) for v in (1.5, 0.7, 0.9, 0.5, 0.7)],
]
EXPECTED = {1: 1.0, 2: 2.0, 3: 3.0, 4: 3.0, 5: 0.7}


def test_monthly_median_from_counts():
    t = ibis.memtable(
        {"month": [r[0] for r in ROWS], "session_duration": [r[1] for r in ROWS]},
        schema={"month": "date", "session_duration": "float64"},
    )
    counts = t.group_by(["month", "session_duration"]).aggregate(n=t.count())
    frame = execute(_median_from_counts(counts))
    got = {m.month: v for m, v in zip(frame["month"], frame["median"], strict=True)}
    assert got == pytest.approx(EXPECTED)
