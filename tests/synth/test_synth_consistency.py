"""Exact consistency rules of generated data (issue 2, "Consistency"), checked independently
with pandas on the CSV files of the session's `small_data` folder."""

from __future__ import annotations

import pandas as pd
import pytest

from finrep.schema import TABLES

END = pd.Timestamp("2024-12-31")
START = pd.Timestamp("2021-01-01")
MONEY = ["balance", "contributions_mtd", "withdrawals_mtd", "investment_returns_mtd", "fees_mtd"]


def cents(series: pd.Series) -> pd.Series:
    """ "1234.50" → 123450 exactly (money is written with exactly two decimals)."""
    return series.str.replace(".", "", regex=False).astype("int64")


@pytest.fixture(scope="module")
def t(small_data):
    tables = {
        name: pd.read_csv(small_data / f"{name}.csv", dtype=str, keep_default_na=False)
        for name in TABLES
    }
    for name, spec in TABLES.items():
        for col in spec.columns:
            if col.dtype == "date":
                tables[name][col.name] = pd.to_datetime(tables[name][col.name], format="%Y-%m-%d")
    return tables


@pytest.fixture(scope="module")
def bal(t):
    b = t["account_balances"].copy()
    for col in MONEY:
        b[col] = cents(b[col])
    e = t["enrollments"][["customer_id", "product_id", "enrollment_date", "initial_investment",
                          "status"]].copy()  # fmt: skip
    e["initial"] = cents(e["initial_investment"])
    b = b.merge(e, on=["customer_id", "product_id"], how="left", validate="many_to_one")
    b = b.sort_values(["customer_id", "product_id", "date"]).reset_index(drop=True)
    b["month"] = b["date"].dt.to_period("M")
    # The balance each row starts from: the previous row's, or the initial investment.
    prev = b.groupby(["customer_id", "product_id"])["balance"].shift()
    b["prev"] = prev.where(prev.notna(), b["initial"]).astype("int64")
    return b


def test_primary_keys_are_unique(t):
    for name, spec in TABLES.items():
        key = list(spec.primary_key)
        assert not t[name].duplicated(key).any(), name
        assert (t[name][key].astype(str) != "").all().all(), name


def test_foreign_keys_resolve(t):
    for name, spec in TABLES.items():
        for fk in spec.foreign_keys:
            left = t[name][list(fk.columns)]
            if fk.columns == ("advisor_id",):
                left = left[left["advisor_id"] != ""]
            right = t[fk.table][list(fk.ref_columns)].drop_duplicates()
            right.columns = list(fk.columns)
            merged = left.merge(right, how="left", indicator=True)
            assert (merged["_merge"] == "both").all(), (name, fk)


def test_enum_columns_stay_in_their_domains(t):
    for name, spec in TABLES.items():
        for col in spec.columns:
            values = set(t[name][col.name])
            if col.nullable:
                values.discard("")
            if col.enum:
                assert values <= set(col.enum), (name, col.name, values - set(col.enum))


def test_one_position_per_enrollment(t):
    e = t["enrollments"]
    assert not e.duplicated(["customer_id", "product_id"]).any()


def test_balance_identity_to_the_cent_for_every_position(bal):
    first = bal.groupby(["customer_id", "product_id"]).cumcount() == 0
    prev = bal["prev"]
    flows = (bal["contributions_mtd"] - bal["withdrawals_mtd"] + bal["investment_returns_mtd"]
             - bal["fees_mtd"])  # fmt: skip
    broken = bal[prev + flows != bal["balance"]]
    assert broken.empty, broken.head()
    assert first.sum() == len(bal.groupby(["customer_id", "product_id"]))
    assert (bal[MONEY].drop(columns="investment_returns_mtd") >= 0).all().all()


def test_one_row_per_month_from_enrollment_to_end_or_close(bal, t):
    g = bal.groupby(["customer_id", "product_id"])
    assert not bal.duplicated(["customer_id", "product_id", "month"]).any()
    per = g.agg(first=("month", "min"), last=("month", "max"), n=("month", "size"),
                enrolled=("enrollment_date", "first"), status=("status", "first"))  # fmt: skip
    # No gaps: as many rows as months between first and last.
    span = (per["last"] - per["first"]).apply(lambda x: x.n) + 1
    assert (per["n"] == span).all()
    assert (per["first"] == per["enrolled"].dt.to_period("M")).all()
    open_ = per[per["status"] == "Active"]
    assert (open_["last"] == pd.Period("2024-12", "M")).all()
    # Every enrollment has balance rows.
    assert len(per) == len(t["enrollments"])


def test_row_dates_enrollment_day_then_month_ends(bal):
    first = bal.groupby(["customer_id", "product_id"]).cumcount() == 0
    assert (bal.loc[first, "date"] == bal.loc[first, "enrollment_date"]).all()
    later = bal[~first & (bal["status"] == "Active")]
    assert (later["date"] == later["date"] + pd.offsets.MonthEnd(0)).all()
    assert bal["date"].min() >= START and bal["date"].max() <= END


def test_closed_positions_withdraw_everything_on_the_churn_day(bal, t):
    r = t["retention"]
    lost = r[r["recovered_flag"] == "No"]
    assert not lost.duplicated(["customer_id", "product_id"]).any()
    closed = t["enrollments"][t["enrollments"]["status"] == "Closed"]
    assert set(zip(closed.customer_id, closed.product_id, strict=True)) == set(
        zip(lost.customer_id, lost.product_id, strict=True)
    )
    assert len(closed) > 0
    last = bal.groupby(["customer_id", "product_id"]).tail(1)
    last = last.merge(lost, on=["customer_id", "product_id"])
    assert len(last) == len(lost)
    assert (last["balance"] == 0).all()
    assert (last["date"] == last["churn_date"]).all()
    # The close month's withdrawal is everything left after returns and fees.
    assert (last["withdrawals_mtd"] == last["prev"] + last["investment_returns_mtd"]
            - last["fees_mtd"]).all()  # fmt: skip
    assert (last["contributions_mtd"] == 0).all()
    # No churn event after a position closed.
    later = r.merge(lost[["customer_id", "product_id", "churn_date"]],
                    on=["customer_id", "product_id"], suffixes=("", "_close"))  # fmt: skip
    assert (later["churn_date"] <= later["churn_date_close"]).all()


def test_recovered_churns_leave_the_position_open(bal, t):
    r = t["retention"]
    saved = r[r["recovered_flag"] == "Yes"]
    assert len(saved) > 0
    lost_pairs = set(zip(*(r[r["recovered_flag"] == "No"][c] for c in ("customer_id", "product_id")),
                         strict=True))  # fmt: skip
    status = t["enrollments"].set_index(["customer_id", "product_id"])["status"]
    last_date = bal.groupby(["customer_id", "product_id"])["date"].max()
    for row in saved.itertuples():
        key = (row.customer_id, row.product_id)
        if key in lost_pairs:
            continue  # recovered once, lost later
        assert status[key] == "Active"
        assert last_date[key] == END


def test_lifetime_value_is_fees_paid_up_to_the_churn_date(bal, t):
    r = t["retention"]
    for row in r.itertuples():
        rows = bal[(bal["customer_id"] == row.customer_id) & (bal["product_id"] == row.product_id)]
        paid = rows.loc[rows["date"] <= row.churn_date, "fees_mtd"].sum()
        assert cents(pd.Series([row.total_customer_lifetime_value])).iloc[0] == paid, row


def test_churn_dates_fall_inside_the_position_life(bal, t):
    r = t["retention"].merge(t["enrollments"], on=["customer_id", "product_id"])
    assert (r["churn_date"] > r["enrollment_date"]).all()
    assert (r["churn_date"].dt.to_period("M") > r["enrollment_date"].dt.to_period("M")).all()
    assert (r["churn_date"] <= END).all()


def test_enrollment_dates_follow_customers_and_product_launches(t):
    e = (
        t["enrollments"]
        .merge(
            t["customers"][["customer_id", "enrollment_date"]],
            on="customer_id",
            suffixes=("", "_c"),
        )
        .merge(t["products"][["product_id", "launch_date"]], on="product_id")
    )
    assert (e["enrollment_date"] >= e["enrollment_date_c"]).all()
    assert (e["enrollment_date"] >= e["launch_date"]).all()
    first = t["enrollments"].groupby("customer_id")["enrollment_date"].min()
    c = t["customers"].set_index("customer_id")["enrollment_date"]
    assert first.reindex(c.index).equals(c)
    assert e["enrollment_date"].between(START, END).all()


@pytest.mark.parametrize("table", ["service_interactions", "engagement"])
def test_activity_between_enrollment_and_end(t, table):
    x = t[table].merge(t["customers"][["customer_id", "enrollment_date"]], on="customer_id")
    assert len(x) == len(t[table]) > 0
    assert (x["date"] >= x["enrollment_date"]).all()
    assert (x["date"] <= END).all()


def test_clients_count_is_distinct_customers_assigned(t):
    e = t["enrollments"]
    expected = e[e["advisor_id"] != ""].groupby("advisor_id")["customer_id"].nunique()
    a = t["advisors"].set_index("advisor_id")["clients_count"].astype(int)
    assert a.sum() > 0
    assert (a == expected.reindex(a.index).fillna(0).astype(int)).all()
    # No clients, no satisfaction average.
    sat = t["advisors"].set_index("advisor_id")["customer_satisfaction_avg"]
    assert ((sat == "") == (a == 0)).all()


def test_ages_between_18_and_90_throughout(t):
    c = t["customers"]
    age_at_join = (c["enrollment_date"] - c["birth_date"]).dt.days / 365.2425
    age_at_end = (END - c["birth_date"]).dt.days / 365.2425
    assert age_at_join.min() >= 18 and age_at_end.max() < 91


def test_market_data_covers_the_window_on_business_days(t):
    m = t["market_data"]
    assert m["date"].is_monotonic_increasing and not m["date"].duplicated().any()
    assert (m["date"].dt.day_of_week < 5).all()
    assert m["date"].min() <= START + pd.Timedelta(days=4)
    assert m["date"].max() >= END - pd.Timedelta(days=4)
    assert "2021-12-25" not in set(m["date"].dt.strftime("%Y-%m-%d"))  # a holiday
    assert len(m) > 240 * 4


def test_engagement_counts_are_consistent(t):
    g = t["engagement"]
    pages = g["pages_viewed"].astype(int)
    actions = g["actions_taken"].astype(int)
    assert (pages >= 1).all() and (actions >= 0).all() and (actions <= pages).all()
    assert (g["session_duration"].astype(float) > 0).all()


def test_service_scores_in_range_and_some_blank(t):
    s = t["service_interactions"]
    blank = s["satisfaction_score"] == ""
    assert 0.05 < blank.mean() < 0.5
    scores = s.loc[~blank, "satisfaction_score"].astype(float)
    assert scores.between(1, 5).all()
    assert (s["duration_minutes"].astype(float) > 0).all()
