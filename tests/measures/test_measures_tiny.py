"""KPIs on the hand-made `measures_tiny` dataset, every expected value worked out by hand.

The dataset (tests/fixtures/measures_tiny, balance data 2023-03 … 2024-04):

customers  C1 Affluent NY b.1980-06-15 enrolled 2024-01-10   C4 Affluent CA b.1970-03-31 2024-03-15
           C2 Mass Mkt CA b.1994-04-01 2024-01-05            C5 Mass Mkt NY b.1994-03-31 2024-01-15
           C3 HNW TX      b.1950-02-01 2024-01-20            C6 UHNW IL     b.1960-05-05 2023-03-01
products   P1 ETF High (equity weight 0.9), P2 Bond Fund Low (0.1), P3 Savings Medium (0.5)
positions  C1·P1 Jan 10 (1000)   C1·P2 Jan 10 (500)   C2·P1 Jan 5 (2000), unrecovered churn
           Mar 20 (enrollment still "Active": the churn closes it)   C3·P3 Jan 20 (3000)
           C3·P1 Jan 20 (100), status Closed, no churn row: closes on its last row, Feb 15
           C4·P2 Mar 15 (800)   C5·P3 Jan 15 (1500), churn Feb 10 *recovered* (stays open)
           C6·P2 2023-03-01 (10000)

Month-end snapshots (balance; the flows of the snapshot row in brackets: c, w, r, f):

        C6·P2     C1·P1              C1·P2        C2·P1          C3·P3            C3·P1    C4·P2      C5·P3
Jan 24  10000     1019 (r20 f1)      504.5 (r5 f.5) 2038 (r40 f2)  3000 (r3 f3)  100      -          1500 (r1.5 f1.5)
Feb 24  10050 r50 1148 (c100 r30 f1) 509 (r5 f.5)   2098 (r62 f2)  3003 (r6 f3)  0 w100   -          1400 (w100 r1.5 f1.5)
Mar 24  10025 r-25 1059 (w48 r-40 f1) 609 (c91 r10 f1) 0 (w2076 r-20 f2) 3207 (c200 r7 f3) -   803.5 (r4 f.5) 1400 (r1.4 f1.4)
Apr 24  10025     1068 (r10 f1)      614 (r6 f1)    -              3212 (r8 f3)  -        807 (r4 f.5) 1400 (r1.4 f1.4)

C6·P2 holds 10000 with no flows from 2023-03 to 2024-01. Irregular rows: C1·P1 also has a row on
2024-02-14 (c50, balance 1078.5) that the Feb-29 row supersedes; C3·P3 has two rows dated
2024-03-31 — the larger balance_id (B053: c200, 3207) wins over B052 (c100, 3107).

Market month-end closes (mid-month decoy rows must be ignored): S&P 4000 flat to Dec 2023, then
4200 (+5%), 4116 (−2%), 4239.48 (+3%), 4281.8748 (+1%); bond 100 flat, then 99 (−1%),
100.98 (+2%), 101.4849 (+0.5%), 101.4849 (0%).
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest

from finrep.errors import DataError
from finrep.filters import Filters
from finrep.measures import compute

DATA = Path(__file__).parents[1] / "fixtures" / "measures_tiny"


def approx(x):
    return pytest.approx(x, rel=1e-9, abs=1e-9)


@pytest.fixture(scope="module")
def march():
    return compute(DATA, "2024-03").kpis


def chain(*returns: float) -> float:
    out = 1.0
    for r in returns:
        out *= 1 + r
    return out - 1


# ---- assets -----------------------------------------------------------------------------
def test_aum_is_the_month_end_stock(march):
    # Mar snapshots: 10025 + 1059 + 609 + 0 + 3207 (later id wins) + 803.5 + 1400
    assert march["aum"].value == approx(17103.5)
    # Feb (previous period, and the opening of March): the Feb-29 row of C1·P1 wins
    assert march["aum"].previous == approx(10050 + 1148 + 509 + 2098 + 3003 + 0 + 1400)
    # March 2023: only C6
    assert march["aum"].last_year == approx(10000)
    assert march["aum_open"].value == approx(18208)
    # Jan: 10000 + 1019 + 504.5 + 2038 + 3000 + 100 + 1500
    assert march["aum_open"].previous == approx(18161.5)
    assert march["aum_open"].last_year is None  # Feb 2023 is before the data


def test_flows_of_march(march):
    k = march
    assert k["new_money"].value == approx(800)  # C4·P2
    assert k["contributions"].value == approx(91 + 200)  # C1·P2, C3·P3's later row
    assert k["withdrawals"].value == approx(48 + 2076)
    assert k["investment_returns"].value == approx(-25 - 40 + 10 - 20 + 7 + 4 + 1.4)
    assert k["fees"].value == approx(1 + 1 + 2 + 3 + 0.5 + 1.4)
    assert k["fee_revenue"].value == approx(8.9)
    assert k["net_flows"].value == approx(800 + 291 - 2124)
    assert k["reconciliation_residual"].value == approx(0)
    assert k["avg_balance_per_customer"].value == approx(17103.5 / 5)


def test_flows_of_february_count_only_the_last_row_of_the_month(march):
    k = march
    assert k["contributions"].previous == approx(100)  # not 150: the Feb-14 row is superseded
    assert k["withdrawals"].previous == approx(100 + 100)  # C5·P3, C3·P1
    assert k["investment_returns"].previous == approx(50 + 30 + 5 + 62 + 6 + 1.5)
    assert k["fees"].previous == approx(1 + 0.5 + 2 + 3 + 1.5)
    assert k["new_money"].previous == approx(0)
    assert k["net_flows"].previous == approx(-100)
    assert k["reconciliation_residual"].previous == approx(0)
    # last year (March 2023): C6 opened with 10000, no opening AUM → no residual
    assert k["new_money"].last_year == approx(10000)
    assert k["reconciliation_residual"].last_year is None


def test_changes(march):
    aum = march["aum"]
    assert aum.change == approx(17103.5 - 18208)
    assert aum.change_pct == approx((17103.5 - 18208) / 18208)
    assert aum.change_ly == approx(7103.5)
    assert aum.change_ly_pct == approx(0.71035)
    # previous of 0 → no percentage, never a division error
    nm = march["new_money"]
    assert nm.change == approx(800) and nm.change_pct is None


def test_aum_over_two_months_is_not_summed():
    k = compute(DATA, "2024-02..2024-03").kpis
    assert k["aum"].value == approx(17103.5)  # not 18208 + 17103.5
    assert k["aum_open"].value == approx(18161.5)  # end of January
    assert k["contributions"].value == approx(100 + 291)
    assert k["reconciliation_residual"].value == approx(0)


def test_quarter():
    q = compute(DATA, "2024-Q1")
    k = q.kpis
    assert (q.comparison.spec, q.last_year.spec) == ("2023-Q4", "2023-Q1")
    assert k["aum"].value == approx(17103.5)
    assert k["aum_open"].value == approx(10000)  # Dec 2023: C6 only
    assert k["new_money"].value == approx(8100 + 800)
    assert k["withdrawals"].value == approx(0 + 200 + 2124)
    assert k["fees"].value == approx(8 + 8 + 8.9)
    assert k["reconciliation_residual"].value == approx(0)
    assert k["new_customers"].value == 5  # C1, C2, C3, C5 in Jan, C4 in Mar
    assert k["churned_customers"].value == 1  # C2
    assert k["retention_rate"].value == approx(1.0)  # A(Dec 31) = {C6}
    # previous quarter (Oct–Dec 2023) is in the data; last year (Q1 2023) is not
    assert k["aum"].previous == approx(10000)
    assert k["active_customers"].previous == 1
    for key, kpi in k.items():
        assert kpi.last_year is None, key


# ---- customers --------------------------------------------------------------------------
def test_customer_counts(march):
    k = march
    # A(Mar 31) = C1, C3, C4, C5 (recovered churn stays active), C6; C2 closed on Mar 20
    assert k["active_customers"].value == 5
    assert k["new_customers"].value == 1  # C4
    assert k["churned_customers"].value == 1  # C2
    # A(Feb 29) = C1, C2, C3, C5, C6; of those, C1, C3, C5, C6 are still active
    assert k["retention_rate"].value == approx(4 / 5)
    # open at Mar 31: C1·P1, C1·P2, C3·P3, C4·P2, C5·P3, C6·P2 (C3·P1 closed Feb 15)
    assert k["products_per_customer"].value == approx(6 / 5)
    # whole months to Mar 31: C1 2, C3 2, C4 0, C5 2, C6 12
    assert k["avg_tenure_months"].value == approx(18 / 5)


def test_customer_counts_of_the_comparison_periods(march):
    k = march
    assert k["active_customers"].previous == 5
    assert k["retention_rate"].previous == approx(1.0)  # A(Jan 31) = A(Feb 29)
    assert k["products_per_customer"].previous == approx(6 / 5)  # C3·P1 closed Feb 15
    assert k["avg_tenure_months"].previous == approx((1 + 1 + 1 + 1 + 11) / 5)
    assert k["churned_customers"].previous == 0
    assert k["active_customers"].last_year == 1
    assert k["new_customers"].last_year == 1
    assert k["retention_rate"].last_year is None  # nobody was active before March 2023


# ---- returns and benchmark ----------------------------------------------------------------
# Modified Dietz denominators D = AUM of the month before + (new money + c − w) / 2:
#            P1 (High)                  P2 (Low)                     P3 (Medium)
# Jan 24     0 + 3100/2 = 1550, r 60    10000 + 500/2 = 10250, r 5    0 + 4500/2 = 2250, r 4.5
# Feb 24     3157 + 0 = 3157, r 92      10504.5, r 55                 4500 − 50 = 4450, r 7.5
# Mar 24     3246 − 2124/2 = 2184, r −60  10559 + 891/2 = 11004.5, r −11  4403 + 100 = 4503, r 8.4
# Apr–Dec 2023: P2 D = 10000, r 0; P1 and P3 hold nothing (no return).
EQ = {"Jan": 0.05, "Feb": -0.02, "Mar": 0.03}
BOND = {"Jan": -0.01, "Feb": 0.02, "Mar": 0.005}


def blend(w: float, month: str) -> float:
    return w * EQ[month] + (1 - w) * BOND[month]


ALL_R = {"Jan": 69.5 / 14050, "Feb": 154.5 / 18111.5, "Mar": -62.6 / 17691.5}
ALL_B = {
    "Jan": (1550 * blend(0.9, "Jan") + 10250 * blend(0.1, "Jan") + 2250 * blend(0.5, "Jan"))
    / 14050,
    "Feb": (3157 * blend(0.9, "Feb") + 10504.5 * blend(0.1, "Feb") + 4450 * blend(0.5, "Feb"))
    / 18111.5,
    "Mar": (2184 * blend(0.9, "Mar") + 11004.5 * blend(0.1, "Mar") + 4503 * blend(0.5, "Mar"))
    / 17691.5,
}


def test_blends_are_what_the_table_says():
    # sanity of the hand figures themselves
    assert blend(0.9, "Mar") == approx(0.0275)
    assert blend(0.1, "Jan") == approx(-0.004)
    assert ALL_B["Jan"] == approx(72.2 / 14050)


def test_returns_of_all_products(march):
    k = march
    assert k["return_period"].value == approx(ALL_R["Mar"])
    assert k["return_period"].previous == approx(ALL_R["Feb"])
    assert k["return_period"].last_year is None  # first month of data: no opening AUM
    # 12 months to March 2024: Apr–Dec 2023 return 0, then Jan, Feb, Mar
    r12 = chain(ALL_R["Jan"], ALL_R["Feb"], ALL_R["Mar"])
    b12 = chain(ALL_B["Jan"], ALL_B["Feb"], ALL_B["Mar"])
    assert k["return_12m"].value == approx(r12)
    assert k["benchmark_return_12m"].value == approx(b12)
    assert k["excess_return_12m"].value == approx(r12 - b12)
    # 12 months to Feb 2024 start in March 2023, the first month of data: not computable
    assert k["return_12m"].previous is None
    monthly = [0.0] * 9 + [ALL_R["Jan"], ALL_R["Feb"], ALL_R["Mar"]]
    assert k["volatility_12m"].value == approx(statistics.stdev(monthly) * math.sqrt(12))


def test_volatility_needs_six_months():
    k = compute(DATA, "2023-07").kpis  # returns Apr, May, Jun, Jul 2023: only 4
    assert k["volatility_12m"].value is None
    k = compute(DATA, "2023-09").kpis  # 6 returns (all 0)
    assert k["volatility_12m"].value == approx(0.0)


# ---- service and digital ------------------------------------------------------------------
def test_service_kpis(march):
    k = march
    # March contacts: I01 I02 I03 I04 I05 I06 I09
    assert k["contacts"].value == 7
    assert k["avg_satisfaction"].value == approx((5 + 4 + 2 + 3 + 4 + 3) / 6)  # I05 unscored
    assert k["csat_pct"].value == approx(3 / 6)
    assert k["avg_handle_minutes"].value == approx((10 + 12 + 8 + 20 + 25 + 15 + 11) / 7)
    # first contacts: I01, I02, I04, I05 (I04 is 8 days before), I06; not I03 (I02 4 days
    # before), not I09 (I08 on Feb 27, 4 days before).
    # resolved on first contact: I01; I04 (I05 is 8 days later: outside). Not I02 (I03 4
    # days later), not I05 (partially resolved), not I06 (I07 exactly 7 days later, in April).
    assert k["fcr_rate"].value == approx(2 / 5)
    # issues: I04, I05 (Complaint), I06 (Technical Support), I09 (Transaction Issue)
    assert k["issues_per_1000"].value == approx(4 / 5 * 1000)
    # February: I08 only, a first contact followed by I09 within 7 days
    assert k["contacts"].previous == 1
    assert k["fcr_rate"].previous == approx(0.0)
    assert k["issues_per_1000"].previous == approx(1 / 5 * 1000)


def test_digital_kpis(march):
    k = march
    assert k["digital_active_users"].value == 4  # C1, C2, C3, C5
    assert k["digital_engagement_rate"].value == approx(4 / 5)
    assert k["mobile_adoption_rate"].value == approx(2 / 4)  # C1 phone, C3 tablet
    assert k["sessions"].value == 5
    assert k["avg_session_minutes"].value == approx((10 + 4 + 6 + 8 + 2) / 5)
    assert k["digital_active_users"].previous == 1


# ---- filters --------------------------------------------------------------------------------
def test_filtered_by_segment():
    k = compute(DATA, "2024-03", Filters.of(segment=["Affluent"])).kpis  # C1 and C4
    assert k["aum"].value == approx(1059 + 609 + 803.5)
    assert k["aum_open"].value == approx(1148 + 509)
    assert k["new_money"].value == approx(800)
    assert k["net_flows"].value == approx(800 + 91 - 48)
    assert k["investment_returns"].value == approx(-40 + 10 + 4)
    assert k["reconciliation_residual"].value == approx(0)
    assert k["active_customers"].value == 2
    assert k["retention_rate"].value == approx(1.0)  # A(Feb 29) = {C1}
    assert k["products_per_customer"].value == approx(3 / 2)
    assert k["avg_tenure_months"].value == approx(1.0)
    assert k["contacts"].value == 3  # I01–I03
    assert k["fcr_rate"].value == approx(1 / 2)
    assert k["issues_per_1000"].value == approx(0.0)
    assert k["digital_active_users"].value == 1
    assert k["mobile_adoption_rate"].value == approx(1.0)


def test_filtered_by_category_counts_customers_holding_it():
    k = compute(DATA, "2024-03", Filters.of(category=["Bond Fund"])).kpis  # P2 positions
    assert k["aum"].value == approx(10025 + 609 + 803.5)
    assert k["active_customers"].value == 3  # C1, C4, C6
    assert k["new_customers"].value == 1  # C4; C3 and C5 hold no Bond Fund
    assert k["return_period"].value == approx(-11 / 11004.5)


@pytest.mark.slow
def test_filters_partition_the_flows():
    total = compute(DATA, "2024-Q1").kpis
    parts = [
        compute(DATA, "2024-Q1", Filters.of(segment=[s])).kpis
        for s in ("Mass Market", "Affluent", "High Net Worth", "Ultra High Net Worth")
    ]
    for key in ("aum", "aum_open", "new_money", "contributions", "withdrawals", "fees"):
        assert sum(p[key].value for p in parts) == approx(total[key].value), key
    assert sum(p["active_customers"].value for p in parts) == total["active_customers"].value


# ---- periods ----------------------------------------------------------------------------------
def test_latest_is_the_last_month_with_balances():
    m = compute(DATA)
    assert m.period.spec == "2024-04"
    assert m.as_of.isoformat() == "2024-04-30"
    assert m.kpis["aum"].value == approx(10025 + 1068 + 614 + 3212 + 807 + 1400)
    assert compute(DATA, "previous").period.spec == "2024-03"


@pytest.mark.parametrize("period", ["2022-05", "2024-05", "2023-01..2023-06", "2025"])
def test_a_period_outside_the_data_names_the_months_with_data(period):
    with pytest.raises(DataError, match="2023-03 to 2024-04"):
        compute(DATA, period)


def test_a_period_that_cannot_be_read_is_refused():
    with pytest.raises(DataError, match="not understood"):
        compute(DATA, "March")
