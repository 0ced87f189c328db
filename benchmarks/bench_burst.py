"""Benchmark bursting (`finrep report --burst KEY`): the partitioned burst against the
per-value burst it replaced and against one unfiltered report, in the same run.

Steps, each in its own measured subprocess (wall and CPU seconds, peak memory of the
process tree as summed PSS, largest single process, load average at the start; measured as
`run_all.py` measures its steps):
- ``burst``: `finrep.deliver.burst` (DuckDB: tables split by the value once, each pack on its
  own rows);
- ``burst_per_value``: the same burst with ``partition=False``: every pack computed on the
  whole tables with its filter (the behaviour before the split; still Spark's path);
- ``report``: one unfiltered `make_report` of the same period and formats;
- ``send`` (with ``--send``): mail the burst's packs to a local aiosmtpd server (the packs
  are reused, not rebuilt), seconds per message.

Prints one JSON record (and appends it to benchmarks/_work/bench_burst.jsonl).

Usage:
    python benchmarks/bench_burst.py --data benchmarks/_work/gen100k --repeat 2
    python benchmarks/bench_burst.py --data benchmarks/_work/gen1m --steps burst,report
    python benchmarks/bench_burst.py                   # 1,000 generated customers (CSV)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
STEPS = ("burst", "burst_per_value", "report")


def _dataset(customers: int, fmt: str) -> Path:
    from finrep.synth import generate

    folder = WORK / f"burst-{customers}-{fmt}"
    if not (folder / "manifest.json").exists():
        generate(folder, customers=customers, start="2020-01", end="2024-12", seed=42,
                 format=fmt, force=True)  # fmt: skip
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the measured child ---------------------------------------------------------------------
def child(step: str, data: Path, out: Path, key: str, formats: str, period: str) -> None:
    from finrep.config import load_config

    config = load_config()
    record: dict = {}
    if step in ("burst", "burst_per_value"):
        from finrep.deliver.burst import burst

        result = burst(data, key, period=period, formats=formats, config=config, out_dir=out,
                       partition=step == "burst")  # fmt: skip
        record["packs"] = len(result.packs)
        record["mb_written"] = sum(p.stat().st_size for p in result.paths) / 2**20
    elif step == "report":
        from finrep.report import make_report

        result = make_report(data, period=period, config=config, formats=formats, out_dir=out)
        record["mb_written"] = sum(p.stat().st_size for p in result.paths.values()) / 2**20
    elif step == "send":
        record.update(_send(data, key, config, period, out, formats))
    else:
        raise SystemExit(f"unknown step {step!r}")
    print("RESULT " + json.dumps(record))


def _send(data: Path, key: str, config, period: str, out: Path, formats: str) -> dict:
    """Mail every burst pack in `out` (one recipient per value) to a local aiosmtpd server."""
    from aiosmtpd.controller import Controller

    import finrep
    from finrep.deliver import Recipient
    from finrep.deliver.summary import SUMMARY_SUFFIX, PackSummary

    class Sink:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            return "250 OK"

    summaries = [PackSummary.load(p) for p in sorted(out.rglob(f"*{SUMMARY_SUFFIX}"))]
    people = [Recipient(f"desk{i}@example.com", f"Desk {i}", s.filters)
              for i, s in enumerate(summaries)]  # fmt: skip
    if not people:
        raise SystemExit(f"no burst packs in {out}: run the burst step first")
    port = _free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        cfg = config.with_overrides(smtp={"host": "127.0.0.1", "port": port, "starttls": False})
        start = time.perf_counter()
        finrep.send(data, recipients=people, period=period, config=cfg, out_dir=out,
                    formats=tuple(formats.split(",")))  # fmt: skip
        return {"messages": len(people),
                "send_seconds_per_message": (time.perf_counter() - start) / len(people)}  # fmt: skip
    finally:
        controller.stop()


# ---- the parent -----------------------------------------------------------------------------
def _measure(step: str, args, data: Path, out: Path) -> dict:
    sys.path.insert(0, str(HERE))
    from run_all import Run, measure

    cmd = [sys.executable, str(Path(__file__).resolve()), "child", step, str(data), str(out),
           args.key, args.formats, args.period]  # fmt: skip
    run = measure(Run(step, data.name, cmd))
    if run.status != "ok":  # recorded, and the other steps still run
        lines = (run.errors or run.output).strip().splitlines()
        error = next((ln for ln in reversed(lines) if "Error" in ln), lines[-1] if lines else "")
        return {"failed": error[:300], "seconds": round(run.seconds, 1),
                "load": round(run.load or 0, 2)}  # fmt: skip
    line = next(ln for ln in run.output.splitlines() if ln.startswith("RESULT "))
    return {
        "seconds": round(run.seconds, 1),
        "cpu_seconds": round(run.cpu_seconds or 0, 1),
        "peak_tree_pss_mb": round(run.peak_tree_mb or 0),
        "max_process_rss_mb": round(run.max_rss_mb or 0),
        "load": round(run.load or 0, 2),
        **json.loads(line[len("RESULT ") :]),
    }


def _summary(runs: list[dict]) -> dict:
    out: dict = {"runs": runs}
    ok = [r for r in runs if "failed" not in r]
    for field in ("seconds", "cpu_seconds", "peak_tree_pss_mb", "max_process_rss_mb"):
        values = [r[field] for r in ok]
        out[f"best_{field}"] = min(values) if values else None
        out[f"median_{field}"] = statistics.median(values) if values else None
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="a data folder (default: generate one)")
    parser.add_argument("--customers", type=int, default=1000, help="without --data")
    parser.add_argument("--data-format", default="csv", choices=("csv", "parquet"))
    parser.add_argument("--key", default="segment")
    parser.add_argument("--formats", default="pdf,xlsx")
    parser.add_argument("--period", default="latest")
    parser.add_argument("--steps", default=",".join(STEPS))
    parser.add_argument("--repeat", type=int, default=1, help="runs of each step")
    parser.add_argument("--send", action="store_true", help="also time mailing the packs")
    args = parser.parse_args()

    data = args.data or _dataset(args.customers, args.data_format)
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    out = WORK / f"burst-out-{data.name}"
    record: dict = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "data": str(data),
        "key": args.key,
        "formats": args.formats,
        "period": args.period,
    }
    for _ in range(args.repeat):  # steps interleaved: a load change hits every step alike
        for step in steps:
            folder = out / step
            shutil.rmtree(folder, ignore_errors=True)
            record.setdefault(step, []).append(_measure(step, args, data, folder))
            print(step, json.dumps(record[step][-1]), file=sys.stderr)
    for step in steps:
        record[step] = _summary(record[step])
    if args.send and "burst" in steps:
        record["send"] = _measure("send", args, data, out / "burst")
    fields = ("seconds", "cpu_seconds", "peak_tree_pss_mb")
    if "burst" in steps and "report" in steps:
        b, r = record["burst"], record["report"]
        record["burst_over_report"] = {
            f: _ratio(b[f"median_{f}"], r[f"median_{f}"]) for f in fields
        }
    if "burst" in steps and "burst_per_value" in steps:
        b, old = record["burst"], record["burst_per_value"]
        record["per_value_over_burst"] = {
            f: _ratio(old[f"median_{f}"], b[f"median_{f}"]) for f in fields
        }
    print(json.dumps(record, indent=2))
    with (WORK / "bench_burst.jsonl").open("a") as fh:
        fh.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        step, data, out, key, formats, period = sys.argv[2:8]
        child(step, Path(data), Path(out), key, formats, period)
    else:
        main()
