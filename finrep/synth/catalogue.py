"""The firm's fixed catalogue: 15 products over the nine categories, and its advisors.

Fees rise with risk and with the category's complexity. Launch dates are set relative to
--start: most products predate the window, two launch inside it, and one (Inactive) stops
taking new money halfway through it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from finrep.schema import CERTIFICATION_LEVELS, PRODUCT_CATEGORIES, RISK_LEVELS, SEGMENTS
from finrep.synth.columns import Codes, Dates, Ints, Scaled, Text, make_ids
from finrep.synth.pools import Pools
from finrep.synth.window import Window

# Equity weight by risk level (MEASURES.md, Benchmark): returns follow this blend.
EQUITY_WEIGHT = np.array([0.1, 0.3, 0.5, 0.7, 0.9])

# name, category, risk, annual fee %, fixed fee/year ($), min investment ($),
# launch (years relative to --start; negative = before), segment affinity (MM, Aff, HNW, UHNW)
_PRODUCTS = (
    ("Everyday Savings", "Savings Account", "Low", 0.10, 0, 100, -14.2, (9, 4, 2, 1)),
    ("Premium Savings", "Savings Account", "Low", 0.15, 25, 10_000, -9.6, (3, 5, 3, 2)),
    ("Money Market Reserve", "Money Market Fund", "Low", 0.25, 0, 1_000, -11.3, (4, 5, 5, 5)),
    ("Core Bond Fund", "Bond Fund", "Medium-Low", 0.45, 0, 2_500, -8.8, (3, 5, 6, 6)),
    ("Municipal Bond Fund", "Bond Fund", "Medium-Low", 0.55, 0, 25_000, 0.35, (0.5, 2, 5, 7)),
    ("Retirement IRA", "Retirement Account", "Medium", 0.75, 50, 500, -12.5, (8, 7, 4, 2)),
    ("Target Date 2050", "Retirement Account", "Medium-High", 0.85, 0, 1_000, -6.1, (5, 5, 2, 1)),
    ("Fixed Annuity", "Annuity", "Medium-Low", 1.25, 100, 10_000, -10.4, (1, 3, 4, 3)),
    ("Variable Universal Life", "Insurance Product", "Medium-High", 1.40, 150, 5_000, -7.7,
     (2, 3, 3, 3)),
    ("Balanced Growth Fund", "Mutual Fund", "Medium", 1.00, 0, 1_000, -13.1, (5, 6, 4, 2)),
    ("Global Equity Fund", "Mutual Fund", "Medium-High", 1.30, 0, 2_500, -5.4, (2, 5, 5, 4)),
    ("Private Markets Fund", "Investment Fund", "High", 1.90, 500, 250_000, -4.2,
     (0.05, 0.5, 4, 9)),
    ("Thematic Opportunities Fund", "Investment Fund", "High", 1.60, 0, 10_000, -3.3,
     (1, 3, 4, 4)),
    ("S&P 500 Index ETF", "ETF", "Medium-High", 0.20, 0, 100, -6.9, (6, 7, 5, 4)),
    ("Sustainable Equity ETF", "ETF", "High", 0.35, 0, 100, 0.65, (4, 5, 3, 2)),
)  # fmt: skip
# Stops taking new enrollments this far into the window (share of the window).
_DISCONTINUED = {"Thematic Opportunities Fund": 0.5}


@dataclass(frozen=True)
class Products:
    n: int
    names: tuple[str, ...]
    category: np.ndarray  # index into PRODUCT_CATEGORIES
    risk: np.ndarray  # index into RISK_LEVELS
    fee_pct: np.ndarray  # annual fee, % of balance (2 decimals)
    fixed_fee_cents: np.ndarray  # annual fixed fee, cents
    min_investment_cents: np.ndarray
    launch_day: np.ndarray  # days since epoch
    last_sale_day: np.ndarray  # last day new enrollments are taken
    affinity: np.ndarray  # (4 segments, n) popularity weights
    ids: pa.StringArray

    def columns(self) -> dict[str, object]:
        inactive = self.last_sale_day < np.iinfo(np.int64).max
        return {
            "product_id": Text(self.ids, safe=True),
            "product_name": Codes(np.arange(self.n), self.names),
            "product_category": Codes(self.category, PRODUCT_CATEGORIES),
            "launch_date": Dates(self.launch_day),
            "min_investment": Scaled(self.min_investment_cents, 2),
            "annual_fee_percentage": Scaled(np.round(self.fee_pct * 100).astype(np.int64), 2),
            "management_fee_fixed": Scaled(self.fixed_fee_cents, 2),
            "risk_level": Codes(self.risk, RISK_LEVELS),
            "active_status": Codes(inactive.astype(np.int64), ("Active", "Inactive")),
        }


def build_products(window: Window) -> Products:
    span = window.last_day - window.first_day
    launch, last_sale = [], []
    for name, *_rest, launch_years, _aff in _PRODUCTS:
        if launch_years < 0:
            launch.append(window.first_day + int(round(launch_years * 365.2425)))
        else:
            launch.append(window.first_day + int(launch_years * span))
        cut = _DISCONTINUED.get(name)
        last_sale.append(
            window.first_day + int(cut * span) if cut is not None else np.iinfo(np.int64).max
        )
    n = len(_PRODUCTS)
    return Products(
        n=n,
        names=tuple(p[0] for p in _PRODUCTS),
        category=np.array([PRODUCT_CATEGORIES.index(p[1]) for p in _PRODUCTS]),
        risk=np.array([RISK_LEVELS.index(p[2]) for p in _PRODUCTS]),
        fee_pct=np.array([p[3] for p in _PRODUCTS]),
        fixed_fee_cents=np.array([p[4] * 100 for p in _PRODUCTS], dtype=np.int64),
        min_investment_cents=np.array([p[5] * 100 for p in _PRODUCTS], dtype=np.int64),
        launch_day=np.array(launch, dtype=np.int64),
        last_sale_day=np.array(last_sale, dtype=np.int64),
        affinity=np.array([p[7] for p in _PRODUCTS], dtype=np.float64).T,
        ids=make_ids("PRD", np.arange(1, n + 1), 4),
    )


# Certification mix of the advisor force, and which levels serve which segment.
_LEVEL_SHARE = np.array([0.27, 0.30, 0.23, 0.13, 0.07])
_SEGMENT_LEVELS = np.array(
    [
        [0.55, 0.35, 0.10, 0.00, 0.00],  # Mass Market
        [0.10, 0.45, 0.35, 0.10, 0.00],  # Affluent
        [0.00, 0.10, 0.40, 0.35, 0.15],  # High Net Worth
        [0.00, 0.00, 0.10, 0.40, 0.50],  # Ultra High Net Worth
    ]
)
_EXPERIENCE = ((1, 5), (3, 10), (7, 18), (12, 26), (16, 36))
assert _SEGMENT_LEVELS.shape == (len(SEGMENTS), len(CERTIFICATION_LEVELS))


@dataclass(frozen=True)
class Advisors:
    n: int
    ids: pa.StringArray
    level: np.ndarray  # index into CERTIFICATION_LEVELS
    years: np.ndarray
    first_name: np.ndarray  # index into pools.first_names
    last_name: np.ndarray
    city: np.ndarray  # index into pools.cities
    satisfaction: np.ndarray  # hundredths (1.00–5.00)
    by_level: tuple[np.ndarray, ...]  # advisor indexes of each level

    def assign(self, segment: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """An advisor for each customer: seniority follows the customer's segment."""
        n = len(segment)
        cum = np.cumsum(_SEGMENT_LEVELS, axis=1)[segment]
        level = (rng.random(n)[:, None] > cum).sum(axis=1)
        level = np.minimum(level, len(CERTIFICATION_LEVELS) - 1)
        out = np.empty(n, dtype=np.int64)
        u = rng.random(n)
        for lv, members in enumerate(self.by_level):
            sel = level == lv
            out[sel] = members[(u[sel] * len(members)).astype(np.int64)]
        return out

    def columns(self, pools: Pools, clients: np.ndarray) -> dict[str, object]:
        from finrep.schema import STATES

        office = [f"{pools.cities[c]}, {STATES[pools.city_state[c]]}" for c in self.city]
        offices = tuple(dict.fromkeys(office))
        office_code = np.array([offices.index(o) for o in office]) if office else np.array([])
        return {
            "advisor_id": Text(self.ids, safe=True),
            "first_name": Codes(self.first_name, pools.first_names),
            "last_name": Codes(self.last_name, pools.last_names),
            "office_location": Codes(office_code, offices),
            "certification_level": Codes(self.level, CERTIFICATION_LEVELS),
            "years_experience": Ints(self.years),
            # An advisor without clients has no satisfaction average.
            "customer_satisfaction_avg": Scaled(self.satisfaction, 2, valid=clients > 0),
            "clients_count": Ints(clients),
        }


def build_advisors(customers: int, pools: Pools, seed: int) -> Advisors:
    rng = np.random.default_rng([seed, 2])
    n = max(10, -(-customers // 150))
    # Every level is staffed; the rest follow the firm's mix.
    level = np.concatenate(
        [np.arange(len(CERTIFICATION_LEVELS)), rng.choice(5, n - 5, p=_LEVEL_SHARE)]
    )
    lo = np.array([e[0] for e in _EXPERIENCE])[level]
    hi = np.array([e[1] for e in _EXPERIENCE])[level]
    years = rng.integers(lo, hi + 1)
    satisfaction = np.clip(rng.normal(3.55 + 0.18 * level, 0.28), 1.0, 5.0)
    # Offices sit in a few dozen cities.
    offices = rng.choice(len(pools.cities), size=min(40, len(pools.cities)), replace=False,
                         p=pools.city_weight)  # fmt: skip
    return Advisors(
        n=n,
        ids=make_ids("ADV", np.arange(1, n + 1), max(4, len(str(n)))),
        level=level,
        years=years,
        first_name=rng.integers(0, len(pools.first_names), n),
        last_name=rng.integers(0, len(pools.last_names), n),
        city=offices[rng.integers(0, len(offices), n)],
        satisfaction=np.round(satisfaction * 100).astype(np.int64),
        by_level=tuple(np.flatnonzero(level == lv) for lv in range(len(CERTIFICATION_LEVELS))),
    )
