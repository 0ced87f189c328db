"""Benchmark `finrep report --format pdf` end to end (issue 5).

Targets: at 1,000 customers the PDF report in under 8 s; at 1,000,000 customers (Parquet)
under the measures time plus 10 s; the PDF under 2 MB. Issue 8: peak memory of
``finrep report --format pdf,xlsx`` at 1M at most 1.5× that at 100k.

"The measures time" is read as issue 4's measure, the one bench_measures.py times: every
measure for one month (every KPI and the data of every visual), which is what a report
computes; the 10 s are then the report's own work beside it (validation, chart drawing, the
PDF's layout). `finrep measures` computes the KPIs only (about 60% of that work at 1M), so the
difference against it is printed too (``report_minus_kpis_only_s``), as information.

For each size, as subprocesses of the CLI (exactly as a user runs them), each measured by
`run_all.measure` (wall time, CPU seconds of the process tree, peak memory of the tree as
summed PSS, 1-minute load average at the start), in ``--repeat`` rounds that alternate
(so that a change of load on this shared machine hits every side alike):

1. ``finrep measures --format json`` (KPIs only), and at 100k/1m also issue 4's "every
   measure for one month" (every KPI and the data of every visual, bench_measures.py's
   ``measures`` part) as a subprocess: the report computes all of it, `finrep measures` only
   the KPIs, so the 1M figure is given against both, median to median;
2. ``finrep report --format pdf`` (best and median);
3. one more report run in-process with a progress callback, for the split of the time into
   validation with the measures (build_pack), chart drawing and PDF layout (``--no-split``
   leaves it out);
4. with ``--memory``: ``finrep report --format pdf,xlsx`` (the step run_all.py measures).

The machine is shared: quote the load and the CPU seconds beside every wall time.

Data: 1k is generated (CSV, the `finrep demo` shape) into ``benchmarks/_work/report1k`` when
missing; 100k and 1m use ``benchmarks/_work/gen100k`` / ``gen1m`` (``finrep generate
--format parquet``) and are skipped, saying so, when the folder is absent.

Usage:
    python benchmarks/bench_report.py                 # 1k, and 1m if its data exists
    python benchmarks/bench_report.py --sizes 1k --repeat 5
    python benchmarks/bench_report.py --sizes 100k 1m --memory --no-split
Results: printed, and written to ``benchmarks/_work/bench_report.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

WORK = Path(__file__).resolve().parent / "_work"
TARGET_1K_S = 8.0
TARGET_OVER_MEASURES_S = 10.0
TARGET_PDF_MB = 2.0

SIZES = {
    "1k": {"data": WORK / "report1k", "customers": 1_000, "format": "csv", "repeat": 3},
    "100k": {"data": WORK / "gen100k", "customers": 100_000, "format": "parquet", "repeat": 1},
    "1m": {"data": WORK / "gen1m", "customers": 1_000_000, "format": "parquet", "repeat": 1},
}
DEFAULT_SIZES = ("1k", "1m")
MEMORY_GROWTH_MAX = 1.5

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


def cli(*args: str) -> dict:
    """Wall s, CPU s, peak tree memory (PSS MB) and load of one `finrep` CLI call (it must
    succeed)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run_all import FINREP, Run, measure

    run = measure(Run(args[0], "", [*FINREP, "--quiet", *args]))
    if run.returncode:
        last = (run.errors.strip().splitlines() or ["?"])[-1]
        print(f"finrep {' '.join(args)} failed:\n{run.errors}", file=sys.stderr)
        return {"failed": last[:300], "wall_s": round(run.seconds, 2), "load": round(run.load, 2)}
    return {
        "wall_s": round(run.seconds, 2),
        "cpu_s": round(run.cpu_seconds or 0.0, 2),
        "peak_mb": round(run.peak_mb or 0.0),
        "load": round(run.load or 0.0, 2),
    }


def every_measure(data: Path) -> dict:
    """Wall s, CPU s and peak of issue 4's "every measure for one month" (every KPI and the
    data of every visual: bench_measures.py's ``measures`` part) as a subprocess, interpreter
    start-up and imports included like the CLI calls."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run_all import Run, measure

    script = Path(__file__).resolve().parent / "bench_measures.py"
    cmd = [sys.executable, str(script), "--part", "measures", "--data", str(data)]
    run = measure(Run("every measure", "", cmd))
    if run.returncode:
        return {"failed": run.errors.strip()[-300:], "wall_s": round(run.seconds, 2)}
    return {
        "wall_s": round(run.seconds, 2),
        "cpu_s": round(run.cpu_seconds or 0.0, 2),
        "peak_mb": round(run.peak_mb or 0.0),
        "load": round(run.load or 0.0, 2),
    }


def _summary(runs: list[dict]) -> dict:
    """Best and median wall time (and median CPU) of repeated runs, with the runs."""
    walls = [r["wall_s"] for r in runs]
    return {
        "best_s": round(min(walls), 2),
        "median_s": round(statistics.median(walls), 2),
        "cpu_median_s": round(statistics.median(r["cpu_s"] for r in runs), 2),
        "runs": runs,
    }


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


def bench(size: str, repeat: int | None, split: bool = True, memory: bool = False) -> dict:
    data = ensure_data(size)
    if data is None:
        return {"size": size, "skipped": f"no data in {SIZES[size]['data']}"}
    out = WORK / f"bench-report-{size}"
    runs = repeat or SIZES[size]["repeat"]
    # Rounds alternate the baselines with the report, so that a change of load on this shared
    # machine hits both sides alike; the differences are taken median to median.
    measures_runs, every_runs, reports = [], [], []
    for _ in range(runs):
        measures_runs.append(cli("measures", "--data", str(data), "--format", "json"))
        if size != "1k":
            every_runs.append(every_measure(data))
        reports.append(cli("report", "--data", str(data), "--format", "pdf", "--out", str(out)))
    if any("failed" in r for r in [*measures_runs, *reports]):
        return {"size": size, "measures": measures_runs, "reports": reports, "failed": True}
    times = [r["wall_s"] for r in reports]
    measures = _summary(measures_runs)
    pdf = next(out.glob("finrep-*.pdf"))
    result = {
        "size": size,
        "data": str(data),
        "cpus": os.cpu_count(),
        "measures": measures,
        "reports": reports,
        "report_best_s": round(min(times), 2),
        "report_median_s": round(statistics.median(times), 2),
        "report_cpu_median_s": round(statistics.median(r["cpu_s"] for r in reports), 2),
        "report_minus_kpis_only_s": round(statistics.median(times) - measures["median_s"], 2),
        "pdf_mb": round(pdf.stat().st_size / 1_048_576, 3),
    }
    if every_runs and not any("failed" in r for r in every_runs):
        every = _summary(every_runs)
        result["every_measure"] = every
        result["report_minus_every_measure_s"] = round(
            statistics.median(times) - every["median_s"], 2
        )
    if split:
        result["phases_s"] = {k: round(v, 2) for k, v in phases(data, out).items()}
    if memory:
        result["report_pdf_xlsx"] = cli(
            "report", "--data", str(data), "--format", "pdf,xlsx", "--out", str(out)
        )
    if size == "1k":
        result["target"] = f"report < {TARGET_1K_S} s"
        result["met"] = result["report_best_s"] < TARGET_1K_S
    elif size == "1m":
        result["target"] = f"report < every measure + {TARGET_OVER_MEASURES_S} s (median to median)"
        over = result.get("report_minus_every_measure_s")
        result["met"] = over is not None and over < TARGET_OVER_MEASURES_S
    result["pdf_met"] = result["pdf_mb"] < TARGET_PDF_MB
    return result


def memory_growth(runs: list[dict]) -> dict | None:
    """Issue 8: peak memory of report (pdf,xlsx) at 1m over 100k."""
    peak = {r["size"]: r["report_pdf_xlsx"]["peak_mb"] for r in runs
            if "peak_mb" in r.get("report_pdf_xlsx", {})}  # fmt: skip
    if "100k" not in peak or "1m" not in peak:
        return None
    ratio = peak["1m"] / peak["100k"]
    return {"peak_mb_100k": peak["100k"], "peak_mb_1m": peak["1m"], "ratio": round(ratio, 2),
            "target": f"<= {MEMORY_GROWTH_MAX}", "met": ratio <= MEMORY_GROWTH_MAX}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES), choices=list(SIZES))
    parser.add_argument("--repeat", type=int, default=None, help="report runs per size")
    parser.add_argument("--no-split", action="store_true", help="no in-process phase split")
    parser.add_argument("--memory", action="store_true", help="also report --format pdf,xlsx")
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    results: dict = {"load_average_at_start": round(load, 2), "runs": []}
    for size in args.sizes:
        r = bench(size, args.repeat, split=not args.no_split, memory=args.memory)
        results["runs"].append(r)
        print(json.dumps(r, indent=2), flush=True)
        (WORK / "bench_report.json").write_text(json.dumps(results, indent=2) + "\n")
    growth = memory_growth(results["runs"])
    if growth:
        results["memory_growth"] = growth
        print(json.dumps({"memory_growth": growth}, indent=2))
    (WORK / "bench_report.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
