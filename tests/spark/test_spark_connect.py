"""Spark Connect (`engine.spark_remote`): finrep against a real Spark Connect server started
on 127.0.0.1 by the test (pyspark ships the server), KPIs equal to DuckDB's.

finrep runs in a subprocess: a process holds one Spark session, and this test process already
holds the local[2] one.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from finrep.cli.app import app

pytestmark = [pytest.mark.spark, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory):
    """A Spark Connect server (local[1]) on a free port; its address sc://127.0.0.1:PORT."""
    import pyspark

    home = Path(pyspark.__file__).parent
    port = _free_port()
    log = tmp_path_factory.mktemp("connect") / "server.log"
    env = dict(os.environ, SPARK_HOME=str(home))
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                str(home / "bin" / "spark-submit"),
                "--master",
                "local[1]",
                "--class",
                "org.apache.spark.sql.connect.service.SparkConnectServer",
                "--conf",
                f"spark.connect.grpc.binding.port={port}",
                "--conf",
                "spark.connect.grpc.binding.address=127.0.0.1",
                "--conf",
                "spark.ui.enabled=false",
                "--conf",
                "spark.sql.shuffle.partitions=2",
                "spark-internal",
            ],  # fmt: skip
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 240
        while not _listening(port):
            assert server.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "Spark Connect server did not start"
            time.sleep(1)
        yield f"sc://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def test_measures_over_spark_connect_equal_duckdb(connect_server, small_parquet, tmp_path):
    config = tmp_path / "finrep.toml"
    config.write_text(f'[engine]\nname = "spark"\nspark_remote = "{connect_server}"\n')
    args = ["measures", "--data", str(small_parquet), "--format", "json", "--period", "2024-Q3"]
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from finrep.cli.app import main; main()",
            "--config",
            str(config),
            "--quiet",
            *args,
        ],  # fmt: skip
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=900,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    spark = json.loads(out.stdout)
    duck_run = CliRunner().invoke(app, ["--engine", "duckdb", *args])
    assert duck_run.exit_code == 0, duck_run.output
    duck = json.loads(duck_run.stdout)

    assert spark["period"] == duck["period"]
    for key in ("aum", "net_flows", "active_customers", "retention_rate", "fcr_rate",
                "digital_engagement_rate", "return_12m"):  # fmt: skip
        for name, expected in duck["kpis"][key].items():
            got = spark["kpis"][key][name]
            if expected is None:
                assert got is None, (key, name)
            else:
                assert math.isclose(got, expected, rel_tol=0, abs_tol=0.01), (key, name)


def test_unreachable_connect_server_is_a_clear_error(small_parquet, tmp_path):
    config = tmp_path / "finrep.toml"
    config.write_text(f'[engine]\nname = "spark"\nspark_remote = "sc://127.0.0.1:{_free_port()}"\n')
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from finrep.cli.app import main; main()",
            "--config",
            str(config),
            "measures",
            "--data",
            str(small_parquet),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Error:" in out.stderr and "Spark Connect server" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
