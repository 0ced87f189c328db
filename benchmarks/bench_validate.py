"""Benchmark `finrep validate` against DuckDB reading the same nine files once.

For each data folder, in the same run and alternating, each in a fresh subprocess (so memory is
that step's own; Python start-up and imports are not timed):
- baseline "scan": DuckDB reads all nine files once, touching every value of every column
  (``SELECT count(*), sum(hash(<every column>))`` per file; CSV through DuckDB's own sniffer);
  and, in the same subprocess, "load": DuckDB reads them into tables (``CREATE TABLE AS``);
- validate: `finrep.validate.validate(folder)` with the packaged config.
Both are repeated (``--repeat``) and the median is taken (the best run is shown too, and CPU
seconds of every thread, steadier than wall time on a shared machine, as is the load average
before and after); peak memory is the kernel's peak
resident size of the subprocess. The ratios are validate / scan and validate / load (target:
< 2 at 1,000,000 customers). The OS file cache is warmed before the first measurement, so both read from memory.

``--bad`` also builds a copy of the first folder with millions of bad rows (negative balances,
orphan products, unknown devices, duplicate keys, unparseable text) and validates it: the time,
memory and number of findings show that listings stay capped and memory flat.

Usage:
    python benchmarks/bench_validate.py                       # _work/gen100k and _work/gen1m
    python benchmarks/bench_validate.py --data DIR [DIR ...] --repeat 3 --bad
Missing `_work/gen100k` / `_work/gen1m` are generated (Parquet) first.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / "_work"
DEFAULTS = {"gen100k": 100_000, "gen1m": 1_000_000}

_BASELINE = r"""
import json, resource, sys, time
import duckdb
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
from finrep.schema import TABLES
from finrep.sources import find_file
from pathlib import Path
data = Path(sys.argv[1])
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
began, cpu0 = time.perf_counter(), cpu()
rows = 0
sources = {}
for name in TABLES:
    path = find_file(data, name)
    if path.is_dir():
        sources[name] = f"read_parquet('{path}/**/*.parquet')"
    elif path.suffix == ".parquet":
        sources[name] = f"read_parquet('{path}')"
    else:
        sources[name] = f"read_csv('{path}')"
for name, src in sources.items():
    cols = ", ".join('"' + c + '"' for c in TABLES[name].column_names)
    n, _ = con.execute(f"SELECT count(*), sum(hash({cols})) FROM {src}").fetchone()
    rows += n
seconds, scan_cpu = time.perf_counter() - began, cpu() - cpu0
began, cpu0 = time.perf_counter(), cpu()
for name, src in sources.items():
    con.execute(f"CREATE TEMP TABLE t_{name} AS SELECT * FROM {src}")
    con.execute(f"DROP TABLE t_{name}")
load, load_cpu = time.perf_counter() - began, cpu() - cpu0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "load": load, "rows": rows, "peak": peak, "cpu": scan_cpu,
                  "load_cpu": load_cpu}))
"""

_VALIDATE = r"""
import json, resource, sys, time
from finrep.config import load_config
from finrep.validate import validate, has_errors
config = load_config()
if len(sys.argv) > 2:  # --memory-limit: another DuckDB limit to compare
    config = config.with_overrides(validate={"memory_limit": sys.argv[2]})
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
began, cpu0 = time.perf_counter(), cpu()
findings = validate(sys.argv[1], config)
seconds, used = time.perf_counter() - began, cpu() - cpu0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
rules = sorted({f.rule for f in findings})
print(json.dumps({"seconds": seconds, "cpu": used, "findings": len(findings), "peak": peak,
                  "errors": has_errors(findings), "rules": rules}))
"""


def _run(script: str, data: Path, *extra: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", script, str(data), *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"failed on {data}:\n{out.stderr[-3000:]}")
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


def _warm(data: Path) -> int:
    total = 0
    for path in sorted(data.rglob("*")):
        if path.is_file():
            with path.open("rb") as fh:
                while block := fh.read(1 << 24):
                    total += len(block)
    return total


def _ensure(folder: Path, customers: int) -> None:
    if (folder / "manifest.json").exists():
        return
    print(f"generating {folder} ({customers:,} customers, parquet) …", flush=True)
    subprocess.run(
        [sys.executable, "-c", "from finrep.cli.app import main; main()", "--quiet", "generate", "--customers",
         str(customers), "--format", "parquet", "--out", str(folder), "--force"],
        check=True,
    )  # fmt: skip


def _make_bad(base: Path, out: Path) -> dict[str, int]:
    """A copy of `base` with bad rows injected by DuckDB (counts of bad rows per kind)."""
    import duckdb

    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(base, out)
    con = duckdb.connect()
    bal = out / "account_balances.parquet"
    tmp = out / "account_balances.tmp.parquet"
    con.execute(
        f"""COPY (SELECT
              CASE WHEN i % 7 = 0 THEN 'BAL_DUP' ELSE balance_id END AS balance_id,
              customer_id,
              CASE WHEN i % 5 = 1 THEN 'PRD9999' ELSE product_id END AS product_id,
              date,
              CASE WHEN i % 3 = 2 THEN -balance ELSE balance END AS balance,
              contributions_mtd, withdrawals_mtd, investment_returns_mtd, fees_mtd
            FROM (SELECT *, row_number() OVER () AS i FROM read_parquet('{bal}')))
           TO '{tmp}' (FORMAT parquet)"""
    )
    tmp.replace(bal)
    eng = out / "engagement.parquet"
    tmp = out / "engagement.tmp.parquet"
    con.execute(
        f"""COPY (SELECT engagement_id, customer_id, date, action_type,
              CASE WHEN i % 4 = 0 THEN 'Fax Machine' ELSE device_type END AS device_type,
              session_duration, pages_viewed, actions_taken
            FROM (SELECT *, row_number() OVER () AS i FROM read_parquet('{eng}')))
           TO '{tmp}' (FORMAT parquet)"""
    )
    tmp.replace(eng)
    counts = con.execute(
        f"SELECT count(*) FILTER (WHERE balance_id = 'BAL_DUP'), "
        f"count(*) FILTER (WHERE product_id = 'PRD9999'), count(*) FILTER (WHERE balance < 0) "
        f"FROM read_parquet('{bal}')"
    ).fetchone()
    (devices,) = con.execute(
        f"SELECT count(*) FILTER (WHERE device_type = 'Fax Machine') FROM read_parquet('{eng}')"
    ).fetchone()
    return {
        "duplicate balance_id": counts[0],
        "orphan product": counts[1],
        "negative balance": counts[2],
        "unknown device": devices,
    }


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", nargs="*", type=Path, help="data folders (default: gen100k, gen1m)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bad", action="store_true", help="also validate a copy with bad rows")
    parser.add_argument(
        "--memory-limit",
        help="DuckDB memory limit for validate (default: [validate] memory_limit of the config)",
    )
    args = parser.parse_args()
    limit = (args.memory_limit,) if args.memory_limit else ()
    print(f"validate's DuckDB memory limit: {args.memory_limit or '[validate] memory_limit'}")
    folders = args.data
    if not folders:
        folders = []
        for name, customers in DEFAULTS.items():
            _ensure(WORK / name, customers)
            folders.append(WORK / name)
    print(f"{'data':<28} {'rows':>12} {'scan':>7} {'load':>7} {'validate':>9} "
          f"{'÷scan':>6} {'÷load':>6} {'peak base':>10} {'peak val.':>10}")  # fmt: skip
    for folder in folders:
        _warm(folder)
        print(f"{'':<28} load average before: {_load()}", flush=True)
        base, val = [], []
        for _ in range(args.repeat):
            base.append(_run(_BASELINE, folder))
            val.append(_run(_VALIDATE, folder, *limit))
        b = statistics.median(r["seconds"] for r in base)
        ld = statistics.median(r["load"] for r in base)
        v = statistics.median(r["seconds"] for r in val)
        print(
            f"{folder.name:<28} {base[0]['rows']:>12,} {b:>6.2f}s {ld:>6.2f}s {v:>8.2f}s "
            f"{v / b:>6.2f} {v / ld:>6.2f} {_mb(max(r['peak'] for r in base)):>10} "
            f"{_mb(max(r['peak'] for r in val)):>10}   findings: {val[0]['findings']}",
            flush=True,
        )
        # CPU seconds (user + sys, every thread): steadier than wall time on a shared machine.
        bc = statistics.median(r["cpu"] for r in base)
        vc = statistics.median(r["cpu"] for r in val)
        print(f"{'':<28} cpu: scan {bc:.2f}s, load {statistics.median(r['load_cpu'] for r in base):.2f}s, "
              f"validate {vc:.2f}s (÷scan {vc / bc:.2f}); best wall: scan "
              f"{min(r['seconds'] for r in base):.2f}s, validate {min(r['seconds'] for r in val):.2f}s "
              f"(÷ {min(r['seconds'] for r in val) / min(r['seconds'] for r in base):.2f})")  # fmt: skip
        print(f"{'':<28} baseline runs {[round(r['seconds'], 2) for r in base]}, "
              f"validate runs {[round(r['seconds'], 2) for r in val]}; load average after: "
              f"{_load()}", flush=True)  # fmt: skip
    if args.bad:
        bad = WORK / f"{folders[0].name}-bad"
        injected = _make_bad(folders[0], bad)
        _warm(bad)
        began = time.perf_counter()
        result = _run(_VALIDATE, bad, *limit)
        wall = time.perf_counter() - began
        print(f"\nbad rows injected into {bad.name}: " +
              ", ".join(f"{k} {v:,}" for k, v in injected.items()))  # fmt: skip
        print(
            f"validate: {result['seconds']:.2f}s ({wall:.2f}s with start-up), peak "
            f"{_mb(result['peak'])}, {result['findings']} findings listed, rules "
            f"{', '.join(result['rules'])}"
        )
        shutil.rmtree(bad)


if __name__ == "__main__":
    main()
