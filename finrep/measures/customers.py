"""Customers (MEASURES.md, Customers) and the Customer Insights page's visuals.

Customer counts for the period and its comparison periods come from one aggregation over the
positions (grouped by customer, with one flag per date of interest), so `active_customers`,
`retention_rate`, `churned_customers` and the growth waterfall all count the same people.
The page's other visuals read one materialised table of the customers at E (their open
positions, balance and tenure) or, for the cohort grid, the positions again.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir
import pandas as pd

from finrep.config import Config
from finrep.engine import execute
from finrep.measures.assets import Coverage, trend_window
from finrep.measures.context import MeasureContext, bit_or, materialise
from finrep.pack import Visual
from finrep.period import Period, add_months, month_end
from finrep.schema import AGE_BANDS, ENROLLMENT_CHANNELS, PRODUCT_CATEGORIES, SEGMENTS

COHORT_AGES = (0, 3, 6, 12, 18, 24, 36)  # months since enrollment (MEASURES.md)


def _open_at(p: ir.Table, t: date | ir.DateValue) -> ir.BooleanValue:
    return (p.open_date <= t) & (p.close_date.isnull() | (p.close_date > t))


def tenure_months(enrollment_date: ir.DateValue, at: date) -> ir.IntegerValue:
    """Whole months from `enrollment_date` to `at`, a month end: at a month's last day every
    day of a month has come round again, so whole months = calendar months between."""
    return (at.year - enrollment_date.year().cast("int64")) * 12 + (
        at.month - enrollment_date.month().cast("int64")
    )


@dataclass(frozen=True)
class CustomerCounts:
    """Counts for one period P = [S, E] (MEASURES.md, Customers)."""

    active_open: int  # |A(S⁻)|
    active: int  # |A(E)|
    retained: int  # |A(S⁻) ∩ A(E)|
    new: int  # customers.enrollment_date in P
    new_active: int  # new and in A(E)
    churned: int
    open_positions: int  # positions open at E
    tenure_sum: int  # Σ whole months of tenure over A(E)

    @property
    def retention_rate(self) -> float | None:
        return self.retained / self.active_open if self.active_open else None

    @property
    def products_per_customer(self) -> float | None:
        return self.open_positions / self.active if self.active else None

    @property
    def avg_tenure_months(self) -> float | None:
        return self.tenure_sum / self.active if self.active else None

    @property
    def other(self) -> int:
        """What A(S⁻) + new active − churned leaves unexplained (re-activations)."""
        return self.active - (self.active_open + self.new_active - self.churned)


def customer_counts(ctx: MeasureContext, periods: Sequence[Period]) -> list[CustomerCounts]:
    """CustomerCounts for each of `periods`, from one query (positions → customers → 1 row).

    churned: active at some day of P (a position with ``open_date <= t < close_date`` for
    some t in P), not active at E, and the last close date of their positions opened by E
    falls in P.

    Per customer, every yes/no of the positions (open at each date, active during each
    period, a close date on or after S / after E among positions opened by E) is one bit of
    a number OR-ed over the customer's positions: one small state per customer in the
    engine's grouping (a flag and a latest date per question took about 200 MB at a million
    customers, the largest allocation of `finrep measures`). "The last close date falls in
    P" is "some close date >= S and none > E".
    """
    p = ctx.positions
    dates = sorted({d for per in periods for d in (per.opening, per.end)})
    ends = sorted({per.end for per in periods})
    bits: dict[str, int] = {}
    terms: list[ir.IntegerValue] = []

    def flag(name: str, condition: ir.BooleanValue) -> None:
        bits[name] = 1 << len(bits)  # at most 6 dates + 3 × 3 flags: 15 bits
        # A null condition (e.g. no open date) is no, as `any` counted it.
        terms.append(ibis.ifelse(condition, ibis.literal(bits[name], "int64"), 0))

    for i, d in enumerate(dates):
        flag(f"a{i}", _open_at(p, d))
    for j, per in enumerate(periods):
        start = ibis.literal(per.start)
        during = (p.open_date <= per.end) & (
            p.close_date.isnull() | (p.close_date > ibis.greatest(p.open_date, start))
        )
        flag(f"d{j}", during)
        opened = p.open_date <= per.end
        flag(f"cs{j}", opened & (p.close_date >= per.start))  # some close on or after S
        flag(f"ce{j}", opened & (p.close_date > per.end))  # some close after E
    mask = functools.reduce(operator.add, terms)  # distinct bits: the sum is their OR
    counts = {f"n{i}": p.product_id.count(where=_open_at(p, d)) for i, d in enumerate(ends)}
    per_customer = p.group_by("customer_id").aggregate(_flags=bit_or(mask), **counts)
    pop = ctx.population.select("customer_id", "enrollment_date")
    c = pop.left_join(per_customer, "customer_id")
    flags = c._flags.fill_null(0)

    def has(name: str) -> ir.BooleanValue:
        return (flags & bits[name]) != 0

    cid = c.customer_id
    totals: dict[str, ir.Value] = {}
    for j, per in enumerate(periods):
        a_end = has(f"a{dates.index(per.end)}")
        a_open = has(f"a{dates.index(per.opening)}")
        new = (c.enrollment_date >= per.start) & (c.enrollment_date <= per.end)
        churned = has(f"d{j}") & ~a_end & has(f"cs{j}") & ~has(f"ce{j}")
        totals[f"active_open{j}"] = cid.count(where=a_open)
        totals[f"active{j}"] = cid.count(where=a_end)
        totals[f"retained{j}"] = cid.count(where=a_open & a_end)
        totals[f"new{j}"] = cid.count(where=new)
        totals[f"new_active{j}"] = cid.count(where=new & a_end)
        totals[f"churned{j}"] = cid.count(where=churned)
        totals[f"open_positions{j}"] = c[f"n{ends.index(per.end)}"].sum()
        totals[f"tenure_sum{j}"] = tenure_months(c.enrollment_date, per.end).sum(where=a_end)
    row = execute(c.aggregate(**totals)).iloc[0]

    def n(key: str) -> int:
        v = row[key]
        return 0 if pd.isna(v) else int(v)

    return [
        CustomerCounts(
            active_open=n(f"active_open{j}"),
            active=n(f"active{j}"),
            retained=n(f"retained{j}"),
            new=n(f"new{j}"),
            new_active=n(f"new_active{j}"),
            churned=n(f"churned{j}"),
            open_positions=n(f"open_positions{j}"),
            tenure_sum=n(f"tenure_sum{j}"),
        )
        for j in range(len(periods))
    ]


def customer_values(counts: CustomerCounts) -> dict[str, float | None]:
    return {
        "active_customers": counts.active,
        "new_customers": counts.new,
        "churned_customers": counts.churned,
        "retention_rate": counts.retention_rate,
        "products_per_customer": counts.products_per_customer,
        "avg_tenure_months": counts.avg_tenure_months,
    }


# ---- the customers at E ---------------------------------------------------------------------
def customers_at(ctx: MeasureContext, at: date) -> ir.Table:
    """The population at `at` (E), materialised: customer_id, segment, state, region,
    age_band, enrollment_date, open_positions (open at E), balance (Σ snapshot balances in
    the month of E), active (open_positions > 0), tenure_months.

    Built once per context and date: the Customer Insights and Digital pages both read it."""
    cache = ctx.memo.setdefault("customers_at", {})
    if at not in cache:
        cache[at] = _customers_at(ctx, at)
    return cache[at]


def _customers_at(ctx: MeasureContext, at: date) -> ir.Table:
    op = ctx.open_positions_at(at)
    op = op.group_by("customer_id").aggregate(open_positions=op.count())
    s = ctx.snapshot_balances(at)
    bal = s.group_by("customer_id").aggregate(balance=s.balance.sum())
    pop = ctx.population
    t = pop.left_join(op, "customer_id").select(~ibis.selectors.matches("_right$"))
    t = t.left_join(bal, "customer_id").select(~ibis.selectors.matches("_right$"))
    positions = t.open_positions.fill_null(0)
    t = t.select(
        "customer_id",
        "segment",
        "state",
        "region",
        "age_band",
        "enrollment_date",
        open_positions=positions,
        balance=t.balance.fill_null(0.0),
        active=positions > 0,
        tenure_months=tenure_months(t.enrollment_date, at),
    )
    return materialise(ctx.tables.con, t)


def by_state(cust: ir.Table) -> pd.DataFrame:
    """state, active, aum (AUM at E of the state's customers)."""
    g = cust.group_by("state").aggregate(
        active=cust.customer_id.count(where=cust.active), aum=cust.balance.sum()
    )
    return execute(g.order_by("state"))


def _ordered(values, order: tuple[str, ...]) -> list[str]:
    present = list(dict.fromkeys(str(v) for v in values))
    return [v for v in order if v in present] + sorted(v for v in present if v not in order)


def products_per_customer_by_segment(cust: ir.Table, period: Period) -> Visual:
    g = execute(
        cust.group_by("segment").aggregate(
            positions=cust.open_positions.sum(), active=cust.customer_id.count(where=cust.active)
        )
    )
    g = g[g["active"] > 0].set_index("segment")
    labels = _ordered(g.index, SEGMENTS)
    data = pd.DataFrame(
        {
            "label": labels,
            "value": [float(g.loc[x, "positions"]) / float(g.loc[x, "active"]) for x in labels],
        }
    )
    return Visual(
        key="products_per_customer_by_segment",
        title="Products per customer by segment",
        caption=f"Open positions per active customer at the end of {period.end:%B %Y}.",
        kind="bar",
        data=data,
        units={"label": "text", "value": "ratio"},
        labels={"label": "Segment", "value": "Products per customer"},
        definitions=("products_per_customer",),
        note="" if len(data) else f"No active customers at the end of {period.end:%B %Y}.",
    )


def balance_by_segment_age(cust: ir.Table, period: Period) -> Visual:
    """row = segment, one column per age band: AUM at E / active customers at E."""
    g = execute(
        cust.group_by(["segment", "age_band"]).aggregate(
            aum=cust.balance.sum(), active=cust.customer_id.count(where=cust.active)
        )
    )
    rows = _ordered(g["segment"], SEGMENTS)
    cols = _ordered(g["age_band"], AGE_BANDS)
    active = g["active"].astype("float64")
    g = g.assign(avg=(g["aum"].astype("float64") / active).where(active > 0))
    wide = g.pivot(index="segment", columns="age_band", values="avg")
    wide = wide.reindex(index=rows, columns=cols)
    wide.columns.name = None
    data = wide.rename_axis("row").reset_index()
    return Visual(
        key="balance_by_segment_age",
        title="Average balance by segment and age band",
        caption=(
            f"AUM per active customer at the end of {period.end:%B %Y}, by segment and age "
            "band (blank: no active customers)."
        ),
        kind="heatmap",
        data=data,
        units={"row": "text", **dict.fromkeys(cols, "currency")},
        labels={"row": "Segment"},
        definitions=("avg_balance_per_customer", "age_band"),
        note="" if g["active"].sum() else f"No active customers at the end of {period.end:%B %Y}.",
    )


def customer_value(cust: ir.Table, period: Period, max_points: int) -> Visual:
    """x = tenure months, y = balance at E, group = segment, for active customers; above
    `max_points` customers, every k-th customer in customer_id order (deterministic)."""
    active = cust.filter(cust.active)
    n = int(execute(active.count()))
    step = max(1, math.ceil(n / max_points)) if max_points > 0 else 1
    pts = active.select("customer_id", "tenure_months", "balance", "segment")
    if step > 1:
        w = ibis.window(order_by=pts.customer_id)
        pts = pts.mutate(_rn=ibis.row_number().over(w))
        pts = pts.filter(pts._rn % step == 0).drop("_rn")
    frame = execute(pts.order_by("customer_id"))
    data = pd.DataFrame(
        {
            "x": pd.to_numeric(frame["tenure_months"]).astype("int64"),
            "y": pd.to_numeric(frame["balance"]).astype("float64"),
            "group": frame["segment"].astype(str),
        }
    )
    caption = f"Tenure against balance of active customers at the end of {period.end:%B %Y}"
    caption += f"; every {step}th of {n:,} customers shown." if step > 1 else "."
    return Visual(
        key="customer_value",
        title="Customer value: tenure vs balance",
        caption=caption,
        kind="scatter",
        data=data,
        units={"x": "months", "y": "currency", "group": "text"},
        labels={"x": "Tenure (months)", "y": "Balance", "group": "Segment"},
        definitions=("avg_tenure_months", "aum"),
        options={"sampled": step > 1, "population": n, "step": step},
        note="" if len(data) else f"No active customers at the end of {period.end:%B %Y}.",
    )


# ---- trends, flows, cohorts -----------------------------------------------------------------
def acquisition_trend(
    ctx: MeasureContext, period: Period, config: Config, coverage: Coverage
) -> Visual:
    trail = trend_window(period, config.report.trend_months, coverage)
    c = ctx.population
    c = c.filter(c.enrollment_date >= trail.start, c.enrollment_date <= trail.end)
    g = execute(
        c.group_by(month=c.enrollment_date.truncate("M")).aggregate(new_customers=c.count())
    )
    months = pd.date_range(pd.Timestamp(trail.start), pd.Timestamp(trail.end), freq="MS")
    counts = pd.Series(
        pd.to_numeric(g["new_customers"]).to_numpy(), index=pd.to_datetime(g["month"])
    ).reindex(months, fill_value=0)
    data = pd.DataFrame({"x": months, "new_customers": counts.to_numpy().astype("int64")})
    return Visual(
        key="acquisition_trend",
        title="Customer acquisition",
        caption=f"New customers per month, {trail.label}.",
        kind="line",
        data=data,
        units={"x": "date", "new_customers": "count"},
        labels={"x": "Month", "new_customers": "New customers"},
        definitions=("new_customers",),
    )


def customer_growth(counts: CustomerCounts, period: Period) -> Visual:
    rows = [
        (f"Active {period.opening:%b %Y}", counts.active_open, True),
        ("New customers", counts.new_active, False),
        ("Churned", -counts.churned, False),
    ]
    if counts.other:
        rows.append(("Other", counts.other, False))
    rows.append((f"Active {period.end:%b %Y}", counts.active, True))
    data = pd.DataFrame(rows, columns=["label", "value", "total"])
    data["value"] = data["value"].astype("float64")
    data["total"] = data["total"].astype(bool)
    return Visual(
        key="customer_growth",
        title="Customer growth drivers",
        caption=(
            f"Active customers from {period.opening:%b %Y} to {period.end:%b %Y}: new customers "
            "still active, churned; Other: re-activations and customers who joined and left."
        ),
        kind="waterfall",
        data=data,
        units={"label": "text", "value": "count", "total": "text"},
        labels={"label": "Step", "value": "Customers"},
        definitions=("active_customers", "new_customers", "churned_customers"),
    )


def channel_flows(ctx: MeasureContext, period: Period) -> Visual:
    """Positions opened by E: enrollment channel → product category → status at E (Active:
    open at E; Closed: closed by then)."""
    p = ctx.positions
    p = p.filter(p.open_date <= period.end)
    p = p.mutate(status=ibis.ifelse(_open_at(p, period.end), "Active", "Closed"))
    g = execute(p.group_by(["channel", "category", "status"]).aggregate(value=p.count()))
    g["value"] = pd.to_numeric(g["value"]).astype("int64")
    links = []
    for stage, (src, dst, src_order, dst_order) in enumerate(
        (
            ("channel", "category", ENROLLMENT_CHANNELS, PRODUCT_CATEGORIES),
            ("category", "status", PRODUCT_CATEGORIES, ("Active", "Closed")),
        )
    ):
        s = g.groupby([src, dst], dropna=False)["value"].sum().reset_index()
        s[src] = s[src].fillna("Unknown").astype(str)
        s[dst] = s[dst].fillna("Unknown").astype(str)
        rank_s = {v: i for i, v in enumerate(_ordered(s[src], src_order))}
        rank_d = {v: i for i, v in enumerate(_ordered(s[dst], dst_order))}
        s = s.assign(_a=s[src].map(rank_s), _b=s[dst].map(rank_d)).sort_values(["_a", "_b"])
        links.append(
            pd.DataFrame({"source": s[src], "target": s[dst], "value": s["value"], "stage": stage})
        )
    data = (
        pd.concat(links, ignore_index=True)
        if len(g)
        else pd.DataFrame(columns=["source", "target", "value", "stage"])
    )
    return Visual(
        key="channel_flows",
        title="Channel → product category → status",
        caption=(
            f"Positions opened up to {period.end:%b %Y} by enrollment channel, product category "
            f"and whether they are still open at the end of {period.end:%B %Y}."
        ),
        kind="sankey",
        data=data,
        units={"source": "text", "target": "text", "value": "count", "stage": "count"},
        labels={"source": "From", "target": "To", "value": "Positions"},
        definitions=("position", "close_date"),
        note="" if len(data) else f"No positions opened by {period.end:%B %Y}.",
    )


def retention_cohorts(ctx: MeasureContext, period: Period) -> Visual:
    """row = cohort quarter of customers.enrollment_date; columns = months since enrollment
    (COHORT_AGES); cell = share of the cohort's customers who have reached that age by E and
    are active at it. Blank where no customer of the cohort has reached the age.

    One pass over the positions: each position says, per age, whether it is open at the
    customer's enrollment date + age; a customer is active at an age when any position is.
    """
    end = period.end
    pop = ctx.population
    # Each customer's dates at the cohort ages are computed once per customer, before the
    # join repeats them for each of their positions (month arithmetic is not cheap).
    pop = pop.filter(pop.enrollment_date <= end).select(
        "customer_id",
        "enrollment_date",
        **{f"_t{a}": pop.enrollment_date + ibis.interval(months=a) for a in COHORT_AGES},
    )
    pos = ctx.positions.select("customer_id", "open_date", "close_date")
    j = pop.left_join(pos, "customer_id").select(~ibis.selectors.matches("_right$"))
    per = j.group_by(["customer_id", "enrollment_date"]).aggregate(
        **{f"a{a}": _open_at(j, j[f"_t{a}"]).any() for a in COHORT_AGES}
    )
    year = per.enrollment_date.year().cast("int64")
    quarter = per.enrollment_date.quarter().cast("int64")
    cid = per.customer_id
    cells = {}
    for a in COHORT_AGES:
        if end == month_end(end):
            # d + a months falls in the month a months after d's, so it is on or before E
            # (a month end) exactly when d is on or before the end of the month a months
            # before E's: a comparison with a constant.
            reached = per.enrollment_date <= month_end(add_months(end, -a))
        else:
            reached = (per.enrollment_date + ibis.interval(months=a)) <= end
        cells[f"n{a}"] = cid.count(where=reached)
        cells[f"a{a}"] = cid.count(where=reached & per[f"a{a}"].fill_null(False))
    g = execute(per.group_by(year=year, quarter=quarter).aggregate(**cells))
    columns = [str(a) for a in COHORT_AGES]
    if g.empty:
        data = pd.DataFrame(columns=["row", *columns])
    else:
        g = g.sort_values(["year", "quarter"])
        data = pd.DataFrame(
            {
                "row": g["year"].astype("int64").astype(str)
                + " Q"
                + g["quarter"].astype("int64").astype(str)
            }
        )
        for a in COHORT_AGES:
            n = pd.to_numeric(g[f"n{a}"]).astype("float64")
            data[str(a)] = (pd.to_numeric(g[f"a{a}"]).astype("float64") / n).where(n > 0).to_numpy()
        data = data.reset_index(drop=True)
    return Visual(
        key="retention_cohorts",
        title="Retention by cohort",
        caption=(
            "Share of each enrollment-quarter cohort active 0–36 months after enrolling "
            f"(ages reached by {end:%b %Y})."
        ),
        kind="heatmap",
        data=data,
        units={"row": "text", **dict.fromkeys(columns, "pct")},
        labels={"row": "Cohort", **{c: f"{c} m" for c in columns}},
        definitions=("retention_cohorts", "active_customers"),
        note="" if len(data) else f"No customers enrolled by {end:%B %Y}.",
    )
