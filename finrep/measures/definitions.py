"""Plain-words definitions of every measure and concept the pack shows (MEASURES.md), for the
Definitions appendix of the PDF and the Definitions sheet of the workbook.

Keys are measure keys (``aum``, ``fcr_rate``) or concept keys that visuals refer to
(``snapshot``, ``benchmark``). The service, digital and forecast modules keep the
definitions of their own measures next to their code; `all_definitions` merges them in.
"""

from __future__ import annotations

from finrep.pack import Definition

_D = Definition

BASE: tuple[Definition, ...] = (
    # ---- vocabulary
    _D(
        "position",
        "Position",
        "One customer holding one product. It opens on its enrollment date (the first one, "
        "if the pair was enrolled twice).",
    ),
    _D(
        "close_date",
        "Close date",
        "The earliest churn of the position that was not recovered; if there is none but the "
        "enrollment says Closed, the date of its last balance row. A recovered churn closes "
        "nothing.",
    ),
    _D(
        "active_customer",
        "Active customer",
        "A customer with at least one position open on the day: opened on or before it and "
        "not closed by then.",
    ),
    _D(
        "snapshot",
        "Month-end snapshot",
        "A position's balance row with the latest date in the month (on a tie, the larger "
        "balance id). Its month-to-date flow columns hold the whole month's flows.",
    ),
    _D(
        "period",
        "Period and comparisons",
        "Whole calendar months. Every KPI is compared with the previous period of the same "
        "length and with the same period one year earlier; a comparison period outside the "
        "months with balance data is shown as not available.",
    ),
    _D("age_band", "Age band", "Age in full years at the period end: Under 30, 30-44, 45-59, 60+."),
    _D("region", "Region", "US Census region of the customer's state."),
    # ---- assets and flows
    _D(
        "aum",
        "AUM (assets under management)",
        "Sum of the month-end snapshot balances in the last month of the period. A stock: "
        "never summed over months.",
    ),
    _D("aum_open", "Opening AUM", "AUM at the end of the month before the period starts."),
    _D(
        "new_money",
        "New money",
        "Initial investments of enrollments dated in the period.",
    ),
    _D(
        "contributions",
        "Contributions",
        "Contributions over the months of the period, from each position's month-end "
        "snapshot (month-to-date values, so only the month's last row counts).",
    ),
    _D(
        "withdrawals",
        "Withdrawals",
        "Withdrawals over the months of the period, from the month-end snapshots.",
    ),
    _D(
        "investment_returns",
        "Investment returns",
        "Investment gains and losses over the months of the period, from the month-end snapshots.",
    ),
    _D("fees", "Fees", "Fees charged over the months of the period, from the month-end snapshots."),
    _D(
        "net_flows",
        "Net flows",
        "Net new assets: new money plus contributions minus withdrawals.",
    ),
    _D(
        "reconciliation_residual",
        "Reconciliation residual",
        "AUM minus (opening AUM + net flows + investment returns − fees). About zero on "
        "consistent data; flagged in the data-quality appendix when above 0.01% of AUM.",
    ),
    _D("fee_revenue", "Fee revenue", "The fees charged over the period (also by product)."),
    _D(
        "avg_balance_per_customer",
        "Average balance per customer",
        "AUM divided by active customers at the period end.",
    ),
    # ---- customers
    _D(
        "active_customers",
        "Active customers",
        "Customers with at least one open position at the period end.",
    ),
    _D(
        "new_customers",
        "New customers",
        "Customers whose first enrollment date falls in the period.",
    ),
    _D(
        "churned_customers",
        "Churned customers",
        "Customers active at some time in the period whose last open position closed in the "
        "period and who are not active at its end.",
    ),
    _D(
        "retention_rate",
        "Retention rate",
        "Of the customers active at the end of the month before the period, the share still "
        "active at the period end. Not available when there were none.",
    ),
    _D(
        "products_per_customer",
        "Products per customer",
        "Positions open at the period end divided by active customers (also by segment).",
    ),
    _D(
        "avg_tenure_months",
        "Average tenure",
        "Mean, over active customers, of whole months from the customer's enrollment date to "
        "the period end.",
    ),
    _D(
        "customer_growth",
        "Customer growth drivers",
        "Active customers before the period, plus new customers still active at its end, "
        "minus churned customers; what that leaves unexplained is shown as Other: customers "
        "re-activated in the period, and new customers who churned within it (they count "
        "as churned but not as new customers still active).",
    ),
    _D(
        "retention_cohorts",
        "Retention cohorts",
        "Customers grouped by the quarter of their enrollment date; each cell is the share of "
        "the cohort's customers active 0, 3, 6, 12, 18, 24 or 36 months after enrolling, "
        "counting only customers who had reached that age by the period end.",
    ),
    # ---- products and performance
    _D(
        "monthly_return",
        "Monthly return (Modified Dietz)",
        "Investment returns of the month divided by the AUM at the end of the month before "
        "plus half the month's net flows (new money + contributions − withdrawals); not "
        "available when that denominator is zero or less. For a category or all products, "
        "the returns and denominators are summed first.",
    ),
    _D(
        "return_period",
        "Period return",
        "Monthly returns chain-linked over the period, (1 + r₁)(1 + r₂)… − 1; annualised when "
        "the period is longer than 12 months. All products, AUM-weighted.",
    ),
    _D(
        "return_12m",
        "12-month return",
        "Monthly returns chain-linked over the 12 months ending with the period end.",
    ),
    _D(
        "benchmark",
        "Blended benchmark",
        "Monthly returns of the S&P 500 and bond indices from month-end closes, blended per "
        "product by the equity weight of its risk level (Low 10%, Medium-Low 30%, Medium 50%, "
        "Medium-High 70%, High 90%), chain-linked over the same months as the product's "
        "return. For a group of products, their benchmarks are weighted like their returns.",
    ),
    _D(
        "benchmark_return_12m",
        "12-month benchmark return",
        "The blended benchmark of all products, chain-linked over the 12 months ending with "
        "the period end.",
    ),
    _D(
        "excess_return",
        "Excess return",
        "Return minus the blended benchmark's return over the same months.",
    ),
    _D(
        "excess_return_12m",
        "12-month excess return",
        "12-month return minus the 12-month blended benchmark return.",
    ),
    _D(
        "volatility",
        "Volatility",
        "Standard deviation of the monthly returns over the 12 months ending with the period "
        "end, annualised (× √12); not available with fewer than 6 monthly returns.",
    ),
    _D(
        "volatility_12m",
        "12-month volatility",
        "Volatility of the monthly return of all products over the 12 months ending with the "
        "period end.",
    ),
    _D(
        "top_bottom",
        "Top and bottom products",
        "The best and worst products by 12-month return; ties go to the larger AUM.",
    ),
    # ---- service and digital (fallbacks; the service and digital modules' own wording wins)
    _D("contacts", "Contacts", "Customer-service interactions dated in the period."),
    _D(
        "avg_satisfaction",
        "Average satisfaction",
        "Mean satisfaction score (1–5) of the period's contacts, ignoring unscored ones.",
    ),
    _D("csat_pct", "CSAT", "Share of scored contacts with a satisfaction score of 4 or more."),
    _D("avg_handle_minutes", "Average handle time", "Mean contact duration in minutes."),
    _D(
        "fcr_rate",
        "First-contact resolution",
        "Among first contacts in the period (no contact by the same customer about the same "
        "reason in the 7 days before), the share Resolved with no such contact in the 7 days "
        "after.",
    ),
    _D(
        "issues_per_1000",
        "Issues per 1,000 customers",
        "Contacts about complaints, technical support or transaction issues per 1,000 active "
        "customers.",
    ),
    _D(
        "digital_active_users",
        "Digital active users",
        "Distinct customers with a digital session in the period.",
    ),
    _D(
        "digital_engagement_rate",
        "Digital engagement rate",
        "Digital active users divided by active customers.",
    ),
    _D(
        "mobile_adoption_rate",
        "Mobile adoption",
        "Share of digital active users with a session on a mobile device in the period.",
    ),
    _D("sessions", "Sessions", "Digital sessions in the period."),
    _D("avg_session_minutes", "Average session", "Mean session duration in minutes."),
)


def all_definitions() -> tuple[Definition, ...]:
    """Every definition, one per key: these, then the service, digital and forecast modules'
    own (which replace a fallback of the same key), in a stable order."""
    merged: dict[str, Definition] = {d.key: d for d in BASE}
    from finrep.measures import digital, forecast, service

    for module in (service, digital, forecast):
        for d in getattr(module, "DEFINITIONS", ()):
            merged[d.key] = d
    return tuple(merged.values())
