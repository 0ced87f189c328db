"""Digital Engagement page: session KPIs (MEASURES.md, Digital) and the page's six visuals.

Sessions are those of the filtered customers on the `--device` devices (`ctx.engagement`'s
rows, narrowed by each query itself: see `_sessions`). Each visual is one ibis aggregate
executed into a frame of at most a few hundred rows.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir
import pandas as pd

from finrep.config import Config
from finrep.engine import execute
from finrep.measures.context import (
    _BLOCK,
    MeasureContext,
    bit_or,
    materialise,
    month_index_expr,
)
from finrep.measures.customers import customers_at
from finrep.pack import Definition, Visual
from finrep.period import Period, add_months, month_end, month_start
from finrep.schema import ACTION_TYPES, AGE_BANDS, DEVICE_TYPES, REGIONS, is_mobile_device

# key → (label, unit, higher_is_better), for the KPI strip.
KPIS: dict[str, tuple[str, str, bool]] = {
    "digital_active_users": ("Digital active users", "count", True),
    "digital_engagement_rate": ("Digital engagement", "pct", True),
    "mobile_adoption_rate": ("Mobile adoption", "pct", True),
    "sessions": ("Sessions", "count", True),
    "avg_session_minutes": ("Avg session", "minutes", True),
}

DEFINITIONS: tuple[Definition, ...] = (
    Definition(
        "digital_active_users",
        "Digital active users",
        "Distinct customers with at least one digital session in the period (per month: "
        "monthly active users, MAU).",
    ),
    Definition(
        "digital_engagement_rate",
        "Digital engagement rate",
        "Digital active users divided by active customers at the period end.",
    ),
    Definition(
        "mobile_adoption_rate",
        "Mobile adoption",
        "Share of digital active users with at least one session on a mobile device (Mobile "
        "Phone, Tablet, or any device type containing “Mobile”) in the period.",
    ),
    Definition("sessions", "Sessions", "Digital sessions (engagement rows) in the period."),
    Definition(
        "avg_session_minutes",
        "Average session",
        "Mean session duration in minutes over the period's sessions (the trend also shows "
        "the median).",
    ),
    Definition(
        "aum_change_yoy",
        "AUM change YoY",
        "AUM at the period end against AUM twelve months earlier, in percent of the earlier "
        "figure.",
    ),
)


def is_mobile_expr(device_type: ir.StringColumn) -> ir.BooleanColumn:
    """`finrep.schema.is_mobile_device` in the engine (null device → not mobile).

    The schema's device types are answered by name and only other names are lower-cased and
    searched: a CASE evaluates a later branch only on the rows earlier ones left, which at
    tens of millions of sessions is half the CPU of lower-casing every row.
    """
    mobile = tuple(d for d in DEVICE_TYPES if is_mobile_device(d))
    other = tuple(d for d in DEVICE_TYPES if not is_mobile_device(d))
    return ibis.cases(
        (device_type.isin(mobile), True),
        (device_type.isin(other), False),
        else_=device_type.lower().contains("mobile").fill_null(False),
    )


def _sessions(ctx: MeasureContext) -> ir.Table:
    """Sessions on the `--device` filter's devices, of every customer (known or not): each
    query here narrows them to the filtered customers itself, by a join it needs anyway or
    after grouping by customer (`ctx.engagement` would check every row's customer first)."""
    g = ctx.tables["engagement"]
    if ctx.filters.device:
        g = g.filter(g.device_type.isin(ctx.filters.device))
    return g


def _sessions_in(ctx: MeasureContext, start: date, end: date) -> ir.Table:
    g = _sessions(ctx)
    return g.filter(g.date >= start, g.date <= end)


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or not den or pd.isna(num) or pd.isna(den):
        return None
    return float(num) / float(den)


def digital_kpis(
    ctx: MeasureContext, period: Period, active_customers: int | None
) -> dict[str, float | None]:
    """digital_active_users, digital_engagement_rate (users / `active_customers`),
    mobile_adoption_rate (0–1), sessions, avg_session_minutes; None where not computable.

    The engagement rate is taken as defined: users with a session in P over customers active
    at E, so a customer who used the app in P but closed every position before E counts in
    the numerator only (the rate can then exceed 1 in principle).
    """
    return digital_kpis_many(ctx, (period,), (active_customers,))[0]


def digital_kpis_many(
    ctx: MeasureContext,
    periods: Sequence[Period],
    active_customers: Sequence[int | None],
) -> list[dict[str, float | None]]:
    """`digital_kpis` for several periods (e.g. P, previous, last year) from one pass over
    the sessions for the session figures and one for the distinct users.

    When the context builds visuals (a pack), the pass also covers the trend window the
    page's two trend charts need, so the page reads the same statistics; for the KPIs alone
    (`finrep measures`) only the periods' months are read.
    """
    if len(periods) != len(active_customers):
        raise ValueError("one active_customers value per period")
    if not periods:
        return []
    stats = _stats(ctx, periods)
    out = []
    for period, active in zip(periods, active_customers, strict=True):
        months = stats.monthly.loc[pd.Timestamp(period.start) : pd.Timestamp(period.end)]
        users, mobile = stats.users[(period.start, period.end)]
        out.append(
            {
                "digital_active_users": users,
                "digital_engagement_rate": _ratio(users, active),
                "mobile_adoption_rate": _ratio(mobile, users),
                "sessions": int(months["sessions"].sum()),
                "avg_session_minutes": _ratio(
                    months["duration_sum"].sum(), months["duration_n"].sum()
                ),
            }
        )
    return out


@dataclass(frozen=True)
class _Stats:
    """`monthly`: per month start (index, every month of the window): sessions,
    duration_sum, duration_n, mean, median (null in months without sessions or outside the
    months read), mau, mobile_users. `users`: (start, end) of each period → (distinct users,
    distinct mobile users)."""

    monthly: pd.DataFrame
    users: dict[tuple[date, date], tuple[int, int]]
    has_median: bool


def _trail(ctx: MeasureContext) -> Period:
    return Period(month_start(ctx.at), ctx.at).trailing(ctx.config.report.trend_months)


def _stats(ctx: MeasureContext, periods: Sequence[Period] = (), trend: bool = False) -> _Stats:
    """The session statistics of `periods`, and of the trend window (with the median) when
    `trend` is set or the context builds visuals, computed once per context: later calls
    whose periods were covered read the cache."""
    trend = trend or ctx.with_visuals
    wanted = [(p.start, p.end) for p in periods]
    if trend:
        trail = _trail(ctx)
        wanted.append((trail.start, trail.end))
    cache = ctx.memo.setdefault("digital_stats", [])
    for stats in cache:
        if all(w in stats.users for w in wanted) and (stats.has_median or not trend):
            return stats
    stats = _compute_stats(ctx, sorted(set(wanted)), median=trend)
    cache.append(stats)
    return stats


def _compute_stats(ctx: MeasureContext, spans: Sequence[tuple[date, date]], median: bool) -> _Stats:
    first = month_start(min(a for a, _ in spans))
    last = max(b for _, b in spans)
    window = Period(first, month_end(last))
    g = _sessions(ctx)
    g = g.filter(functools.reduce(operator.or_, [(g.date >= a) & (g.date <= b) for a, b in spans]))
    monthly_users, users, narrow = _distinct_users(ctx, g, window, spans)
    if narrow:
        g = g.semi_join(ctx.customers, "customer_id")
    by_month = g.mutate(month=g.date.truncate("M"))
    # Everything is read off the (month, duration) counts, which the trend chart's median
    # needs: the sessions are scanned once, and `finrep measures` (no median) sums the
    # same way as a pack, so both print identical figures.
    counts = by_month.group_by(["month", "session_duration"]).aggregate(n=by_month.count())
    counts = materialise(ctx.tables.con, counts)
    d, n = counts.session_duration, counts.n
    sums = counts.group_by("month").aggregate(
        sessions=n.sum(),
        duration_sum=(d * n).sum(),
        duration_n=n.sum(where=d.notnull()),
    )
    frame = execute(sums)
    frame["month"] = pd.to_datetime(frame["month"])
    frame["mean"] = frame["duration_sum"] / frame["duration_n"].where(frame["duration_n"] > 0)
    if median:  # only the trend chart shows it
        medians = execute(_median_from_counts(counts))
        medians["month"] = pd.to_datetime(medians["month"])
        frame = frame.merge(medians, on="month", how="left")
    months = pd.DatetimeIndex([pd.Timestamp(m) for m in window.month_starts], name="month")
    frame = frame.set_index("month").reindex(months)
    frame[["sessions", "duration_n"]] = frame[["sessions", "duration_n"]].fillna(0)
    frame["duration_sum"] = frame["duration_sum"].fillna(0.0)
    if "median" not in frame:
        frame["median"] = float("nan")
    frame = frame.join(monthly_users)
    return _Stats(frame, users, median)


def _median_from_counts(counts: ir.Table) -> ir.Table:
    """month, median: the exact median session duration per month, from `counts` (month,
    session_duration, n: how many sessions of that month lasted that long), as the mean of
    the middle value(s) in duration order.

    A median aggregate keeps every value of a month in memory and cannot spill: at a million
    customers it needs more than the engine's memory limit. Durations repeat (a few thousand
    distinct values, recorded to 0.1 minute), so the median is read off the counts: running
    totals in duration order locate the middle rows.
    """
    counts = counts.filter(counts.session_duration.notnull())
    running = ibis.cumulative_window(group_by=counts.month, order_by=counts.session_duration)
    c = counts.mutate(
        _to=counts.n.sum().over(running), _total=counts.n.sum().over(group_by=counts.month)
    )
    lo, hi = (c._total - 1) // 2, c._total // 2  # 0-based positions of the middle rows
    before = c._to - c.n  # rows with a smaller duration
    middle = c.filter(((before <= lo) & (lo < c._to)) | ((before <= hi) & (hi < c._to)))
    return middle.group_by("month").aggregate(median=middle.session_duration.mean())


def _distinct_users(
    ctx: MeasureContext, g: ir.Table, window: Period, spans: Sequence[tuple[date, date]]
):
    """Distinct users (and mobile users) of the sessions `g` per month of `window` and per
    span, from one grouping by customer; and whether `g` must be narrowed to the filtered
    customers (True under customer filters, or when some session's customer is not a
    customer).

    `g` holds sessions of every customer: the grouping by customer is narrowed to the
    filtered customers afterwards, on a million rows rather than tens of millions, and the
    same grouping tells whether a session's customer is unknown (so that the session
    counts need the join), without a separate pass over the table.

    Distinct users per month would group sessions by (month, customer): about ten million
    groups at a million customers. Instead each customer's months of use are one bit mask
    (bit k = month k of the window; blocks of `_BLOCK` months keep every shift inside a
    32-bit literal on Spark), a grouping by customer only (a tenth of the groups, about 40%
    less CPU); a month's users are the customers with its bit set, a span's users those
    with any of its bits set. Spans are whole months here (periods and trend windows are).
    """
    base = window.start.year * 12 + window.start.month - 1
    index = month_index_expr(g.date) - base
    g = g.select(
        "customer_id",
        _block=index // _BLOCK,
        _bit=ibis.literal(1, "int64") << (index % _BLOCK),
        _mobile=is_mobile_expr(g.device_type),
    )
    n = window.n_months
    blocks = range((n + _BLOCK - 1) // _BLOCK)
    masks = {}
    for k in blocks:
        if len(blocks) == 1:  # every row lies in the window: no per-row block test
            masks["m0"] = bit_or(g._bit)
            masks["p0"] = bit_or(ibis.ifelse(g._mobile, g._bit, 0))
            continue
        inside = g._block == k
        masks[f"m{k}"] = bit_or(ibis.ifelse(inside, g._bit, 0))
        masks[f"p{k}"] = bit_or(ibis.ifelse(inside & g._mobile, g._bit, 0))
    c = materialise(ctx.tables.con, g.group_by("customer_id").aggregate(**masks))
    # A null customer_id is a group of its own, and no customer: it too needs the join.
    narrow = ctx._customer_filtered or bool(
        execute(c.select("customer_id").anti_join(ctx.customers, "customer_id").count())
    )
    c = c.semi_join(ctx.customers, "customer_id") if narrow else c

    def has_any(prefix: str, months: range) -> ir.BooleanValue:
        parts = []
        for k in blocks:
            bits = sum(1 << (j % _BLOCK) for j in months if j // _BLOCK == k)
            if bits:
                parts.append((c[f"{prefix}{k}"] & bits) != 0)
        return functools.reduce(operator.or_, parts)

    def index_of(d: date) -> int:
        return d.year * 12 + d.month - 1 - base

    counts = {}
    for j in range(n):
        counts[f"mau_{j}"] = has_any("m", range(j, j + 1)).sum()
        counts[f"mobile_{j}"] = has_any("p", range(j, j + 1)).sum()
    for i, (a, b) in enumerate(spans):
        months = range(index_of(a), index_of(b) + 1)
        counts[f"users_{i}"] = has_any("m", months).sum()
        counts[f"mobile_users_{i}"] = has_any("p", months).sum()
    row = execute(c.aggregate(**counts)).iloc[0]

    def count(name: str) -> int:
        value = row[name]
        return 0 if value is None or pd.isna(value) else int(value)

    monthly = pd.DataFrame(
        {
            "mau": [count(f"mau_{j}") for j in range(n)],
            "mobile_users": [count(f"mobile_{j}") for j in range(n)],
        },
        index=pd.DatetimeIndex([pd.Timestamp(m) for m in window.month_starts], name="month"),
    )
    users = {
        span: (count(f"users_{i}"), count(f"mobile_users_{i}")) for i, span in enumerate(spans)
    }
    return monthly, users, narrow


# ---- visuals ----------------------------------------------------------------------------
def digital_visuals(ctx: MeasureContext, period: Period, config: Config) -> tuple[Visual, ...]:
    """The six visuals of the Digital Engagement page (pack.PAGE_LAYOUT["digital"])."""
    trail = period.trailing(config.report.trend_months)
    monthly = _monthly(ctx, trail)
    mix = _mix(ctx, period)
    return (
        _engagement_trend(monthly, trail),
        _device_distribution(mix, period.label),
        _digital_actions(mix, period.label),
        _usage_by_age_device(mix, period.label),
        _session_duration_trend(monthly, trail),
        _engagement_vs_growth(ctx, period, mix.groupby("state")["sessions"].sum()),
    )


def _monthly(ctx: MeasureContext, trail: Period) -> pd.DataFrame:
    """x (month start), mau, sessions, mean, median over the trend window (one query).

    Months before the first month with any engagement row (unfiltered) are left out; later
    months without sessions are zero (mean and median null).
    """
    monthly = _stats(ctx, (trail,), trend=True).monthly
    frame = monthly.loc[pd.Timestamp(trail.start) : pd.Timestamp(trail.end)]
    frame = frame[["mau", "sessions", "mean", "median"]]
    first = execute(ctx.tables["engagement"].date.min())
    months = [pd.Timestamp(add_months(trail.start, i)) for i in range(trail.n_months)]
    if first is not None and not pd.isna(first):
        months = [m for m in months if m >= pd.Timestamp(month_start(first))]
    frame = frame.reindex(pd.DatetimeIndex(months, name="month"))
    frame[["mau", "sessions"]] = frame[["mau", "sessions"]].fillna(0).astype("int64")
    frame[["mean", "median"]] = frame[["mean", "median"]].astype("float64")
    return frame.rename_axis("x").reset_index()


def _mix(ctx: MeasureContext, period: Period) -> pd.DataFrame:
    """Sessions in P by device × action × age band at E × state: one query, at most
    5 × 10 × 4 × 51 rows, that the donut, the bars, the stacked bars and the per-state
    session counts are all read from."""
    g = _sessions_in(ctx, period.start, period.end)
    g = g.join(ctx.customers.select("customer_id", "age_band", "state"), "customer_id")
    keys = ["device_type", "action_type", "age_band", "state"]
    agg = g.group_by(keys).aggregate(sessions=g.count())
    mix = execute(agg)
    mix["sessions"] = mix["sessions"].astype("int64")
    return mix


def _ordered(values, order: tuple[str, ...]) -> list[str]:
    """`values` in the order of `order`, unknown ones after it alphabetically."""
    present = {str(v) for v in values}
    return [v for v in order if v in present] + sorted(v for v in present if v not in order)


def _engagement_trend(monthly: pd.DataFrame, trail: Period) -> Visual:
    data = monthly[["x", "mau", "sessions"]]
    empty = data["sessions"].sum() == 0
    return Visual(
        key="engagement_trend",
        title="Digital engagement trend",
        caption=f"Monthly active users (left axis) and sessions (right axis), {trail.label}.",
        kind="line",
        data=data.iloc[0:0] if empty else data,
        units={"x": "date", "mau": "count", "sessions": "count"},
        labels={"x": "Month", "mau": "Monthly active users", "sessions": "Sessions"},
        definitions=("digital_active_users", "sessions"),
        options={"secondary": ("sessions",)},
        note=f"No digital sessions in {trail.label}." if empty else "",
    )


def _counts_by(mix: pd.DataFrame, column: str, order: tuple[str, ...]) -> pd.DataFrame:
    by = mix.groupby(column)["sessions"].sum()
    by = by[by > 0]
    data = pd.DataFrame({"label": by.index.astype(str), "value": by.to_numpy(dtype="int64")})
    rank = {v: i for i, v in enumerate(order)}
    data["_o"] = data["label"].map(lambda v: rank.get(v, len(order)))
    data = data.sort_values(["value", "_o", "label"], ascending=[False, True, True])
    return data.drop(columns="_o").reset_index(drop=True)


def _device_distribution(mix: pd.DataFrame, label: str) -> Visual:
    data = _counts_by(mix, "device_type", DEVICE_TYPES)
    return Visual(
        key="device_distribution",
        title="Device distribution",
        caption=f"Sessions by device type, {label}.",
        kind="donut",
        data=data,
        units={"label": "text", "value": "count"},
        labels={"label": "Device", "value": "Sessions"},
        definitions=("sessions", "mobile_adoption_rate"),
        note="" if len(data) else f"No digital sessions in {label}.",
    )


def _digital_actions(mix: pd.DataFrame, label: str) -> Visual:
    data = _counts_by(mix, "action_type", ACTION_TYPES)
    return Visual(
        key="digital_actions",
        title="Most common digital actions",
        caption=f"Sessions by main action, {label}.",
        kind="bar",
        data=data,
        units={"label": "text", "value": "count"},
        labels={"label": "Action", "value": "Sessions"},
        definitions=("sessions",),
        options={"orientation": "h"},
        note="" if len(data) else f"No digital sessions in {label}.",
    )


def _usage_by_age_device(mix: pd.DataFrame, label: str) -> Visual:
    devices = _ordered(mix["device_type"].unique(), DEVICE_TYPES)
    bands = _ordered(mix["age_band"].unique(), AGE_BANDS)
    wide = mix.pivot_table(
        index="age_band", columns="device_type", values="sessions", aggfunc="sum", fill_value=0
    )
    wide = wide.reindex(index=bands, columns=devices, fill_value=0).astype("int64")
    wide.columns.name = None
    data = wide.rename_axis("x").reset_index()
    return Visual(
        key="usage_by_age_device",
        title="Usage by age band and device",
        caption=f"Sessions by the customer's age band and device type, {label}.",
        kind="stacked",
        data=data,
        units={"x": "text", **{d: "count" for d in devices}},
        labels={"x": "Age band"},
        definitions=("sessions",),
        options={"orientation": "h"},
        note="" if len(data) else f"No digital sessions in {label}.",
    )


def _session_duration_trend(monthly: pd.DataFrame, trail: Period) -> Visual:
    data = monthly[["x", "mean", "median"]]
    empty = data["mean"].notna().sum() == 0
    return Visual(
        key="session_duration_trend",
        title="Session duration trend",
        caption=f"Mean and median session length per month, in minutes, {trail.label}.",
        kind="line",
        data=data.iloc[0:0] if empty else data,
        units={"x": "date", "mean": "minutes", "median": "minutes"},
        labels={"x": "Month", "mean": "Mean", "median": "Median"},
        definitions=("avg_session_minutes",),
        note=f"No digital sessions in {trail.label}." if empty else "",
    )


def _engagement_vs_growth(ctx: MeasureContext, period: Period, sessions: pd.Series) -> Visual:
    """One point per state: x sessions in P (`sessions`, by state) per active customer at E,
    y AUM change YoY (AUM at E vs E−12 months), size active customers at E, label state,
    group region."""
    cust = ctx.customers.select("customer_id", "state", "region")
    # Active customers and AUM at E per state come from the customers at E (materialised
    # once for the Customer Insights page); only AUM twelve months earlier is queried here.
    at_end = customers_at(ctx, period.end)
    now = at_end.group_by("state").aggregate(
        active=at_end.customer_id.count(where=at_end.active), aum=at_end.balance.sum()
    )
    states = cust.select("state", "region").distinct()
    j = states.left_join(now, "state").select(~ibis.selectors.matches("_right$"))
    snap = ctx.snapshot_balances(add_months(period.end, -12)).join(cust, "customer_id")
    aum_ly = snap.group_by("state").aggregate(aum_ly=snap.balance.sum())
    j = j.left_join(aum_ly, "state").select(~ibis.selectors.matches("_right$"))
    frame = execute(j)
    frame["sessions"] = frame["state"].map(sessions)

    active_n = pd.to_numeric(frame["active"]).fillna(0)
    sessions_n = pd.to_numeric(frame["sessions"]).fillna(0)
    aum_now = pd.to_numeric(frame["aum"]).fillna(0.0)
    aum_ly = pd.to_numeric(frame["aum_ly"])
    data = pd.DataFrame(
        {
            "x": (sessions_n / active_n).where(active_n > 0),
            "y": ((aum_now - aum_ly) / aum_ly).where(aum_ly > 0),
            "group": frame["region"].astype(str),
            "size": active_n.astype("int64"),
            "label": frame["state"].astype(str),
        }
    )
    shown = data.dropna(subset=["x", "y"])
    region_rank = {r: i for i, r in enumerate(REGIONS)}
    shown = shown.assign(_r=shown["group"].map(lambda r: region_rank.get(r, len(REGIONS))))
    shown = shown.sort_values(["_r", "label"]).drop(columns="_r").reset_index(drop=True)
    left_out = len(data) - len(shown)
    note = ""
    if left_out:
        note = (
            f"{left_out} state(s) not shown: no active customers at {period.end:%b %Y} "
            f"or no AUM twelve months earlier."
        )
    return Visual(
        key="engagement_vs_growth",
        title="Engagement vs growth by state",
        caption=f"Sessions per active customer ({period.label}) against AUM change over the "
        f"year to {period.end:%b %Y}; bubble size = active customers.",
        kind="scatter",
        data=shown,
        units={"x": "ratio", "y": "return", "group": "text", "size": "count", "label": "text"},
        labels={
            "x": "Sessions per active customer",
            "y": "AUM change YoY",
            "group": "Region",
            "size": "Active customers",
            "label": "State",
        },
        definitions=("sessions", "active_customers", "aum", "aum_change_yoy"),
        note=note,
    )
