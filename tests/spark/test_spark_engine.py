"""The Spark engine: one session per process, local settings, reading every layout, and clear
errors when Java or pyspark is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import ibis
import pandas as pd
import pyarrow.parquet as pq
import pytest

from finrep.engine import connect
from finrep.errors import ConfigError
from finrep.sources import load_tables

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parents[2]


def _run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )


# ---- one session per process --------------------------------------------------------------


def test_connections_share_one_spark_context_with_isolated_views(spark_session, spark_config):
    t0 = time.perf_counter()
    a = connect(spark_config)
    b = connect(spark_config)
    elapsed = time.perf_counter() - t0
    # Reusing the running session is cheap; starting one takes ~10 s.
    assert elapsed < 5
    assert a._session.sparkContext is b._session.sparkContext is spark_session.sparkContext
    a.create_view("only_in_a", a.sql("SELECT 1 AS x"))
    assert "only_in_a" in a.list_tables()
    assert "only_in_a" not in b.list_tables()


def test_local_session_settings(spark_session):
    conf = spark_session.conf
    assert conf.get("spark.sql.session.timeZone") == "UTC"
    # local[2] → 2 × cores shuffle partitions, at least 4 (not Spark's cluster default 200).
    assert conf.get("spark.sql.shuffle.partitions") == "4"
    assert spark_session.sparkContext.master == "local[2]"
    assert spark_session.sparkContext.getConf().get("spark.ui.enabled") == "false"


def test_other_master_in_same_process_is_refused(spark_session, spark_config):
    from finrep.engine_spark import spark_session as get_session

    other = spark_config.with_overrides(engine={"spark_master": "local[1]"})
    with pytest.raises(ConfigError, match=r"local\[2\] is already running.*local\[1\]"):
        get_session(other)


# ---- reading CSV, Parquet and the partitioned layout --------------------------------------


def _expected_balances(frame: pd.DataFrame) -> dict:
    return {
        "rows": len(frame),
        "balance": round(float(frame["balance"].sum()), 2),
        "fees": round(float(frame["fees_mtd"].sum()), 2),
        "last": pd.Timestamp(frame["date"].max()).date(),
        "customers": frame["customer_id"].nunique(),
    }


def _spark_balances(con, data_dir: Path) -> dict:
    b = load_tables(con, data_dir)["account_balances"]
    row = b.aggregate(
        rows=b.count(),
        balance=b.balance.sum(),
        fees=b.fees_mtd.sum(),
        last=b.date.max(),
        customers=b.customer_id.nunique(),
    ).execute()
    got = row.iloc[0].to_dict()
    return {
        "rows": int(got["rows"]),
        "balance": round(float(got["balance"]), 2),
        "fees": round(float(got["fees"]), 2),
        "last": pd.Timestamp(got["last"]).date(),
        "customers": int(got["customers"]),
    }


def _check_tables(con, data_dir: Path) -> None:
    """Every table has the schema's columns and types and the manifest's row count."""
    from finrep.schema import TABLES

    counts = json.loads((data_dir / "manifest.json").read_text())["row_counts"]
    ibis_types = {"string": "string", "date": "date", "int64": "int64", "float64": "float64"}
    tables = load_tables(con, data_dir)
    for name, spec in TABLES.items():
        schema = tables[name].schema()
        assert list(schema.names) == [c.name for c in spec.columns], name
        for c in spec.columns:
            expected = ibis.dtype(ibis_types[c.dtype])
            assert schema[c.name].copy(nullable=True) == expected, (name, c.name)
        assert tables[name].count().execute() == counts[name], name


def test_reads_csv_like_pandas(spark_con, small_data):
    _check_tables(spark_con, small_data)
    expected = _expected_balances(
        pd.read_csv(small_data / "account_balances.csv", parse_dates=["date"])
    )
    assert _spark_balances(spark_con, small_data) == expected


def test_reads_parquet_like_pyarrow(spark_con, small_parquet):
    _check_tables(spark_con, small_parquet)
    frame = pq.read_table(small_parquet / "account_balances.parquet").to_pandas()
    assert _spark_balances(spark_con, small_parquet) == _expected_balances(frame)


def test_reads_partitioned_folder_on_both_engines(spark_con, small_partitioned, small_parquet):
    folder = small_partitioned / "account_balances"
    assert folder.is_dir() and len(list(folder.glob("year_month=*"))) == 48
    frame = pq.read_table(small_parquet / "account_balances.parquet").to_pandas()
    expected = _expected_balances(frame)
    assert _spark_balances(spark_con, small_partitioned) == expected
    assert _spark_balances(connect(engine="duckdb"), small_partitioned) == expected
    # The partition column does not leak into the typed table.
    columns = load_tables(spark_con, small_partitioned)["account_balances"].columns
    assert "year_month" not in columns


def test_csv_quotes_commas_and_line_breaks(spark_con, tmp_path):
    from finrep.engine_spark import read_spark

    path = tmp_path / "advisors.csv"
    path.write_bytes(
        b"advisor_id,first_name,last_name\r\n"
        b'A1,"Smith, Jr.","O""Brien"\r\n'
        b'A2,"two\nlines",Plain\r\n'
        b"A3,,Blank\r\n"
    )
    rows = read_spark(spark_con, path, "t_quotes").order_by("advisor_id").execute()
    assert rows["advisor_id"].tolist() == ["A1", "A2", "A3"]
    assert rows["first_name"].tolist()[:2] == ["Smith, Jr.", "two\nlines"]
    assert pd.isna(rows["first_name"].iloc[2])
    assert rows["last_name"].tolist() == ['O"Brien', "Plain", "Blank"]


def test_csv_semicolons_and_latin1(spark_con, tmp_path):
    from finrep.engine_spark import read_spark

    path = tmp_path / "advisors.csv"
    path.write_bytes("advisor_id;office_location\nA1;Montréal\nA2;\"Köln; Mitte\"\n"
                     .encode("latin-1"))  # fmt: skip
    rows = read_spark(spark_con, path, "t_latin1", delimiter=";", encoding="latin-1")
    rows = rows.order_by("advisor_id").execute()
    assert rows["office_location"].tolist() == ["Montréal", "Köln; Mitte"]


# ---- clear errors ---------------------------------------------------------------------------


def _env_without_java() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(Path(sys.executable).parent)  # python only: no java on PATH
    assert not (Path(sys.executable).parent / "java").exists()
    return env


def test_missing_java_is_a_clear_error():
    out = _run_python(
        """
        from finrep.engine import connect
        from finrep.errors import ConfigError
        try:
            connect(engine="spark")
        except ConfigError as exc:
            print("ConfigError:", exc)
        """,
        _env_without_java(),
    )
    assert out.returncode == 0, out.stderr
    assert "ConfigError: the Spark engine needs Java 17 or newer" in out.stdout
    assert "apt-get install default-jre-headless" in out.stdout
    assert "--engine duckdb" in out.stdout


def test_missing_java_through_the_cli(small_parquet):
    env = _env_without_java()
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from finrep.cli.app import main; main()",
            "--engine",
            "spark",
            "measures",
            "--data",
            str(small_parquet),
            "--format",
            "json",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Error:" in out.stderr and "Java 17 or newer" in out.stderr
    assert "Traceback" not in out.stderr


def test_old_java_is_refused(tmp_path):
    home = tmp_path / "jdk8"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    # A stand-in JDK that prints what Java 8 prints for `java -version` (on stderr).
    java.write_text(
        "#!/bin/sh\necho 'openjdk version \"1.8.0_392\"' >&2\n"
        "echo 'OpenJDK Runtime Environment (build 1.8.0_392-b08)' >&2\n"
    )
    java.chmod(0o755)
    env = dict(os.environ, JAVA_HOME=str(home))
    out = _run_python(
        """
        from finrep.engine_spark import connect_spark, java_version
        from finrep.errors import ConfigError
        print("version", java_version())
        try:
            connect_spark()
        except ConfigError as exc:
            print("ConfigError:", exc)
        """,
        env,
    )
    assert out.returncode == 0, out.stderr
    assert "version 8" in out.stdout
    assert "needs Java 17 or newer" in out.stdout and "is Java 8" in out.stdout


def test_missing_pyspark_is_a_clear_error():
    out = _run_python(
        """
        import sys
        sys.modules["pyspark"] = None  # as if pyspark were not installed
        from finrep.engine import connect
        from finrep.errors import ConfigError
        try:
            connect(engine="spark")
        except ConfigError as exc:
            print("ConfigError:", exc)
        """,
        dict(os.environ),
    )
    assert out.returncode == 0, out.stderr
    assert "needs pyspark, which is not installed" in out.stdout
    assert "pip install -e '.[spark]'" in out.stdout
