"""Benchmark the workbook: `render_xlsx` time and file size at 1M customers (issue 6: under
10 s beyond the measures time, under 20 MB).

Two modes:

- real (``--data DIR``): `build_pack` on a `finrep generate` folder (timed: that is the
  measures time, fact tables included), then `render_xlsx` (timed: the time beyond it);
- synthetic (``--synthetic``, the default when no data folder is given): the hand-made sample
  pack of tests/render with fact tables as large as 1,000,000 customers make them at the
  default grain: every month × product × segment × state × channel combination of the 24-month
  window (15 products, 4 segments, 51 states, 4 channels: 293,760 rows, an upper bound:
  a real pack only has the combinations with activity), and likewise for service (20,736)
  and engagement (76,800) rows.

Prints a JSON record: seconds, MB, rows per fact table, peak memory.

Usage:
    python benchmarks/bench_xlsx.py                                   # synthetic
    python benchmarks/bench_xlsx.py --data benchmarks/_work/gen1m     # real pack
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(__file__).resolve().parent / "_work"
TARGET_SECONDS = 10.0
TARGET_MB = 20.0

SEGMENTS = ("Mass Market", "Affluent", "High Net Worth", "Ultra High Net Worth")
AGE_BANDS = ("Under 30", "30-44", "45-59", "60+")
REGIONS = ("Northeast", "Midwest", "South", "West")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _product(*axes: list) -> pd.DataFrame:
    grids = np.meshgrid(*[np.arange(len(a)) for a in axes], indexing="ij")
    return pd.DataFrame({i: np.asarray(a, dtype=object)[g.ravel()]
                         for i, (a, g) in enumerate(zip(axes, grids, strict=True))})  # fmt: skip


def synthetic_facts(months: int = 24, seed: int = 1) -> dict[str, pd.DataFrame]:
    """Fact frames with the columns of `finrep.measures.facts` and 1M-customer row counts."""
    from finrep.schema import (
        ACTION_TYPES,
        DEVICE_TYPES,
        ENROLLMENT_CHANNELS,
        REASON_CODES,
        SERVICE_CHANNELS,
        STATE_REGION,
        STATES,
    )

    rng = np.random.default_rng(seed)
    month = list(pd.date_range("2023-01-01", periods=months, freq="MS"))
    products = [(f"P{i:03d}", f"Product {i:02d}", f"Category {i % 9}") for i in range(15)]
    g = _product(month, list(range(15)), list(SEGMENTS), list(STATES), list(ENROLLMENT_CHANNELS))
    n = len(g)
    pid = g[1].astype(int)
    pos = pd.DataFrame(
        {
            "month": pd.to_datetime(g[0].astype("datetime64[ns]")),
            "product_id": [products[i][0] for i in pid],
            "product": [products[i][1] for i in pid],
            "category": [products[i][2] for i in pid],
            "segment": g[2].astype(str),
            "region": g[3].map(STATE_REGION).astype(str),
            "state": g[3].astype(str),
            "channel": g[4].astype(str),
        }
    )
    aum = rng.lognormal(13, 1.5, n).round(2)
    pos["aum"] = aum
    pos["new_money"] = np.where(rng.random(n) < 0.3, rng.lognormal(9, 1.2, n), 0).round(2)
    pos["contributions"] = np.where(rng.random(n) < 0.6, aum * 0.004, 0).round(2)
    pos["withdrawals"] = np.where(rng.random(n) < 0.4, aum * 0.003, 0).round(2)
    pos["investment_returns"] = (aum * rng.normal(0.005, 0.02, n)).round(2)
    pos["fees"] = (aum * 0.0008).round(2)
    pos["open_positions"] = rng.integers(1, 400, n)
    pos["active_customers"] = pos["open_positions"]

    s = _product(month, list(SERVICE_CHANNELS), list(REASON_CODES), list(SEGMENTS), list(REGIONS))
    m = len(s)
    svc = pd.DataFrame({"month": pd.to_datetime(s[0].astype("datetime64[ns]")),
                        "channel": s[1].astype(str), "reason": s[2].astype(str),
                        "segment": s[3].astype(str), "region": s[4].astype(str)})  # fmt: skip
    contacts = rng.integers(1, 900, m)
    svc["contacts"] = contacts
    svc["first_contacts"] = (contacts * 0.85).astype(int)
    svc["fcr_contacts"] = (contacts * 0.6).astype(int)
    svc["resolved_contacts"] = (contacts * 0.7).astype(int)
    svc["issue_contacts"] = (contacts * 0.2).astype(int)
    svc["scored_contacts"] = (contacts * 0.6).astype(int)
    svc["satisfaction_sum"] = (svc["scored_contacts"] * rng.uniform(3, 4.6, m)).round(0)
    svc["csat_contacts"] = (svc["scored_contacts"] * 0.65).astype(int)
    svc["handle_minutes"] = (contacts * rng.uniform(6, 20, m)).round(1)
    svc["avg_satisfaction"] = svc["satisfaction_sum"] / svc["scored_contacts"].clip(lower=1)
    svc["avg_handle_minutes"] = svc["handle_minutes"] / contacts

    e = _product(month, list(DEVICE_TYPES), list(ACTION_TYPES), list(SEGMENTS),
                 list(AGE_BANDS), list(REGIONS))  # fmt: skip
    k = len(e)
    eng = pd.DataFrame({"month": pd.to_datetime(e[0].astype("datetime64[ns]")),
                        "device": e[1].astype(str), "action": e[2].astype(str),
                        "segment": e[3].astype(str), "age_band": e[4].astype(str),
                        "region": e[5].astype(str)})  # fmt: skip
    sessions = rng.integers(1, 3000, k)
    eng["sessions"] = sessions
    eng["session_minutes"] = (sessions * rng.uniform(3, 12, k)).round(1)
    eng["pages_viewed"] = sessions * 5
    eng["actions_taken"] = sessions * 2
    eng["avg_session_minutes"] = eng["session_minutes"] / sessions
    return {
        "fact_positions_monthly": pos,
        "fact_service_monthly": svc,
        "fact_engagement_monthly": eng,
    }


def synthetic_pack():
    sys.path.insert(0, str(ROOT / "tests" / "render"))
    from sample_pack import make_sample_pack

    return make_sample_pack(facts=synthetic_facts())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a finrep generate folder (real pack)")
    parser.add_argument("--period", default="latest")
    parser.add_argument("--synthetic", action="store_true")
    parser.add_argument("--out", type=Path, default=WORK / "bench_xlsx.xlsx")
    args = parser.parse_args()

    from finrep.config import load_config
    from finrep.render.xlsx import render_xlsx

    config = load_config()
    record: dict = {"machine": f"{platform.node()} · {platform.processor() or platform.machine()}"}
    if args.data and not args.synthetic:
        from finrep.pack_builder import build_pack

        began = time.perf_counter()
        pack = build_pack(args.data, args.period, config=config)
        record["mode"] = f"real pack from {args.data}"
        record["measures_seconds"] = round(time.perf_counter() - began, 2)
    else:
        began = time.perf_counter()
        pack = synthetic_pack()
        record["mode"] = "synthetic pack (sample pack + 1M-customer-sized fact tables)"
        record["pack_build_seconds"] = round(time.perf_counter() - began, 2)
    record["fact_rows"] = {name: len(frame) for name, frame in pack.facts.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    began, cpu = time.perf_counter(), time.process_time()
    render_xlsx(pack, config, args.out)
    seconds = time.perf_counter() - began
    cpu = time.process_time() - cpu
    mb = args.out.stat().st_size / 1e6
    record.update(
        {
            "render_xlsx_seconds": round(seconds, 2),
            # CPU time of this process: the wall time on an idle machine (one thread).
            "render_xlsx_cpu_seconds": round(cpu, 2),
            "load_average": round(os.getloadavg()[0], 1),
            "xlsx_mb": round(mb, 2),
            "peak_rss_mb": round(_peak_mb()),
            "targets": f"< {TARGET_SECONDS} s, < {TARGET_MB} MB",
            "ok": seconds < TARGET_SECONDS and mb < TARGET_MB,
        }
    )
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
