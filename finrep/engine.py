"""Query engines. The only module that opens connections and executes queries.

DuckDB (embedded, in process) is the default: it reads the data folder in place, out of core.
Spark is added behind the same `connect` function (see `--engine spark`).
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from finrep.config import Config
from finrep.errors import ConfigError


def connect(config: Config | None = None, engine: str | None = None) -> ibis.BaseBackend:
    """Open an ibis connection for the configured engine."""
    name = engine or (config.engine.name if config else "duckdb")
    if name == "duckdb":
        # Spill files go to a private temporary folder, not `.tmp` in the user's folder; no
        # progress bar of DuckDB's own on stdout (it would break `--format json` output).
        con = ibis.duckdb.connect(temp_directory=str(_spill_dir()))
        con.raw_sql("SET enable_progress_bar = false")
        limit = config.engine.memory_limit.strip() if config else ""
        if limit:
            _set_memory_limit(con, limit)
        return con
    if name == "spark":
        # Imported here: pyspark is an optional extra, and DuckDB users never pay for it.
        from finrep.engine_spark import connect_spark

        return connect_spark(config)
    raise ConfigError(f"engine {name!r} is not available (use duckdb or spark)")


def _set_memory_limit(con: ibis.BaseBackend, limit: str) -> None:
    """DuckDB's working memory (it spills to `_spill_dir` beyond it)."""
    import duckdb

    try:
        con.raw_sql(f"SET memory_limit = '{limit.replace(chr(39), '')}'")
    except duckdb.Error:
        raise ConfigError(
            f'engine.memory_limit = {limit!r} is not a memory size; use e.g. "256MB" or '
            '"2GB", or "" for DuckDB\'s default'
        ) from None


_SPILL: list[Path] = []


def _spill_dir() -> Path:
    """This process's folder for DuckDB's spill files, removed at exit."""
    if not _SPILL:
        path = Path(tempfile.mkdtemp(prefix="finrep-duckdb-"))
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        _SPILL.append(path)
    return _SPILL[0]


def execute(expr: ibis.Expr, **kwargs: Any) -> pd.DataFrame | Any:
    """Run an ibis expression and return its (small) result as pandas."""
    with out_of_memory_is_config_error():
        return expr.execute(**kwargs)


@contextlib.contextmanager
def out_of_memory_is_config_error() -> Iterator[None]:
    """DuckDB running out of `[engine] memory_limit` (in an operator that cannot spill)
    becomes a ConfigError naming the setting, not a traceback."""
    try:
        yield
    except Exception as exc:
        if type(exc).__name__ != "OutOfMemoryException":
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "out of memory"
        raise ConfigError(
            f"DuckDB ran out of its working memory ({first}); raise [engine] memory_limit "
            'in finrep.toml (e.g. "1GB"), or set it to "" for DuckDB\'s default of 80% of RAM'
        ) from None


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


def fetch(con: ibis.BaseBackend, sql: str) -> list[tuple[Any, ...]]:
    """DuckDB: run one SQL query and return its (small) result as tuples."""
    with out_of_memory_is_config_error():
        return con.raw_sql(sql).fetchall()


def compile_sql(expr: ibis.Expr) -> str:
    """The SQL of an ibis expression in its backend's dialect (to embed in a larger query)."""
    return str(ibis.to_sql(expr))
