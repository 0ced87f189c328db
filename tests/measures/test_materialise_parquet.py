"""`materialise` on DuckDB keeps the rows in a Parquet file of the engine's private temporary
folder, read through a temporary view: not as a temporary table, which DuckDB keeps
uncompressed in its working memory. Rows and ibis types come back as they went in;
`drop_materialised` removes the views and their files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import ibis

from finrep.engine import connect, create_view, fetch, scratch_path
from finrep.measures.context import drop_materialised, materialise

SOURCE = (
    "SELECT * FROM (VALUES "
    "(1, 'a', DATE '2024-01-31', 1.5::DOUBLE, true), "
    "(2, NULL, NULL, -0.25::DOUBLE, false), "
    "(3, 'ccccccccccccccccccccc', DATE '2023-12-01', NULL, NULL)"
    ") t(n, s, d, x, b)"
)
ROWS = [
    (1, "a", date(2024, 1, 31), 1.5, True, 2),
    (2, None, None, -0.25, False, 4),
    (3, "ccccccccccccccccccccc", date(2023, 12, 1), None, None, 6),
]


def _expr(con):
    t = create_view(con, "source_rows", SOURCE)
    # An int32 computed column and a typed null: both must come back with their ibis types.
    return t.mutate(n2=(t.n * 2).cast("int32"), nothing=ibis.null("date"))


def test_rows_and_types_come_back():
    con = connect()
    expr = _expr(con)
    stored = materialise(con, expr)
    assert stored.schema() == expr.schema()
    name = stored.get_name()
    got = fetch(con, f"SELECT n, s, d, x, b, n2 FROM {name} ORDER BY n")
    assert got == ROWS
    assert fetch(con, f"SELECT count(nothing) FROM {name}") == [(0,)]


def test_stored_on_disk_not_in_engine_memory():
    con = connect()
    stored = materialise(con, _expr(con))
    name = stored.get_name()
    assert fetch(con, "SELECT count(*) FROM duckdb_tables() WHERE temporary") == [(0,)]
    views = fetch(con, f"SELECT count(*) FROM duckdb_views() WHERE view_name = '{name}'")
    assert views == [(1,)]
    path = scratch_path(f"{name}.parquet")
    assert path.is_file() and path.stat().st_size > 0
    # The file is the rows: read on its own, without the view.
    assert fetch(con, f"SELECT sum(n) FROM read_parquet('{path}')") == [(6,)]


def test_drop_removes_views_and_files():
    con = connect()
    first, second = materialise(con, _expr(con)), materialise(con, _expr(con))
    paths = [Path(scratch_path(f"{t.get_name()}.parquet")) for t in (first, second)]
    assert all(p.is_file() for p in paths)
    drop_materialised(con)
    assert not any(p.exists() for p in paths)
    left = fetch(
        con, "SELECT count(*) FROM duckdb_views() WHERE starts_with(view_name, '_finrep_m')"
    )
    assert left == [(0,)]
