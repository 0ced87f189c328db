"""`engine.joins_as_written`: inside the block DuckDB hashes each join's right side as written
and may reorder rows between operators, yet a window over the scan order (``lag(x) OVER ()``,
which validation's file-order checks rely on) still sees the file's order; after the block,
even one left by an error, DuckDB's defaults are back."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finrep.engine import connect, fetch, joins_as_written, sql_text


def _settings(con) -> tuple:
    return fetch(
        con,
        "SELECT current_setting('preserve_insertion_order'), "
        "current_setting('disabled_optimizers')",
    )[0]


def test_settings_come_back_after_the_block_even_on_error():
    con = connect()
    before = _settings(con)
    assert before[0] is True
    with pytest.raises(RuntimeError), joins_as_written(con):
        assert _settings(con) == (False, "build_side_probe_side")
        raise RuntimeError("a failing query")
    assert _settings(con) == before


def test_lag_over_file_order_is_exact_in_a_union_probing_a_join(tmp_path):
    # 400,000 random values in 40 row groups; two record ranges, each with its previous-row
    # window, put together by a union that probes a join, the shape of validation's scans.
    rng = np.random.default_rng(7)
    x = rng.integers(0, 1_000_000, 400_000)
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"x": x}), path, row_group_size=10_000)
    # Expected, from numpy: rows whose value is below the previous row's.
    expected = int((x[1:] < x[:-1]).sum())

    con = connect()
    src = f"SELECT x, file_row_number AS r FROM read_parquet({sql_text(str(path))}, file_row_number = true)"
    ranges = [(0, 200_000), (200_000, 400_000)]
    union = " UNION ALL ".join(
        f"SELECT * FROM (SELECT r, x < lag(x) OVER () AS down FROM ({src}) "
        f"WHERE r >= {max(lo - 1, 0)} AND r < {hi}) WHERE r >= {lo}"
        for lo, hi in ranges
    )
    fetch(con, "CREATE TEMP TABLE small AS SELECT range AS k FROM range(0, 400000, 1000)")
    sql = (
        "SELECT count(*) FILTER (WHERE down), count(*) FILTER (WHERE small.k IS NOT NULL) "
        f"FROM ({union}) u LEFT JOIN small ON u.r = small.k"
    )
    with joins_as_written(con):
        down, matched = fetch(con, sql)[0]
    assert down == expected
    assert matched == 400
