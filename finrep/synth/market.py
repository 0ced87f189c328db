"""Daily market data on business days, and the monthly returns positions earn from it.

- S&P 500: log returns with ~9%/year drift and ~15% volatility (fat tails), plus one sharp
  drawdown (18–28% over 4–7 weeks) and a partial rebound, so every window shows a crash.
- Bond index: ~2.5%/year, 4.5% volatility, correlation −0.3 with equities (rallies in the crash).
- Inflation (% a year) drifts with one hump; prime rate follows it in 0.25-point steps;
  unemployment jumps after the crash and decays.
Monthly returns use month-end closes (the last business day of each month), as the
benchmark measure does (MEASURES.md, Benchmark).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.tseries.holiday import USFederalHolidayCalendar

from finrep.synth.columns import Dates, Scaled
from finrep.synth.window import Window


@dataclass(frozen=True)
class Market:
    days: np.ndarray  # business days (days since epoch)
    sp500: np.ndarray  # cents of index points
    bond: np.ndarray  # hundredths
    inflation: np.ndarray  # hundredths of %
    prime: np.ndarray  # hundredths of %
    unemployment: np.ndarray  # tenths of %
    equity_return: np.ndarray  # per month index: month-end close over previous close − 1
    bond_return: np.ndarray
    cash_return: np.ndarray  # per month: savings rate (prime − 3 points, ≥ 0.05%) / 12

    def columns(self) -> dict[str, object]:
        return {
            "date": Dates(self.days),
            "sp500_index": Scaled(self.sp500, 2),
            "bond_index": Scaled(self.bond, 2),
            "inflation_rate": Scaled(self.inflation, 2),
            "prime_rate": Scaled(self.prime, 2),
            "unemployment_rate": Scaled(self.unemployment, 1),
        }


def business_days(window: Window) -> np.ndarray:
    first = pd.Timestamp(np.datetime64(window.first_day, "D"))
    last = pd.Timestamp(np.datetime64(window.last_day, "D"))
    holidays = USFederalHolidayCalendar().holidays(first, last)
    days = pd.bdate_range(first, last, freq="C", holidays=holidays)
    return days.values.astype("datetime64[D]").astype(np.int64)


def build_market(window: Window, seed: int) -> Market:
    rng = np.random.default_rng([seed, 1])
    days = business_days(window)
    n = len(days)
    years = (days[0] - np.datetime64("2020-01-01", "D").astype(np.int64)) / 365.2425

    # Equities: fat-tailed daily shocks (Student t, 4 dof, scaled to unit variance).
    z_eq = rng.standard_t(4, n) / np.sqrt(2.0)
    log_ret = 0.09 / 252 + 0.15 / np.sqrt(252) * z_eq
    # One crash: starts 10–55% into the window, lasts 20–35 business days, loses 18–28%,
    # then claws back about 60% of it over the next ~6 months.
    crash_len = int(min(max(5, n // 8), rng.integers(20, 36)))
    crash_at = int(rng.uniform(0.10, 0.55) * max(n - crash_len, 1))
    drop = -np.log(1 - rng.uniform(0.18, 0.28))
    crash = slice(crash_at, crash_at + crash_len)
    # Turbulent and falling: volatility doubles, drift takes the drop.
    log_ret[crash] = -drop / crash_len + 1.5 * 0.15 / np.sqrt(252) * z_eq[crash]
    rebound = slice(crash_at + crash_len, min(n, crash_at + crash_len + 125))
    rebound_len = max(rebound.stop - rebound.start, 1)
    log_ret[rebound] += 0.6 * drop / rebound_len
    sp_level = 3200.0 * 1.08**years * np.exp(np.cumsum(log_ret))

    # Bonds: negatively correlated with equities.
    z_b = -0.3 * z_eq + np.sqrt(1 - 0.3**2) * rng.standard_normal(n)
    bond_level = 100.0 * np.exp(np.cumsum(0.025 / 252 + 0.045 / np.sqrt(252) * z_b))

    # Monthly macro series, constant within a month.
    m = window.n_months
    t = np.arange(m)
    hump_at = rng.uniform(0.3, 0.8) * m
    inflation = 2.3 + 4.5 * np.exp(-(((t - hump_at) / max(m / 8, 2)) ** 2))
    inflation = inflation + np.cumsum(rng.normal(0, 0.08, m))
    inflation = np.clip(inflation, 0.2, 9.5)
    prime = np.empty(m)
    level = 3.25 + 0.25 * rng.integers(0, 5)
    for i in range(m):
        target = 3.0 + 1.1 * max(inflation[max(i - 2, 0)] - 1.5, 0.0)
        gap = target - level
        if abs(gap) >= 0.5 and i % 2 == 0:
            level += 0.25 * np.sign(gap) * (2 if abs(gap) > 1.5 else 1)
        level = min(max(level, 3.25), 9.5)
        prime[i] = level
    crash_month = window.month_index(days[min(crash_at, n - 1) : min(crash_at, n - 1) + 1])[0]
    unemployment = 3.9 + np.cumsum(rng.normal(0, 0.05, m))
    after = t >= crash_month
    unemployment = unemployment + after * 5.0 * np.exp(-(t - crash_month) / 6.0)
    unemployment = np.clip(unemployment, 3.0, 14.0)

    day_month = window.month_index(days)
    # Month-end close: last business day of each month (months with none keep the previous).
    last_of_month = np.full(m, -1)
    last_of_month[day_month] = np.arange(n)  # later days overwrite earlier ones
    last_of_month = np.maximum.accumulate(last_of_month)
    first_close_sp, first_close_bond = sp_level[0], bond_level[0]
    close_sp = np.where(last_of_month >= 0, sp_level[np.maximum(last_of_month, 0)], first_close_sp)
    close_bd = np.where(
        last_of_month >= 0, bond_level[np.maximum(last_of_month, 0)], first_close_bond
    )
    prev_sp = np.concatenate([[first_close_sp], close_sp[:-1]])
    prev_bd = np.concatenate([[first_close_bond], close_bd[:-1]])

    cents = lambda x, k: np.round(x * 10**k).astype(np.int64)  # noqa: E731
    sp = cents(sp_level, 2)
    bd = cents(bond_level, 2)
    return Market(
        days=days,
        sp500=sp,
        bond=bd,
        inflation=cents(inflation, 2)[day_month],
        prime=cents(prime, 2)[day_month],
        unemployment=cents(unemployment, 1)[day_month],
        # Returns from the rounded closes a reader of market_data.csv sees.
        equity_return=np.round(close_sp * 100) / np.round(prev_sp * 100) - 1,
        bond_return=np.round(close_bd * 100) / np.round(prev_bd * 100) - 1,
        cash_return=np.maximum(prime - 3.0, 0.05) / 100 / 12,
    )
