"""Distribution sanity: the patterns a dashboard built on generated data should reveal
(issue 2, "Realism"). One 2,000-customer dataset, 2020-01..2024-12, read with pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finrep.schema import SEGMENTS, TABLES
from finrep.synth import generate

DIGITAL = {"Email", "Chat", "Web", "Mobile App"}


@pytest.fixture(scope="module")
def t(tmp_path_factory):
    out = tmp_path_factory.mktemp("realism")
    generate(out, customers=2000, start="2020-01", end="2024-12", seed=11)
    tables = {
        name: pd.read_csv(out / f"{name}.csv", dtype=str, keep_default_na=False) for name in TABLES
    }
    for name, spec in TABLES.items():
        for col in spec.columns:
            if col.dtype == "date":
                tables[name][col.name] = pd.to_datetime(tables[name][col.name])
            elif col.dtype in ("float64", "int64"):
                tables[name][col.name] = pd.to_numeric(tables[name][col.name])
    return tables


def fcr_rate(s: pd.DataFrame) -> float:
    """MEASURES.md `fcr_rate`, written out independently: first contacts (no same-reason
    contact by the customer in the 7 days before) that are Resolved with no same-reason
    contact in the 7 days after. Order: (date, interaction_id)."""
    s = s.sort_values(["date", "interaction_id"])
    first = resolved = 0
    for _, grp in s.groupby(["customer_id", "reason_code"]):
        dates = grp["date"].tolist()
        status = grp["resolution_status"].tolist()
        for i, d in enumerate(dates):
            before = any(dates[j] >= d - pd.Timedelta(days=7) for j in range(i))
            after = any(dates[j] <= d + pd.Timedelta(days=7) for j in range(i + 1, len(dates)))
            if not before:
                first += 1
                resolved += status[i] == "Resolved" and not after
    return resolved / first


def test_segment_mix_within_tolerance(t):
    share = t["customers"]["customer_segment"].value_counts(normalize=True)
    expected = dict(zip(SEGMENTS, (0.56, 0.28, 0.12, 0.04), strict=True))
    for segment, p in expected.items():
        assert abs(share[segment] - p) < 0.03, (segment, share[segment])


def test_segments_drive_balances_products_and_advisor_seniority(t):
    c = t["customers"].set_index("customer_id")["customer_segment"]
    e = t["enrollments"].assign(segment=lambda x: x["customer_id"].map(c))
    median_initial = e.groupby("segment")["initial_investment"].median()[list(SEGMENTS)]
    assert (
        median_initial.is_monotonic_increasing
        and median_initial.iloc[-1] > 50 * median_initial.iloc[0]
    )
    per_customer = e.groupby(["segment", "customer_id"]).size().groupby("segment").mean()
    assert per_customer[list(SEGMENTS)].is_monotonic_increasing
    levels = ["Junior", "Associate", "Senior", "Expert", "Master"]
    a = t["advisors"].set_index("advisor_id")["certification_level"].map(levels.index)
    seniority = e[e["advisor_id"] != ""].assign(level=lambda x: x["advisor_id"].map(a))
    assert seniority.groupby("segment")["level"].mean()[list(SEGMENTS)].is_monotonic_increasing


def test_acquisition_grows_year_on_year(t):
    per_year = t["customers"]["enrollment_date"].dt.year.value_counts().sort_index()
    assert list(per_year.index) == [2020, 2021, 2022, 2023, 2024]
    assert per_year.is_monotonic_increasing
    assert per_year[2024] > 1.6 * per_year[2020]


def test_states_weighted_by_population(t):
    states = t["customers"]["address_state"].value_counts()
    assert states.index[0] == "CA"
    assert states.get("CA", 0) > 10 * states.get("WY", 0)


def test_products_catalogue(t):
    p = t["products"]
    assert 12 <= len(p) <= 20
    assert p["product_category"].nunique() == 9
    assert p["risk_level"].nunique() == 5
    order = ["Low", "Medium-Low", "Medium", "Medium-High", "High"]
    fee_by_risk = p.groupby("risk_level")["annual_fee_percentage"].mean()[order]
    assert fee_by_risk.is_monotonic_increasing


def test_high_risk_products_track_the_market_more_than_low_risk(t):
    m = t["market_data"].set_index("date")["sp500_index"].resample("ME").last()
    market = m.pct_change()
    b = t["account_balances"].merge(t["products"][["product_id", "risk_level"]], on="product_id")
    b["month"] = b["date"] + pd.offsets.MonthEnd(0)
    b["opening"] = b.groupby(["customer_id", "product_id"])["balance"].shift()
    b = b[b["opening"] > 0]
    monthly = b.groupby(["risk_level", "month"]).agg(r=("investment_returns_mtd", "sum"),
                                                     base=("opening", "sum"))  # fmt: skip
    ret = (monthly["r"] / monthly["base"]).unstack(0)
    corr = ret.corrwith(market.reindex(ret.index))
    assert corr["High"] > 0.9 and corr["High"] > corr["Low"] + 0.3


def test_contributions_peak_in_q4_and_withdrawals_likelier_past_60(t):
    b = t["account_balances"]
    later = b[b.groupby(["customer_id", "product_id"]).cumcount() > 0]
    by_month = later.groupby(later["date"].dt.month)["contributions_mtd"].mean()
    assert by_month[12] > 1.2 * by_month[[1, 2, 3, 4, 5, 6, 7, 8, 9]].mean()
    birth = t["customers"].set_index("customer_id")["birth_date"]
    age = (later["date"] - later["customer_id"].map(birth)).dt.days / 365.2425
    takes = later["withdrawals_mtd"] > 0
    assert takes[age >= 60].mean() > 2 * takes[age < 60].mean()


def test_market_has_a_drawdown_and_plausible_rates(t):
    m = t["market_data"]
    sp = m["sp500_index"]
    assert (1 - sp / sp.cummax()).max() > 0.15
    log_eq = np.diff(np.log(sp))
    log_bd = np.diff(np.log(m["bond_index"]))
    assert -0.6 < np.corrcoef(log_eq, log_bd)[0, 1] < -0.05
    vol = log_eq.std() * np.sqrt(252)
    assert 0.08 < vol < 0.35
    assert m["inflation_rate"].between(0, 10).all()
    assert m["unemployment_rate"].between(2.5, 15).all()
    prime = m["prime_rate"]
    assert ((prime * 4).round(6) % 1 == 0).all()  # steps of a quarter point
    assert prime.nunique() > 3


def test_digital_share_of_service_rises_year_on_year(t):
    s = t["service_interactions"]
    share = s.groupby(s["date"].dt.year)["channel"].apply(lambda x: x.isin(DIGITAL).mean())
    assert share.is_monotonic_increasing and share.iloc[-1] - share.iloc[0] > 0.1


def test_first_contact_resolution_lands_between_65_and_80_percent(t):
    fcr = fcr_rate(t["service_interactions"])
    assert 0.65 <= fcr <= 0.80, fcr


def test_satisfaction_depends_on_reason_and_resolution(t):
    s = t["service_interactions"].dropna(subset=["satisfaction_score"])
    by_status = s.groupby("resolution_status")["satisfaction_score"].mean()
    assert by_status["Resolved"] > by_status["Partially Resolved"] > by_status["Unresolved"]
    by_reason = s.groupby("reason_code")["satisfaction_score"].mean()
    assert by_reason.idxmin() == "Complaint"


def test_contact_volume_rises_after_market_drops(t):
    m = t["market_data"].set_index("date")["sp500_index"].resample("ME").last()
    worst = m.pct_change().idxmin()
    s = t["service_interactions"]
    month = s["date"] + pd.offsets.MonthEnd(0)
    customers = t["customers"]["enrollment_date"] + pd.offsets.MonthEnd(0)
    per_month = month.value_counts().sort_index()
    joined = customers.value_counts().sort_index().cumsum().reindex(per_month.index).ffill()
    rate = per_month / joined
    after = rate[worst : worst + pd.offsets.MonthEnd(1)].mean()
    assert after > 1.2 * rate.median()


def test_digital_adoption_grows_along_an_s_curve(t):
    g = t["engagement"]
    users = g.groupby(g["date"].dt.year)["customer_id"].nunique()
    c = t["customers"]
    customers = c.groupby(c["enrollment_date"].dt.year).size().cumsum()
    rate = users / customers
    assert rate.is_monotonic_increasing and rate.iloc[-1] > 2 * rate.iloc[0]


def test_devices_depend_on_age_and_pages_follow_session_length(t):
    g = t["engagement"].merge(t["customers"][["customer_id", "birth_date"]], on="customer_id")
    age = (g["date"] - g["birth_date"]).dt.days / 365.2425
    mobile = g["device_type"].isin(["Mobile Phone", "Tablet"])
    assert mobile[age < 30].mean() > mobile[age >= 60].mean() + 0.15
    assert np.corrcoef(g["session_duration"], g["pages_viewed"])[0, 1] > 0.5
    d = g["session_duration"]
    assert d.mean() > d.median()  # right-skewed (log-normal)
    assert abs(np.log(d).skew()) < 0.5


def test_churn_reasons_reflect_their_cause(t):
    r = t["retention"]
    s = t["service_interactions"]
    issue = s["reason_code"].isin(["Complaint", "Technical Support", "Transaction Issue"])
    bad = s[issue & (s["resolution_status"] != "Resolved")]
    pairs = r.merge(bad[["customer_id", "date"]], on="customer_id", how="left")
    window = (pairs["date"] < pairs["churn_date"]) & (
        pairs["date"] >= pairs["churn_date"] - pd.Timedelta(days=120)
    )
    had = pairs[window].groupby(["customer_id", "product_id", "churn_date"]).size() > 0
    r = r.set_index(["customer_id", "product_id", "churn_date"])
    r["complained"] = had.reindex(r.index).fillna(False).astype(bool)
    service = r[r["churn_reason"] == "Service Issue"]["complained"].mean()
    other = r[r["churn_reason"] != "Service Issue"]["complained"].mean()
    assert service > 0.9 and other < 0.4, (service, other)
    p = t["products"].set_index("product_id")["annual_fee_percentage"]
    fee = r.reset_index()["product_id"].map(p)
    reason = r.reset_index()["churn_reason"]
    assert fee[reason == "Fee Concerns"].mean() > fee[reason != "Fee Concerns"].mean()
    assert set(r["churn_reason"]) >= {"Fee Concerns", "Service Issue", "Poor Performance"}
    assert 0.15 < (r["recovered_flag"] == "Yes").mean() < 0.5
