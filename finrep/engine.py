"""Query engines. The only module that opens connections and executes queries.

DuckDB (embedded, in process) is the default: it reads the data folder in place, out of core.
Spark is added behind the same `connect` function (see `--engine spark`).
"""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd

from finrep.config import Config
from finrep.errors import ConfigError


def connect(config: Config | None = None, engine: str | None = None) -> ibis.BaseBackend:
    """Open an ibis connection for the configured engine."""
    name = engine or (config.engine.name if config else "duckdb")
    if name == "duckdb":
        return ibis.duckdb.connect()
    if name == "spark":
        # Imported here: pyspark is an optional extra, and DuckDB users never pay for it.
        from finrep.engine_spark import connect_spark

        return connect_spark(config)
    raise ConfigError(f"engine {name!r} is not available (use duckdb or spark)")


def execute(expr: ibis.Expr, **kwargs: Any) -> pd.DataFrame | Any:
    """Run an ibis expression and return its (small) result as pandas."""
    return expr.execute(**kwargs)
