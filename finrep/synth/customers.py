"""Customers: when they join (acquisition grows over time, with seasonality), and who they are.

Segments drive age, wealth (log-normal), the number of products and advisor seniority.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from finrep.schema import SEGMENTS, STATES
from finrep.synth.columns import Codes, Dates, Text, digits, fixed_text, id_width, make_ids
from finrep.synth.pools import EMAIL_DOMAINS, Pools
from finrep.synth.window import Window, decimal_year

SEGMENT_SHARE = np.array([0.56, 0.28, 0.12, 0.04])
# Age at enrollment: mean and sd by segment.
_AGE = np.array([[38.0, 12.0], [47.0, 12.0], [54.0, 11.0], [60.0, 11.0]])
# Investable wealth, log-normal: median ($) and sigma by segment.
_WEALTH = np.array([[12_000.0, 0.9], [110_000.0, 0.6], [750_000.0, 0.55], [4_500_000.0, 0.6]])
assert len(SEGMENT_SHARE) == len(SEGMENTS)

ACQUISITION_GROWTH = 0.18  # a year: each year brings ~20% more new customers


def acquisition_days(window: Window, n: int, seed: int) -> np.ndarray:
    """Enrollment day of every customer, sorted (customer numbers follow joining order).

    Daily intensity grows exponentially, peaks in January–March (tax season, new-year
    resolutions) and again in November, and is low at weekends.
    """
    rng = np.random.default_rng([seed, 3])
    days = np.arange(window.first_day, window.last_day + 1)
    t = (days - window.first_day) / 365.2425
    doy = (days - np.datetime64("1970-01-01", "D").astype(np.int64)) % 365.2425 / 365.2425
    seasonal = 1 + 0.18 * np.cos(2 * np.pi * (doy - 0.12)) + 0.08 * np.cos(4 * np.pi * doy)
    weekday = (days + 3) % 7  # 0 = Monday
    weight = np.exp(ACQUISITION_GROWTH * t) * seasonal * np.where(weekday >= 5, 0.35, 1.0)
    cdf = np.cumsum(weight)
    cdf /= cdf[-1]
    picks = np.searchsorted(cdf, rng.random(n), side="right")
    return np.sort(days[np.minimum(picks, len(days) - 1)])


@dataclass
class CustomerChunk:
    """Customers number `first`..`first + n − 1` (0-based), in joining order."""

    first: int
    n: int
    enroll_day: np.ndarray
    segment: np.ndarray
    birth_day: np.ndarray
    wealth: np.ndarray  # $
    city: np.ndarray  # index into pools.cities
    advisor: np.ndarray  # advisor index
    first_name: np.ndarray
    last_name: np.ndarray
    has_employer: np.ndarray
    employer: np.ndarray
    ids: pa.StringArray

    def age_at(self, days: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Approximate age in years of customer `rows` (local index) at `days`."""
        return (days - self.birth_day[rows]) / 365.2425


def customer_id_width(customers: int) -> int:
    return id_width(6, customers)


def build_customers(
    first: int,
    enroll_day: np.ndarray,
    window: Window,
    pools: Pools,
    advisor_assign,
    total_customers: int,
    rng: np.random.Generator,
) -> CustomerChunk:
    n = len(enroll_day)
    segment = rng.choice(len(SEGMENTS), n, p=SEGMENT_SHARE)
    years_left = (window.last_day - enroll_day) / 365.2425
    # Ages 18–90 at every date in the window: at least 18.05 on joining, under 89.5 at --end.
    age = rng.normal(_AGE[segment, 0], _AGE[segment, 1])
    age = np.clip(age, 18.05, np.maximum(89.5 - years_left, 18.05))
    birth_day = enroll_day - np.round(age * 365.2425).astype(np.int64)
    wealth = np.exp(rng.normal(np.log(_WEALTH[segment, 0]), _WEALTH[segment, 1]))
    city = rng.choice(len(pools.cities), n, p=pools.city_weight)
    retired = (enroll_day - birth_day) / 365.2425 > 66
    has_employer = rng.random(n) > np.where(retired, 0.75, 0.08)
    n_employers = max(50, total_customers // 20)
    return CustomerChunk(
        first=first,
        n=n,
        enroll_day=enroll_day,
        segment=segment,
        birth_day=birth_day,
        wealth=wealth,
        city=city,
        advisor=advisor_assign(segment, rng),
        first_name=rng.integers(0, len(pools.first_names), n),
        last_name=rng.integers(0, len(pools.last_names), n),
        has_employer=has_employer,
        employer=rng.integers(1, n_employers + 1, n),
        ids=make_ids(
            "CUS", np.arange(first + 1, first + n + 1), customer_id_width(total_customers)
        ),
    )


def customer_columns(
    c: CustomerChunk, pools: Pools, total_customers: int, rng: np.random.Generator
) -> dict[str, object]:
    n = c.n
    n_employers = max(50, total_customers // 20)
    employer = make_ids("EMP", c.employer, id_width(4, n_employers))
    employer = pc.if_else(pa.array(c.has_employer), employer, None)

    # first.last{NN}@domain, lower-case ASCII; 3% have none on file.
    first = pa.array(pools.first_email).take(pa.array(c.first_name))
    last = pa.array(pools.last_email).take(pa.array(c.last_name))
    number = fixed_text(n, digits(rng.integers(0, 100, n), 2))
    domain = pa.array(EMAIL_DOMAINS).take(pa.array(rng.integers(0, len(EMAIL_DOMAINS), n)))
    email = pc.binary_join_element_wise(first, ".", last, number, "@", domain, "")
    email = pc.if_else(pa.array(rng.random(n) > 0.03), email, None)

    # (AAA) EEE-LLLL with valid area and exchange codes; 5% have none on file.
    phone = fixed_text(
        n,
        b"(",
        digits(rng.integers(201, 990, n), 3),
        b") ",
        digits(rng.integers(201, 990, n), 3),
        b"-",
        digits(rng.integers(0, 10000, n), 4),
    )
    phone = pc.if_else(pa.array(rng.random(n) > 0.05), phone, None)

    return {
        "customer_id": Text(c.ids, safe=True),
        "first_name": Codes(c.first_name, pools.first_names),
        "last_name": Codes(c.last_name, pools.last_names),
        "birth_date": Dates(c.birth_day),
        "enrollment_date": Dates(c.enroll_day),
        "customer_segment": Codes(c.segment, SEGMENTS),
        "employer_id": Text(employer, safe=True),
        "email": Text(email, safe=True),
        "phone": Text(phone, safe=True),
        "address_city": Codes(c.city, pools.cities),
        "address_state": Codes(pools.city_state[c.city], STATES),
    }


def digital_share(days: np.ndarray, lo: float, hi: float, mid: float = 2022.0) -> np.ndarray:
    """Share of digital channels over calendar time: an S-curve from `lo` to `hi`."""
    t = decimal_year(days)
    return lo + (hi - lo) / (1 + np.exp(-(t - mid) / 1.3))
