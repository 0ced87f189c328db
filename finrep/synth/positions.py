"""Positions (one enrollment per customer × product) of a chunk of customers.

The first position opens on the customer's enrollment day with a product on sale that day;
further products open later (or the same day) once launched and while still on sale.
Richer segments hold more products; product choice follows segment affinity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from finrep.schema import CONTRIBUTION_FREQUENCIES, PRODUCT_CATEGORIES
from finrep.synth.catalogue import Products
from finrep.synth.customers import CustomerChunk, digital_share
from finrep.synth.window import Window

# Mean number of products by segment (at least one each), at most MAX_PRODUCTS.
_PRODUCTS_MEAN = np.array([1.5, 2.2, 3.0, 3.8])
MAX_PRODUCTS = 7
# Months between contributions by frequency (One-time: none).
PERIOD_MONTHS = np.array([0, 1, 3, 6, 12])
# Contribution frequency mix by product category.
_FREQUENCY = {
    "Savings Account": (0.15, 0.65, 0.10, 0.03, 0.07),
    "Money Market Fund": (0.40, 0.35, 0.15, 0.03, 0.07),
    "Bond Fund": (0.35, 0.35, 0.15, 0.05, 0.10),
    "Retirement Account": (0.05, 0.75, 0.05, 0.03, 0.12),
    "Annuity": (0.70, 0.10, 0.05, 0.05, 0.10),
    "Insurance Product": (0.10, 0.55, 0.10, 0.05, 0.20),
    "Mutual Fund": (0.25, 0.50, 0.12, 0.03, 0.10),
    "Investment Fund": (0.55, 0.10, 0.15, 0.05, 0.15),
    "ETF": (0.30, 0.50, 0.10, 0.02, 0.08),
}
_FREQ_CUM = np.cumsum(np.array([_FREQUENCY[c] for c in PRODUCT_CATEGORIES]), axis=1)
ENROLLMENT_CHANNEL = ("In-person", "Phone", "Web", "Mobile App")


@dataclass
class Positions:
    """Positions sorted by (customer, open day, product)."""

    n: int
    customer: np.ndarray  # local customer index
    product: np.ndarray
    open_day: np.ndarray
    initial_cents: np.ndarray
    frequency: np.ndarray  # index into CONTRIBUTION_FREQUENCIES
    planned_cents: np.ndarray  # contribution per period
    advisor: np.ndarray  # advisor index, -1 = none (self-directed)
    channel: np.ndarray  # index into ENROLLMENT_CHANNEL


def build_positions(
    c: CustomerChunk, products: Products, window: Window, rng: np.random.Generator
) -> Positions:
    n, k = c.n, products.n
    count = 1 + rng.poisson(_PRODUCTS_MEAN[c.segment] - 1)
    count = np.minimum(count, MAX_PRODUCTS)

    # Weighted sampling without replacement: Gumbel top-k over log affinity.
    keys = np.log(products.affinity[c.segment]) + rng.gumbel(size=(n, k))
    on_sale = (products.launch_day[None, :] <= c.enroll_day[:, None]) & (
        products.last_sale_day[None, :] >= c.enroll_day[:, None]
    )
    first = np.argmax(np.where(on_sale, keys, -np.inf), axis=1)
    keys[np.arange(n), first] = -np.inf
    others = np.argsort(-keys, axis=1)[:, : MAX_PRODUCTS - 1]

    extra = np.arange(MAX_PRODUCTS - 1)[None, :] < (count - 1)[:, None]
    ex_cust, ex_slot = np.nonzero(extra)
    ex_prod = others[ex_cust, ex_slot]
    same_day = rng.random(len(ex_cust)) < 0.45
    delay = np.where(same_day, 0, 1 + rng.exponential(420, len(ex_cust)).astype(np.int64))
    ex_day = np.maximum(c.enroll_day[ex_cust] + delay, products.launch_day[ex_prod])
    keep = (ex_day <= window.last_day) & (ex_day <= products.last_sale_day[ex_prod])

    customer = np.concatenate([np.arange(n), ex_cust[keep]])
    product = np.concatenate([first, ex_prod[keep]])
    open_day = np.concatenate([c.enroll_day, ex_day[keep]])
    order = np.lexsort((product, open_day, customer))
    customer, product, open_day = customer[order], product[order], open_day[order]
    p = len(customer)
    is_first = np.concatenate([[True], customer[1:] != customer[:-1]])

    # The first position takes the larger share of the wealth invested.
    share = np.where(is_first, rng.uniform(0.25, 0.6, p), rng.uniform(0.08, 0.35, p))
    initial = np.maximum(c.wealth[customer] * share, products.min_investment_cents[product] / 100)
    initial_cents = np.round(initial * 100).astype(np.int64)

    cum = _FREQ_CUM[products.category[product]]
    frequency = (rng.random(p)[:, None] > cum).sum(axis=1)
    frequency = np.minimum(frequency, len(CONTRIBUTION_FREQUENCIES) - 1)
    monthly = c.wealth[customer] * 0.004 * np.exp(rng.normal(0, 0.45, p))
    planned = monthly * np.maximum(PERIOD_MONTHS[frequency], 1)
    # People plan round amounts: multiples of $5, at least $25.
    planned_cents = np.maximum(np.round(planned / 5) * 500, 2500).astype(np.int64)
    planned_cents[frequency == 0] = 0

    # Channel: digital grows over time; the wealthy still come in person.
    seg = c.segment[customer]
    digital = (
        rng.random(p) < digital_share(open_day, 0.25, 0.62) * np.array([1.0, 0.85, 0.6, 0.35])[seg]
    )
    mobile = rng.random(p) < digital_share(open_day, 0.2, 0.6, mid=2023.0)
    in_person = rng.random(p) < np.array([0.45, 0.6, 0.75, 0.9])[seg]
    channel = np.where(digital, np.where(mobile, 3, 2), np.where(in_person, 0, 1))
    # Digital enrollments are often self-directed (no advisor).
    self_directed = digital & (rng.random(p) < 0.55)
    advisor = np.where(self_directed, -1, c.advisor[customer])

    return Positions(
        n=p,
        customer=customer,
        product=product,
        open_day=open_day,
        initial_cents=initial_cents,
        frequency=frequency,
        planned_cents=planned_cents,
        advisor=advisor,
        channel=channel,
    )
