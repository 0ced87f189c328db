"""Query engines. The only module that opens connections and executes queries.

DuckDB (embedded, in process) is the default: it reads the data folder in place, out of core.
Spark is added behind the same `connect` function (see `--engine spark`).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import re
import shutil
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import ibis
import ibis.expr.types as ir
import pandas as pd

from finrep.config import Config
from finrep.errors import ConfigError

T = TypeVar("T")

log = logging.getLogger(__name__)


def connect(config: Config | None = None, engine: str | None = None) -> ibis.BaseBackend:
    """Open an ibis connection for the configured engine."""
    name = engine or (config.engine.name if config else "duckdb")
    if name == "duckdb":
        # Spill files go to a private temporary folder, not `.tmp` in the user's folder; no
        # progress bar of DuckDB's own on stdout (it would break `--format json` output).
        con = ibis.duckdb.connect(temp_directory=str(_spill_dir()))
        con.raw_sql("SET enable_progress_bar = false")
        # Parquet prefetching reads whole row groups of every column ahead into buffers that
        # grow with the file (168 MB for the balances of 1M customers) and compete with the
        # joins and aggregates for the working memory; on local files it gains nothing.
        with contextlib.suppress(duckdb.Error):  # a DuckDB without the setting
            con.raw_sql("SET disable_parquet_prefetching = true")
        limit = config.engine.memory_limit.strip() if config else ""
        if limit:
            limit_memory(con, limit, config.engine.memory_limit_max)
        return con
    if name == "spark":
        # Imported here: pyspark is an optional extra, and DuckDB users never pay for it.
        from finrep.engine_spark import connect_spark

        return connect_spark(config)
    raise ConfigError(f"engine {name!r} is not available (use duckdb or spark)")


# A connection's working memory and how far it may be raised, in bytes (DuckDB connections
# opened by `connect` with a limit; weak, so a closed connection's entry goes with it).
_LIMITS: weakref.WeakKeyDictionary[Any, tuple[int, int]] = weakref.WeakKeyDictionary()

_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}  # fmt: skip


def _memory_size(key: str, text: str) -> int:
    """``"256MB"`` → 256,000,000 bytes (DuckDB's units: KB/MB/GB are powers of 1000); `key`
    names the setting in messages (e.g. ``engine.memory_limit``)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS or float(m.group(1)) <= 0:
        raise ConfigError(
            f'{key} = {text!r} is not a memory size; use e.g. "256MB" or "2GB"'
            + (', or "" for DuckDB\'s default' if key.endswith(".memory_limit") else "")
        )
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def limit_memory(con: ibis.BaseBackend, limit: str, maximum: str, section: str = "engine") -> None:
    """DuckDB connection `con` works within `limit` (e.g. "256MB", the `section`'s
    ``memory_limit``); a query that cannot spill may have up to `maximum` (see
    `within_memory`)."""
    base = _memory_size(f"{section}.memory_limit", limit)
    top = max(base, _memory_size("engine.memory_limit_max", maximum))
    _set_memory_limit(con, base)
    _LIMITS[con] = (base, top)


def _set_memory_limit(con: ibis.BaseBackend, size: int) -> None:
    """DuckDB's working memory (it spills to `_spill_dir` beyond it)."""
    con.raw_sql(f"SET memory_limit = '{size}B'")


_SPILL: list[Path] = []


def _spill_dir() -> Path:
    """This process's folder for DuckDB's spill files, removed at exit."""
    if not _SPILL:
        path = Path(tempfile.mkdtemp(prefix="finrep-duckdb-"))
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        _SPILL.append(path)
    return _SPILL[0]


def scratch_path(name: str) -> Path:
    """`name` in this process's private temporary folder (DuckDB's spill folder; removed,
    with everything in it, at exit)."""
    return _spill_dir() / name


def execute(expr: ibis.Expr, **kwargs: Any) -> pd.DataFrame | Any:
    """Run an ibis expression and return its (small) result as pandas."""
    return within_memory(ibis.get_backend(expr), lambda: expr.execute(**kwargs))


def within_memory(con: ibis.BaseBackend, run: Callable[[], T]) -> T:
    """`run()` (one query on `con`) within the connection's working memory.

    DuckDB spills most operators to disk, but a few (some joins, window partitions) cannot:
    when one runs out of `[engine] memory_limit`, the limit is doubled for this query, up to
    `memory_limit_max`, and set back afterwards. So memory stays at the small limit for
    everything that can spill, and a query that cannot is not a failed report. Beyond the
    maximum (or on a connection without limits) it is a ConfigError naming the settings.
    """
    base, top = _LIMITS.get(con, (0, 0))
    size = base
    try:
        while True:
            try:
                return run()
            except Exception as exc:
                if type(exc).__name__ != "OutOfMemoryException" or size >= top:
                    raise
                # Said once per retry: the run goes on, but a user whose data always needs
                # this learns which setting to raise (and why the process grew).
                grown = min(2 * size, top)
                log.warning(
                    "DuckDB ran out of its working memory (%s) in a query that cannot spill; "
                    "running it again with %s ([engine] memory_limit_max: %s)",
                    _size_text(size), _size_text(grown), _size_text(top),
                )  # fmt: skip
                size = grown
                _set_memory_limit(con, size)
    except Exception as exc:
        if type(exc).__name__ != "OutOfMemoryException":
            raise
        raise _memory_error(exc) from None
    finally:
        if size != base:
            _set_memory_limit(con, base)  # DuckDB evicts (spills) down to it


def _size_text(size: int) -> str:
    """Bytes in the units of the settings (DuckDB's: 1 MB = 1,000,000 bytes)."""
    return f"{size / 1e6:,.0f} MB" if size < 1e9 else f"{size / 1e9:,.1f} GB"


def _memory_error(exc: Exception) -> ConfigError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else "out of memory"
    return ConfigError(
        f"DuckDB ran out of its working memory ({first}); raise [engine] memory_limit "
        'and memory_limit_max in finrep.toml (e.g. "1GB" and "4GB"), or set memory_limit '
        'to "" for DuckDB\'s default of 80% of RAM'
    )


@contextlib.contextmanager
def joins_as_written(con: ibis.BaseBackend):
    """DuckDB, within the block: each hash join hashes its right side as written (no swap by
    estimated sizes, which go wrong after selective filters), and rows need not keep their
    order between operators, so a union on a join's probe side runs its branches in parallel.

    Window functions over the scan order (``lag(x) OVER ()``) stay exact: DuckDB runs such a
    streaming window on one thread per pipeline, in scan order, whatever the setting. Only
    for queries whose result does not depend on row order (aggregates, files read unordered).
    """
    con.raw_sql("SET disabled_optimizers = 'build_side_probe_side'")
    con.raw_sql("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        con.raw_sql("RESET preserve_insertion_order")
        con.raw_sql("RESET disabled_optimizers")


def sql_text(value: str) -> str:
    """`value` as an SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """`name` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def create_view(con: ibis.BaseBackend, name: str, select_sql: str) -> ir.Table:
    """DuckDB: a temporary view `name` over `select_sql` (e.g. a `read_csv(...)` with options ibis
    does not expose), as an ibis table. Nothing is read until a query uses it."""
    con.raw_sql(f'CREATE OR REPLACE TEMP VIEW "{name}" AS {select_sql}')
    return con.table(name)


def parquet_view(con: ibis.BaseBackend, name: str, select_sql: str) -> Path:
    """DuckDB: run `select_sql` once into a Parquet file of this process's private temporary
    folder and make the temporary view `name` over it; returns the file (the caller deletes
    it when done; the folder goes at exit). Unlike a temporary table, whose rows live
    uncompressed in the engine's working memory and so grow it with the data, the file sits
    on disk. A retry with more memory (`within_memory`) writes the file again.

    The file is not compressed: it is read back within seconds, from the page cache, and
    compressing it cost a tenth of the measures' time spent storing tables at a million
    customers (Parquet's own dictionary and run-length encodings still keep it compact)."""
    path = scratch_path(f"{name}.parquet")
    fetch(
        con,
        f"COPY ({select_sql}) TO {sql_text(str(path))} (FORMAT parquet, COMPRESSION uncompressed)",
    )
    create_view(con, name, f"SELECT * FROM read_parquet({sql_text(str(path))})")
    return path


def fetch(con: ibis.BaseBackend, sql: str) -> list[tuple[Any, ...]]:
    """DuckDB: run one SQL query and return its (small) result as tuples."""
    return within_memory(con, lambda: con.raw_sql(sql).fetchall())


def compile_sql(expr: ibis.Expr) -> str:
    """The SQL of an ibis expression in its backend's dialect (to embed in a larger query)."""
    return str(ibis.to_sql(expr))
