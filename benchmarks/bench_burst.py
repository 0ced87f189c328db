"""Benchmark bursting (`finrep report --burst KEY`) against one `make_report` per value, and
the cost of mailing the packs (composition + SMTP to a local aiosmtpd server).

The burst opens the data once: one connection, the typed tables stored once as Parquet, one
validation, one chart pool; the baseline runs `make_report` from scratch for every value, as
a shell loop over `finrep report --segment …` would. Both write the same files.

Prints a JSON record: customers, values, seconds (burst, baseline, ratio), seconds per pack,
MB written, peak memory, and the send time per message.

Usage:
    python benchmarks/bench_burst.py                         # 1,000 customers, by segment
    python benchmarks/bench_burst.py --customers 10000 --key region --formats xlsx
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import socket
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / "_work"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    """CPU seconds of this process and its finished children (chart workers): on a shared,
    busy machine a steadier measure of work than wall time."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--key", default="segment")
    parser.add_argument("--formats", default="pdf,xlsx")
    parser.add_argument("--data-format", default="csv", choices=("csv", "parquet"))
    parser.add_argument("--period", default="2024-11")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()

    from finrep.config import load_config
    from finrep.deliver.burst import burst
    from finrep.filters import Filters
    from finrep.report import make_report

    data = _dataset(args.customers, args.data_format)
    out = WORK / "burst-out"
    shutil.rmtree(out, ignore_errors=True)
    config = load_config()

    start, cpu = time.perf_counter(), _cpu()
    result = burst(data, args.key, period=args.period, formats=args.formats, config=config,
                   out_dir=out / "burst")  # fmt: skip
    burst_seconds = time.perf_counter() - start
    burst_cpu = _cpu() - cpu
    values = list(result.packs)
    written = sum(p.stat().st_size for p in result.paths) / 1_048_576

    baseline_seconds = baseline_cpu = None
    if not args.skip_baseline:
        start, cpu = time.perf_counter(), _cpu()
        for value in values:
            make_report(data, period=args.period, filters=Filters.of(**{args.key: [value]}),
                        config=config, formats=args.formats, out_dir=out / "baseline")  # fmt: skip
        baseline_seconds = time.perf_counter() - start
        baseline_cpu = _cpu() - cpu

    send_seconds = _send(result, data, config, args.period, out / "burst")
    record = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": sys.version.split()[0],
        "customers": args.customers,
        "data_format": args.data_format,
        "key": args.key,
        "values": len(values),
        "formats": args.formats,
        "burst_seconds": round(burst_seconds, 1),
        "burst_seconds_per_pack": round(burst_seconds / len(values), 1),
        "baseline_seconds": None if baseline_seconds is None else round(baseline_seconds, 1),
        "baseline_over_burst": None
        if baseline_seconds is None
        else round(baseline_seconds / burst_seconds, 2),
        "burst_cpu_seconds": round(burst_cpu, 1),
        "baseline_cpu_seconds": None if baseline_cpu is None else round(baseline_cpu, 1),
        "mb_written": round(written, 1),
        "send_seconds_per_message": round(send_seconds / len(values), 3),
        "peak_mb": round(_peak_mb()),
    }
    print(json.dumps(record, indent=2))


def _send(result, data: Path, config, period: str, out: Path) -> float:
    """Mail every burst pack (one recipient per value) to a local aiosmtpd server."""
    from aiosmtpd.controller import Controller

    import finrep
    from finrep.deliver import Recipient

    class Sink:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            return "250 OK"

    port = _free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        cfg = config.with_overrides(smtp={"host": "127.0.0.1", "port": port, "starttls": False})
        people = [Recipient(f"desk{i}@example.com", str(v), pack.filters)
                  for i, (v, pack) in enumerate(result.packs.items())]  # fmt: skip
        start = time.perf_counter()
        formats = tuple(next(iter(result.packs.values())).paths)
        finrep.send(data, recipients=people, period=period, config=cfg, out_dir=out,
                    formats=formats)  # fmt: skip
        return time.perf_counter() - start
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
