"""Service Quality page: contact KPIs (MEASURES.md, Service) and the page's six visuals.

Everything is an ibis expression executed once per call into a small pandas frame: the
contacts are first flagged (first contact, resolved on first contact) with window functions
in the engine, then aggregated to a month × channel × reason "cube" of a few hundred rows
that the KPIs and most visuals are read from.

First-contact resolution (FCR) looks around each contact by ±7 days. That look-around
- reaches outside the period (a contact on the 1st can be a repeat of one on the 28th of the
  month before), so contacts are read from 7 days before to 7 days after the window;
- ignores the `--channel` filter: a phone contact followed by a chat about the same reason
  two days later was not resolved on first contact, whatever channel the report is cut by.
  Only which contacts are *counted* depends on the channel filter, so first contacts and
  FCR counts over every channel add up to the unfiltered totals.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd

from finrep.config import Config
from finrep.engine import execute
from finrep.measures.context import MeasureContext
from finrep.pack import Definition, Visual
from finrep.period import Period, add_months, month_end, month_start
from finrep.schema import ISSUE_REASONS, PRODUCT_CATEGORIES, SEGMENTS, SERVICE_CHANNELS

LOOKAROUND_DAYS = 7  # MEASURES.md: "within 7 days" means d−7 ≤ date ≤ d+7
VOLUME_MONTHS = 12  # PAGES.md: volume by channel over the last 12 months
NO_CATEGORY = "None"  # primary category of a customer with no open position at E

# key → (label, unit, higher_is_better), for the KPI strip.
KPIS: dict[str, tuple[str, str, bool]] = {
    "contacts": ("Contacts", "count", False),
    "avg_satisfaction": ("Avg satisfaction", "score", True),
    "csat_pct": ("CSAT (score ≥ 4)", "pct", True),
    "avg_handle_minutes": ("Avg handle time", "minutes", False),
    "fcr_rate": ("First-contact resolution", "pct", True),
    "issues_per_1000": ("Issues per 1,000 customers", "number", False),
}

DEFINITIONS: tuple[Definition, ...] = (
    Definition("contacts", "Contacts", "Customer-service interactions dated in the period."),
    Definition(
        "avg_satisfaction",
        "Average satisfaction",
        "Mean satisfaction score (1–5) of the period's contacts; unscored contacts are ignored.",
    ),
    Definition(
        "csat_pct",
        "CSAT",
        "Share of the period's scored contacts with a satisfaction score of 4 or more.",
    ),
    Definition(
        "avg_handle_minutes", "Average handle time", "Mean duration of a contact, in minutes."
    ),
    Definition(
        "first_contact",
        "First contact",
        "A contact with no earlier contact by the same customer about the same reason in the "
        "7 days before it (contacts ordered by date, then interaction id; any channel).",
    ),
    Definition(
        "fcr_rate",
        "First-contact resolution (FCR)",
        "Among the period's first contacts, the share marked Resolved with no later contact by "
        "the same customer about the same reason in the 7 days after (any channel, even after "
        "the period ends).",
    ),
    Definition(
        "issues_per_1000",
        "Issues per 1,000 customers",
        "Contacts about a complaint, technical support or a transaction issue in the period, "
        "per 1,000 active customers at the period end.",
    ),
    Definition(
        "primary_category",
        "Primary product category",
        "The category of the customer's largest open position (by month-end balance) at the "
        "period end; None when the customer holds no open position then.",
    ),
)


# ---- flagged contacts -------------------------------------------------------------------
def flagged_contacts(ctx: MeasureContext, start: date, end: date) -> ir.Table:
    """Contacts dated in [start, end] (customer and channel filters applied) with booleans
    `is_first` (first contact), `is_resolved` (status Resolved) and `is_fcr` (resolved on
    first contact). The ±7-day look-around reads every channel and dates outside [start, end].
    """
    return _flagged(ctx, ((start, end),))


def _within(column: ir.DateColumn, ranges: Sequence[tuple[date, date]]) -> ir.BooleanColumn:
    return functools.reduce(operator.or_, [(column >= a) & (column <= b) for a, b in ranges])


def _flagged(ctx: MeasureContext, ranges: Sequence[tuple[date, date]]) -> ir.Table:
    """`flagged_contacts` for contacts dated in any of `ranges`, in one window pass.

    Contacts are read from 7 days before to 7 days after each range. Leaving out the dates
    between ranges changes no flag: such a contact is more than 7 days from every counted one.
    """
    days = ibis.interval(days=LOOKAROUND_DAYS)
    pad = timedelta(days=LOOKAROUND_DAYS)
    s = ctx.service_any_channel
    s = s.filter(_within(s.date, [(a - pad, b + pad) for a, b in ranges]))
    # The immediately previous/next contact of the same customer and reason, in
    # (date, interaction_id) order: if any earlier (later) contact is within 7 days, this
    # neighbour is, because dates are monotone in that order.
    w = ibis.window(group_by=[s.customer_id, s.reason_code], order_by=[s.date, s.interaction_id])
    s = s.mutate(_prev=s.date.lag().over(w), _next=s.date.lead().over(w))
    first = s._prev.isnull() | (s._prev < s.date - days)
    no_repeat = s._next.isnull() | (s._next > s.date + days)
    resolved = (s.resolution_status == "Resolved").fill_null(False)
    s = s.mutate(is_first=first, is_resolved=resolved, is_fcr=first & resolved & no_repeat)
    s = s.filter(_within(s.date, ranges)).drop("_prev", "_next")
    if ctx.filters.channel:
        s = s.filter(s.channel.isin(ctx.filters.channel))
    return s


_CUBE_COLUMNS = (
    "contacts",
    "scored",
    "score_sum",
    "csat",
    "handle_n",
    "handle_sum",
    "first",
    "resolved_first",
    "fcr",
    "issues",
)


def contact_cube(ctx: MeasureContext, start: date, end: date) -> pd.DataFrame:
    """Contacts in [start, end] aggregated by month × channel × reason_code (one query).

    Columns: month (Timestamp), channel, reason_code, then additive counts and sums:
    contacts, scored, score_sum, csat (score ≥ 4), handle_n, handle_sum, first,
    resolved_first (first and Resolved), fcr, issues (issue reasons).
    """
    cache = ctx.memo.setdefault("service_cubes", {})
    whole_months = start == month_start(start) and end == month_end(end)
    for (a, b), cube in cache.items():
        # A cube over a wider range holds the same month rows: flags look only 7 days
        # around each contact, whatever range is asked (see `_flagged`).
        if whole_months and a <= start and end <= b:
            keep = (cube["month"] >= pd.Timestamp(start)) & (cube["month"] <= pd.Timestamp(end))
            return cube[keep].reset_index(drop=True)
    cube = _cube(ctx, ((start, end),))
    cache[(start, end)] = cube
    return cube.copy()  # callers may add columns; the cached cube stays as computed


def _cube(ctx: MeasureContext, ranges: Sequence[tuple[date, date]]) -> pd.DataFrame:
    s = _flagged(ctx, ranges)
    s = s.mutate(month=s.date.truncate("M"))
    score = s.satisfaction_score
    handle = s.duration_minutes
    iid = s.interaction_id
    agg = s.group_by(["month", "channel", "reason_code"]).aggregate(
        contacts=iid.count(),
        scored=score.count(),
        score_sum=score.sum(),
        csat=iid.count(where=score >= 4),
        handle_n=handle.count(),
        handle_sum=handle.sum(),
        first=iid.count(where=s.is_first),
        resolved_first=iid.count(where=s.is_first & s.is_resolved),
        fcr=iid.count(where=s.is_fcr),
        issues=iid.count(where=s.reason_code.isin(ISSUE_REASONS)),
    )
    cube = execute(agg)
    for column in _CUBE_COLUMNS:
        cube[column] = pd.to_numeric(cube[column]).fillna(0)
    cube["month"] = pd.to_datetime(cube["month"])
    return cube


def _ratio(num: float, den: float, scale: float = 1.0) -> float | None:
    return float(num) / float(den) * scale if den else None


def _kpis_from(sums: pd.Series, active_customers: int | None) -> dict[str, float | None]:
    return {
        "contacts": int(sums["contacts"]),
        "avg_satisfaction": _ratio(sums["score_sum"], sums["scored"]),
        "csat_pct": _ratio(sums["csat"], sums["scored"]),
        "avg_handle_minutes": _ratio(sums["handle_sum"], sums["handle_n"]),
        "fcr_rate": _ratio(sums["fcr"], sums["first"]),
        "issues_per_1000": (
            _ratio(sums["issues"], active_customers, 1000.0) if active_customers else None
        ),
    }


def _sums(cube: pd.DataFrame, start: date | None = None, end: date | None = None) -> pd.Series:
    if start is not None:
        cube = cube[(cube["month"] >= pd.Timestamp(start)) & (cube["month"] <= pd.Timestamp(end))]
    return cube[list(_CUBE_COLUMNS)].sum()


def service_kpis(
    ctx: MeasureContext, period: Period, active_customers: int | None
) -> dict[str, float | None]:
    """The service KPIs of `period`: contacts, avg_satisfaction (1–5), csat_pct (0–1),
    avg_handle_minutes, fcr_rate (0–1), issues_per_1000 (per 1,000 `active_customers`).

    None where not computable (no scored contacts, no first contacts, no active customers).
    """
    return service_kpis_many(ctx, (period,), (active_customers,))[0]


def service_kpis_many(
    ctx: MeasureContext,
    periods: Sequence[Period],
    active_customers: Sequence[int | None],
) -> list[dict[str, float | None]]:
    """`service_kpis` for several periods (e.g. P, previous, last year) in one engine pass."""
    if len(periods) != len(active_customers):
        raise ValueError("one active_customers value per period")
    if not periods:
        return []
    if not ctx.with_visuals:
        # KPIs only: a cube over just the periods' months (no page window to share).
        cube = _cube(ctx, [(p.start, p.end) for p in periods])
        return [
            _kpis_from(_sums(cube, p.start, p.end), active)
            for p, active in zip(periods, active_customers, strict=True)
        ]
    # One cube over the periods and the service page's window (the last VOLUME_MONTHS
    # months to E), shared with `service_visuals` through `contact_cube`.
    start = min([p.start for p in periods] + [add_months(ctx.at, -(VOLUME_MONTHS - 1))])
    end = max([p.end for p in periods] + [month_end(ctx.at)])
    cube = contact_cube(ctx, month_start(start), month_end(end))
    return [
        _kpis_from(_sums(cube, p.start, p.end), active)
        for p, active in zip(periods, active_customers, strict=True)
    ]


# ---- primary category -------------------------------------------------------------------
def primary_category(ctx: MeasureContext, at: date, among: ir.Table | None = None) -> ir.Table:
    """customer_id, category: the category of each customer's largest position open at `at`
    (by its snapshot balance in the month of `at`; a missing snapshot counts as 0; ties go to
    the smaller product_id). Customers without an open position are absent (→ "None").
    Positions pass the `--category`/`--product` filters like everywhere else, so under
    ``--category ETF`` a customer's primary category is ETF or None.

    `among`: a table with a customer_id column; when given, only those customers are ranked
    (a customer's answer does not depend on who else is asked).
    """
    op = ctx.open_positions_at(at).select("customer_id", "product_id", "category")
    if among is not None:
        op = op.semi_join(among.select("customer_id"), "customer_id")
    snap = ctx.snapshot_balances(month_start(at))  # customer_id, product_id, balance
    j = op.left_join(snap, ["customer_id", "product_id"]).select(
        "customer_id", "product_id", "category", balance=ibis._.balance.fill_null(0)
    )
    w = ibis.window(
        group_by=j.customer_id, order_by=[ibis.desc(j.balance), j.product_id, j.category]
    )
    ranked = j.mutate(_rn=ibis.row_number().over(w))
    return ranked.filter(ranked._rn == 0).select("customer_id", "category")


def _issue_matrix(ctx: MeasureContext, period: Period) -> pd.DataFrame:
    s = ctx.service_any_channel
    if ctx.filters.channel:
        s = s.filter(s.channel.isin(ctx.filters.channel))
    s = s.filter(s.date >= period.start, s.date <= period.end, s.reason_code.isin(ISSUE_REASONS))
    cust = ctx.customers.select("customer_id", "segment")
    j = s.join(cust, "customer_id")
    # Only the customers with an issue contact in P are ranked (a few percent of them).
    j = j.left_join(primary_category(ctx, period.end, among=s), "customer_id")
    j = j.select("segment", category=j.category.fill_null(NO_CATEGORY))
    counts = execute(j.group_by(["segment", "category"]).aggregate(issues=j.count()))
    if counts.empty:
        return pd.DataFrame(columns=["row"])
    wide = counts.pivot_table(
        index="segment", columns="category", values="issues", aggfunc="sum", fill_value=0
    )
    rows = _ordered(wide.index, SEGMENTS)
    cols = _ordered(wide.columns, (*PRODUCT_CATEGORIES, NO_CATEGORY))
    wide = wide.reindex(index=rows, columns=cols, fill_value=0).astype("int64")
    wide.columns.name = None
    return wide.rename_axis("row").reset_index()


def _ordered(values, order: tuple[str, ...]) -> list[str]:
    """`values` in the order of `order`, unknown ones after it alphabetically."""
    present = set(values)
    known = [v for v in order if v in present]
    return known + sorted(v for v in present if v not in order)


def _data_start(ctx: MeasureContext) -> pd.Timestamp | None:
    s = ctx.tables["service_interactions"]
    first = execute(s.date.min())
    return None if first is None or pd.isna(first) else pd.Timestamp(month_start(first))


def _months(start: date, end: date, data_start: pd.Timestamp | None) -> list[pd.Timestamp]:
    """Month starts of [start, end], from the first month the table has data."""
    months = [pd.Timestamp(add_months(start, i)) for i in range(_n_months(start, end))]
    return [m for m in months if data_start is None or m >= data_start]


def _n_months(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month + 1


# ---- visuals ----------------------------------------------------------------------------
def service_visuals(ctx: MeasureContext, period: Period, config: Config) -> tuple[Visual, ...]:
    """The six visuals of the Service Quality page (pack.PAGE_LAYOUT["service"]), in order."""
    trail = period.trailing(VOLUME_MONTHS)
    prev = period.previous()
    cube = contact_cube(ctx, min(trail.start, prev.start), period.end)
    in_p = cube[cube["month"] >= pd.Timestamp(period.start)]
    in_prev = cube[
        (cube["month"] >= pd.Timestamp(prev.start)) & (cube["month"] <= pd.Timestamp(prev.end))
    ]
    sums = _sums(in_p)
    kpis = _kpis_from(sums, None)
    label = period.label
    return (
        _volume_by_channel(cube, trail, _data_start(ctx)),
        _satisfaction_by_reason(in_p, label),
        _fcr_gauge(kpis["fcr_rate"], config.measures.fcr_target, label),
        _resolution_funnel(sums, label),
        _issues_by_segment_category(_issue_matrix(ctx, period), period),
        _top_contact_reasons(in_p, in_prev, label, prev.label),
    )


def _volume_by_channel(cube: pd.DataFrame, trail: Period, data_start) -> Visual:
    months = _months(trail.start, trail.end, data_start)
    window = cube[cube["month"] >= pd.Timestamp(trail.start)]
    channels = _ordered(window["channel"].unique(), SERVICE_CHANNELS)
    wide = window.pivot_table(
        index="month", columns="channel", values="contacts", aggfunc="sum", fill_value=0
    )
    wide = wide.reindex(index=months, columns=channels, fill_value=0).astype("int64")
    wide.columns.name = None
    data = wide.rename_axis("x").reset_index()
    note = "" if channels else f"No contacts in {trail.label}."
    return Visual(
        key="volume_by_channel",
        title="Contact volume by channel",
        caption=f"Contacts per month by channel, {trail.label}.",
        kind="stacked",
        data=data if channels else data.iloc[0:0],
        units={"x": "date", **{c: "count" for c in channels}},
        labels={"x": "Month"},
        definitions=("contacts",),
        options={"orientation": "v"},
        note=note,
    )


def _satisfaction_by_reason(in_p: pd.DataFrame, label: str) -> Visual:
    by = in_p.groupby("reason_code")[["score_sum", "scored"]].sum()
    by = by[by["scored"] > 0]
    data = pd.DataFrame(
        {"label": by.index.astype(str), "value": (by["score_sum"] / by["scored"]).to_numpy()}
    )
    data = data.sort_values(["value", "label"], ascending=[False, True], ignore_index=True)
    return Visual(
        key="satisfaction_by_reason",
        title="Satisfaction by contact reason",
        caption=f"Average satisfaction score (1–5) of scored contacts by reason, {label}.",
        kind="bar",
        data=data,
        units={"label": "text", "value": "score"},
        labels={"label": "Reason", "value": "Avg satisfaction"},
        definitions=("avg_satisfaction",),
        options={"orientation": "h"},
        note="" if len(data) else f"No scored contacts in {label}.",
    )


def _fcr_gauge(fcr: float | None, target: float, label: str) -> Visual:
    data = pd.DataFrame({"value": [fcr], "target": [float(target)]})
    return Visual(
        key="fcr_gauge",
        title="First-contact resolution",
        caption=f"Share of first contacts resolved with no repeat within 7 days, {label}; "
        f"target {target * 100:.0f}%.",
        kind="gauge",
        data=data if fcr is not None else data.iloc[0:0],
        units={"value": "pct", "target": "pct"},
        labels={"value": "FCR", "target": "Target"},
        definitions=("fcr_rate", "first_contact"),
        note="" if fcr is not None else f"No first contacts in {label}: FCR not computable.",
    )


def _resolution_funnel(sums: pd.Series, label: str) -> Visual:
    data = pd.DataFrame(
        {
            "label": ["Contacts", "First contacts", "Resolved", "Resolved on first contact"],
            "value": [
                int(sums["contacts"]),
                int(sums["first"]),
                int(sums["resolved_first"]),
                int(sums["fcr"]),
            ],
        }
    )
    empty = sums["contacts"] == 0
    return Visual(
        key="resolution_funnel",
        title="Resolution funnel",
        caption=f"Contacts → first contacts → first contacts marked Resolved → resolved with no "
        f"repeat within 7 days, {label}.",
        kind="funnel",
        data=data.iloc[0:0] if empty else data,
        units={"label": "text", "value": "count"},
        labels={"label": "Step", "value": "Contacts"},
        definitions=("contacts", "first_contact", "fcr_rate"),
        note=f"No contacts in {label}." if empty else "",
    )


def _issues_by_segment_category(matrix: pd.DataFrame, period: Period) -> Visual:
    cols = [c for c in matrix.columns if c != "row"]
    return Visual(
        key="issues_by_segment_category",
        title="Issues by segment and primary product category",
        caption=f"Complaints, technical-support and transaction-issue contacts, {period.label}, "
        f"by segment and the customer's primary product category at {period.end:%b %Y}.",
        kind="heatmap",
        data=matrix,
        units={"row": "text", **{c: "count" for c in cols}},
        labels={"row": "Segment"},
        definitions=("issues_per_1000", "primary_category"),
        note="" if len(matrix) else f"No issue contacts in {period.label}.",
    )


def _top_contact_reasons(
    in_p: pd.DataFrame, in_prev: pd.DataFrame, label: str, prev_label: str
) -> Visual:
    cols = list(_CUBE_COLUMNS)
    now = in_p.groupby("reason_code")[cols].sum()
    now = now[now["contacts"] > 0]
    before = in_prev.groupby("reason_code")["contacts"].sum()
    total = now["contacts"].sum()
    rows = []
    for reason, r in now.iterrows():  # ≤ 9 reasons: a loop over aggregates, not data rows
        previous = float(before.get(reason, 0))
        change = float(r["contacts"]) - previous
        rows.append(
            {
                "reason": str(reason),
                "contacts": int(r["contacts"]),
                "share": _ratio(r["contacts"], total),
                "avg_satisfaction": _ratio(r["score_sum"], r["scored"]),
                "avg_handle_minutes": _ratio(r["handle_sum"], r["handle_n"]),
                "fcr_rate": _ratio(r["fcr"], r["first"]),
                "change": int(change),
                "change_pct": _ratio(change, previous),
            }
        )
    columns = [
        "reason",
        "contacts",
        "share",
        "avg_satisfaction",
        "avg_handle_minutes",
        "fcr_rate",
        "change",
        "change_pct",
    ]
    data = pd.DataFrame(rows, columns=columns)
    data = data.sort_values(["contacts", "reason"], ascending=[False, True], ignore_index=True)
    for c in ("share", "avg_satisfaction", "avg_handle_minutes", "fcr_rate", "change_pct"):
        data[c] = data[c].astype("float64")
    return Visual(
        key="top_contact_reasons",
        title="Top contact reasons",
        caption=f"Contacts by reason, {label}, with the change in contacts vs {prev_label}.",
        kind="table",
        data=data,
        units={
            "reason": "text",
            "contacts": "count",
            "share": "pct",
            "avg_satisfaction": "score",
            "avg_handle_minutes": "minutes",
            "fcr_rate": "pct",
            "change": "count",
            "change_pct": "return",
        },
        labels={
            "reason": "Reason",
            "contacts": "Contacts",
            "share": "Share",
            "avg_satisfaction": "Avg satisfaction",
            "avg_handle_minutes": "Avg handle time",
            "fcr_rate": "FCR",
            "change": f"Change vs {prev_label}",
            "change_pct": "Change %",
        },
        definitions=("contacts", "avg_satisfaction", "avg_handle_minutes", "fcr_rate"),
        options={"bars": ("contacts",)},
        note="" if len(data) else f"No contacts in {label}.",
    )
