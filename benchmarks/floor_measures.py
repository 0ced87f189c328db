"""The floor under issue 4's ratio: raw DuckDB SQL for the passes over the data that
MEASURES.md's definitions need for one month, with nothing of finrep in it, against
bench_measures.py's baseline (account_balances aggregated once by month), in one connection and
in alternated rounds.

Each pass is a lower bound of part of what "every measure" must compute:

- ``book``: AUM and the four flows by month and product (the AUM trend, the forecast's history,
  the bridge, returns by product). It sums every row of a month, which the snapshot rule only
  allows when no position has two rows in that month: finrep must also find that out.
- ``positions``: per position, its last balance date (the close date of a closed enrollment
  without a churn row), its rows and months (several rows in one month), and its balances at E
  and E−12 (AUM by customer: segments, states, primary category, the customer-value scatter).
- ``sessions_by_customer``: per customer, a bit per month with a session and per month with a
  mobile session (monthly active users, distinct users of any period, mobile adoption).
- ``sessions_by_month``: sessions by month and duration, which give the sessions, mean and
  median duration by month (the digital trend).
- ``contacts_fcr``: first contacts and first-contact resolutions by month, from the previous
  and next contact of the same customer and reason (the ±7-day rule).

Left out, so the real work is larger still: cleaning and typing the raw values, the filters, the
customers, enrollments and retention tables (positions, close dates, active customers,
cohorts), joins between tables, and pandas and the forecast afterwards. Months are bits modulo
64: exact for up to 64 months of history (the generated data has 60).

Usage:
    python benchmarks/floor_measures.py                          # benchmarks/_work/gen1m
    python benchmarks/floor_measures.py --data benchmarks/_work/gen100k --repeat 5
Results: printed, and written to ``benchmarks/_work/floor_measures.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_measures import TARGET_RATIO, WORK, _cpu, baseline_sql, table_source  # noqa: E402

MONTH = "(year(date) * 12 + month(date) - 1)"  # months since year 0, a whole number
MOBILE = "(device_type IN ('Mobile Phone', 'Tablet') OR contains(device_type, 'Mobile'))"


def passes(data: Path, e: int) -> dict[str, str]:
    """The passes' SQL for latest month `e` (a `MONTH` number)."""
    bal = table_source(data, "account_balances")
    eng = table_source(data, "engagement")
    svc = table_source(data, "service_interactions")
    bit = f"(1::UBIGINT << ({MONTH} % 64))"
    return {
        "book": (
            f"SELECT {MONTH} AS m, product_id, sum(balance), sum(contributions_mtd), "
            "sum(withdrawals_mtd), sum(investment_returns_mtd), sum(fees_mtd), count(*) "
            f"FROM {bal} GROUP BY ALL"
        ),
        "positions": (
            f"SELECT customer_id, product_id, max(date), count(*), bit_or({bit}), "
            f"arg_max(balance, date) FILTER (WHERE {MONTH} = {e}), "
            f"arg_max(balance, date) FILTER (WHERE {MONTH} = {e - 12}) "
            f"FROM {bal} GROUP BY ALL"
        ),
        "sessions_by_customer": (
            f"SELECT customer_id, bit_or({bit}), "
            f"bit_or(CASE WHEN {MOBILE} THEN {bit} ELSE 0::UBIGINT END) FROM {eng} GROUP BY ALL"
        ),
        # Sessions by month and duration: counts, mean and exact median follow from these
        # few groups (a median aggregate over 38M rows costs twice as much).
        "sessions_by_month": (
            f"SELECT {MONTH} AS m, session_duration, count(*) FROM {eng} GROUP BY ALL"
        ),
        "contacts_fcr": (
            "SELECT m, count(*), count_if(first), "
            "count_if(first AND resolution_status = 'Resolved' AND NOT repeated) FROM ("
            f"SELECT {MONTH} AS m, resolution_status, "
            "NOT coalesce(lag(date) OVER w >= date - 7, FALSE) AS first, "
            "coalesce(lead(date) OVER w <= date + 7, FALSE) AS repeated "
            f"FROM {svc} WINDOW w AS (PARTITION BY customer_id, reason_code "
            "ORDER BY date, interaction_id)) GROUP BY m"
        ),
    }


def main() -> None:
    import duckdb

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=WORK / "gen1m")
    ap.add_argument("--repeat", type=int, default=3, help="rounds (medians are quoted)")
    args = ap.parse_args()
    con = duckdb.connect()
    bal = table_source(args.data, "account_balances")
    ((e,),) = con.sql(f"SELECT max({MONTH}) FROM {bal}").fetchall()
    queries = {"baseline": baseline_sql(args.data), **passes(args.data, int(e))}
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in queries}
    for r in range(max(1, args.repeat)):
        load = os.getloadavg()[0]
        for name, sql in queries.items():
            began, cpu = time.perf_counter(), _cpu()
            rows = con.sql(sql).to_arrow_table().num_rows  # every group, as finrep keeps
            runs[name].append((time.perf_counter() - began, _cpu() - cpu))
            print(f"round {r + 1} (load {load:.2f}) {name:<21} {runs[name][-1][0]:6.2f} s, "
                  f"CPU {runs[name][-1][1]:6.2f} s, {rows:,} rows", flush=True)  # fmt: skip
    median = {name: statistics.median(s for s, _ in rs) for name, rs in runs.items()}
    cpu = {name: statistics.median(c for _, c in rs) for name, rs in runs.items()}
    base = median.pop("baseline")
    base_cpu = cpu.pop("baseline")
    floor, floor_cpu = sum(median.values()), sum(cpu.values())
    print(f"\nmedians over {args.repeat} rounds")
    print(f"  baseline (balances by month)   {base:6.2f} s, CPU {base_cpu:6.2f} s")
    for name in median:
        print(f"  {name:<30} {median[name]:6.2f} s, CPU {cpu[name]:6.2f} s, "
              f"{median[name] / base:4.2f}× the baseline")  # fmt: skip
    print(f"  passes together                {floor:6.2f} s, CPU {floor_cpu:6.2f} s: "
          f"{floor / base:.2f}× the baseline (issue 4's target for all of it: "
          f"{TARGET_RATIO:.0f}×, {TARGET_RATIO * base:.2f} s)")  # fmt: skip
    result = {
        "data": str(args.data),
        "latest_month": f"{int(e) // 12}-{int(e) % 12 + 1:02d}",
        "rounds": args.repeat,
        "baseline_s": round(base, 3),
        "passes_s": {k: round(v, 3) for k, v in median.items()},
        "passes_cpu_s": {k: round(v, 3) for k, v in cpu.items()},
        "floor_s": round(floor, 3),
        "floor_ratio": round(floor / base, 2),
        "target_ratio": TARGET_RATIO,
    }
    WORK.mkdir(exist_ok=True)
    (WORK / "floor_measures.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
