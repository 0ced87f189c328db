"""Spark fixtures: one local Spark session (local[2]) for every Spark test in the run.

Starting Spark costs ~10 s, so the session is started once, on first use, and stopped when
the test session ends. Tests get connections from `spark_con` (each an isolated SQL session
on the shared SparkContext) and the matching config from `spark_config`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SPARK_TOML = """\
[engine]
name = "spark"
spark_master = "local[2]"
"""


@pytest.fixture(scope="session")
def spark_config_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("spark_config") / "finrep.toml"
    path.write_text(SPARK_TOML)
    return path


@pytest.fixture(scope="session")
def spark_config(spark_config_file):
    from finrep.config import load_config

    return load_config(spark_config_file)


@pytest.fixture(scope="session")
def spark_session(spark_config):
    from finrep.engine_spark import spark_session, stop_spark

    session = spark_session(spark_config)
    yield session
    stop_spark()


@pytest.fixture
def spark_con(spark_session, spark_config):
    from finrep.engine import connect

    return connect(spark_config)


@pytest.fixture(scope="session")
def small_partitioned(small_parquet, tmp_path_factory) -> Path:
    """`small_parquet`'s dataset again (same generator options, from its manifest), with
    account_balances/ partitioned by year_month."""
    from finrep.synth import generate

    options = json.loads((small_parquet / "manifest.json").read_text())["options"]
    options = {k: options[k] for k in ("customers", "start", "end", "seed")}
    out = tmp_path_factory.mktemp("small_partitioned")
    generate(out, format="parquet", partition=True, force=True, **options)
    return out
