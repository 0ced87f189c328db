"""Benchmark `finrep generate`: throughput, peak memory, and the ratio to a pyarrow baseline.

For each size, `finrep generate --format parquet` runs in a subprocess; its peak memory is the
largest sum of resident memory of the process and its children (sampled every 0.1 s) or the
kernel's own peak, whichever is larger. Then, in this process, the baseline: pyarrow writes
tables of the same schema, the same in-memory Arrow types and the same number of rows with
the same writer settings (the first row group of each generated file, written again and
again), which is the cost of writing alone. The ratio is generate time / baseline time, both
wall clock; CPU seconds (user + sys) are printed too, because on a shared machine the wall
clock mostly measures the neighbours. CSV throughput is measured the same way (optionally at
a smaller size, since CSV is ~6x larger on disk).

Usage:
    python benchmarks/bench_generate.py                      # 1,000,000 customers
    python benchmarks/bench_generate.py --customers 100000 1000000 --csv-customers 200000
Data goes under benchmarks/_work/ and is deleted afterwards unless --keep; the figures are
also saved to benchmarks/_work/bench_generate.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq

from finrep.schema import TABLES
from finrep.synth.writers import dictionary_columns, parquet_options

WORK = Path(__file__).resolve().parent / "_work"


def _tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and its descendants (Linux /proc)."""
    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            with open(f"/proc/{p}/task/{p}/children") as fh:
                stack.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def run_generate(out: Path, customers: int, fmt: str, start: str, end: str) -> dict:
    """Run `finrep generate` in a subprocess; seconds, peak memory and the manifest."""
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-c", "from finrep.cli.app import main; main()", "--quiet",
           "generate", "--customers", str(customers), "--start", start, "--end", end,
           "--format", fmt, "--out", str(out)]  # fmt: skip
    began = time.perf_counter()
    proc = subprocess.Popen(cmd)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - began
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"finrep generate failed with exit code {proc.returncode}")
    manifest = json.loads((out / "manifest.json").read_text())
    rows = sum(manifest["row_counts"].values())
    return {
        "rows": rows,
        "seconds": seconds,
        "peak_mb": max(peak[0] / 2**20, usage.ru_maxrss / 1024),
        "cpu": usage.ru_utime + usage.ru_stime,
        "bytes": sum(f["bytes"] for f in manifest["files"]),
        "manifest": manifest,
    }


def pyarrow_baseline(generated: Path, manifest: dict, out: Path) -> tuple[float, float]:
    """Seconds (wall, CPU) pyarrow takes to write tables of the same shape and size as
    `generated`."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    samples = {}
    for entry in manifest["files"]:
        table = entry["table"]
        if table not in samples:
            # In memory as the generator holds it: repeating text dictionary-encoded.
            source = pq.ParquetFile(
                generated / entry["path"], read_dictionary=dictionary_columns(TABLES[table])
            )
            samples[table] = source.read_row_group(0)
    began, began_cpu = time.perf_counter(), time.process_time()
    for table, sample in samples.items():
        rows = manifest["row_counts"][table]
        options = parquet_options(TABLES[table])
        with pq.ParquetWriter(out / f"{table}.parquet", sample.schema, **options) as w:
            written = 0
            while written < rows:
                part = sample.slice(0, min(sample.num_rows, rows - written))
                w.write_table(part, row_group_size=max(part.num_rows, 1))
                written += part.num_rows
    return time.perf_counter() - began, time.process_time() - began_cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--csv-customers", type=int, default=None,
                    help="customers for the CSV run (default: the largest size)")  # fmt: skip
    ap.add_argument("--no-csv", action="store_true")
    ap.add_argument("--start", default="2020-01")
    ap.add_argument("--end", default="2024-12")
    ap.add_argument("--keep", action="store_true", help="keep the generated data")
    args = ap.parse_args()
    WORK.mkdir(exist_ok=True)

    results = []
    try:
        for n in args.customers:
            out = WORK / f"gen_parquet_{n}"
            r = run_generate(out, n, "parquet", args.start, args.end)
            r["baseline"], r["baseline_cpu"] = pyarrow_baseline(
                out, r["manifest"], WORK / f"baseline_{n}"
            )
            r.update(customers=n, format="parquet")
            results.append(r)
            shutil.rmtree(WORK / f"baseline_{n}", ignore_errors=True)
            if not args.keep:
                shutil.rmtree(out, ignore_errors=True)
        if not args.no_csv:
            n = args.csv_customers or max(args.customers)
            out = WORK / f"gen_csv_{n}"
            r = run_generate(out, n, "csv", args.start, args.end)
            r.update(customers=n, format="csv", baseline=None, baseline_cpu=None)
            results.append(r)
            if not args.keep:
                shutil.rmtree(out, ignore_errors=True)
    finally:
        if not args.keep:
            for p in WORK.glob("baseline_*"):
                shutil.rmtree(p, ignore_errors=True)

    saved = [{k: v for k, v in r.items() if k != "manifest"} for r in results]
    (WORK / "bench_generate.json").write_text(json.dumps(saved, indent=2))
    print()
    print(f"{'format':<8} {'customers':>10} {'rows':>12} {'seconds':>8} {'rows/s':>10} "
          f"{'pyarrow s':>9} {'ratio':>6} {'peak MB':>8} {'size MB':>8}")  # fmt: skip
    for r in results:
        base = f"{r['baseline']:9.1f}" if r["baseline"] else f"{'':>9}"
        ratio = f"{r['seconds'] / r['baseline']:6.2f}" if r["baseline"] else f"{'':>6}"
        print(f"{r['format']:<8} {r['customers']:>10,} {r['rows']:>12,} {r['seconds']:8.1f} "
              f"{r['rows'] / r['seconds']:>10,.0f} {base} {ratio} {r['peak_mb']:8.0f} "
              f"{r['bytes'] / 2**20:8.0f}")  # fmt: skip
    print("CPU seconds (user + sys):")
    for r in results:
        line = f"  {r['format']} {r['customers']:,}: generate {r['cpu']:.1f}"
        if r["baseline_cpu"]:
            line += f", pyarrow {r['baseline_cpu']:.1f} (ratio {r['cpu'] / r['baseline_cpu']:.2f})"
        print(line)
    for r in results:
        print(f"  {r['format']} {r['customers']:,}: " + ", ".join(
            f"{k} {v:,}" for k, v in r["manifest"]["row_counts"].items()))  # fmt: skip


if __name__ == "__main__":
    main()
