"""Service contacts of a chunk of customers.

Contacts arrive per customer-month (Poisson), more after market drops and for richer
segments; the channel mix moves to digital over time. Satisfaction depends on reason,
handle time and outcome. A contact left unresolved is usually followed by a repeat contact
(same customer, same reason) within 1–7 days, which is what first-contact resolution
(MEASURES.md, `fcr_rate`) detects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from finrep.schema import REASON_CODES, RESOLUTION_STATUSES, SERVICE_CHANNELS
from finrep.synth.customers import CustomerChunk, digital_share
from finrep.synth.window import Window

MAX_PER_MONTH = 8  # bound used to size ids; Poisson counts this high never occur in practice
_RATE = np.array([0.065, 0.08, 0.10, 0.12])  # contacts per customer-month by segment
_REASON_WEIGHT = np.array([22, 12, 10, 8, 9, 7, 10, 12, 10], dtype=np.float64)
# Reasons that rise after market drops: investment advice, market information, complaints.
_DROP_REASONS = np.array([0, 0, 0, 0, 1.5, 2.5, 0, 0, 0.8])
_RESOLVED_P = np.array([0.86, 0.93, 0.95, 0.80, 0.84, 0.90, 0.62, 0.70, 0.50])
_PARTIAL_SHARE = 0.55  # of the contacts not resolved
_REASON_SAT = np.array([0.1, 0.3, 0.2, -0.3, 0.2, 0.1, -0.5, -0.4, -1.1])
_RESOLUTION_SAT = np.array([0.5, -0.4, -1.2])
# Median handle minutes by channel (Phone, In-person, Email, Chat, Web, Mobile App)
_CHANNEL_MINUTES = np.array([9.0, 24.0, 6.0, 8.0, 4.0, 3.5])
_REASON_MINUTES = np.array([1.0, 0.6, 0.5, 1.0, 1.8, 1.2, 1.4, 1.3, 1.6])
_REPEAT_P = np.array([0.04, 0.55, 0.80])  # by resolution of the contact before
# Digital channels: Email, Chat, Web, Mobile App; offline: Phone, In-person.
_DIGITAL_MIX = np.array([0.25, 0.30, 0.25, 0.20])
_SELF_SERVICE = np.array([False, False, False, False, True, True])
ISSUE = np.isin(np.array(REASON_CODES), ("Complaint", "Technical Support", "Transaction Issue"))
COMPLAINT = REASON_CODES.index("Complaint")
assert len(_REASON_WEIGHT) == len(REASON_CODES) and len(_CHANNEL_MINUTES) == len(SERVICE_CHANNELS)


@dataclass
class Contacts:
    """Contacts sorted by (customer, day, repeat-after-original)."""

    n: int
    customer: np.ndarray
    day: np.ndarray
    channel: np.ndarray
    reason: np.ndarray
    minutes_tenths: np.ndarray
    satisfaction_tenths: np.ndarray  # −1 = not scored
    resolution: np.ndarray
    agent: np.ndarray  # −1 = none (self-service)

    def take(self, rows: np.ndarray) -> Contacts:
        return Contacts(len(rows), *(getattr(self, f)[rows] for f in _FIELDS))


_FIELDS = ("customer", "day", "channel", "reason", "minutes_tenths", "satisfaction_tenths",
           "resolution", "agent")  # fmt: skip


def _pick(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Row-wise categorical draw: `cum` (n, k) cumulative probabilities, `u` uniforms."""
    return np.minimum((u[:, None] > cum).sum(axis=1), cum.shape[1] - 1)


def monthly_drop(equity_return: np.ndarray) -> np.ndarray:
    """How bad the market was this month or last: 0 in calm months, ~1 after a −10% month."""
    drop = np.maximum(-equity_return, 0.0) * 10
    return np.maximum(drop, np.concatenate([[0.0], drop[:-1]]))


def build_contacts(
    c: CustomerChunk,
    window: Window,
    equity_return: np.ndarray,
    n_agents: int,
    rng: np.random.Generator,
) -> Contacts:
    drop = monthly_drop(equity_return)
    # Poisson arrivals by thinning: candidates at the customer's highest monthly rate, spread
    # uniformly over the days from joining to --end, each kept with probability
    # rate(month) / highest rate. Work grows with contacts, not with customer-months.
    boost = 1 + 1.5 * drop
    peak = _RATE[c.segment] * boost.max()
    days_live = window.last_day - c.enroll_day + 1
    expected = peak * days_live * (12 / 365.2425)
    counts = rng.poisson(expected)
    cust = np.repeat(np.arange(c.n), counts)
    n = len(cust)
    day = c.enroll_day[cust] + (rng.random(n) * days_live[cust]).astype(np.int64)
    month = window.month_index(day)
    keep = rng.random(n) * boost.max() < boost[month]
    cust, day, month = cust[keep], day[keep], month[keep]
    n = len(cust)

    reason_w = _REASON_WEIGHT[None, :] * (1 + _DROP_REASONS[None, :] * drop[month][:, None])
    reason = _pick(np.cumsum(reason_w / reason_w.sum(axis=1, keepdims=True), axis=1),
                   rng.random(n))  # fmt: skip
    channel = _channel(day, rng)
    resolution = _resolution(_RESOLVED_P[reason], rng)

    # Repeats: same customer and reason, 1–7 days later (within the window).
    repeat = rng.random(n) < _REPEAT_P[resolution]
    r_day = day[repeat] + rng.integers(1, 8, int(repeat.sum()))
    ok = r_day <= window.last_day
    src = np.flatnonzero(repeat)[ok]
    r_day = r_day[ok]
    r_channel = np.where(rng.random(len(src)) < 0.5, 0, channel[src])
    r_resolution = _resolution(np.full(len(src), 0.72), rng)

    cust = np.concatenate([cust, cust[src]])
    day = np.concatenate([day, r_day])
    reason = np.concatenate([reason, reason[src]])
    channel = np.concatenate([channel, r_channel])
    resolution = np.concatenate([resolution, r_resolution])
    is_repeat = np.concatenate([np.zeros(n, bool), np.ones(len(src), bool)])
    order = np.lexsort((is_repeat, day, cust))
    cust, day, reason, channel, resolution = (
        a[order] for a in (cust, day, reason, channel, resolution)
    )
    total = len(cust)

    minutes = _CHANNEL_MINUTES[channel] * _REASON_MINUTES[reason]
    minutes = minutes * np.exp(rng.normal(0, 0.45, total)) * np.where(resolution == 0, 1.0, 1.3)
    minutes_tenths = np.maximum(np.round(minutes * 10), 5).astype(np.int64)
    sat = (
        3.95
        + _REASON_SAT[reason]
        + _RESOLUTION_SAT[resolution]
        - 0.02 * np.minimum(minutes - 10, 40)
        + rng.normal(0, 0.45, total)
    )
    sat_tenths = np.round(np.clip(sat, 1.0, 5.0) * 10).astype(np.int64)
    # About a fifth of contacts are not scored (no survey answer).
    sat_tenths[rng.random(total) < 0.2] = -1
    agent = np.where(_SELF_SERVICE[channel], -1, rng.integers(0, n_agents, total))
    return Contacts(total, cust, day, channel, reason, minutes_tenths, sat_tenths,
                    resolution, agent)  # fmt: skip


def _channel(day: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(day)
    digital = rng.random(n) < digital_share(day, 0.3, 0.72)
    offline = np.where(rng.random(n) < 0.82, 0, 1)  # Phone, In-person
    online = 2 + _pick(np.broadcast_to(np.cumsum(_DIGITAL_MIX), (n, 4)), rng.random(n))
    return np.where(digital, online, offline)


def _resolution(resolved_p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    u = rng.random(len(resolved_p))
    partial = u < resolved_p + (1 - resolved_p) * _PARTIAL_SHARE
    return np.where(u < resolved_p, 0, np.where(partial, 1, 2))


def grievance(contacts: Contacts, n_customers: int, window: Window) -> np.ndarray:
    """(customers, months): weight of bad experiences in each month.

    An unresolved complaint counts 1, a partly resolved one 0.5, an unresolved technical or
    transaction issue 0.5. Churn hazard rises with the last three months of this.
    """
    bad = np.zeros(contacts.n)
    complaint = contacts.reason == COMPLAINT
    bad[complaint & (contacts.resolution == 2)] = 1.0
    bad[complaint & (contacts.resolution == 1)] = 0.5
    bad[~complaint & ISSUE[contacts.reason] & (contacts.resolution == 2)] = 0.5
    out = np.zeros((n_customers, window.n_months))
    np.add.at(out, (contacts.customer, window.month_index(contacts.day)), bad)
    return out


assert len(RESOLUTION_STATUSES) == 3
