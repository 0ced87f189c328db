"""Benchmark the measures: every measure for one month against one DuckDB aggregation of the
balances (issue 4: at most 3× that baseline, peak memory under 2 GB, at 1M customers).

Each part runs in its own subprocess, so its peak memory (the kernel's ru_maxrss of that
process) is its own:

1. baseline — DuckDB reads account_balances and aggregates it once by month (balance and
   the four month-to-date flows, row count), after one untimed warm-up read;
2. kpis — `finrep.measures.compute`, what `finrep measures` computes: every KPI with both
   comparison periods, no visuals;
3. measures — `finrep.measures.kpis.open_run` + every KPI (with both comparison periods) +
   every visual of the five pages, i.e. `build_pack` without the workbook fact tables and
   the source-file hashes, which are timed separately as 4. facts and 5. run information.

The ratio is measures / baseline. Data: a `finrep generate --format parquet` folder; it is
generated when missing (``--customers``; 1,000,000 by default) and kept for later runs.

Usage:
    python benchmarks/bench_measures.py                          # benchmarks/_work/gen1m
    python benchmarks/bench_measures.py --data benchmarks/_work/p50 --period 2024-06
    python benchmarks/bench_measures.py --repeat 3 --skip-facts   # best and median of 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / "_work"
TARGET_RATIO = 3.0
TARGET_PEAK_MB = 2048


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    """CPU seconds of this process, DuckDB's threads included (less noisy than wall time on
    a shared machine)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def table_source(data: Path, table: str) -> str:
    """DuckDB's reader of `table` in `data`: ``read_parquet('…')`` or ``read_csv('…')``."""
    path = next(p for p in (data / f"{table}.parquet", data / f"{table}.csv") if p.exists())
    reader = "read_parquet" if path.suffix == ".parquet" else "read_csv"
    return f"{reader}('{path}')"


def baseline_sql(data: Path) -> str:
    """Issue 4's baseline: account_balances aggregated once by month."""
    return (
        "SELECT date_trunc('month', date) AS month, sum(balance), sum(contributions_mtd), "
        "sum(withdrawals_mtd), sum(investment_returns_mtd), sum(fees_mtd), count(*) "
        f"FROM {table_source(data, 'account_balances')} GROUP BY 1"
    )


def part_baseline(data: Path, period: str) -> dict:
    import duckdb

    con = duckdb.connect()
    # warm the file cache
    con.execute(f"SELECT count(*) FROM {table_source(data, 'account_balances')}").fetchall()
    began, cpu = time.perf_counter(), _cpu()
    rows = con.execute(baseline_sql(data)).fetchall()
    seconds = time.perf_counter() - began
    return {
        "seconds": seconds,
        "cpu": _cpu() - cpu,
        "months": len(rows),
        "rows": sum(r[-1] for r in rows),
    }


def part_measures(data: Path, period: str) -> dict:
    from finrep.measures.kpis import open_run
    from finrep.pack_builder import build_pages

    steps: dict[str, float] = {}
    began, cpu = time.perf_counter(), _cpu()
    run = open_run(data, period)
    steps["open"] = time.perf_counter() - began
    t = time.perf_counter()
    kpis = run.kpis()
    steps["kpis"] = time.perf_counter() - t
    t = time.perf_counter()
    pages = build_pages(run, kpis, lambda *a: None)
    steps["pages"] = time.perf_counter() - t
    seconds = time.perf_counter() - began
    return {
        "seconds": seconds,
        "cpu": _cpu() - cpu,
        "steps": steps,
        "period": run.period.spec,
        "kpis": len(kpis),
        "visuals": sum(len(p.visuals) for p in pages),
        "aum": kpis["aum"].value,
        "active_customers": kpis["active_customers"].value,
    }


def part_kpis(data: Path, period: str) -> dict:
    """`finrep measures` in process: every KPI with both comparison periods, no visuals."""
    from finrep.measures import compute

    began, cpu = time.perf_counter(), _cpu()
    result = compute(data, period)
    return {
        "seconds": time.perf_counter() - began,
        "cpu": _cpu() - cpu,
        "period": result.period.spec,
        "kpis": len(result.kpis),
        "aum": result.kpis["aum"].value,
    }


def part_facts(data: Path, period: str) -> dict:
    from finrep.measures.kpis import open_run
    from finrep.pack_builder import _fact_tables, source_files

    run = open_run(data, period)
    t = time.perf_counter()
    facts = _fact_tables(run)
    facts_s = time.perf_counter() - t
    t = time.perf_counter()
    sources = source_files(run.ctx.tables)
    return {
        "facts_seconds": facts_s,
        "fact_rows": {k: len(v) for k, v in facts.items()},
        "sources_seconds": time.perf_counter() - t,
        "source_rows": {s.table: s.rows for s in sources},
    }


PARTS = {
    "baseline": part_baseline,
    "kpis": part_kpis,
    "measures": part_measures,
    "facts": part_facts,
}


def _best(runs: list[dict]) -> dict:
    """The round with the least wall time (the one least disturbed by other work)."""
    return min(runs, key=lambda r: r["seconds"])


def run_part(name: str, data: Path, period: str) -> dict:
    """Run one part in a fresh interpreter; its result plus its peak memory."""
    out = subprocess.run(
        [sys.executable, __file__, "--part", name, "--data", str(data), "--period", period],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"part {name} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ensure_data(data: Path, customers: int) -> None:
    if (data / "manifest.json").exists():
        return
    print(f"generating {customers:,} customers into {data} …", flush=True)
    subprocess.run(
        [sys.executable, "-c", "from finrep.cli.app import main; main()", "--quiet",
         "generate", "--customers", str(customers), "--format", "parquet", "--out", str(data)],
        check=True,
    )  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=WORK / "gen1m")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--period", default="latest")
    ap.add_argument("--part", choices=sorted(PARTS))
    ap.add_argument("--skip-facts", action="store_true")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of baseline, kpis and measures (alternated, so load changes hit all "
        "three alike); figures are the best round, with the median beside",
    )
    args = ap.parse_args()
    if args.part:  # child process
        result = PARTS[args.part](args.data, args.period)
        result["peak_mb"] = _peak_mb()
        print(json.dumps(result, default=str))
        return

    ensure_data(args.data, args.customers)
    manifest = json.loads((args.data / "manifest.json").read_text())
    counts = manifest.get("row_counts", {})
    print(f"data: {args.data} ({manifest.get('options', {}).get('customers', '?'):,} customers)")
    for table, rows in counts.items():
        print(f"  {table:<22} {rows:>12,}")
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )

    rounds: dict[str, list[dict]] = {"baseline": [], "kpis": [], "measures": []}
    for r in range(max(1, args.repeat)):
        for name, runs in rounds.items():
            load = os.getloadavg()[0]
            result = run_part(name, args.data, args.period)
            result["load"] = load
            runs.append(result)
            print(f"round {r + 1} {name:<9} {result['seconds']:6.2f} s, "
                  f"CPU {result['cpu']:6.2f} s (load {load:.2f})", flush=True)  # fmt: skip
    base, kpis, meas = (_best(runs) for runs in rounds.values())
    if args.repeat > 1:
        for name, runs in rounds.items():
            wall = statistics.median(r["seconds"] for r in runs)
            cpu = statistics.median(r["cpu"] for r in runs)
            loads = ", ".join(f"{r['load']:.2f}" for r in runs)
            print(f"median    {name:<9} {wall:6.2f} s, CPU {cpu:6.2f} s over {len(runs)} "
                  f"rounds (load {loads}); best below")  # fmt: skip
    print(f"\nbaseline  DuckDB balances by month: {base['seconds']:.2f} s "
          f"(CPU {base['cpu']:.2f} s; {base['rows']:,} rows, {base['months']} months), "
          f"peak {base['peak_mb']:.0f} MB")  # fmt: skip
    print(f"kpis      {kpis['kpis']} KPIs for {kpis['period']} (finrep measures): "
          f"{kpis['seconds']:.2f} s (CPU {kpis['cpu']:.2f} s), peak {kpis['peak_mb']:.0f} MB; "
          f"{kpis['seconds'] / base['seconds']:.2f}× wall, "
          f"{kpis['cpu'] / base['cpu']:.2f}× CPU")  # fmt: skip
    steps = ", ".join(f"{k} {v:.2f} s" for k, v in meas["steps"].items())
    print(f"measures  {meas['kpis']} KPIs + {meas['visuals']} visuals for {meas['period']}: "
          f"{meas['seconds']:.2f} s (CPU {meas['cpu']:.2f} s; {steps}), "
          f"peak {meas['peak_mb']:.0f} MB")  # fmt: skip
    ratio = meas["seconds"] / base["seconds"]
    cpu_ratio = meas["cpu"] / base["cpu"]
    print(f"ratio     {ratio:.2f}× wall, {cpu_ratio:.2f}× CPU (target ≤ {TARGET_RATIO:.0f}×): "
          f"{'met' if ratio <= TARGET_RATIO else 'MISSED'}; peak memory "
          f"{'met' if meas['peak_mb'] < TARGET_PEAK_MB else 'MISSED'} (< {TARGET_PEAK_MB} MB)")  # fmt: skip
    if not args.skip_facts:
        facts = run_part("facts", args.data, args.period)
        print(f"facts     workbook tables {facts['facts_seconds']:.2f} s {facts['fact_rows']}; "
              f"source hashes and counts {facts['sources_seconds']:.2f} s; "
              f"peak {facts['peak_mb']:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
