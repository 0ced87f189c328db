"""Shortcuts of the main scans give the same findings as checking every row.

- Foreign keys: only the first row of each run of equal keys is looked up in the parent table;
  when one has no parent, the orphans are counted exactly. Orphans inside a run, a run that
  starts on a malformed row, a shuffled file and a file scanned in parallel record ranges must
  all give the orphans worked out by hand below.
- Balances: only a position's first and last rows and flagged rows go through the join with the
  enrollments; letting every row through must give the same findings.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import finrep.validate as validate_module
from finrep.validate import validate

HEADER = "engagement_id,customer_id,date,action_type,device_type,session_duration,pages_viewed,actions_taken"


def _engagement(folder: Path, lines: list[str]) -> Path:
    (folder / "engagement.csv").write_text("\n".join([HEADER, *lines]) + "\n")
    return folder


def _row(eid: str, customer: str) -> str:
    return f"{eid},{customer},2024-03-01,Login,Desktop,2,1,0"


# C009 is no customer of the base (C001…C003). Records: header = 1, so G001 is row 2.
RUNS = [
    _row("G001", "C001"),
    _row("G002", "C009"),  # row 3: first of a run of three orphans
    _row("G003", "C009"),  # row 4: inside the run
    _row("G004", "C009"),  # row 5
    _row("G005", "C003"),
    _row("G006", "C009"),  # row 7: a run of one
    _row("G007", "C003"),
]


def _orphans(findings) -> list[tuple[int | None, str | None]]:
    return [(f.row, f.value) for f in findings if f.rule == "orphan-key"]


def test_orphans_inside_runs_are_all_listed(case_data):
    data = _engagement(case_data(None), RUNS)
    assert _orphans(validate(data)) == [(3, "C009"), (4, "C009"), (5, "C009"), (7, "C009")]


def test_orphans_in_parallel_ranges(case_data, monkeypatch):
    data = _engagement(case_data(None), RUNS)
    monkeypatch.setattr(validate_module, "_SPLIT_ROWS", 2)
    monkeypatch.setattr(validate_module._Run, "threads", lambda self: 3)
    # Cuts at rows 2, 4 and 6: the run of three spans a cut.
    assert _orphans(validate(data)) == [(3, "C009"), (4, "C009"), (5, "C009"), (7, "C009")]


def test_orphans_listed_are_capped_with_a_count(case_data, monkeypatch):
    lines = [_row("G001", "C001")] + [_row(f"G{i:03d}", "C009") for i in range(2, 40)]
    data = _engagement(case_data(None), lines)
    findings = [f for f in validate(data) if f.rule == "orphan-key"]
    limit = 20  # validate.max_rows_per_rule of the packaged config
    assert [f.row for f in findings[:limit]] == list(range(3, 3 + limit))
    # 38 orphans (G002…G039), 20 listed.
    assert findings[limit].message.endswith("+18 more") and findings[limit].row is None
    assert len(findings) == limit + 1


def test_run_starting_on_a_malformed_row(case_data):
    """The run's first row is malformed (not itself an orphan finding); the next row, same key,
    is an orphan all the same."""
    lines = [
        _row("G001", "C001"),
        "G002,C009,2024-03-01,Login",  # row 3: too few fields
        _row("G003", "C009"),  # row 4: orphan
        _row("G004", "C001"),
    ]
    data = _engagement(case_data(None), lines)
    got = [(f.rule, f.row) for f in validate(data) if f.rule in ("orphan-key", "malformed-row")]
    assert got == [("malformed-row", 3), ("orphan-key", 4)]


def test_shuffled_file_finds_the_same_orphans(case_data):
    """The same rows in another order (runs broken up): the same orphans, by engagement id."""
    order = [6, 0, 3, 5, 1, 4, 2]
    data = _engagement(case_data(None), [RUNS[i] for i in order])
    ids = {i + 2: RUNS[j].split(",")[0] for i, j in enumerate(order)}  # record → engagement id
    got = sorted(ids[row] for row, _ in _orphans(validate(data)))
    assert got == ["G002", "G003", "G004", "G006"]


@pytest.mark.parametrize(
    "case",
    ["identity_broken", "month_gap", "after_close", "unsorted_balances", "orphan_keys",
     "malformed_rows", "reenrolled_missing_money", "negative_balance", "status_contradiction"],
)  # fmt: skip
def test_balance_join_on_every_row_finds_the_same(case, case_data, monkeypatch):
    data = case_data(case)
    filtered = validate(data)
    original = validate_module._Balances.sql
    screens: list[tuple[str, ...]] = []

    def spy(self, exact, **kwargs):
        screens.append(kwargs.get("screen", ()))
        return original(self, exact, **kwargs)

    # No screen: every balance row goes on to the join with the positions.
    monkeypatch.setattr(validate_module._Balances, "SCREEN", ())
    monkeypatch.setattr(validate_module._Balances, "SORTED_SCREEN", ())
    monkeypatch.setattr(validate_module._Balances, "sql", spy)
    assert validate(data) == filtered
    assert screens and not any(screens)
