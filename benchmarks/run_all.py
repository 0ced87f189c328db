"""End-to-end benchmark: every step of finrep at 10k, 100k and 1M customers, on DuckDB (and the
measures on Spark at the largest size), with wall time and peak memory, into results.md.

Each step runs as its own subprocess of the ``finrep`` CLI, exactly as a user runs it:

    generate  finrep generate --customers N --format parquet --out _work/genN
    validate  finrep validate --data genN --format json
    measures  finrep measures --data genN --format json
    report    finrep report --data genN --format pdf,xlsx --out _work/reportsN
    burst     finrep report --data genN --format pdf,xlsx --burst segment --out …

and beside them the baselines the issues compare against, also as subprocesses:
pyarrow writing tables of the generated shape (generate), one DuckDB read of all nine files
(validate), one DuckDB aggregation of ``account_balances`` by month (measures), and the time
to start a Spark session.

Peak memory is that of the whole process tree (finrep, its chart workers, Spark's JVM),
summed as proportional set sizes (forked workers' shared pages counted once) and sampled
from /proc every 250 ms; ``ru_maxrss`` of the largest single process (wait4) is kept
too, and the growth check takes the larger of the two (a sample can miss a short peak). A step whose command is not built yet is reported as missing, never estimated.

Usage::

    python benchmarks/run_all.py                   # 10k, 100k, 1m; Spark at 1m
    python benchmarks/run_all.py --sizes 10k       # a quick run
    python benchmarks/run_all.py --no-spark --regenerate

Data goes to ``benchmarks/_work/gen10k`` etc.; an existing folder whose manifest matches is
reused (other benchmarks read ``gen1m`` too), and generate is then timed into a scratch
folder that is removed afterwards. Ratio targets are the issues' and are judged at 1m, where
they are set; at smaller sizes interpreter start-up dominates and the ratios are shown only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "_work"
SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}
SEED = 42
FINREP = [sys.executable, "-c", "from finrep.cli.app import main; main()"]
STEPS = ("generate", "validate", "measures", "report", "burst")
BASELINE_OF = {"generate": "pyarrow_write", "validate": "duckdb_read", "measures": "duckdb_agg"}
# Targets set by the issues: step time ≤ factor × its baseline.
RATIO_TARGET = {"generate": 2.0, "validate": 2.0, "measures": 3.0}
MEMORY_GROWTH_MAX = 1.5  # peak memory at 1m ≤ 1.5 × at 100k


# ---- running one measured subprocess -------------------------------------------------------


@dataclass
class Run:
    name: str
    size: str
    cmd: list[str]
    status: str = "ok"  # ok | failed | missing | skipped | reused
    seconds: float | None = None
    peak_tree_mb: float | None = None
    max_rss_mb: float | None = None
    cpu_seconds: float | None = None  # user + system, the process and its waited-for children
    load: float | None = None  # 1-minute load average when the step started
    returncode: int | None = None
    note: str = ""
    output: str = field(default="", repr=False)  # stdout
    errors: str = field(default="", repr=False)  # stderr

    @property
    def peak_mb(self) -> float | None:
        """The step's peak memory: the sampled tree peak, or the kernel's high-water mark of
        its largest process when that is higher (sampling every 250 ms can miss a short peak,
        and a 3-second step at 100k has few samples: that would flatter the 1m/100k ratio's
        denominator less than the numerator's)."""
        known = [m for m in (self.peak_tree_mb, self.max_rss_mb) if m is not None]
        return max(known) if known else None


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read().decode(errors="replace")
        except OSError:
            continue
        # ppid is the 2nd field after the ")" that closes the command name.
        fields = stat[stat.rfind(")") + 2 :].split()
        kids.setdefault(int(fields[1]), []).append(int(entry.name))
    return kids


def _tree_rss_bytes(root: int) -> int:
    """Memory of `root` and its descendants: the sum of their proportional set sizes (PSS:
    pages shared between forked workers counted once overall, not once per process)."""
    kids = _children_map()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(kids.get(pid, ()))
        total += _pss_bytes(pid)
    return total


def _pss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:  # no smaps_rollup (old kernels): resident pages, shared ones counted per process
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def measure(run: Run, env: dict[str, str] | None = None, timeout: float = 3600) -> Run:
    """Run `run.cmd`; fill in wall seconds, peak tree RSS, max single-process RSS."""
    env = dict(os.environ if env is None else env)
    env.setdefault("NO_COLOR", "1")
    env.setdefault("COLUMNS", "120")
    run.load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        run.cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_bytes(proc.pid))
            # Reading a process's PSS makes the kernel walk its pages (~17 ms of CPU for 700 MB):
            # every 50 ms the sampler took a third of a core from the step it measured.
            done.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    streams: dict[str, bytes] = {}
    readers = [
        threading.Thread(target=lambda k=k, f=f: streams.__setitem__(k, f.read()), daemon=True)
        for k, f in (("out", proc.stdout), ("err", proc.stderr))
    ]
    for reader in readers:
        reader.start()
    deadline = t0 + timeout
    status, usage = 0, None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            run.note = f"killed after {timeout:.0f} s"
            break
        time.sleep(0.02)
    run.seconds = time.perf_counter() - t0
    done.set()
    sampler.join()
    for reader in readers:
        reader.join(timeout=10)
    proc.returncode = os.waitstatus_to_exitcode(status)
    run.returncode = proc.returncode
    run.output = streams.get("out", b"").decode(errors="replace")
    run.errors = streams.get("err", b"").decode(errors="replace")
    run.peak_tree_mb = peak / 2**20
    run.max_rss_mb = usage.ru_maxrss / 1024 if usage else None  # Linux: KiB
    run.cpu_seconds = usage.ru_utime + usage.ru_stime if usage else None
    if run.returncode != 0:
        text = run.errors + run.output
        run.status = "missing" if _not_built(text) else "failed"
        run.note = run.note or _last_line(run.errors or run.output)
    return run


def _not_built(output: str) -> bool:
    return bool(re.search(r"not built yet|No such (option|command)", output))


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:160] if lines else ""


# ---- baselines (run in a child: `run_all.py baseline NAME DATA_DIR`) -----------------------
# Each returns the seconds of its timed section (after imports and warm-up), as the issues'
# own bench_*.py scripts time them; the child prints it on a ``RESULT {json}`` line. Where an
# issue's bench script defines the baseline, that function is used, so the ratios here are
# the ones those scripts print.


def _bench_module(name: str):
    sys.path.insert(0, str(HERE))
    try:
        return __import__(name)
    except ImportError:
        return None
    finally:
        sys.path.remove(str(HERE))


def baseline_pyarrow_write(data_dir: Path) -> float:
    """pyarrow alone writing tables of the generated shape and size (bench_generate.py)."""
    manifest = json.loads((data_dir / "manifest.json").read_text())
    out = WORK / "baseline_pyarrow"
    bench = _bench_module("bench_generate")
    try:
        if bench is not None and hasattr(bench, "pyarrow_baseline"):
            result = bench.pyarrow_baseline(data_dir, manifest, out)
            return float(result[0] if isinstance(result, tuple) else result)
        return _pyarrow_write(manifest, out)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _pyarrow_write(manifest: dict, out: Path) -> float:
    """Fallback: random columns of the schema's types, 1M-row chunks, zstd."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from finrep.schema import TABLES

    types = {"string": pa.string(), "date": pa.date32(), "int64": pa.int64()}
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rng = np.random.default_rng(0)
    began = time.perf_counter()
    for name, spec in TABLES.items():
        schema = pa.schema([pa.field(c.name, types.get(c.dtype, pa.float64()))
                            for c in spec.columns])  # fmt: skip
        with pq.ParquetWriter(out / f"{name}.parquet", schema, compression="zstd") as writer:
            left = manifest["row_counts"][name]
            while left > 0:
                n = min(1_000_000, left)
                left -= n
                arrays = []
                for f in schema:
                    if f.type == pa.string():
                        arrays.append(pa.array(np.char.add("ID", rng.integers(0, 10**5, n)
                                                           .astype(str))))  # fmt: skip
                    elif f.type == pa.date32():
                        days = rng.integers(18000, 20000, n).astype("int32")
                        arrays.append(pa.array(days, pa.date32()))
                    elif f.type == pa.int64():
                        arrays.append(pa.array(rng.integers(0, 1000, n)))
                    else:
                        arrays.append(pa.array(np.round(rng.random(n) * 1e5, 2)))
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
    return time.perf_counter() - began


def _duckdb_source(data_dir: Path, name: str) -> str:
    folder = data_dir / name
    if folder.is_dir():
        return f"read_parquet('{folder}/**/*.parquet', hive_partitioning = true)"
    if (data_dir / f"{name}.parquet").exists():
        return f"read_parquet('{data_dir / name}.parquet')"
    return f"read_csv('{data_dir / name}.csv', all_varchar = true)"


def baseline_duckdb_read(data_dir: Path) -> float:
    """DuckDB reading all nine files once, touching every value of every column (bench_validate
    .py's script when present: ``count(*), sum(hash(<every column>))`` per file)."""
    bench = _bench_module("bench_validate")
    script = getattr(bench, "_BASELINE", None) if bench is not None else None
    if script:
        out = subprocess.run([sys.executable, "-c", script, str(data_dir)], capture_output=True,
                             text=True, check=True, cwd=REPO)  # fmt: skip
        return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])
    import duckdb

    from finrep.schema import TABLES

    con = duckdb.connect()
    began = time.perf_counter()
    for name, spec in TABLES.items():
        # hash() of every column: count(col) alone is answered from Parquet statistics.
        cols = ", ".join(f'"{c.name}"' for c in spec.columns)
        con.execute(f"SELECT count(*), sum(hash({cols})) FROM {_duckdb_source(data_dir, name)}"
                    ).fetchall()  # fmt: skip
    return time.perf_counter() - began


def baseline_duckdb_agg(data_dir: Path) -> float:
    """One DuckDB aggregation of account_balances by month (bench_measures.py's, which issue
    4's ratio is defined by: no copy of it here)."""
    return float(_bench_module("bench_measures").part_baseline(data_dir, "latest")["seconds"])


def baseline_spark_startup(data_dir: Path) -> float:
    """Start finrep's Spark session (local[*], JVM included) and run one trivial query."""
    from finrep.config import load_config
    from finrep.engine import connect

    began = time.perf_counter()
    con = connect(load_config().with_overrides(engine={"name": "spark"}))
    con.sql("SELECT 1 AS x").execute()
    return time.perf_counter() - began


# The steps' own timed sections, measured the way their issues' bench scripts measure them
# (after imports, in process), so each ratio compares like with like: the CLI's wall time
# also holds ~1.3 s of interpreter start-up and imports that the baselines' timed sections
# leave out.


def timed_validate(data_dir: Path) -> float:
    """`finrep.validate.validate` on the folder (bench_validate.py's timed section)."""
    from finrep.validate import validate

    began = time.perf_counter()
    validate(data_dir)
    return time.perf_counter() - began


def timed_measures(data_dir: Path) -> float:
    """Every measure for the latest month: every KPI and the data of every visual, as issue 4
    defines it (bench_measures.py's ``measures`` part; `finrep measures` computes the KPIs
    only)."""
    return float(_bench_module("bench_measures").part_measures(data_dir, "latest")["seconds"])


BASELINES = {
    "pyarrow_write": baseline_pyarrow_write,
    "duckdb_read": baseline_duckdb_read,
    "duckdb_agg": baseline_duckdb_agg,
    "spark_startup": baseline_spark_startup,
    "validate_timed": timed_validate,
    "measures_timed": timed_measures,
}
# Steps whose ratio is taken from their timed section (see above) rather than the CLI's wall.
TIMED_OF = {"validate": "validate_timed", "measures": "measures_timed"}


def _baseline_cmd(name: str, data_dir: Path) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "baseline", name, str(data_dir)]


def measure_baseline(name: str, size: str, data_dir: Path) -> Run:
    run = measure(Run(name, size, _baseline_cmd(name, data_dir)))
    match = re.search(r"^RESULT (\{.*\})$", run.output, re.MULTILINE)
    if run.status == "ok" and match:
        wall = run.seconds
        run.seconds = json.loads(match.group(1))["seconds"]
        run.note = f"timed section; {wall:.1f} s with interpreter start-up"
    return run


# ---- the plan ------------------------------------------------------------------------------


def _manifest_matches(folder: Path, customers: int) -> bool:
    try:
        options = json.loads((folder / "manifest.json").read_text())["options"]
    except (OSError, ValueError, KeyError):
        return False
    return options.get("customers") == customers and options.get("format") == "parquet"


def step_cmd(step: str, data: Path, reports: Path, customers: int) -> list[str]:
    quiet = ["--quiet"]
    if step == "generate":
        return [*FINREP, *quiet, "generate", "--customers", str(customers), "--format",
                "parquet", "--seed", str(SEED), "--out", str(data), "--force"]  # fmt: skip
    if step == "validate":
        return [*FINREP, *quiet, "validate", "--data", str(data), "--format", "json"]
    if step == "measures":
        return [*FINREP, *quiet, "measures", "--data", str(data), "--format", "json"]
    if step == "report":
        return [*FINREP, *quiet, "report", "--data", str(data), "--format", "pdf,xlsx",
                "--out", str(reports / "pack")]  # fmt: skip
    if step == "burst":
        return [*FINREP, *quiet, "report", "--data", str(data), "--format", "pdf,xlsx",
                "--burst", "segment", "--out", str(reports / "burst")]  # fmt: skip
    raise ValueError(step)


def run_size(label: str, args: argparse.Namespace, say) -> list[Run]:
    customers = SIZES[label]
    data = WORK / f"gen{label}"
    reports = WORK / f"reports{label}"
    shutil.rmtree(reports, ignore_errors=True)
    runs: list[Run] = []
    reuse = not args.regenerate and _manifest_matches(data, customers)
    for step in args.steps:
        run = Run(step, label, step_cmd(step, data, reports, customers))
        if step == "generate" and reuse:
            # The data folder is kept (other benchmarks read it too); generate is still timed,
            # into a scratch folder removed afterwards.
            scratch = WORK / f"run_all_generate_{label}"
            run = Run(step, label, step_cmd(step, scratch, reports, customers))
            runs.append(measure(run))
            run.note = run.note or _output_note(step, run, scratch)
            run.note += f"; timed in a scratch folder, steps read {data.name}/"
            shutil.rmtree(scratch, ignore_errors=True)
            say(run)
            if run.status == "ok":
                base = measure_baseline(BASELINE_OF[step], label, data)
                runs.append(base)
                say(base)
            continue
        if step != "generate" and not (data / "manifest.json").exists():
            run.status, run.note = "skipped", "no data (generate failed or missing)"
            runs.append(run)
            say(run)
            continue
        runs.append(measure(run))
        run.note = run.note or _output_note(step, run, data)
        say(run)
        if step in BASELINE_OF and run.status in ("ok", "reused"):
            for name in (BASELINE_OF[step], TIMED_OF.get(step)):
                if name:
                    base = measure_baseline(name, label, data)
                    runs.append(base)
                    say(base)
    if args.spark and label == args.spark_size and (data / "manifest.json").exists():
        duck = next((r for r in runs if r.name == "measures"), None)
        runs.extend(run_spark(label, data, duck, say))
    return runs


def _output_note(step: str, run: Run, data: Path) -> str:
    if run.status != "ok":
        return run.note
    if step == "generate":
        try:
            counts = json.loads((data / "manifest.json").read_text())
            rows = sum(counts["row_counts"].values())
            return f"{rows:,} rows, {rows / run.seconds:,.0f} rows/s"
        except (OSError, ValueError, KeyError):
            return ""
    if step in ("report", "burst"):
        folder = Path(run.cmd[run.cmd.index("--out") + 1])
        files = [p for p in folder.rglob("*") if p.suffix in (".pdf", ".xlsx")]
        size = sum(p.stat().st_size for p in files) / 2**20
        return f"{len(files)} files, {size:.1f} MB"
    return ""


def run_spark(label: str, data: Path, duck: Run | None, say) -> list[Run]:
    """The same `finrep measures` on Spark (local[*]), its start-up time, and the KPIs'
    largest difference from DuckDB's."""
    runs = []
    start = measure_baseline("spark_startup", label, data)
    runs.append(start)
    say(start)
    cmd = [*FINREP, "--quiet", "--engine", "spark", "measures", "--data", str(data),
           "--format", "json"]  # fmt: skip
    spark = measure(Run("measures_spark", label, cmd))
    runs.append(spark)
    say(spark)
    if duck is None:
        duck = measure(Run("measures", label, step_cmd("measures", data, WORK, SIZES[label])))
    if spark.status == "ok" and duck.status == "ok":
        spark.note = _kpi_difference(duck.output, spark.output)
    return runs


def _kpi_difference(duck_out: str, spark_out: str) -> str:
    """KPIs outside the parity test's tolerance (money 1 cent; others 1e-9, relative above 1).
    ``reconciliation_residual`` is float noise around 0, so its change % is noise over noise
    and is left out."""
    try:
        a = json.loads(duck_out[duck_out.index("{") :])["kpis"]
        b = json.loads(spark_out[spark_out.index("{") :])["kpis"]
    except (ValueError, KeyError) as exc:
        return f"cannot compare KPIs ({exc})"
    from finrep.measures.kpis import KPI_META  # key -> (label, unit, higher is better)

    units = {key: meta[1] for key, meta in KPI_META.items()}
    (WORK / "kpis_duckdb.json").write_text(json.dumps(a, indent=1))
    (WORK / "kpis_spark.json").write_text(json.dumps(b, indent=1))
    money = {"value", "previous", "last_year", "change"}
    off, compared = [], 0
    for key, fields in a.items():
        for name, x in fields.items():
            if key == "reconciliation_residual" and name == "change_pct":
                continue
            y = b.get(key, {}).get(name)
            compared += 1
            if x is None or y is None:
                if (x is None) != (y is None):
                    off.append(f"{key}.{name} {x} vs {y}")
                continue
            cents = name in money and units.get(key) == "currency"
            tolerance = 0.01 if cents else 1e-9 * max(1.0, abs(x))
            if abs(x - y) > tolerance:
                off.append(f"{key}.{name} {x:.10g} vs {y:.10g}")
    if not off:
        return f"KPIs equal DuckDB's: {compared} numbers within 1 cent / 1e-9"
    return f"{len(off)} of {compared} KPI numbers differ from DuckDB's: " + "; ".join(off[:5])


# ---- results -------------------------------------------------------------------------------


def _previous_runs() -> list[Run]:
    try:
        record = json.loads((WORK / "run_all.json").read_text())
    except (OSError, ValueError):
        return []
    fields = Run.__dataclass_fields__
    return [Run(**{k: v for k, v in r.items() if k in fields}) for r in record.get("runs", [])]


def _merged(kept: list[Run], new: list[Run]) -> list[Run]:
    """`kept` with each (size, step) that `new` measured replaced by the new one, in order."""
    fresh = {(r.size, r.name): r for r in new}
    out = [fresh.pop((r.size, r.name), r) for r in kept]
    return out + [r for r in new if (r.size, r.name) in fresh]


def machine() -> dict[str, str]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = {}
    for mod in ("duckdb", "ibis", "pyarrow", "pandas", "pyspark"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:
            versions[mod] = "not installed"
    java = shutil.which("java")
    java_v = ""
    if java:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
        java_v = (out.stderr or out.stdout).splitlines()[0] if (out.stderr or out.stdout) else ""
    load = os.getloadavg()
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": f"{mem:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "libraries": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "java": java_v or "not found",
        "load average at start": f"{load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} (shared machine)",
    }


def _fmt_s(x: float | None) -> str:
    return "" if x is None else f"{x:,.1f}"


def _fmt_mb(x: float | None) -> str:
    return "" if x is None else f"{x:,.0f}"


def _find(runs: list[Run], size: str, name: str) -> Run | None:
    for r in runs:
        ok = r.status in ("ok", "reused") and r.seconds is not None
        if ok and r.size == size and r.name == name:
            return r
    return None


def checks(runs: list[Run]) -> list[str]:
    """Ratios vs baselines, growth 100k → 1m, Spark vs DuckDB: one line each."""
    lines = []
    sizes = [s for s in SIZES if any(r.size == s for r in runs)]
    for size in sizes:
        for step, base_name in BASELINE_OF.items():
            r, b = _find(runs, size, step), _find(runs, size, base_name)
            if r is None or b is None:
                lines.append(f"{size} {step} vs {base_name}: not measured")
                continue
            timed = _find(runs, size, TIMED_OF.get(step, ""))
            what = f"{r.seconds:.1f} s"
            if timed is not None:  # like with like: both timed sections
                what = f"timed section {timed.seconds:.2f} s (CLI wall {r.seconds:.1f} s)"
                r = timed
            ratio = r.seconds / b.seconds
            if size == "1m":
                verdict = "meets" if ratio <= RATIO_TARGET[step] else "MISSES"
                verdict += f" ≤ {RATIO_TARGET[step]:g}×"
            else:
                verdict = "target is set at 1m"
            lines.append(
                f"{size} {step} vs {base_name}: {what} / {b.seconds:.2f} s = "
                f"{ratio:.2f}× ({verdict})"
            )
    if "100k" in sizes and "1m" in sizes:
        factor = SIZES["1m"] / SIZES["100k"]
        for step in STEPS:
            a, b = _find(runs, "100k", step), _find(runs, "1m", step)
            if a is None or b is None:
                lines.append(f"growth {step}: not measured at both 100k and 1m")
                continue
            t = b.seconds / a.seconds
            m = b.peak_mb / a.peak_mb
            lines.append(
                f"growth {step} 100k→1m: time ×{t:.2f} ({'meets' if t <= factor else 'MISSES'}"
                f" ≤ ×{factor:g}), peak memory ×{m:.2f} "
                f"({'meets' if m <= MEMORY_GROWTH_MAX else 'MISSES'} ≤ ×{MEMORY_GROWTH_MAX:g})"
            )
    for size in sizes:
        s, d = _find(runs, size, "measures_spark"), _find(runs, size, "measures")
        st = _find(runs, size, "spark_startup")
        if s is not None and d is not None:
            startup = f"; Spark start-up {st.seconds:.1f} s" if st else ""
            lines.append(
                f"{size} measures on Spark (local[*]) {s.seconds:.1f} s vs DuckDB "
                f"{d.seconds:.1f} s (×{s.seconds / d.seconds:.1f}){startup}; {s.note}"
            )
    return lines


def write_results(runs: list[Run], started: dt.datetime, path: Path) -> str:
    info = machine()
    out = [
        "# finrep benchmark results",
        "",
        f"Run `python benchmarks/run_all.py` ({started:%Y-%m-%d %H:%M} UTC, "
        f"{(dt.datetime.now(dt.UTC) - started).total_seconds() / 60:.0f} min). Each step is a "
        "subprocess of the `finrep` CLI on Parquet data from `finrep generate --format "
        f"parquet --seed {SEED}`; engine DuckDB unless marked Spark.",
        "Peak memory: the whole process tree (finrep, chart workers, Spark's JVM), summed as "
        "proportional set sizes (pages shared by forked workers counted once), sampled every "
        "250 ms; max RSS: the largest single process (wait4). Growth uses the larger of the "
        "two. "
        "CPU s: user + system time of the step's processes (less sensitive than wall time "
        "to other work on this shared 2-core machine); load: 1-minute load average when the "
        "step started. Baselines show their timed section (after imports and warm-up), as "
        "the issues' bench scripts time them; steps show the CLI's whole wall time, and "
        "validate and measures also their timed section (`validate_timed`, `measures_timed`: "
        "every KPI and visual, issue 4's measure), which their ratios use.",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in info.items()],
        "",
        "## Steps",
        "",
        "| customers | step | status | wall s | CPU s | peak memory MB | max RSS MB | load | notes |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        note = r.note.replace("|", "\\|")
        out.append(
            f"| {r.size} | {r.name} | {r.status} | {_fmt_s(r.seconds)} | "
            f"{_fmt_s(r.cpu_seconds)} | {_fmt_mb(r.peak_tree_mb)} | {_fmt_mb(r.max_rss_mb)} | "
            f"{_fmt_s(r.load)} | {note} |"
        )
    out += ["", "## Targets", "", *[f"- {line}" for line in checks(runs)], ""]
    text = "\n".join(out)
    path.write_text(text)
    record = {
        "when": f"{started:%Y-%m-%d %H:%M} UTC",
        "runs": [
            {
                **{k: v for k, v in asdict(r).items() if k not in ("output", "errors")},
                "when": f"{started:%Y-%m-%d}",
            }  # fmt: skip
            for r in runs
        ],
    }
    (WORK / "run_all.json").write_text(json.dumps(record, indent=1))
    return text


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["baseline"]:
        seconds = BASELINES[argv[1]](Path(argv[2]))
        print("RESULT " + json.dumps({"seconds": seconds}), flush=True)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10k,100k,1m", help="Comma list of 10k, 100k, 1m.")
    parser.add_argument("--steps", default=",".join(STEPS), help="Comma list of steps.")
    parser.add_argument("--regenerate", action="store_true", help="Generate even if present.")
    parser.add_argument("--no-spark", dest="spark", action="store_false",
                        help="Skip the Spark measures.")  # fmt: skip
    parser.add_argument("--spark-size", default="1m", help="Size to run Spark at.")
    parser.add_argument("--out", default=str(HERE / "results.md"), help="Results file.")
    parser.add_argument("--merge", action="store_true",
                        help="Keep the previous run's rows for steps not run now.")  # fmt: skip
    args = parser.parse_args(argv)
    args.steps = [s for s in args.steps.split(",") if s]
    sizes = [s for s in args.sizes.split(",") if s]
    for s in sizes:
        if s not in SIZES:
            parser.error(f"unknown size {s!r} (use {', '.join(SIZES)})")
    WORK.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC)

    def say(run: Run) -> None:
        print(
            f"{run.size:>5} {run.name:<15} {run.status:<8} {_fmt_s(run.seconds):>8} s "
            f"{_fmt_mb(run.peak_tree_mb):>7} MB  {run.note}",
            flush=True,
        )

    kept = _previous_runs() if args.merge else []
    runs: list[Run] = []
    for label in sizes:
        runs.extend(run_size(label, args, say))
        write_results(_merged(kept, runs), started, Path(args.out))  # keep partial results
    runs = _merged(kept, runs)
    print()
    for line in checks(runs):
        print(line)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
