"""Monthly balance rows of every position, and the churn events (retention) that close some.

All money is integer cents. For each position and month, flows are drawn, then

    balance = previous balance (or initial_investment in the opening month)
              + contributions − withdrawals + returns − fees

exactly. Rows: one per position per month from its opening month to --end or its close
month. The opening row is dated on the enrollment day; later rows on the month's last day;
a closing row on the churn day, withdrawing the whole balance to 0. Each row's ``*_mtd``
values are that month's whole flows.

Churn hazard (per position-month) rises with the customer's recent unresolved complaints,
the product's fee and the position's poor recent returns; the stated reason reflects which
of these caused it. A recovered churn (``recovered_flag = Yes``) leaves the position open.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from finrep.schema import CHURN_REASONS
from finrep.synth.catalogue import EQUITY_WEIGHT, Products
from finrep.synth.customers import CustomerChunk
from finrep.synth.market import Market
from finrep.synth.positions import PERIOD_MONTHS, Positions
from finrep.synth.window import Window

_R = {name: i for i, name in enumerate(CHURN_REASONS)}
# Reasons for churn that none of the modelled causes explains.
_BASE_REASONS = np.zeros(len(CHURN_REASONS))
for _name, _w in (("Competitor Offering", 0.26), ("Product Dissatisfaction", 0.14),
                  ("Advisor Change", 0.12), ("Relocation", 0.18),
                  ("Financial Hardship", 0.15), ("Life Event", 0.15)):  # fmt: skip
    _BASE_REASONS[_R[_name]] = _w
_RECOVER_P = np.array([0.40, 0.30, 0.30, 0.35, 0.25, 0.40, 0.05, 0.15, 0.20])
_EXIT_SCORE = np.array([2.6, 2.4, 1.9, 3.0, 2.6, 2.9, 3.8, 3.4, 3.6])
assert len(_RECOVER_P) == len(CHURN_REASONS) and CHURN_REASONS[0] == "Fee Concerns"

_BASE_HAZARD = np.array([0.0030, 0.0024, 0.0020, 0.0016])  # per month, by segment
_GRIEVANCE_HAZARD = 0.05  # per unit of grievance in the last three months
_FEE_HAZARD = 0.0016  # per fee percentage point
_POOR_HAZARD = 0.012  # when the position lost more than 5% over about three months
_CASH_CATEGORIES = (0, 1)  # Savings Account, Money Market Fund earn the cash rate


@dataclass
class Balances:
    """Balance rows (position-major, month ascending) and churn events of one chunk."""

    position: np.ndarray  # position index of each row
    day: np.ndarray
    balance: np.ndarray  # cents
    contributions: np.ndarray
    withdrawals: np.ndarray
    returns: np.ndarray
    fees: np.ndarray
    closed: np.ndarray  # per position
    # churn events (sorted by customer, product, day)
    churn_position: np.ndarray
    churn_day: np.ndarray
    churn_reason: np.ndarray
    churn_recovered: np.ndarray
    churn_exit_tenths: np.ndarray  # −1 = not answered
    churn_clv_cents: np.ndarray
    last_day: np.ndarray  # per customer: day the last position closed, or --end


def product_returns(products: Products, market: Market, seed: int) -> np.ndarray:
    """(products, months) monthly returns before fees: the risk level's equity/bond blend plus
    a small manager effect; savings and money-market products earn the cash rate."""
    rng = np.random.default_rng([seed, 4])
    w = EQUITY_WEIGHT[products.risk][:, None]
    blend = w * market.equity_return[None, :] + (1 - w) * market.bond_return[None, :]
    alpha = rng.normal(0.0004, 0.0012, products.n)[:, None]
    cash = np.isin(products.category, _CASH_CATEGORIES)[:, None]
    return np.where(cash, market.cash_return[None, :], blend + alpha)


def simulate_balances(
    pos: Positions,
    c: CustomerChunk,
    products: Products,
    returns: np.ndarray,
    window: Window,
    grievance: np.ndarray,
    rng: np.random.Generator,
) -> Balances:
    m_total = window.n_months
    p = pos.n
    open_m = window.month_index(pos.open_day)
    n_rows = m_total - open_m
    start = np.concatenate([[0], np.cumsum(n_rows)[:-1]])
    r_total = int(n_rows.sum())
    f_day = np.zeros(r_total, dtype=np.int64)
    f_bal = np.zeros(r_total, dtype=np.int64)
    f_con = np.zeros(r_total, dtype=np.int64)
    f_wd = np.zeros(r_total, dtype=np.int64)
    f_ret = np.zeros(r_total, dtype=np.int64)
    f_fee = np.zeros(r_total, dtype=np.int64)
    f_ok = np.zeros(r_total, dtype=bool)

    balance = np.zeros(p, dtype=np.int64)
    cum_fees = np.zeros(p, dtype=np.int64)
    trend = np.zeros(p)  # decayed sum of recent monthly returns
    alive = np.ones(p, dtype=bool)
    closed = np.zeros(p, dtype=bool)
    close_day = np.full(p, window.last_day, dtype=np.int64)

    prod = pos.product
    cust = pos.customer
    period = PERIOD_MONTHS[pos.frequency]
    risk = products.risk[prod]
    fee_rate = products.fee_pct[prod] / 100 / 12
    fixed_monthly = products.fixed_fee_cents[prod] / 12
    segment = c.segment[cust]
    base_hazard = _BASE_HAZARD[segment]
    fee_hazard = _FEE_HAZARD * products.fee_pct[prod]
    noise_sd = 0.002 * (1 + risk)
    # Grievance of the three months before each month (causal).
    cum_g = np.concatenate([np.zeros((grievance.shape[0], 1)), np.cumsum(grievance, axis=1)],
                           axis=1)  # fmt: skip

    ev_pos, ev_day, ev_reason, ev_recovered, ev_clv = [], [], [], [], []
    for m in range(m_total):
        idx = np.flatnonzero(alive & (open_m <= m))
        if len(idx) == 0:
            continue
        n = len(idx)
        dim = int(window.days_in_month[m])
        month_first = int(window.month_first[m])
        month_last = int(window.month_last[m])
        new = open_m[idx] == m
        prev = np.where(new, pos.initial_cents[idx], balance[idx])
        frac = np.where(new, (month_last - pos.open_day[idx] + 1) / dim, 1.0)

        # Churn (not in the opening month).
        g = cum_g[cust[idx], m] - cum_g[cust[idx], max(m - 3, 0)]
        poor = trend[idx] < -0.05
        parts = np.stack(
            [
                base_hazard[idx],
                _GRIEVANCE_HAZARD * g,
                fee_hazard[idx],
                _POOR_HAZARD * poor,
            ],
            axis=1,
        )
        hazard = parts.sum(axis=1)
        churn = (~new) & (rng.random(n) < hazard)
        ch = np.flatnonzero(churn)
        closing = np.zeros(n, dtype=bool)
        churn_dom = np.zeros(n, dtype=np.int64)
        if len(ch):
            cause = (rng.random(len(ch))[:, None] > np.cumsum(parts[ch], axis=1)
                     / hazard[ch, None]).sum(axis=1)  # fmt: skip
            cause = np.minimum(cause, 3)
            reason = np.empty(len(ch), dtype=np.int64)
            base_pick = rng.choice(len(CHURN_REASONS), len(ch), p=_BASE_REASONS)
            reason[:] = base_pick
            reason[cause == 1] = _R["Service Issue"]
            reason[cause == 2] = _R["Fee Concerns"]
            reason[cause == 3] = np.where(
                rng.random(int((cause == 3).sum())) < 0.8,
                _R["Poor Performance"],
                _R["Product Dissatisfaction"],
            )
            recovered = rng.random(len(ch)) < _RECOVER_P[reason]
            dom = rng.integers(1, dim + 1, len(ch))
            churn_dom[ch] = dom
            closing[ch[~recovered]] = True

        eff = np.where(closing, churn_dom / dim, frac)
        r = returns[prod[idx], m] + rng.normal(0, noise_sd[idx])
        r = np.maximum(r, -0.6)
        ret = np.round(prev * r * eff).astype(np.int64)

        # Contributions on schedule (skipped now and then), larger in Q4.
        k = m - open_m[idx]
        per = period[idx]
        due = (~new) & (~closing) & (per > 0) & (k % np.maximum(per, 1) == 0)
        due &= rng.random(n) > 0.08
        moy = int(window.month_of_year[m])
        q4 = 1.35 if moy == 12 else (1.15 if moy in (10, 11) else 1.0)
        amount = pos.planned_cents[idx] * np.exp(rng.normal(0, 0.1, n)) * q4
        con = np.where(due, np.round(amount), 0).astype(np.int64)
        if moy == 12:  # year-end top-ups
            top = (~new) & (~closing) & (rng.random(n) < 0.05)
            con += np.where(top, np.round(prev * 0.02), 0).astype(np.int64)

        after = prev + con + ret
        fee = np.round(np.maximum(after, 0) * fee_rate[idx] * eff).astype(np.int64)
        fee += np.round(fixed_monthly[idx] * eff).astype(np.int64)
        fee = np.minimum(fee, np.maximum(after, 0))

        # Withdrawals: likelier past 60.
        age = (month_last - c.birth_day[cust[idx]]) / 365.2425
        w_p = np.where(age >= 60, 0.045, 0.012)
        takes = (~new) & (~closing) & (rng.random(n) < w_p)
        wd = np.where(takes, np.round((after - fee) * rng.uniform(0.03, 0.25, n)), 0)
        wd = wd.astype(np.int64)
        # Closing: everything left goes out.
        wd = np.where(closing, after - fee, wd)
        bal = after - wd - fee

        fi = start[idx] + k
        f_day[fi] = np.where(new, pos.open_day[idx], np.where(closing, month_first + churn_dom - 1,
                                                              month_last))  # fmt: skip
        f_bal[fi], f_con[fi], f_wd[fi], f_ret[fi], f_fee[fi] = bal, con, wd, ret, fee
        f_ok[fi] = True

        if len(ch):
            # Lifetime value: fees of the rows dated on or before the churn day.
            on_row = closing[ch] | (churn_dom[ch] == dim)
            clv = cum_fees[idx[ch]] + np.where(on_row, fee[ch], 0)
            ev_pos.append(idx[ch])
            ev_day.append(month_first + churn_dom[ch] - 1)
            ev_reason.append(reason)
            ev_recovered.append(recovered)
            ev_clv.append(clv)

        balance[idx] = bal
        cum_fees[idx] += fee
        trend[idx] = 0.6 * trend[idx] + r
        gone = idx[closing]
        alive[gone] = False
        closed[gone] = True
        close_day[gone] = month_first + churn_dom[closing] - 1

    rows = np.flatnonzero(f_ok)
    row_pos = np.repeat(np.arange(p), n_rows)[rows]

    def cat(parts, dtype):
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    e_pos = cat(ev_pos, np.int64)
    e_day = cat(ev_day, np.int64)
    e_reason = cat(ev_reason, np.int64)
    e_rec = cat(ev_recovered, bool)
    e_clv = cat(ev_clv, np.int64)
    order = np.lexsort((e_day, prod[e_pos], cust[e_pos]))
    e_pos, e_day, e_reason, e_rec, e_clv = (a[order] for a in (e_pos, e_day, e_reason,
                                                                e_rec, e_clv))  # fmt: skip
    score = np.clip(rng.normal(_EXIT_SCORE[e_reason], 0.6), 1.0, 5.0)
    score_tenths = np.round(score * 10).astype(np.int64)
    score_tenths[rng.random(len(e_pos)) < 0.25] = -1

    # A customer's last active day: --end while any position is open, else the last close.
    last = np.full(c.n, -1, dtype=np.int64)
    np.maximum.at(last, cust, np.where(closed, close_day, window.last_day))
    return Balances(
        position=row_pos,
        day=f_day[rows],
        balance=f_bal[rows],
        contributions=f_con[rows],
        withdrawals=f_wd[rows],
        returns=f_ret[rows],
        fees=f_fee[rows],
        closed=closed,
        churn_position=e_pos,
        churn_day=e_day,
        churn_reason=e_reason,
        churn_recovered=e_rec,
        churn_exit_tenths=score_tenths,
        churn_clv_cents=e_clv,
        last_day=last,
    )
