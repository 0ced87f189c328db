"""Pivot-ready fact tables for the workbook: monthly aggregates at a configurable grain.

`fact_tables` returns three frames, by sheet name:

- ``fact_positions_monthly``: assets, flows, open positions and active customers,
- ``fact_service_monthly``: contacts, satisfaction, handle time, first-contact resolution,
- ``fact_engagement_monthly``: sessions, minutes, pages and actions,

one row per month of the trend window (``report.trend_months`` months ending E) and per
combination of the dimensions named in ``[xlsx] *_grain`` that has any activity. Every
aggregation runs in the engine; only the aggregates become pandas frames.

Additive columns (sums and counts) can be summed in a pivot table over any dimension.
``active_customers`` and the ``avg_*`` columns are a distinct count and means within one
row: they do not add up across rows (the data dictionary says so).
Age bands are taken at the period end E, like everywhere else in the pack.

Each frame carries its data dictionary in ``frame.attrs``: ``units`` (column → unit of
`finrep.pack.UNITS`), ``descriptions`` (column → plain words), ``grain`` and ``title``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from finrep.config import Config
from finrep.engine import execute
from finrep.errors import DataError
from finrep.measures.context import MeasureContext, materialise
from finrep.measures.service import flagged_contacts
from finrep.period import Period
from finrep.schema import ISSUE_REASONS, STATE_REGION

EXCEL_MAX_ROWS = 1_048_576  # rows per worksheet, the header row included

POSITIONS = "fact_positions_monthly"
SERVICE = "fact_service_monthly"
ENGAGEMENT = "fact_engagement_monthly"
FACT_NAMES = (POSITIONS, SERVICE, ENGAGEMENT)


@dataclass(frozen=True)
class FactColumn:
    name: str
    unit: str  # one of finrep.pack.UNITS
    description: str


# Dimensions: grain key → output columns (an attribute of a key, like a product's category,
# comes along: it does not change the grain and saves the analyst a lookup).
_DIMENSION_COLUMNS: dict[str, tuple[FactColumn, ...]] = {
    "month": (FactColumn("month", "date", "First day of the calendar month."),),
    "product": (
        FactColumn("product_id", "text", "Product key (products.product_id)."),
        FactColumn("product", "text", "Product name (products.product_name)."),
        FactColumn("category", "text", "Product category (products.product_category)."),
    ),
    "category": (FactColumn("category", "text", "Product category (products.product_category)."),),
    "risk_level": (FactColumn("risk_level", "text", "Product risk level (products.risk_level)."),),
    "segment": (FactColumn("segment", "text", "Customer wealth segment (customer_segment)."),),
    "region": (FactColumn("region", "text", "US Census region of the customer's state."),),
    "state": (FactColumn("state", "text", "Customer's US state, two-letter code."),),
    "age_band": (FactColumn("age_band", "text", "Customer's age band at the period end."),),
    "channel": (FactColumn("channel", "text", "Channel (see the table's description)."),),
    "advisor": (FactColumn("advisor_id", "text", "Advisor assigned to the position."),),
    "reason": (FactColumn("reason", "text", "Contact reason (reason_code)."),),
    "resolution": (FactColumn("resolution", "text", "Outcome of the contact."),),
    "device": (FactColumn("device", "text", "Device type of the session."),),
    "action": (FactColumn("action", "text", "Main action of the session (action_type)."),),
}

_CHANNEL_TEXT = {
    POSITIONS: "Channel the position was opened through (enrollments.channel).",
    SERVICE: "Contact channel (service_interactions.channel).",
}

_ALLOWED = {
    POSITIONS: ("month", "product", "category", "risk_level", "segment", "region", "state",
                "age_band", "channel", "advisor"),
    SERVICE: ("month", "channel", "reason", "resolution", "segment", "region", "state",
              "age_band"),
    ENGAGEMENT: ("month", "device", "action", "segment", "region", "state", "age_band"),
}  # fmt: skip

_GRAIN_KEY = {POSITIONS: "positions_grain", SERVICE: "service_grain",
              ENGAGEMENT: "engagement_grain"}  # fmt: skip

_MEASURES: dict[str, tuple[FactColumn, ...]] = {
    POSITIONS: (
        FactColumn("aum", "currency", "AUM: sum of each position's last balance in the month "
                   "(a stock: do not add months together)."),
        FactColumn("new_money", "currency", "Initial investments of enrollments dated in the "
                   "month."),
        FactColumn("contributions", "currency", "Contributions in the month (month-to-date "
                   "value of each position's last balance row)."),
        FactColumn("withdrawals", "currency", "Withdrawals in the month."),
        FactColumn("investment_returns", "currency", "Investment returns in the month (may be "
                   "negative)."),
        FactColumn("fees", "currency", "Fees charged in the month."),
        FactColumn("open_positions", "count", "Positions open at the month end (a stock: do "
                   "not add months together)."),
        FactColumn("active_customers", "count", "Distinct customers with a position of this "
                   "row open at the month end (not additive across rows)."),
    ),
    SERVICE: (
        FactColumn("contacts", "count", "Contacts dated in the month."),
        FactColumn("first_contacts", "count", "Contacts with no contact by the same customer "
                   "for the same reason in the 7 days before."),
        FactColumn("fcr_contacts", "count", "First contacts Resolved with no repeat in the 7 "
                   "days after (FCR = fcr_contacts / first_contacts)."),
        FactColumn("resolved_contacts", "count", "Contacts with status Resolved."),
        FactColumn("issue_contacts", "count", "Contacts for a complaint, technical support or "
                   "a transaction issue."),
        FactColumn("scored_contacts", "count", "Contacts with a satisfaction score."),
        FactColumn("satisfaction_sum", "number", "Sum of satisfaction scores (divide by "
                   "scored_contacts for the mean)."),
        FactColumn("csat_contacts", "count", "Scored contacts with a score of 4 or more."),
        FactColumn("handle_minutes", "minutes", "Total handle time, minutes."),
        FactColumn("avg_satisfaction", "score", "Mean satisfaction of the row's scored contacts "
                   "(not additive)."),
        FactColumn("avg_handle_minutes", "minutes", "Mean handle time of the row's contacts "
                   "(not additive)."),
    ),
    ENGAGEMENT: (
        FactColumn("sessions", "count", "Sessions (engagement rows) dated in the month."),
        FactColumn("session_minutes", "minutes", "Total session time, minutes."),
        FactColumn("pages_viewed", "count", "Pages viewed."),
        FactColumn("actions_taken", "count", "Actions taken."),
        FactColumn("avg_session_minutes", "minutes", "Mean session length of the row (not "
                   "additive)."),
    ),
}  # fmt: skip

_TITLES = {
    POSITIONS: "Positions by month: assets, flows, open positions, active customers.",
    SERVICE: "Customer-service contacts by month.",
    ENGAGEMENT: "Digital sessions by month.",
}


def grain_of(name: str, config: Config) -> tuple[str, ...]:
    """The configured grain of fact table `name`, checked; `month` always comes first."""
    key = _GRAIN_KEY[name]
    grain = tuple(getattr(config.xlsx, key))
    allowed = _ALLOWED[name]
    for g in grain:
        if g not in allowed:
            raise DataError(
                f"xlsx.{key}: unknown dimension {g!r}; choose from {', '.join(allowed)}"
            )
    if len(set(grain)) != len(grain):
        raise DataError(f"xlsx.{key}: a dimension is listed twice ({', '.join(grain)})")
    return ("month",) + tuple(g for g in grain if g != "month")


def fact_columns(name: str, grain: tuple[str, ...]) -> tuple[FactColumn, ...]:
    """Every column of fact table `name` at `grain`, in output order."""
    seen: dict[str, FactColumn] = {}
    for g in grain:
        for col in _DIMENSION_COLUMNS[g]:
            if col.name == "channel" and name in _CHANNEL_TEXT:
                col = FactColumn("channel", "text", _CHANNEL_TEXT[name])
            seen.setdefault(col.name, col)
    for col in _MEASURES[name]:
        seen[col.name] = col
    return tuple(seen.values())


def _dimension_names(name: str, grain: tuple[str, ...]) -> list[str]:
    measures = {c.name for c in _MEASURES[name]}
    return [c.name for c in fact_columns(name, grain) if c.name not in measures]


# ---- positions ------------------------------------------------------------------------------
def _position_attributes(ctx: MeasureContext) -> ir.Table:
    """One row per position with its product and customer attributes (all dimensions)."""
    p = ctx.positions
    c = ctx.customers
    p = p.join(c, "customer_id")
    return p.select(
        "customer_id",
        "product_id",
        "open_date",
        "close_date",
        product=p.product_name,
        category=p.category,
        risk_level=p.risk_level,
        channel=p.channel,
        advisor_id=p.advisor_id,
        segment=p.segment,
        region=p.region,
        state=p.state,
        age_band=p.age_band,
    )


def _snapshot_flows(ctx: MeasureContext, window: Period, by_pair: ir.Table, keys: list[str]):
    """AUM and the four flows of each position's snapshot row, summed by month × dims.

    `MeasureContext.snapshots` only ranks the positions that have several balance rows in a
    month, so this is one pass over the window's balance rows (cut on the date, which the
    engine can prune on) and a join to the positions' dimensions.
    """
    s = ctx.snapshots
    s = s.filter(s.date >= window.start, s.date <= window.end)
    s = s.join(by_pair, ["customer_id", "product_id"])
    return s.group_by(keys).aggregate(
        aum=s.balance.sum(),
        contributions=s.contributions_mtd.sum(),
        withdrawals=s.withdrawals_mtd.sum(),
        investment_returns=s.investment_returns_mtd.sum(),
        fees=s.fees_mtd.sum(),
    )


def _open_events(attrs: ir.Table, window: Period, dims: list[str]) -> ir.Table:
    """+1 / −1 events of each position at the months it starts and stops being open.

    A position is open at the end of month m exactly when its opening month ≤ m < its
    closing month (MEASURES.md: open at t when open_date ≤ t < close_date), so the count of
    open positions at each month end is the running sum of these events. Positions opened
    before the window start counting at the window's first month.
    """
    first = ibis.literal(window.start, "date")
    last = ibis.literal(window.month_starts[-1], "date")
    p = attrs.mutate(
        _start=ibis.greatest(attrs.open_date.truncate("M"), first),
        _end=attrs.close_date.truncate("M"),
    )
    p = p.filter(p._start <= last, p._end.isnull() | (p._end > p._start))
    opened = p.select("customer_id", *dims, month=p._start, delta=ibis.literal(1, "int64"))
    ends = p.filter(p._end.notnull() & (p._end <= last))
    closed = ends.select("customer_id", *dims, month=ends._end, delta=ibis.literal(-1, "int64"))
    return opened.union(closed)


def _customer_events(events: ir.Table, dims: list[str]) -> ir.Table:
    """+1 / −1 events of each customer becoming active / inactive within a row's dims.

    Per customer and dims, the running sum of position events is the number of its open
    positions; it is active from each event month with a positive count to the next event.
    """
    e = events.group_by(["customer_id", *dims, "month"]).aggregate(delta=events.delta.sum())
    w = ibis.window(group_by=[e.customer_id, *[e[d] for d in dims]], order_by=e.month)
    cum = ibis.cumulative_window(group_by=[e.customer_id, *[e[d] for d in dims]], order_by=e.month)
    e = e.mutate(_open=e.delta.sum().over(cum), _next=e.month.lead().over(w))
    active = e.filter(e._open > 0)
    starts = active.select(*dims, month=active.month, delta=ibis.literal(1, "int64"))
    stops = active.filter(active._next.notnull())
    stops = stops.select(*dims, month=stops._next, delta=ibis.literal(-1, "int64"))
    return starts.union(stops)


def _running(events: pd.DataFrame, dims: list[str], months: list, name: str) -> pd.DataFrame:
    """Month-end levels from +1/−1 events: running sums over the window's months, by dims."""
    if events.empty:
        return pd.DataFrame(columns=["month", *dims, name])
    events = events.assign(month=pd.to_datetime(events["month"]))
    wide = (
        events.pivot_table(index=dims, columns="month", values="delta", aggfunc="sum", fill_value=0)
        if dims
        else events.groupby("month")["delta"].sum().to_frame().T
    )
    wide = wide.reindex(columns=pd.to_datetime(months), fill_value=0).cumsum(axis=1)
    long = wide.stack().rename(name).reset_index()
    if not dims:
        long = long.drop(columns=long.columns[0])
    long.columns = [*dims, "month", name] if dims else ["month", name]
    return long[long[name] != 0]


_POSITION_PARTS = ("aum", "new_money", "contributions", "withdrawals", "investment_returns",
                   "fees", "open_delta", "active_delta")  # fmt: skip


# Dimensions that follow from another one in the grain: grouped by the key alone (fewer,
# shorter group keys over tens of millions of rows), then looked up on the small result.
_FOLLOWS = {"product": "product_id", "category": "product_id", "risk_level": "product_id",
            "region": "state"}  # fmt: skip


def _positions(ctx: MeasureContext, window: Period, dims: list[str]) -> pd.DataFrame:
    """Snapshot flows, new money, and open/active events: four small aggregates (the
    positions they start from are materialised once by the context), combined here."""
    wanted = dims
    dims = [d for d in dims if _FOLLOWS.get(d) not in dims]
    attrs = _fill_dims(_position_attributes(ctx), dims)
    out = _position_rows(ctx, window, attrs, dims)
    followers = [d for d in wanted if d not in dims]
    if followers and not out.empty:
        lookups = {}
        if "product_id" in dims and any(_FOLLOWS[d] == "product_id" for d in followers):
            cols = [d for d in followers if _FOLLOWS[d] == "product_id"]
            lookups["product_id"] = execute(
                _fill_dims(_position_attributes(ctx), cols).select("product_id", *cols).distinct()
            ).drop_duplicates("product_id")
        if "region" in followers:
            lookups["state"] = pd.DataFrame(
                {"state": list(STATE_REGION), "region": list(STATE_REGION.values())}
            )
        for key, table in lookups.items():
            out = out.merge(table, on=key, how="left")
    for d in followers:
        out[d] = out[d].fillna("Unknown") if d in out.columns else pd.Series(dtype="object")
    return out[["month", *wanted, *[m.name for m in _MEASURES[POSITIONS]]]]


def _position_rows(
    ctx: MeasureContext, window: Period, attrs: ir.Table, dims: list[str]
) -> pd.DataFrame:
    keys = ["month", *dims]
    pair = ["customer_id", "product_id"]
    by_pair, combos = _dimension_codes(ctx, attrs, dims)
    coded = ["month", "_combo"]

    snaps = _snapshot_flows(ctx, window, by_pair, coded)
    e = ctx.enrollments
    e = e.filter(e.enrollment_date >= window.start, e.enrollment_date <= window.end)
    e = e.select(*pair, "initial_investment", month=e.enrollment_date.truncate("M"))
    e = e.join(by_pair, pair)
    new_money = e.group_by(coded).aggregate(new_money=e.initial_investment.sum())
    snaps, new_money = (t.join(combos, "_combo").drop("_combo") for t in (snaps, new_money))
    events = _open_events(attrs, window, dims)
    opened = events.group_by(keys).aggregate(open_delta=events.delta.sum())
    cust = _customer_events(events, dims)
    active = cust.group_by(keys).aggregate(active_delta=cust.delta.sum())

    # Separate queries: one union of the four made DuckDB plan the shared parts worse
    # (3× the memory at a million customers).
    parts = [execute(t) for t in (snaps, new_money, opened, active)]
    for part in parts:
        for c in _POSITION_PARTS:
            if c not in part.columns:
                part[c] = 0.0
    measures = [m.name for m in _MEASURES[POSITIONS]]
    frames = [p[[*keys, *_POSITION_PARTS]] for p in parts if not p.empty]
    if not frames:
        return pd.DataFrame(columns=[*keys, *measures])
    rows = pd.concat(frames, ignore_index=True)
    for c in _POSITION_PARTS:
        rows[c] = pd.to_numeric(rows[c]).astype("float64").fillna(0.0)
    rows["month"] = pd.to_datetime(rows["month"])
    flows = rows.groupby(keys, dropna=False, sort=False)[list(_POSITION_PARTS[:6])].sum()
    months = window.month_starts
    levels = [
        _running(rows[rows[d] != 0][[*keys, d]].rename(columns={d: "delta"}), dims, months, n)
        for d, n in (("open_delta", "open_positions"), ("active_delta", "active_customers"))
    ]
    out = flows.reset_index()
    for level in levels:
        out = out.merge(level, on=keys, how="outer")
    for m in measures:
        out[m] = pd.to_numeric(out[m]).fillna(0.0)
    # A row with nothing in it (events that cancel out within a month) is no row.
    return out[(out[measures] != 0).any(axis=1)]


def _dimension_codes(
    ctx: MeasureContext, attrs: ir.Table, dims: list[str]
) -> tuple[ir.Table, ir.Table]:
    """Each position's dimension values as one number: (customer_id, product_id, _combo) per
    position, and the few thousand combinations (_combo and `dims`, materialised).

    The joins of tens of millions of balance rows with the positions then hash three narrow
    columns instead of every dimension's text: at a million customers that table no longer
    outgrows the engine's working memory (spilling it cost more than doubled the pass).
    """
    if not dims:  # one combination: every position's
        pairs = attrs.select("customer_id", "product_id", _combo=ibis.literal(0, "int64"))
        return pairs, pairs.select("_combo").limit(1)
    combos = attrs.select(*dims).distinct()
    combos = materialise(ctx.tables.con, combos.mutate(_combo=ibis.row_number()))
    match = [attrs[d].identical_to(combos[d]) for d in dims]  # a null matches a null
    pairs = attrs.join(combos, match).select(attrs.customer_id, attrs.product_id, combos._combo)
    # Materialised too: else the engine reorders the joins and hashes every dimension's text
    # again, with the combinations looked up on each balance row afterwards.
    return materialise(ctx.tables.con, pairs), combos


def _fill_dims(t: ir.Table, dims: list[str]) -> ir.Table:
    """Missing dimension values (e.g. no advisor) as ``Unknown``, so they group as one."""
    return t.mutate(**{d: t[d].fill_null("Unknown") for d in dims if t[d].type().is_string()})


# ---- service --------------------------------------------------------------------------------
def _service(ctx: MeasureContext, window: Period, dims: list[str]) -> ir.Table:
    """Contacts of the window with their first-contact flags, from the same rule the Service
    page uses (`service.flagged_contacts`: ±7-day look-around across every channel)."""
    s = flagged_contacts(ctx, window.start, window.end)
    s = s.join(ctx.customers.select("customer_id", "segment", "region", "state", "age_band"),
               "customer_id")  # fmt: skip
    s = s.mutate(month=s.date.truncate("M"), reason=s.reason_code, resolution=s.resolution_status)
    keys = ["month", *dims]
    iid = s.interaction_id
    score = s.satisfaction_score
    t = s.group_by(keys).aggregate(
        contacts=iid.count(),
        first_contacts=iid.count(where=s.is_first),
        fcr_contacts=iid.count(where=s.is_fcr),
        resolved_contacts=iid.count(where=s.is_resolved),
        issue_contacts=iid.count(where=s.reason_code.isin(ISSUE_REASONS)),
        scored_contacts=score.count(),
        satisfaction_sum=score.sum(),
        csat_contacts=iid.count(where=score >= 4),
        handle_minutes=s.duration_minutes.sum(),
        avg_satisfaction=score.mean(),
        avg_handle_minutes=s.duration_minutes.mean(),
    )
    return t


# ---- engagement -----------------------------------------------------------------------------
def _engagement(ctx: MeasureContext, window: Period, dims: list[str]) -> ir.Table:
    """Sessions of the window joined once to the filtered customers (the join is the
    customer filter, as `MeasureContext.engagement`'s semi-join).

    No distinct-user count: it cannot be summed across rows in a pivot, and at a million
    customers it costs more than the rest of the table (about 4× the time and 4 GB of
    memory); monthly active users are on the Digital Engagement page.
    """
    g = ctx.tables["engagement"]
    g = g.filter(g.date >= window.start, g.date <= window.end)
    if ctx.filters.device:
        g = g.filter(g.device_type.isin(ctx.filters.device))
    c = ctx.customers
    g = g.join(c.select("customer_id", *[d for d in dims if d in c.columns]), "customer_id")
    g = g.mutate(month=g.date.truncate("M"), device=g.device_type, action=g.action_type)
    keys = ["month", *dims]
    return g.group_by(keys).aggregate(
        sessions=g.count(),
        session_minutes=g.session_duration.sum(),
        pages_viewed=g.pages_viewed.sum(),
        actions_taken=g.actions_taken.sum(),
        avg_session_minutes=g.session_duration.mean(),
    )


_BUILDERS: dict[str, Callable[[MeasureContext, Period, list[str]], ir.Table | pd.DataFrame]] = {
    POSITIONS: _positions,
    SERVICE: _service,
    ENGAGEMENT: _engagement,
}


def _typed(frame: pd.DataFrame, name: str, grain: tuple[str, ...]) -> pd.DataFrame:
    """Order and type the columns: dates as datetime64, counts as int64, money to the cent."""
    columns = fact_columns(name, grain)
    dims = [c.name for c in columns if c.unit in ("text", "date")]
    out = pd.DataFrame(index=frame.index)
    for col in columns:
        s = frame[col.name]
        if col.unit == "date":
            out[col.name] = pd.to_datetime(s).astype("datetime64[ns]")
        elif col.unit == "text":
            out[col.name] = s.fillna("Unknown").astype(str)
        elif col.unit == "count":
            out[col.name] = pd.to_numeric(s).fillna(0).round().astype("int64")
        elif col.unit == "currency":
            out[col.name] = pd.to_numeric(s).astype("float64").fillna(0.0).round(2)
        elif col.name.startswith("avg_"):
            out[col.name] = pd.to_numeric(s).astype("float64")  # null: nothing to average
        else:
            out[col.name] = pd.to_numeric(s).astype("float64").fillna(0.0)
    out = out.sort_values(dims, kind="stable", ignore_index=True)
    out.attrs = {
        "title": _TITLES[name],
        "grain": grain,
        "units": {c.name: c.unit for c in columns},
        "descriptions": {c.name: c.description for c in columns},
    }
    return out


def _check_rows(name: str, rows: int, grain: tuple[str, ...]) -> None:
    if rows + 1 > EXCEL_MAX_ROWS:
        key = _GRAIN_KEY[name]
        finest = [g for g in grain if g not in ("month",)]
        raise DataError(
            f"{name}: {rows:,} rows at grain {' × '.join(grain)} would pass Excel's limit of "
            f"{EXCEL_MAX_ROWS - 1:,} data rows per sheet. Coarsen the grain in the config: "
            f"drop a dimension from [xlsx] {key} (e.g. {finest[-1]!r}), or shorten "
            "report.trend_months, or cut the pack with filters (--burst / --segment …)."
        )


def fact_tables(ctx: MeasureContext, period: Period, config: Config) -> dict[str, pd.DataFrame]:
    """The three fact tables over the `report.trend_months` months ending `period.end`.

    Raises DataError when a grain names an unknown dimension, or when a table would not fit
    on one Excel sheet (the message says how to coarsen the grain).
    """
    window = window_of(period, config)
    out: dict[str, pd.DataFrame] = {}
    for name in FACT_NAMES:
        grain = grain_of(name, config)
        dims = _dimension_names(name, grain)[1:]  # without month
        built = _BUILDERS[name](ctx, window, dims)
        frame = built if isinstance(built, pd.DataFrame) else execute(built)
        _check_rows(name, len(frame), grain)
        out[name] = _typed(frame, name, grain)
    return out


def window_of(period: Period, config: Config) -> Period:
    """The months the fact tables cover (the trend window ending E)."""
    return period.trailing(max(int(config.report.trend_months), period.n_months))


__all__ = [
    "ENGAGEMENT",
    "EXCEL_MAX_ROWS",
    "FACT_NAMES",
    "POSITIONS",
    "SERVICE",
    "FactColumn",
    "fact_columns",
    "fact_tables",
    "grain_of",
    "window_of",
]
