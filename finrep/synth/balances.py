"""Monthly balance rows of every position, and the churn events (retention) that close some.

All money is integer cents. For each position and month, flows are drawn, then

    balance = previous balance (or initial_investment in the opening month)
              + contributions − withdrawals + returns − fees

exactly. Rows: one per position per month from its opening month to --end or its close
month. The opening row is dated on the enrollment day; later rows on the month's last day;
a closing row on the churn day, withdrawing the whole balance to 0. Each row's ``*_mtd``
values are that month's whole flows. Within a chunk of customers, rows come position by
position (customer, open day, product), months ascending.

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
    """Balance rows (position by position in the positions' order, months ascending) and churn
    events of one chunk."""

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
    # Work on positions sorted by opening month: the positions open by month m are then a
    # prefix [0, k_m), and month m's rows a contiguous block of a month-major row layout, so
    # the month loop below only slices (no gathers or scatters).
    open_m_all = window.month_index(pos.open_day)
    order = np.argsort(open_m_all, kind="stable")
    open_m = open_m_all[order]
    prod = pos.product[order]
    cust = pos.customer[order]
    open_day = pos.open_day[order]
    k = np.searchsorted(open_m, np.arange(m_total), side="right")
    off = np.concatenate([[0], np.cumsum(k)[:-1]])
    r_total = int(k.sum())
    m_row = np.repeat(np.arange(m_total), k)
    j_row = np.arange(r_total) - np.repeat(off, k)

    # Per position (in opening order): what the month loop slices.
    p = pos.n
    initial = pos.initial_cents[order]
    first_frac = (window.month_last[open_m] - open_day + 1) / window.days_in_month[open_m]
    risk = products.risk[prod]
    noise_sd = (0.002 * (1 + risk)).astype(np.float32)
    fee_rate = products.fee_pct[prod] / 100 / 12
    fixed_monthly = products.fixed_fee_cents[prod] / 12
    base_hazard = _BASE_HAZARD[c.segment[cust]]
    fee_hazard = _FEE_HAZARD * products.fee_pct[prod]
    period = PERIOD_MONTHS[pos.frequency[order]]
    every = np.maximum(period, 1)
    planned = pos.planned_cents[order].astype(np.float64)
    turns_60 = c.birth_day[cust] + int(round(60 * 365.2425))  # day the customer turns 60
    q4 = np.where(window.month_of_year == 12, 1.35,
                  np.where(np.isin(window.month_of_year, (10, 11)), 1.15, 1.0))  # fmt: skip

    # Per row: the random draws, and the customer's grievance over the three months before
    # (causal; few customers have any, so only their rows are looked up).
    z = rng.standard_normal(r_total, dtype=np.float32)
    u = rng.random((5, r_total), dtype=np.float32)
    g_row = np.zeros(r_total)
    aggrieved = np.flatnonzero(grievance.any(axis=1))
    if len(aggrieved):
        cum_g = np.zeros((c.n, m_total + 1))
        cum_g[aggrieved, 1:] = np.cumsum(grievance[aggrieved], axis=1)
        hit = np.flatnonzero(grievance.any(axis=1)[cust[j_row]])
        cj, mj = cust[j_row[hit]], m_row[hit]
        g_row[hit] = cum_g[cj, mj] - cum_g[cj, np.maximum(mj - 3, 0)]

    f_bal = np.empty(r_total, dtype=np.int64)
    f_con = np.empty(r_total, dtype=np.int64)
    f_wd = np.empty(r_total, dtype=np.int64)
    f_ret = np.empty(r_total, dtype=np.int64)
    f_fee = np.empty(r_total, dtype=np.int64)
    f_ok = np.empty(r_total, dtype=bool)
    f_day = np.empty(r_total, dtype=np.int32)

    balance = np.zeros(p, dtype=np.int64)
    cum_fees = np.zeros(p, dtype=np.int64)
    trend = np.zeros(p)  # decayed sum of recent monthly returns
    alive = np.ones(p, dtype=bool)
    close_day = np.full(p, window.last_day, dtype=np.int64)

    ev_pos, ev_day, ev_reason, ev_recovered, ev_clv = [], [], [], [], []
    k_prev = 0
    for m in range(m_total):
        n = int(k[m])
        if n == 0:
            continue
        rows = slice(int(off[m]), int(off[m]) + n)
        dim = int(window.days_in_month[m])
        month_first = int(window.month_first[m])
        month_last = int(window.month_last[m])
        # Positions [k_prev, n) open this month: they start from their initial investment,
        # earn for the days after opening, and neither contribute, withdraw nor churn.
        balance[k_prev:n] = initial[k_prev:n]
        prev = balance[:n]
        live = alive[:n]
        u_con, u_amount, u_wd, u_wfrac, u_churn = (x[rows] for x in u)

        # Churn: hazard from its parts, the reason from the part that fired.
        g = g_row[rows]
        poor = trend[:n] < -0.05
        hazard = base_hazard[:n] + _GRIEVANCE_HAZARD * g + fee_hazard[:n] + _POOR_HAZARD * poor
        churn = live & (u_churn < hazard)
        churn[k_prev:n] = False
        ch = np.flatnonzero(churn)
        closing = np.zeros(n, dtype=bool)
        eff = np.ones(n)
        eff[k_prev:n] = first_frac[k_prev:n]
        if len(ch):
            parts = np.stack([base_hazard[ch], _GRIEVANCE_HAZARD * g[ch], fee_hazard[ch],
                              _POOR_HAZARD * poor[ch]], axis=1)  # fmt: skip
            cause = (rng.random(len(ch))[:, None] > np.cumsum(parts, axis=1)
                     / hazard[ch, None]).sum(axis=1)  # fmt: skip
            reason = rng.choice(len(CHURN_REASONS), len(ch), p=_BASE_REASONS)
            reason[cause == 1] = _R["Service Issue"]
            reason[cause == 2] = _R["Fee Concerns"]
            by_returns = cause >= 3
            reason[by_returns] = np.where(
                rng.random(int(by_returns.sum())) < 0.8,
                _R["Poor Performance"],
                _R["Product Dissatisfaction"],
            )
            recovered = rng.random(len(ch)) < _RECOVER_P[reason]
            dom = rng.integers(1, dim + 1, len(ch))
            closing[ch[~recovered]] = True
            eff[ch[~recovered]] = dom[~recovered] / dim

        r = returns[:, m][prod[:n]] + noise_sd[:n] * z[rows]
        np.maximum(r, -0.6, out=r)
        ret = np.round(prev * r * eff).astype(np.int64)
        # Contributions on schedule (skipped now and then), larger in Q4; year-end top-ups.
        due = (period[:n] > 0) & ((m - open_m[:n]) % every[:n] == 0) & (u_con > 0.08)
        due[k_prev:n] = False
        due &= ~closing
        con = np.where(due, np.round(planned[:n] * (q4[m] * (0.9 + 0.2 * u_amount))), 0.0)
        if window.month_of_year[m] == 12:
            top = u_amount < 0.05
            top[k_prev:n] = False
            top &= ~closing
            con += np.where(top, np.round(prev * 0.02), 0.0)
        con = con.astype(np.int64)
        after = prev + con + ret
        fee = np.round(after * fee_rate[:n] * eff).astype(np.int64)
        fee += np.round(fixed_monthly[:n] * eff).astype(np.int64)
        np.minimum(fee, after, out=fee)
        left = after - fee
        # Withdrawals: likelier past 60 (3–25% of what is left); closing: everything.
        takes = u_wd < np.where(month_last >= turns_60[:n], 0.045, 0.012)
        takes[k_prev:n] = False
        wd = np.where(takes, np.round(left * (0.03 + 0.22 * u_wfrac)), 0.0).astype(np.int64)
        wd[closing] = left[closing]
        bal = left - wd

        f_bal[rows], f_con[rows], f_wd[rows], f_ret[rows], f_fee[rows] = bal, con, wd, ret, fee
        f_ok[rows] = live
        day = f_day[rows]
        day[:k_prev] = month_last
        day[k_prev:n] = open_day[k_prev:n]

        if len(ch):
            # Lifetime value: fees of the rows dated on or before the churn day.
            on_row = closing[ch] | (dom == dim)
            ev_pos.append(ch)
            ev_day.append(month_first + dom - 1)
            ev_reason.append(reason)
            ev_recovered.append(recovered)
            ev_clv.append(cum_fees[ch] + np.where(on_row, fee[ch], 0))
            gone = ch[~recovered]
            day[gone] = month_first + dom[~recovered] - 1
            alive[gone] = False
            close_day[gone] = month_first + dom[~recovered] - 1

        balance[:n] = bal
        cum_fees[:n] += fee
        trend[:n] = 0.6 * trend[:n] + r
        k_prev = n

    # Rows position by position (positions in their own order: customer, open day, product),
    # months ascending: what readers check between consecutive rows (validate's identity and
    # gap checks) then sits together in the file. Position q's rows are month-major rows
    # off[m] + (its rank in opening order) for m from its opening month on; one gather per
    # column puts them in place, minus the months after a close.
    inverse = np.empty(p, dtype=np.int64)
    inverse[order] = np.arange(p)
    n_rows = m_total - open_m_all
    first_row = np.cumsum(n_rows) - n_rows  # position-major index of each position's first row
    month = np.arange(r_total) - np.repeat(first_row - open_m_all, n_rows)
    source = off[month] + np.repeat(inverse, n_rows)
    kept = f_ok[source]
    source = source[kept]

    def arrange(values: np.ndarray) -> np.ndarray:
        return values[source]

    row_pos = np.repeat(np.arange(p), n_rows)[kept]
    closed_sorted = ~alive

    def cat(parts, dtype):
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    e_pos = order[cat(ev_pos, np.int64)]
    e_day = cat(ev_day, np.int64)
    e_reason = cat(ev_reason, np.int64)
    e_rec = cat(ev_recovered, bool)
    e_clv = cat(ev_clv, np.int64)
    ev_order = np.lexsort((e_day, pos.product[e_pos], pos.customer[e_pos]))
    e_pos, e_day, e_reason, e_rec, e_clv = (a[ev_order] for a in (e_pos, e_day, e_reason,
                                                                   e_rec, e_clv))  # fmt: skip
    score = np.clip(rng.normal(_EXIT_SCORE[e_reason], 0.6), 1.0, 5.0)
    score_tenths = np.round(score * 10).astype(np.int64)
    score_tenths[rng.random(len(e_pos)) < 0.25] = -1

    closed = closed_sorted[inverse]
    # A customer's last active day: --end while any position is open, else the last close.
    last = np.full(c.n, -1, dtype=np.int64)
    np.maximum.at(last, cust, np.where(closed_sorted, close_day, window.last_day))
    return Balances(
        position=row_pos,
        day=arrange(f_day),
        balance=arrange(f_bal),
        contributions=arrange(f_con),
        withdrawals=arrange(f_wd),
        returns=arrange(f_ret),
        fees=arrange(f_fee),
        closed=closed,
        churn_position=e_pos,
        churn_day=e_day,
        churn_reason=e_reason,
        churn_recovered=e_rec,
        churn_exit_tenths=score_tenths,
        churn_clv_cents=e_clv,
        last_day=last,
    )
