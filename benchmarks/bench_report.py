"""Benchmark `finrep report --format pdf` end to end (issue 5).

Targets: at 1,000 customers the PDF report in under 8 s; at 1,000,000 customers (Parquet)
under the time of `finrep measures` plus 10 s; the PDF under 2 MB.

For each size, as subprocesses of the CLI (exactly as a user runs them):

1. ``finrep measures --format json`` (the measures time the 1M target is relative to);
2. ``finrep report --format pdf`` (wall time; best and median of ``--repeat`` runs);
3. one more report run in-process with a progress callback, for the split of the time into
   validation, measures (build_pack), chart drawing and PDF layout.

Data: 1k is generated (CSV, the `finrep demo` shape) into ``benchmarks/_work/report1k`` when
missing; 1m uses ``benchmarks/_work/gen1m`` (``finrep generate --customers 1000000 --format
parquet``) and is skipped, saying so, when that folder is absent.

Usage:
    python benchmarks/bench_report.py                 # 1k, and 1m if its data exists
    python benchmarks/bench_report.py --sizes 1k --repeat 5
Results: printed, and written to ``benchmarks/_work/bench_report.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / "_work"
TARGET_1K_S = 8.0
TARGET_OVER_MEASURES_S = 10.0
TARGET_PDF_MB = 2.0

SIZES = {
    "1k": {"data": WORK / "report1k", "customers": 1_000, "format": "csv", "repeat": 3},
    "1m": {"data": WORK / "gen1m", "customers": 1_000_000, "format": "parquet", "repeat": 1},
}

PHASES = r"""
import json, sys, time
from finrep.report import make_report
marks, t0 = [], time.perf_counter()
def progress(step, done, total):
    marks.append((round(time.perf_counter() - t0, 3), step, done, total))
make_report(sys.argv[1], formats=["pdf"], out_dir=sys.argv[2], progress=progress)
marks.append((round(time.perf_counter() - t0, 3), "end", 1, 1))
print(json.dumps(marks))
"""


def cli(*args: str) -> float:
    """Seconds a `finrep` CLI call takes (it must succeed)."""
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", "from finrep.cli.app import main; main()", "--quiet", *args],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - began
    if done.returncode:
        raise SystemExit(f"finrep {' '.join(args)} failed:\n{done.stderr}")
    return seconds


def ensure_data(size: str) -> Path | None:
    spec = SIZES[size]
    data: Path = spec["data"]
    if (data / "manifest.json").is_file():
        return data
    if size != "1k":
        return None
    cli("generate", "--customers", str(spec["customers"]), "--format", spec["format"],
        "--out", str(data), "--force")  # fmt: skip
    return data


def phases(data: Path, out: Path) -> dict[str, float]:
    """Seconds per phase, from the progress callback of one in-process run."""
    done = subprocess.run([sys.executable, "-c", PHASES, str(data), str(out)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    marks = json.loads(done.stdout.strip().splitlines()[-1])

    def first(step: str, done_value: int | None = None) -> float:
        for t, s, d, _ in marks:
            if s == step and (done_value is None or d == done_value):
                return t
        return float("nan")

    pack_ready = first("Report", 1)  # validation and build_pack (side by side) finished
    charts_end = max((t for t, s, d, n in marks if s == "Drawing charts" and d == n), default=0)
    end = marks[-1][0]
    return {
        "validate_and_build_pack": pack_ready,
        "charts": charts_end - pack_ready,
        "pdf_layout": end - charts_end,
        "total_in_process": end,
    }


def bench(size: str, repeat: int | None) -> dict:
    data = ensure_data(size)
    if data is None:
        return {"size": size, "skipped": f"no data in {SIZES[size]['data']}"}
    out = WORK / f"bench-report-{size}"
    runs = repeat or SIZES[size]["repeat"]
    measures = cli("measures", "--data", str(data), "--format", "json")
    times = [cli("report", "--data", str(data), "--format", "pdf", "--out", str(out))
             for _ in range(runs)]  # fmt: skip
    pdf = next(out.glob("finrep-*.pdf"))
    split = phases(data, out)
    result = {
        "size": size,
        "data": str(data),
        "cpus": os.cpu_count(),
        "measures_s": round(measures, 2),
        "report_s": [round(t, 2) for t in times],
        "report_best_s": round(min(times), 2),
        "report_median_s": round(statistics.median(times), 2),
        "report_minus_measures_s": round(min(times) - measures, 2),
        "pdf_mb": round(pdf.stat().st_size / 1_048_576, 3),
        "phases_s": {k: round(v, 2) for k, v in split.items()},
    }
    if size == "1k":
        result["target"] = f"report < {TARGET_1K_S} s"
        result["met"] = result["report_best_s"] < TARGET_1K_S
    else:
        result["target"] = f"report < measures + {TARGET_OVER_MEASURES_S} s"
        result["met"] = result["report_minus_measures_s"] < TARGET_OVER_MEASURES_S
    result["pdf_met"] = result["pdf_mb"] < TARGET_PDF_MB
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--repeat", type=int, default=None, help="report runs per size")
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    results = {"load_average_at_start": round(load, 2), "runs": []}
    for size in args.sizes:
        r = bench(size, args.repeat)
        results["runs"].append(r)
        print(json.dumps(r, indent=2), flush=True)
    (WORK / "bench_report.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
