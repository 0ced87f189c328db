"""Digital sessions of a chunk of customers.

Each customer adopts digital on a day drawn from an S-curve over calendar time (younger
customers earlier; some never); from then on, while the customer is active, sessions arrive
per month (Poisson, customer-specific rate). Devices depend on age; session length is
log-normal by action; pages and actions grow with length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from finrep.schema import ACTION_TYPES, DEVICE_TYPES
from finrep.synth.customers import CustomerChunk
from finrep.synth.window import Window, month_cells

MAX_PER_MONTH = 8
_ACTION_WEIGHT = np.array([24, 24, 8, 10, 5, 6, 5, 4, 3, 9], dtype=np.float64)
_ACTION_MINUTES = np.array([2.0, 3.0, 4.0, 11.0, 8.0, 14.0, 5.0, 6.0, 4.0, 9.0])
# Device mix by age band (Under 30, 30–44, 45–59, 60+):
# Desktop, Mobile Phone, Tablet, Smart TV, Voice Assistant
_DEVICE = np.array(
    [
        [0.18, 0.66, 0.08, 0.04, 0.04],
        [0.30, 0.52, 0.10, 0.04, 0.04],
        [0.45, 0.33, 0.15, 0.03, 0.04],
        [0.55, 0.18, 0.22, 0.02, 0.03],
    ]
)
assert _DEVICE.shape[1] == len(DEVICE_TYPES) and len(_ACTION_WEIGHT) == len(ACTION_TYPES)
# Categorical draws by table lookup: a uniform u picks entry int(u * _STEPS), so
# probabilities are honoured to 1/4096 at the cost of one gather per row.
_STEPS = 4096
_GRID = (np.arange(_STEPS) + 0.5) / _STEPS
_ACTION_TABLE = np.searchsorted(np.cumsum(_ACTION_WEIGHT / _ACTION_WEIGHT.sum()), _GRID).astype(
    np.int64
)
_DEVICE_TABLE = np.concatenate([np.searchsorted(np.cumsum(row), _GRID) for row in _DEVICE]).astype(
    np.int64
)
_BAND_DAYS = np.round(np.array([30, 45, 60]) * 365.2425).astype(np.int64)


@dataclass
class Sessions:
    n: int
    customer: np.ndarray
    day: np.ndarray
    action: np.ndarray
    device: np.ndarray
    minutes_tenths: np.ndarray
    pages: np.ndarray
    actions: np.ndarray


def adoption_day(c: CustomerChunk, rng: np.random.Generator) -> np.ndarray:
    """Day each customer starts using digital channels (far future = never)."""
    age_2022 = (np.datetime64("2022-01-01", "D").astype(np.int64) - c.birth_day) / 365.2425
    mid = 2021.4 + np.clip(age_2022 - 40, -20, 45) / 14.0  # 40-year-olds: spring 2021
    year = mid + rng.logistic(0, 1.1, c.n)
    never = rng.random(c.n) < np.where(age_2022 > 70, 0.35, 0.08)
    day = np.round((year - 1970) * 365.2425).astype(np.int64)
    return np.where(never, np.iinfo(np.int32).max, np.maximum(day, c.enroll_day))


def build_sessions(
    c: CustomerChunk, last_day: np.ndarray, window: Window, rng: np.random.Generator
) -> Sessions:
    m = window.n_months
    start = adoption_day(c, rng)
    start_m = np.where(start <= window.last_day,
                       window.month_index(np.minimum(start, window.last_day)), m)  # fmt: skip
    end_m = window.month_index(last_day)
    rate = rng.gamma(2.0, 1.1, c.n)  # sessions a month of an adopted customer
    # Months from adoption to the last active day; partial first and last months get
    # proportionally fewer sessions.
    cust, month = month_cells(start_m, end_m)
    lo = np.maximum(window.month_first[month], start[cust])
    hi = np.minimum(window.month_last[month], last_day[cust])
    frac = np.clip((hi - lo + 1) / window.days_in_month[month], 0, 1)
    counts = np.minimum(rng.poisson(rate[cust] * frac), MAX_PER_MONTH)
    busy = np.flatnonzero(counts)
    reps = counts[busy]
    cust = np.repeat(cust[busy], reps)
    d_lo = np.repeat(lo[busy], reps)
    d_hi = np.repeat(hi[busy], reps)
    n = len(cust)
    offset = (rng.random(n, dtype=np.float32) * (d_hi - d_lo + 1)).astype(np.int64)
    # Sessions in date order within each customer: cells are already in order, so only the
    # days inside a cell need sorting (a stable sort of nearly sorted keys is fast).
    cell = np.repeat(np.arange(len(reps)), reps)
    order = np.argsort(cell * 32 + offset, kind="stable")
    offset = offset[order]
    day = d_lo + offset

    u = rng.random((4, n), dtype=np.float32)
    action = _ACTION_TABLE[(u[0] * _STEPS).astype(np.int32)]
    age_days = day - c.birth_day[cust]
    band = (age_days >= _BAND_DAYS[0]).astype(np.int32)
    for edge in _BAND_DAYS[1:]:
        band += age_days >= edge
    device = _DEVICE_TABLE[band * _STEPS + (u[1] * _STEPS).astype(np.int32)]
    minutes = _ACTION_MINUTES[action] * np.exp(0.55 * rng.standard_normal(n, dtype=np.float32))
    minutes = minutes * np.where(device == 1, 0.8, 1.0)  # shorter on phones
    minutes_tenths = np.maximum(np.round(minutes * 10), 2).astype(np.int64)
    # Pages grow with session length (about one a minute); actions are a share of pages.
    pages = 1 + (minutes_tenths * (0.045 + 0.09 * u[2])).astype(np.int64)
    actions = (pages * (0.7 * u[3])).astype(np.int64)
    return Sessions(n, cust, day, action, device, minutes_tenths, pages, actions)
