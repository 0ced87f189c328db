"""The Apache Spark engine (``--engine spark``): ibis connections over one Spark session.

Starting Spark is expensive (a JVM and a SparkContext: about 10 s on a small machine), so a
process starts it once and keeps it until exit; every `connect_spark` call after the first
takes about a second. Each connection gets its own SQL session on the shared SparkContext
(``newSession``: own temporary views, like a fresh DuckDB connection), so two data folders
loaded in one process never see each other's tables.

Where Spark runs comes from ``[engine]`` in the config:
- ``spark_remote`` (``sc://host:15002``): a Spark Connect server; no local Java needed.
- otherwise ``spark_master``: ``local[*]`` (every core here, the default), ``local[2]``, or a
  cluster master URL (``spark://host:7077``, ``yarn``); Java 17+ must be on this machine.

Local sessions get settings that suit one machine: few shuffle partitions (Spark's 200 are
meant for clusters), UTC session time zone (dates never shift), no web UI or console
progress bars, and driver memory of a quarter of RAM (1–8 GB) unless ``SPARK_DRIVER_MEMORY``
is set. Spark's JVM logging is cut to errors.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import types
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finrep.errors import ConfigError

if TYPE_CHECKING:
    import ibis

    from finrep.config import Config

INSTALL_HINT = "install it with: pip install -e '.[spark]' (or pip install 'finrep[spark]')"
MIN_JAVA = 17
# A CSV file read with multiLine=True is parsed by one task; above this size, split it.
_MULTILINE_MAX_BYTES = 256 * 2**20
_JAVA_CHARSETS = {"utf-8": "UTF-8", "utf-16": "UTF-16", "latin-1": "ISO-8859-1"}

_lock = threading.Lock()
_session: Any = None  # the process's one pyspark SparkSession (classic or Connect)
_session_key: tuple[str, str] | None = None

# Only errors from the JVM: Spark's INFO/WARN chatter (native-hadoop, log4j profile, …) is
# noise on a command line. A user who wants it can pass --debug and read Spark's own logs.
_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex
# With the first logger's level set (at the root's), Spark does not print "Setting default
# log level to WARN" at start.
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = error
logger.submit.name = org.apache.spark.deploy.SparkSubmit
logger.submit.level = error
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
logger.context.name = org.apache.spark.SparkContext
logger.context.level = error
"""


def connect_spark(config: Config | None = None) -> ibis.BaseBackend:
    """An ibis pyspark connection on this process's Spark session (started on first use).

    Raises ConfigError when pyspark is not installed, Java is missing or too old, or Spark
    cannot start (the message says how to fix it).
    """
    ibis_pyspark = _import_ibis_pyspark()
    session = spark_session(config)
    remote = _is_connect(session)
    # Spark Connect: one server-side session per client (view names are unique anyway).
    isolated = session if remote else session.newSession()
    _quiet_python_warnings()
    backend = ibis_pyspark.connect(isolated)
    if remote:
        backend._create_cached_table = types.MethodType(_cache_on_connect, backend)
    return backend


def _is_connect(session: Any) -> bool:
    return type(session).__module__.startswith("pyspark.sql.connect")


def _cache_on_connect(self: Any, name: str, expr: Any) -> Any:
    """ibis' `Table.cache()` for Spark Connect sessions. ibis asserts ``DataFrame.is_cached``
    right after ``cache()``, which a Connect DataFrame does not report; the cache itself
    works the same."""
    frame = self._session.sql(self.compile(expr)).cache()
    frame.createTempView(name)
    self._cached_dataframes[name] = frame
    return self.table(name)


def read_spark(
    con: ibis.BaseBackend,
    path: Path,
    table_name: str,
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> ibis.Table:
    """One table as Spark reads it: a CSV file (every column text, for the caller to type), a
    Parquet file, or a folder of Parquet files (hive-partitioned, e.g. ``year_month=2024-01``;
    partition columns come along as text).

    CSV follows RFC 4180 (``""`` inside quotes), with the `delimiter` and `encoding` (DuckDB's
    names: utf-8, utf-16, latin-1) the data layer detected. Quoted fields may hold line breaks
    in files up to 256 MB; larger files are split across cores, which needs one record per
    line.
    """
    path = Path(path)
    if path.is_dir() or path.suffix == ".parquet":
        return con.read_parquet(str(path), table_name=table_name)
    multiline = path.stat().st_size <= _MULTILINE_MAX_BYTES
    return con.read_csv(
        str(path),
        table_name=table_name,
        header=True,
        inferSchema=False,
        sep=delimiter,
        encoding=_JAVA_CHARSETS.get(encoding.lower(), encoding),
        escape='"',
        multiLine=multiline,
        mode="FAILFAST",
    )


def spark_session(config: Config | None = None) -> Any:
    """This process's SparkSession, started on first use with the settings of `config`.

    A later call asking for a different master/remote than the running session raises
    ConfigError: Spark allows one SparkContext per process.
    """
    global _session, _session_key
    master, remote = _where(config)
    key = (master, remote)
    with _lock:
        if _session is not None and not _is_stopped(_session):
            if key != _session_key:
                raise ConfigError(
                    f"a Spark session for {_describe(_session_key)} is already running in this "
                    f"process; cannot start another for {_describe(key)}"
                )
            return _session
        _session = _start(master, remote)
        _session_key = key
        atexit.register(stop_spark)
        return _session


def stop_spark() -> None:
    """Stop the process's Spark session (also done at exit). Safe to call twice."""
    global _session, _session_key
    with _lock:
        session, _session, _session_key = _session, None, None
    if session is not None:
        # The JVM may already be gone at interpreter exit.
        with contextlib.suppress(Exception):
            session.stop()


def java_version(java: str | None = None) -> int:
    """Major version of the Java on PATH (or $JAVA_HOME/bin/java); ConfigError if none."""
    java = java or _find_java()
    if java is None:
        raise ConfigError(
            "the Spark engine needs Java 17 or newer, and no `java` was found on PATH or in "
            "$JAVA_HOME. Install a JRE (Debian/Ubuntu: apt-get install default-jre-headless; "
            "macOS: brew install openjdk@17), or set engine.spark_remote to a Spark Connect "
            "server, or use --engine duckdb."
        )
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError as exc:
        raise ConfigError(f"cannot run {java} -version ({exc}); check your Java install") from None
    text = out.stderr + out.stdout
    match = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not match:
        raise ConfigError(f"cannot read the Java version from `{java} -version`: {text.strip()!r}")
    major = int(match.group(1))
    # Java 8 and older report "1.8.0_…".
    return int(match.group(2) or 0) if major == 1 else major


def _import_ibis_pyspark() -> Any:
    try:
        import ibis
        import pyspark  # noqa: F401

        return ibis.pyspark
    except ImportError:
        raise ConfigError(
            f"the Spark engine needs pyspark, which is not installed; {INSTALL_HINT}"
        ) from None
    except Exception as exc:  # ibis raises its own error when the backend's deps are missing
        raise ConfigError(f"the Spark engine cannot load ({exc}); {INSTALL_HINT}") from None


def _where(config: Config | None) -> tuple[str, str]:
    if config is None:
        return "local[*]", ""
    return (config.engine.spark_master or "local[*]").strip(), config.engine.spark_remote.strip()


def _describe(key: tuple[str, str] | None) -> str:
    if key is None:
        return "nothing"
    master, remote = key
    return f"Spark Connect {remote}" if remote else f"master {master}"


def _is_stopped(session: Any) -> bool:
    try:
        return bool(session.sparkContext._jsc is None)
    except Exception:  # Spark Connect sessions have no sparkContext
        return bool(getattr(session, "is_stopped", False))


def _find_java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def _start(master: str, remote: str) -> Any:
    _import_ibis_pyspark()
    from pyspark.sql import SparkSession

    _quiet_python_warnings()
    if remote:
        try:
            session = SparkSession.builder.remote(remote).getOrCreate()
            _probe_connect(session)
        except ImportError as exc:
            raise ConfigError(
                f"Spark Connect needs its client libraries ({exc}); {INSTALL_HINT}"
            ) from None
        except Exception as exc:
            raise ConfigError(
                f"cannot reach the Spark Connect server {remote} ({_first_line(exc)}); check "
                "engine.spark_remote (sc://host:15002) and that the server is running"
            ) from None
        return session

    version = java_version()
    if version < MIN_JAVA:
        raise ConfigError(
            f"the Spark engine needs Java {MIN_JAVA} or newer; {_find_java()} is Java {version}. "
            "Install a newer JRE (Debian/Ubuntu: apt-get install default-jre-headless) or point "
            "JAVA_HOME at one."
        )
    builder = SparkSession.builder.master(master).appName("finrep")
    for key, value in _settings(master).items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:
        raise ConfigError(
            f"Spark did not start with master {master!r} ({_first_line(exc)}); check "
            "engine.spark_master and your Java install"
        ) from None
    session.sparkContext.setLogLevel("ERROR")
    return session


def _probe_connect(session: Any) -> None:
    """One round trip to the server, giving up after a few seconds rather than the client's
    default of retrying for 10 minutes; the default retries are kept for the run itself."""
    from pyspark.sql.connect.client.retries import DefaultPolicy

    client = session.client
    policies = client.get_retry_policies()
    client.set_retry_policies([DefaultPolicy(max_retries=3, max_backoff=4000)])
    try:
        session.version  # noqa: B018 (the round trip is the point)
    finally:
        client.set_retry_policies(policies)


def _settings(master: str) -> dict[str, str]:
    """Spark settings for a session started here (local or a cluster master)."""
    java_opts = f"-Duser.timezone=UTC -Dlog4j2.configurationFile={_log4j2_file().as_uri()}"
    settings = {
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.extraJavaOptions": java_opts,
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # year_month=2024-01 folders stay strings (no guessing of dates or numbers).
        "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    }
    if master.startswith("local"):
        cores = _local_cores(master)
        # Spark's default of 200 shuffle partitions is for clusters: on one machine each
        # near-empty partition costs a task. Adaptive execution still coalesces these.
        settings["spark.sql.shuffle.partitions"] = str(max(4, 2 * cores))
        settings["spark.default.parallelism"] = str(max(2, cores))
        settings["spark.driver.bindAddress"] = "127.0.0.1"
        settings["spark.driver.host"] = "127.0.0.1"
        if not os.environ.get("SPARK_DRIVER_MEMORY"):
            settings["spark.driver.memory"] = f"{_driver_memory_gb()}g"
    return settings


def _local_cores(master: str) -> int:
    match = re.fullmatch(r"local\[(\d+)(?:,\d+)?\]", master)
    if match:
        return int(match.group(1))
    return os.cpu_count() or 1


def _driver_memory_gb() -> int:
    """A quarter of physical memory, between 1 and 8 GB (local mode runs all in the driver)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2
    return max(1, min(8, int(total / 4 / 2**30)))


def _log4j2_file() -> Path:
    user = getattr(os, "getuid", lambda: 0)()
    path = Path(tempfile.gettempdir()) / f"finrep-spark-log4j2-{user}.properties"
    if not path.is_file() or path.read_text() != _LOG4J2:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(_LOG4J2)
        tmp.replace(path)
    return path


def _quiet_python_warnings() -> None:
    # pyspark 4.0 warns on every pandas conversion that pandas 3 is "not yet fully
    # supported"; finrep only converts small aggregated frames of plain types.
    warnings.filterwarnings(
        "ignore", message=r"PySpark does not yet fully support pandas", category=FutureWarning
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
