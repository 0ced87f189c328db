"""Balance checks give the same findings whatever the row order of account_balances.

finrep writes each position's rows together (position-major), and validate then checks
consecutive rows in file order (one scan); a file in any other order (here month-major, as
exports by month often are) is checked by sorting each position's rows. Both must find the same
problems on the same records: findings are compared by the balance_id of their row, since the
record numbers differ between the two files. The expected problems are injected by hand.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

import finrep.validate as validate_module
from finrep.synth import generate
from finrep.validate import validate


@pytest.fixture(scope="module")
def position_major(tmp_path_factory) -> Path:
    """Generated CSV data with injected balance problems, in the generator's order."""
    out = tmp_path_factory.mktemp("pos_major")
    generate(out, customers=120, start="2023-01", end="2024-12", seed=5, format="csv")
    path = out / "account_balances.csv"
    b = pd.read_csv(path, dtype=str, keep_default_na=False)
    pair = b["customer_id"] + "/" + b["product_id"]
    runs = b.groupby(pair, sort=False).indices  # position → its row positions, in file order
    long = [rows for rows in runs.values() if len(rows) >= 6]
    assert len(long) >= 3
    # 1. identity broken on a position's last row (only that row breaks): +10.00.
    last = long[0][-1]
    b.loc[last, "balance"] = f"{float(b.loc[last, 'balance']) + 10:.2f}"
    # 2. a month missing inside a position: the row after the removed one shows the gap.
    gone = long[1][2]
    # 3. a negative balance on a position's last row (value rule, and the identity breaks).
    neg = long[2][-1]
    b.loc[neg, "balance"] = "-5.00"
    b = b.drop(index=gone)
    b.to_csv(path, index=False)
    expected = {
        "identity": b.loc[last, "balance_id"],
        "gap": b.loc[long[1][3], "balance_id"],
        "negative": b.loc[neg, "balance_id"],
    }
    (out / "expected.txt").write_text(repr(expected))
    return out


@pytest.fixture(scope="module")
def month_major(position_major, tmp_path_factory) -> Path:
    """The same files, balance rows sorted by date, then customer and product."""
    out = tmp_path_factory.mktemp("month_major") / "data"
    shutil.copytree(position_major, out)
    path = out / "account_balances.csv"
    b = pd.read_csv(path, dtype=str, keep_default_na=False)
    b = b.sort_values(["date", "customer_id", "product_id"], kind="stable")
    b.to_csv(path, index=False)
    return out


def _paths_taken(monkeypatch) -> list[bool]:
    """Record `exact` of every balance SQL built (True: positions sorted; False: file order)."""
    taken: list[bool] = []
    original = validate_module._Balances.sql

    def spy(self, exact, **kwargs):
        taken.append(exact)
        return original(self, exact, **kwargs)

    monkeypatch.setattr(validate_module._Balances, "sql", spy)
    return taken


def _by_balance_id(folder: Path, findings) -> Counter:
    ids = pd.read_csv(folder / "account_balances.csv", dtype=str, keep_default_na=False)
    id_of_row = dict(zip(range(2, len(ids) + 2), ids["balance_id"], strict=True))
    keyed = Counter()
    for f in findings:
        if not f.file.startswith("account_balances."):
            continue
        key = id_of_row[f.row] if f.row is not None else f.message
        keyed[(f.rule, f.severity, f.column, f.value, key)] += 1
    return keyed


def _expected(folder: Path) -> dict[str, str]:
    import ast

    return ast.literal_eval((folder / "expected.txt").read_text())


def _value(folder: Path, balance_id: str, column: str = "balance") -> str:
    b = pd.read_csv(folder / "account_balances.csv", dtype=str, keep_default_na=False)
    return b.loc[b["balance_id"] == balance_id, column].item()


def test_position_major_file_is_checked_in_file_order(position_major, monkeypatch):
    taken = _paths_taken(monkeypatch)
    findings = validate(position_major)
    assert taken and not any(taken)  # never sorted
    ids = _expected(position_major)
    assert _by_balance_id(position_major, findings) == Counter(
        {
            ("balance-identity", "warning", "balance", _value(position_major, ids["identity"]),
             ids["identity"]): 1,
            ("month-gap", "warning", "date", _value(position_major, ids["gap"], "date"),
             ids["gap"]): 1,
            ("out-of-range", "warning", "balance", "-5.00", ids["negative"]): 1,
            ("balance-identity", "warning", "balance", "-5.00", ids["negative"]): 1,
        }
    )  # fmt: skip


def test_month_major_file_gives_the_same_findings(position_major, month_major, monkeypatch):
    expected = _by_balance_id(position_major, validate(position_major))
    taken = _paths_taken(monkeypatch)
    got = _by_balance_id(month_major, validate(month_major))
    assert any(taken)  # positions were sorted
    assert got == expected and len(expected) == 4


def test_month_major_parquet_gives_the_same_findings(position_major, month_major, tmp_path):
    import duckdb

    expected = _by_balance_id(position_major, validate(position_major))
    out = tmp_path / "pq"
    shutil.copytree(month_major, out)
    csv = out / "account_balances.csv"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * FROM read_csv('{csv}', header=true, all_varchar=true)) TO "
        f"'{out / 'account_balances.parquet'}' (FORMAT parquet)"
    )
    con.close()
    csv.unlink()
    # Parquet records are numbered as in the CSV: the month-major CSV maps rows to ids.
    assert _by_balance_id(month_major, validate(out)) == expected
