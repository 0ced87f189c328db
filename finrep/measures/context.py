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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property

import ibis
import ibis.expr.types as ir

from finrep.config import Config
from finrep.filters import Filters
from finrep.schema import AGE_BANDS, STATE_REGION
from finrep.sources import Tables


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

    # ---- customers -------------------------------------------------------------------
    @cached_property
    def all_customers(self) -> ir.Table:
        """Every customer with segment, state, region and age band at `at` (unfiltered)."""
        c = self.tables["customers"]
        return c.select(
            "customer_id",
            "enrollment_date",
            "birth_date",
            segment=c.customer_segment,
            state=c.address_state,
            region=region_expr(c.address_state),
            age_band=age_band_expr(c.birth_date, self.at),
        )

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

    # ---- positions -------------------------------------------------------------------
    @cached_property
    def enrollments(self) -> ir.Table:
        """Enrollments of filtered customers and positions, with product attributes."""
        e = self.tables["enrollments"]
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
        """Balance rows of filtered positions, with a `month` column (first day of month)."""
        b = self.tables["account_balances"]
        b = b.semi_join(self.enrollments.select("customer_id", "product_id"),
                        ["customer_id", "product_id"])  # fmt: skip
        return b.mutate(month=b.date.truncate("M"))

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
        e = self.enrollments
        pos = e.group_by(["customer_id", "product_id"]).aggregate(
            open_date=e.enrollment_date.min(),
            initial_investment=e.initial_investment.sum(),
            product_name=e.product_name.first(order_by=e.enrollment_date),
            category=e.category.first(order_by=e.enrollment_date),
            risk_level=e.risk_level.first(order_by=e.enrollment_date),
            channel=e.channel.first(order_by=e.enrollment_date),
            advisor_id=e.advisor_id.first(order_by=e.enrollment_date),
            closed_status=(e.status == "Closed").any(),
        )
        r = self.retention
        churn = (
            r.filter(r.recovered_flag == "No")
            .group_by(["customer_id", "product_id"])
            .aggregate(churn_close=r.churn_date.min())
        )
        b = self.balances
        last_row = b.group_by(["customer_id", "product_id"]).aggregate(
            last_balance_date=b.date.max()
        )
        pos = pos.left_join(churn, ["customer_id", "product_id"]).select(
            ~ibis.selectors.matches("_right$")
        )
        pos = pos.left_join(last_row, ["customer_id", "product_id"]).select(
            ~ibis.selectors.matches("_right$")
        )
        close = ibis.coalesce(
            pos.churn_close,
            ibis.ifelse(pos.closed_status, pos.last_balance_date, ibis.null("date")),
        )
        return pos.mutate(close_date=close).drop(
            "churn_close", "closed_status", "last_balance_date"
        )

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
    def snapshots(self) -> ir.Table:
        """One row per position per month: the month's last balance row (ties: larger id).

        Columns: customer_id, product_id, month, date, balance, contributions_mtd,
        withdrawals_mtd, investment_returns_mtd, fees_mtd.
        """
        b = self.balances
        w = ibis.window(
            group_by=[b.customer_id, b.product_id, b.month],
            order_by=[ibis.desc(b.date), ibis.desc(b.balance_id)],
        )
        ranked = b.mutate(_rn=ibis.row_number().over(w))
        return ranked.filter(ranked._rn == 0).drop("_rn", "balance_id")

    # ---- service and engagement ---------------------------------------------------------
    @cached_property
    def service(self) -> ir.Table:
        """Service interactions of filtered customers (and channels)."""
        s = self.tables["service_interactions"].semi_join(self.customers, "customer_id")
        if self.filters.channel:
            s = s.filter(s.channel.isin(self.filters.channel))
        return s

    @cached_property
    def engagement(self) -> ir.Table:
        """Engagement sessions of filtered customers (and devices)."""
        g = self.tables["engagement"].semi_join(self.customers, "customer_id")
        if self.filters.device:
            g = g.filter(g.device_type.isin(self.filters.device))
        return g
