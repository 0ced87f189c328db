"""What every measure module starts from: the nine tables with the filters applied, and the
derived tables every page needs (customer attributes, positions with close dates, monthly
snapshots). All ibis expressions: nothing executes here.

Vocabulary follows MEASURES.md:
- a *position* is one (customer_id, product_id) pair, opened on its enrollment date;
- its *close date* is the earliest unrecovered churn in `retention`, else (status Closed) the
  date of its last balance row, else none;
- it is *open at t* when ``open_date <= t`` and (no close date or ``close_date > t``);
- its *snapshot* in month m is its balance row with the latest date in m (ties: larger
  balance_id).

Two small derived tables are materialised once, on first use (ibis ``cache``): per-position
balance statistics (last balance date, whether some month holds several rows) and the
positions themselves. Everything else stays a lazy expression. Snapshots only pay for the
expensive "latest row of the month" ranking on the few positions that need it: most data has
one row per position per month, and there every row is its month's snapshot.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from finrep.config import Config
from finrep.engine import (
    compile_sql,
    execute,
    parquet_view,
    scratch_path,
    sql_ident,
)
from finrep.filters import Filters
from finrep.period import add_months, month_end, month_start
from finrep.schema import AGE_BANDS, STATE_REGION
from finrep.sources import Tables

_BLOCK = 31  # months per bit-mask block (a shift of 1 stays inside Spark's 32-bit int)


_names = itertools.count(1)
_PREFIX = "_finrep_m"  # names of the views (and files) `materialise` stores
_ENROLLMENT = "_enrollment_"  # prefix of enrollment columns stored with the positions
# Enrollment column → the column of its position (of a pair enrolled once) with its value.
_SHARED = {c: c for c in ("customer_id", "product_id", "initial_investment", "product_name",
                          "category", "risk_level", "channel", "advisor_id")} | {
    "enrollment_date": "open_date"}  # fmt: skip


def materialise(con: ibis.BaseBackend, expr: ir.Table) -> ir.Table:
    """Run `expr` once and keep its rows (a Parquet file in the engine's private temporary
    folder, read through a temporary view, on DuckDB; the engine's own cache elsewhere).
    Later queries read the stored rows instead of recomputing.

    On DuckDB the rows are not kept as a temporary table: those live uncompressed in the
    engine's working memory (`[engine] memory_limit`). At a million customers the stored
    tables came to twice that limit, so they filled it for the whole run (the process's
    peak grew by the limit) and were written out to spill files anyway. Parquet holds them
    compressed on disk, outside that memory, for about the same time to write and read.
    The columns keep `expr`'s types (each is cast to its ibis type, as a table would).
    """
    if getattr(con, "name", "") != "duckdb":
        return expr.cache()
    name = f"{_PREFIX}{next(_names)}"
    schema = expr.schema()
    parquet_view(con, name, compile_sql(expr.cast(schema)))
    stored = con.table(name)
    read = stored.schema()
    stray = {
        column: dtype
        for column, dtype in schema.items()
        if read[column].copy(nullable=True) != dtype.copy(nullable=True)
    }
    # Parquet has no type for a few ibis types (e.g. an untyped null): read back as such.
    return stored.mutate(**{c: stored[c].cast(t) for c, t in stray.items()}) if stray else stored


def drop_materialised(con: ibis.BaseBackend) -> None:
    """Drop every view (and its file) `materialise` stored on a DuckDB connection (they
    live as long as the connection: a run building many packs on one would keep every
    pack's)."""
    if getattr(con, "name", "") != "duckdb":
        return
    rows = con.raw_sql(
        "SELECT view_name FROM duckdb_views() "
        f"WHERE temporary AND starts_with(view_name, '{_PREFIX}')"
    ).fetchall()
    for (name,) in rows:
        con.raw_sql(f"DROP VIEW IF EXISTS {sql_ident(name)}")
        scratch_path(f"{name}.parquet").unlink(missing_ok=True)


@ibis.udf.agg.builtin(name="bit_or")
def bit_or(x: int) -> int:  # type: ignore[empty-body]
    """Bitwise OR of a group's values (DuckDB and Spark SQL both call it bit_or)."""


@ibis.udf.scalar.builtin(name="bit_count")
def _bit_count(x: int) -> int:  # type: ignore[empty-body]
    """Number of set bits (DuckDB and Spark SQL both call it bit_count)."""


def _block_months(con: ibis.BaseBackend) -> int:
    """Months per bit-mask block on `con`: 62 on DuckDB (its shifts are 64-bit), else
    `_BLOCK`."""
    return 62 if getattr(con, "name", "") == "duckdb" else _BLOCK


def month_index_expr(d: ir.DateValue) -> ir.IntegerValue:
    """`year * 12 + month - 1` of a date column (consecutive months differ by 1)."""
    return d.year().cast("int64") * 12 + d.month().cast("int64") - 1


def _month_index(d: pd.Timestamp) -> int:
    return d.year * 12 + d.month - 1


def _in_month(d: ir.DateValue, month: date) -> ir.BooleanValue:
    """`d` falls in the calendar month of `month` (a plain range: engines prune on it)."""
    return (d >= month_start(month)) & (d <= month_end(month))


def age_band_expr(birth_date: ir.DateColumn, at: date) -> ir.StringColumn:
    """Age band in full years at `at` (MEASURES.md: Under 30, 30-44, 45-59, 60+)."""
    had_birthday = (birth_date.month() < at.month) | (
        (birth_date.month() == at.month) & (birth_date.day() <= at.day)
    )
    age = at.year - birth_date.year() - ibis.ifelse(had_birthday, 0, 1)
    return ibis.cases(
        (age < 30, AGE_BANDS[0]),
        (age < 45, AGE_BANDS[1]),
        (age < 60, AGE_BANDS[2]),
        else_=AGE_BANDS[3],
    )


def region_expr(state: ir.StringColumn) -> ir.StringColumn:
    return state.substitute(STATE_REGION, else_="Unknown")


@dataclass
class MeasureContext:
    """Filtered tables for one pack. `at` is the period end E (age bands are taken there)."""

    tables: Tables
    filters: Filters
    config: Config
    at: date
    # False when only the KPIs are wanted (`finrep measures`): measures that share one pass
    # between KPIs and a page's visuals then read just the months the KPIs need.
    with_visuals: bool = True
    # What a measure module computes once per context and several measures read (customers at
    # a date, service cubes, digital statistics), under the module's own key.
    memo: dict[str, Any] = field(default_factory=dict, repr=False)

    # ---- customers -------------------------------------------------------------------
    @cached_property
    def all_customers(self) -> ir.Table:
        """Every customer with segment, state, region and age band at `at` (unfiltered)."""
        c = self.tables["customers"]
        c = c.select(
            "customer_id",
            "enrollment_date",
            "birth_date",
            segment=c.customer_segment,
            state=c.address_state,
            region=region_expr(c.address_state),
            age_band=age_band_expr(c.birth_date, self.at),
        )
        # Materialised: a dozen queries join customers, and each would otherwise re-read the
        # file and recompute region and age band for every customer.
        return materialise(self.tables.con, c)

    @cached_property
    def customers(self) -> ir.Table:
        """Customers passing the customer filters (segment, state, region, age band)."""
        c = self.all_customers
        f = self.filters
        preds = []
        for column, values in (
            ("segment", f.segment),
            ("state", f.state),
            ("region", f.region),
            ("age_band", f.age_band),
        ):
            if values:
                preds.append(c[column].isin(values))
        return c.filter(*preds) if preds else c

    @cached_property
    def population(self) -> ir.Table:
        """The customers customer measures count (new customers, cohorts, tenure): the
        filtered customers, narrowed to those holding a filtered position when a position
        filter (category, product, advisor) is in force. Columns of `customers`."""
        f = self.filters
        if f.category or f.product or f.advisor:
            return self.customers.semi_join(self.enrollments, "customer_id")
        return self.customers

    # ---- positions -------------------------------------------------------------------
    @cached_property
    def enrollments(self) -> ir.Table:
        """Enrollments of filtered customers and positions, with product attributes: every
        column but the contribution plan (contribution_frequency, monthly_contribution), which
        no measure reads (and whose cleaning would be paid on every row).

        Stored once: when no pair is enrolled twice (most data) each enrollment is its
        position, and the rows are stored with the positions (`positions`), one file for
        both; otherwise on their own."""
        if self._one_enrollment_per_pair:
            rows = self._position_rows
            return rows.select(
                **{
                    c: rows[_SHARED.get(c, f"{_ENROLLMENT}{c}")]
                    for c in self._enrollment_rows.columns
                }
            )
        return self._stored_enrollments

    @cached_property
    def _stored_enrollments(self) -> ir.Table:
        # Materialised: positions, new money, retention and the filters each read it, and
        # would otherwise clean the file and join products and customers again.
        return materialise(self.tables.con, self._enrollment_rows)

    @cached_property
    def _enrollment_rows(self) -> ir.Table:
        """`enrollments` as an expression (nothing stored)."""
        e = self.tables["enrollments"]
        e = e.drop(
            *(c for c in ("contribution_frequency", "monthly_contribution") if c in e.columns)
        )
        p = self.tables["products"].select(
            "product_id",
            "product_name",
            category="product_category",
            risk_level="risk_level",
        )
        e = e.join(p, "product_id").semi_join(self.customers, "customer_id")
        f = self.filters
        if f.category:
            e = e.filter(e.category.isin(f.category))
        if f.product:
            e = e.filter(e.product_id.isin(f.product) | e.product_name.isin(f.product))
        if f.advisor:
            e = e.filter(e.advisor_id.isin(f.advisor))
        return e

    @cached_property
    def balances(self) -> ir.Table:
        """Balance rows of filtered positions, with a `month` column (first day of month).

        Without customer or position filters, and when every position with balance rows has
        an enrollment (as in consistent data), that is every row: the join that picks filtered
        positions out of tens of millions of rows is skipped.
        """
        b = self.tables["account_balances"]
        keys = ["customer_id", "product_id"]
        if self._positions_filtered or not self._no_orphan_balances:
            b = b.semi_join(self.enrollments.select(*keys), keys)
        return b.mutate(month=b.date.truncate("M"))

    @cached_property
    def _no_orphan_balances(self) -> bool:
        """True when every position in the balances is a position of the enrollments (asked
        only without customer or position filters, when `positions` holds every pair)."""
        keys = ["customer_id", "product_id"]
        stray = self.balance_stats.select(*keys).anti_join(self.positions.select(*keys), keys)
        return execute(stray.count()) == 0

    @cached_property
    def retention(self) -> ir.Table:
        r = self.tables["retention"]
        return r.semi_join(self.enrollments.select("customer_id", "product_id"),
                           ["customer_id", "product_id"])  # fmt: skip

    @cached_property
    def positions(self) -> ir.Table:
        """One row per position: customer_id, product_id, category, risk_level, product_name,
        channel, advisor_id, status, open_date, close_date (null when open), initial_investment.

        A pair enrolled twice counts once: opened on its first enrollment date.
        """
        rows = self._position_rows
        return rows.drop(*(c for c in rows.columns if c.startswith(_ENROLLMENT)))

    @property
    def _position_rows(self) -> ir.Table:
        """The stored positions; with one enrollment per pair, their enrollments' own
        columns ride along (named ``_enrollment_<column>``), so that `enrollments` reads the
        same file rather than a second copy of 1.8M rows at a million customers."""
        return self._stored_positions[0]

    @property
    def _one_enrollment_per_pair(self) -> bool:
        """True when no (customer, product) pair of the enrollments is enrolled twice (as
        in most data)."""
        return self._stored_positions[1]

    @cached_property
    def _stored_positions(self) -> tuple[ir.Table, bool]:
        """(the stored positions, whether each enrollment is its own position).

        Most data enrolls a pair once, and there each enrollment is its position: the rows
        are stored as positions straight away, and one distinct count of the stored pairs
        confirms it (cheaper than grouping and joining back, and than asking first of the
        unstored enrollments). When some pair repeats, that store goes unused (it is
        dropped with the others, `drop_materialised`) and the positions are grouped from the
        enrollments."""
        keys = ["customer_id", "product_id"]
        stored = self._positions_one_per_pair()
        pairs = stored.select(*keys)
        if execute(pairs.count()) == execute(pairs.distinct().count()):
            return stored, True
        return self._positions_grouped(), False

    def _positions_one_per_pair(self) -> ir.Table:
        """Positions when each enrollment is its own position (stored)."""
        keys = ["customer_id", "product_id"]
        # Each enrollment is its position (and already carries its product's attributes):
        # no grouping, no join back to find the first enrollment.
        e = self._enrollment_rows
        pos = e.select(
            *keys,
            open_date=e.enrollment_date,
            initial_investment=e.initial_investment,
            product_name=e.product_name,
            category=e.category,
            risk_level=e.risk_level,
            channel=e.channel,
            advisor_id=e.advisor_id,
            closed_status=e.status == "Closed",
            **{f"{_ENROLLMENT}{c}": e[c] for c in e.columns if c not in _SHARED},
        )
        return self._with_close_dates(pos)

    def _positions_grouped(self) -> ir.Table:
        """Positions grouped from the enrollments (some pair is enrolled more than once)."""
        keys = ["customer_id", "product_id"]
        e = self._stored_enrollments
        totals = e.group_by(keys).aggregate(
            open_date=e.enrollment_date.min(),
            initial_investment=e.initial_investment.sum(),
            closed_status=(e.status == "Closed").any(),
            _n=e.count(),
        )
        # The pair's first enrollment (ties: smaller enrollment_id) gives its channel and
        # advisor. Most pairs are enrolled once, and their one row answers: joined, not
        # aggregated (min/max over text cost several times a join). Only pairs enrolled
        # more than once take the minimum of a struct ordered by (date, id).
        multi = totals.filter(totals._n > 1).select(*keys)
        once = e.anti_join(multi, keys).select(*keys, "channel", "advisor_id")
        some = e.semi_join(multi, keys)
        first = ibis.struct(
            {
                "date": some.enrollment_date,
                "id": some.enrollment_id,
                "channel": some.channel,
                "advisor_id": some.advisor_id,
            }
        ).min()
        firsts = some.group_by(keys).aggregate(_first=first)
        firsts = firsts.select(
            *keys, channel=firsts._first["channel"], advisor_id=firsts._first["advisor_id"]
        )
        totals = totals.join(once.union(firsts), keys).rename(
            _first_channel="channel", _first_advisor="advisor_id"
        )
        # Product attributes are the product's: joined after grouping (a few rows).
        products = self.tables["products"].select(
            "product_id",
            "product_name",
            category="product_category",
            risk_level="risk_level",
        )
        pos = totals.join(products, "product_id").select(
            *keys,
            "open_date",
            "initial_investment",
            "product_name",
            "category",
            "risk_level",
            channel=totals._first_channel,
            advisor_id=totals._first_advisor,
            closed_status=totals.closed_status,
        )
        return self._with_close_dates(pos)

    def _with_close_dates(self, pos: ir.Table) -> ir.Table:
        """`pos` (one row per position, with `closed_status`) with its close date, then
        materialised."""
        keys = ["customer_id", "product_id"]
        # The raw table: the left join below keeps only churns of these positions.
        r = self.tables["retention"]
        churn = (
            r.filter(r.recovered_flag == "No")
            .group_by(["customer_id", "product_id"])
            .aggregate(churn_close=r.churn_date.min())
        )
        pos = pos.left_join(churn, ["customer_id", "product_id"]).select(
            ~ibis.selectors.matches("_right$")
        )
        # Only a Closed position (without an unrecovered churn) needs its last balance date:
        # look those few up, rather than joining every position to the balance statistics.
        needs = pos.filter(pos.closed_status).select(*keys)  # one row per position
        st = self.balance_stats
        last_row = st.semi_join(needs, keys).select(*keys, "last_balance_date")
        pos = pos.left_join(last_row, keys).select(~ibis.selectors.matches("_right$"))
        close = ibis.coalesce(
            pos.churn_close,
            ibis.ifelse(pos.closed_status, pos.last_balance_date, ibis.null("date")),
        )
        pos = pos.mutate(close_date=close).drop("churn_close", "closed_status", "last_balance_date")
        # Materialised: every page asks who is open or active when (a few MB per million).
        return materialise(self.tables.con, pos)

    def open_positions_at(self, t: date) -> ir.Table:
        p = self.positions
        return p.filter(
            (p.open_date <= t) & (p.close_date.isnull() | (p.close_date > ibis.literal(t)))
        )

    def active_customers_at(self, t: date) -> ir.Table:
        """Distinct customer_id of customers with at least one open position at t."""
        return self.open_positions_at(t).select("customer_id").distinct()

    # ---- snapshots -------------------------------------------------------------------
    @cached_property
    def balance_stats(self) -> ir.Table:
        """Per position (all balance rows, before filters): ``last_balance_date`` and
        ``several_rows`` (True when some month holds more than one of its balance rows).

        One aggregation over the balances, grouped by position only, materialised.
        "Several rows in a month" is found without ranking every row: per block of months
        (counted from the data's first month), the bitwise OR of ``2**(month mod block)``
        over a position's rows has one bit per distinct month, so the rows (with a date)
        outnumber the set bits exactly when some month repeats. (Bit OR and a count are about
        half the CPU of per-block counts and sums.) Blocks are 62 months on DuckDB (one
        block for five years of data: no per-block test on every row) and 31 elsewhere.

        When the context builds visuals, the same pass also takes ``balance_end`` and
        ``balance_year_ago`` (see `_month_balances`): two more aggregates cost about half
        of a second scan of the balances for those two months.
        """
        b = self.tables["account_balances"]
        first, last = execute(b.aggregate(first=b.date.min(), last=b.date.max())).iloc[0]
        known = not (pd.isna(first) or pd.isna(last))
        base = _month_index(pd.Timestamp(first)) if known else 0
        size = _block_months(self.tables.con)
        index = month_index_expr(b.date)
        b = b.select(
            "customer_id",
            "product_id",
            "date",
            "balance",
            _index=index,
            _block=(index - base) // size,
            _bit=ibis.literal(1, "int64") << ((index - base) % size),
        )
        blocks = []
        if known:
            blocks = list(range((_month_index(pd.Timestamp(last)) - base) // size + 1))
        if len(blocks) == 1:  # every dated row is in block 0
            masks = {"m0": bit_or(b._bit)}
        else:
            masks = {f"m{k}": bit_or(ibis.ifelse(b._block == k, b._bit, 0)) for k in blocks}
        months = {}
        if self.with_visuals:
            end, year_ago = self._stat_months
            for name, m in (("balance_end", end), ("balance_year_ago", year_ago)):
                months[name] = b.balance.max(where=b._index == _month_index(pd.Timestamp(m)))
        stats = b.group_by(["customer_id", "product_id"]).aggregate(
            last_balance_date=b.date.max(), _rows=b.date.count(), **masks, **months
        )
        distinct_months = ibis.literal(0, "int64")
        for k in blocks:
            distinct_months = distinct_months + _bit_count(stats[f"m{k}"].fill_null(0))
        stats = stats.select(
            "customer_id",
            "product_id",
            "last_balance_date",
            *months,
            several_rows=stats._rows != distinct_months,
        )
        return materialise(self.tables.con, stats)

    @cached_property
    def _month_balances(self) -> ir.Table:
        """Per position with a balance row in the month of `at` or twelve months earlier:
        the largest balance of that month (``balance_end``, ``balance_year_ago``; null
        without a row then). The snapshots of positions without several rows in a month.

        Taken from `balance_stats` when the context builds visuals (one pass over the
        balances); otherwise (KPIs alone rarely ask) from the rows of those two months."""
        keys = ["customer_id", "product_id"]
        if "balance_end" in self.balance_stats.columns:
            return self.balance_stats.select(*keys, "balance_end", "balance_year_ago")
        b = self.tables["account_balances"]
        end, year_ago = self._stat_months
        b = b.filter(_in_month(b.date, end) | _in_month(b.date, year_ago))
        stats = b.group_by(["customer_id", "product_id"]).aggregate(
            balance_end=b.balance.max(where=_in_month(b.date, end)),
            balance_year_ago=b.balance.max(where=_in_month(b.date, year_ago)),
        )
        return materialise(self.tables.con, stats)

    @property
    def _stat_months(self) -> tuple[date, date]:
        end = month_start(self.at)
        return end, add_months(end, -12)

    @cached_property
    def _several(self) -> ir.Table:
        """Positions with several balance rows in some month (materialised; usually none)."""
        s = self.balance_stats
        return materialise(
            self.tables.con, s.filter(s.several_rows).select("customer_id", "product_id")
        )

    @cached_property
    def _has_several(self) -> bool:
        return bool(execute(self._several.count()))

    @staticmethod
    def _latest_rows(b: ir.Table) -> ir.Table:
        """The snapshot rows of balance rows `b` (with `month`): latest date, then larger id."""
        w = ibis.window(
            group_by=[b.customer_id, b.product_id, b.month],
            order_by=[ibis.desc(b.date), ibis.desc(b.balance_id)],
        )
        ranked = b.mutate(_rn=ibis.row_number().over(w))
        return ranked.filter(ranked._rn == 0).drop("_rn")

    def snapshot_balances(self, month: date) -> ir.Table:
        """customer_id, product_id, balance: the snapshot balance in `month` of every
        filtered position with a balance row then. For the month of `at` and the one twelve
        months earlier it is read from `_month_balances` (rows of those two months only)."""
        keys = ["customer_id", "product_id"]
        m = month_start(month)
        end, year_ago = self._stat_months
        if m not in (end, year_ago):
            s = self.snapshots
            return s.filter(s.month == m).select(*keys, "balance")
        column = "balance_end" if m == end else "balance_year_ago"
        mb = self._month_balances
        fast = mb.filter(mb[column].notnull())
        if self._has_several:
            fast = fast.anti_join(self._several, keys)
        fast = fast.select(*keys, balance=fast[column])
        if self._positions_filtered or not self._no_orphan_balances:
            fast = fast.semi_join(self.positions, keys)
        if not self._has_several:
            return fast
        b = self.balances
        b = b.filter(_in_month(b.date, m)).semi_join(self._several, keys)
        slow = self._latest_rows(b).select(*keys, "balance")
        return fast.union(slow)

    @cached_property
    def snapshots(self) -> ir.Table:
        """One row per position per month: the month's last balance row (ties: larger id).

        Columns: customer_id, product_id, month, date, balance, contributions_mtd,
        withdrawals_mtd, investment_returns_mtd, fees_mtd.
        """
        b = self.balances
        keys = ["customer_id", "product_id"]
        if not self._has_several:
            return b.drop("balance_id")
        single = b.anti_join(self._several, keys)
        latest = self._latest_rows(b.semi_join(self._several, keys))
        return single.union(latest.select(*single.columns)).drop("balance_id")

    # ---- service and engagement ---------------------------------------------------------
    @property
    def _customer_filtered(self) -> bool:
        f = self.filters
        return bool(f.segment or f.state or f.region or f.age_band)

    @property
    def _positions_filtered(self) -> bool:
        """Whether some filter narrows the positions (through their customer or product)."""
        f = self.filters
        return self._customer_filtered or bool(f.category or f.product or f.advisor)

    def _of_customers(self, name: str) -> ir.Table:
        """Rows of table `name` whose customer passes the customer filters. Without customer
        filters, and when every row's customer exists (consistent data), that is every row:
        the check costs one pass, the join it saves costs one on every later query."""
        t = self.tables[name]
        if not self._customer_filtered:
            stray = t.select("customer_id").anti_join(self.customers, "customer_id")
            if execute(stray.count()) == 0:
                return t
        return t.semi_join(self.customers, "customer_id")

    @cached_property
    def service_any_channel(self) -> ir.Table:
        """Service interactions of filtered customers on every channel (the first-contact
        look-around ignores the channel filter)."""
        return self._of_customers("service_interactions")

    @cached_property
    def service(self) -> ir.Table:
        """Service interactions of filtered customers (and channels)."""
        s = self.service_any_channel
        if self.filters.channel:
            s = s.filter(s.channel.isin(self.filters.channel))
        return s

    @cached_property
    def engagement(self) -> ir.Table:
        """Engagement sessions of filtered customers (and devices)."""
        g = self._of_customers("engagement")
        if self.filters.device:
            g = g.filter(g.device_type.isin(self.filters.device))
        return g
