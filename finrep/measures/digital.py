"""Digital Engagement page: session KPIs (MEASURES.md, Digital) and the page's six visuals.

Sessions come from `ctx.engagement` (customer and `--device` filters applied). Each visual
is one ibis aggregate executed into a frame of at most a few hundred rows.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from datetime import date

import ibis
import ibis.expr.types as ir
import pandas as pd

from finrep.config import Config
from finrep.engine import execute
from finrep.measures.context import MeasureContext
from finrep.pack import Definition, Visual
from finrep.period import Period, add_months, month_start
from finrep.schema import ACTION_TYPES, AGE_BANDS, DEVICE_TYPES, REGIONS

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
    """`finrep.schema.is_mobile_device` in the engine (null device → not mobile)."""
    mobile = device_type.isin(("Mobile Phone", "Tablet")) | device_type.lower().contains("mobile")
    return mobile.fill_null(False)


def _sessions_in(ctx: MeasureContext, start: date, end: date) -> ir.Table:
    g = ctx.engagement
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
    """`digital_kpis` for several periods (e.g. P, previous, last year) in one engine pass:
    the engagement table is scanned once instead of once per period."""
    if len(periods) != len(active_customers):
        raise ValueError("one active_customers value per period")
    if not periods:
        return []
    # Single-month periods inside the trend window are read from the per-month statistics
    # the trend visuals need anyway (one grouped pass over the sessions, kept on `ctx`).
    trail = Period(month_start(ctx.at), ctx.at).trailing(ctx.config.report.trend_months)
    out: list[dict[str, float | None] | None] = [None] * len(periods)
    rest = []
    for i, period in enumerate(periods):
        if period.n_months == 1 and trail.start <= period.start <= trail.end:
            stats = _month_stats(ctx, trail)
            m = pd.Timestamp(period.start)
            row = stats.loc[m] if m in stats.index else None
            out[i] = _kpi_values(
                0 if row is None else row["mau"],
                None if row is None else row["mobile_users"],
                0 if row is None else row["sessions"],
                None if row is None else row["duration_sum"],
                None if row is None else row["duration_n"],
                active_customers[i],
            )
        else:
            rest.append(i)
    if rest:
        values = _kpis_scan(ctx, [periods[i] for i in rest])
        for i, v in zip(rest, values, strict=True):
            out[i] = _kpi_values(*v, active_customers[i])
    return out  # type: ignore[return-value]


def _kpi_values(users, mobile_users, sessions, duration_sum, duration_n, active):
    users = int(users)
    return {
        "digital_active_users": users,
        "digital_engagement_rate": _ratio(users, active),
        "mobile_adoption_rate": _ratio(mobile_users, users),
        "sessions": int(sessions),
        "avg_session_minutes": _ratio(duration_sum, duration_n),
    }


def _kpis_scan(ctx: MeasureContext, periods: Sequence[Period]) -> list[tuple]:
    """(users, mobile users, sessions, duration sum, duration count) per period, from one
    aggregate over the sessions of all `periods`."""
    g = ctx.engagement
    g = g.filter(_any_period(g.date, periods))
    mobile = is_mobile_expr(g.device_type)
    aggs = {}
    for i, period in enumerate(periods):
        inside = (g.date >= period.start) & (g.date <= period.end)
        aggs[f"users_{i}"] = g.customer_id.nunique(where=inside)
        aggs[f"mobile_users_{i}"] = g.customer_id.nunique(where=inside & mobile)
        aggs[f"sessions_{i}"] = g.count(where=inside)
        aggs[f"duration_sum_{i}"] = g.session_duration.sum(where=inside)
        aggs[f"duration_n_{i}"] = g.session_duration.count(where=inside)
    row = execute(g.aggregate(**aggs)).iloc[0]
    names = ("users", "mobile_users", "sessions", "duration_sum", "duration_n")
    return [tuple(row[f"{n}_{i}"] for n in names) for i in range(len(periods))]


def _month_stats(ctx: MeasureContext, trail: Period) -> pd.DataFrame:
    """Per month of `trail` with sessions (index: month start as Timestamp): mau,
    mobile_users, sessions, duration_sum, duration_n, mean, median. Two grouped queries,
    computed once per context and window (the KPIs and both trend visuals read it)."""
    cache = ctx.__dict__.setdefault("_digital_month_stats", {})
    key = (trail.start, trail.end)
    if key not in cache:
        g = _sessions_in(ctx, trail.start, trail.end)
        g = g.mutate(month=g.date.truncate("M"), _mobile=is_mobile_expr(g.device_type))
        # Distinct users through one (month, customer) grouping rather than two
        # count-distincts per month: about half the CPU and a fraction of the memory.
        u = g.filter(g.customer_id.notnull())
        u = u.group_by(["month", "customer_id"]).aggregate(_mobile=u._mobile.any())
        users = u.group_by("month").aggregate(mau=u.count(), mobile_users=u.count(where=u._mobile))
        sessions = g.group_by("month").aggregate(
            sessions=g.count(),
            duration_sum=g.session_duration.sum(),
            duration_n=g.session_duration.count(),
            mean=g.session_duration.mean(),
            median=g.session_duration.median(),
        )
        frame = execute(sessions).merge(execute(users), on="month", how="left")
        frame[["mau", "mobile_users"]] = frame[["mau", "mobile_users"]].fillna(0).astype("int64")
        frame["month"] = pd.to_datetime(frame["month"])
        cache[key] = frame.set_index("month")
    return cache[key]


def _any_period(column: ir.DateColumn, periods: Sequence[Period]) -> ir.BooleanColumn:
    preds = [(column >= p.start) & (column <= p.end) for p in periods]
    return functools.reduce(operator.or_, preds)


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
    frame = _month_stats(ctx, trail)[["mau", "sessions", "mean", "median"]]
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
    active = (
        ctx.active_customers_at(period.end)
        .join(cust, "customer_id")
        .group_by("state")
        .aggregate(active=ibis._.count())
    )
    now, before = month_start(period.end), add_months(period.end, -12)
    states = cust.select("state", "region").distinct()
    j = states.left_join(active, "state").select(~ibis.selectors.matches("_right$"))
    for name, month in (("aum", now), ("aum_ly", before)):
        snap = ctx.snapshot_balances(month).join(cust, "customer_id")
        aum = snap.group_by("state").aggregate(**{name: snap.balance.sum()})
        j = j.left_join(aum, "state").select(~ibis.selectors.matches("_right$"))
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
