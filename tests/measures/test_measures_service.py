"""Service measures on a hand-made fixture (tests/fixtures/service_digital_tiny).

Period P = March 2024 (E = 2024-03-31); previous period = February 2024.
Active customers at E: C1, C2, C3, C4 (C5's only position is Closed, last row 2024-01-31).

Contacts in P, with the flags worked out by hand from service_interactions.csv
(first = no earlier same-customer same-reason contact within 7 days before, by (date, id);
FCR = first and Resolved and no later such contact within 7 days after):

  id  cust date   channel    reason             status      score dur first res FCR  why
  S02 C1   03-04  Chat       Account Inquiry    Resolved    5     6   no    y   no   S01 on 02-27 (Phone, Feb) is 6 days before
  S03 C2   03-05  Phone      Fee Inquiry        Resolved    3     12  yes   y   no   S04 on 03-12 (Email) is exactly 7 days after
  S04 C2   03-12  Email      Fee Inquiry        Resolved    4     8   no    y   no   S03 exactly 7 days before
  S05 C2   03-20  Phone      Fee Inquiry        Resolved    5     9   yes   y   yes  S04 is 8 days before; nothing after
  S06 C3   03-10  Phone      Complaint          Unresolved  1     30  yes   n   no
  S07 C3   03-18  Phone      Complaint          Resolved    2     20  yes   y   yes  S06 8 days before, S08 10 days after
  S08 C3   03-28  Phone      Complaint          Resolved    -     15  yes   y   no   S09 on 04-03 (outside P) is 6 days after
  S10 C4   03-15  Web        Technical Support  Resolved    4     5   yes   y   no   S11 same day, larger id
  S11 C4   03-15  Web        Technical Support  Resolved    4     7   no    y   no   S10 same day, smaller id
  S12 C4   03-16  Mobile App Password Reset     Resolved    5     3   yes   y   yes  other reason than S10/S11
  S13 C1   03-20  In-person  Investment Advice  Partially   3.5   40  yes   n   no
  S14 C5   03-08  Phone      Transaction Issue  Unresolved  2     25  yes   n   no

contacts 12; scored 11, score sum 38.5 → avg 3.5; scores ≥ 4: S02 S04 S05 S10 S11 S12 → 6/11;
handle 180 / 12 = 15.0; first contacts 9, of which Resolved 6, FCR 3 → 1/3;
issues (Complaint, Technical Support, Transaction Issue): S06 S07 S08 S10 S11 S14 = 6 →
6 / 4 active × 1000 = 1500.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from finrep.config import load_config
from finrep.engine import connect, execute
from finrep.filters import Filters
from finrep.measures.context import MeasureContext
from finrep.measures.service import (
    KPIS,
    contact_cube,
    flagged_contacts,
    primary_category,
    service_kpis,
    service_kpis_many,
    service_visuals,
)
from finrep.pack import PAGE_LAYOUT
from finrep.period import parse_period
from finrep.schema import SEGMENTS, SERVICE_CHANNELS
from finrep.sources import load_tables

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "service_digital_tiny"
MARCH = parse_period("2024-03")


@pytest.fixture(scope="module")
def tables():
    return load_tables(connect(), FIXTURE)


@pytest.fixture(scope="module")
def config():
    return load_config()


def make_ctx(tables, config, period=MARCH, **filters) -> MeasureContext:
    return MeasureContext(tables, Filters.of(**filters), config, at=period.end)


@pytest.fixture(scope="module")
def march_ctx(tables, config):
    """The unfiltered March context, shared (its positions are materialised once)."""
    return make_ctx(tables, config)


@pytest.fixture(scope="module")
def march_visuals(march_ctx, config):
    return {v.key: v for v in service_visuals(march_ctx, MARCH, config)}


def visuals_by_key(tables, config, period=MARCH, **filters):
    ctx = make_ctx(tables, config, period, **filters)
    return {v.key: v for v in service_visuals(ctx, period, config)}


# ---- KPIs -------------------------------------------------------------------------------
def test_kpis_by_hand(march_ctx):
    k = service_kpis(march_ctx, MARCH, 4)
    assert k["contacts"] == 12
    assert k["avg_satisfaction"] == pytest.approx(3.5)
    assert k["csat_pct"] == pytest.approx(6 / 11)
    assert k["avg_handle_minutes"] == pytest.approx(15.0)
    assert k["fcr_rate"] == pytest.approx(1 / 3)
    assert k["issues_per_1000"] == pytest.approx(1500.0)
    assert set(k) == set(KPIS)
    assert set(PAGE_LAYOUT["service"]["kpis"]) <= set(k)


def test_first_contact_and_fcr_flags_per_contact(march_ctx):
    flags = execute(flagged_contacts(march_ctx, MARCH.start, MARCH.end))
    got = {
        r.interaction_id: (bool(r.is_first), bool(r.is_fcr)) for r in flags.itertuples(index=False)
    }
    assert got == {
        "S02": (False, False),  # repeat of S01, dated in February, on another channel
        "S03": (True, False),  # S04 exactly 7 days later counts as a repeat
        "S04": (False, False),
        "S05": (True, True),  # S04 is 8 days before: outside the window
        "S06": (True, False),  # Unresolved
        "S07": (True, True),
        "S08": (True, False),  # repeated by S09 in April, after the period
        "S10": (True, False),  # S11 on the same day has a larger id: later
        "S11": (False, False),
        "S12": (True, True),  # a different reason does not make a repeat
        "S13": (True, False),  # Partially Resolved is not resolved
        "S14": (True, False),
    }


def test_fcr_looks_across_channels(tables, config):
    """A channel filter chooses which contacts count, not which contacts are repeats."""
    chat = service_kpis(make_ctx(tables, config, channel=["Chat"]), MARCH, 4)
    # S02 only; it repeats S01 (Phone, February): no first contact at all.
    assert chat["contacts"] == 1
    assert chat["fcr_rate"] is None
    phone = service_kpis(make_ctx(tables, config, channel=["Phone"]), MARCH, 4)
    # S03 S05 S06 S07 S08 S14, all first contacts; FCR: S05, S07. S03 is repeated by S04
    # by e-mail (a phone-only look-ahead would have counted S03 as resolved: 3/6).
    assert phone["contacts"] == 6
    assert phone["fcr_rate"] == pytest.approx(2 / 6)
    assert phone["avg_handle_minutes"] == pytest.approx((12 + 9 + 30 + 20 + 15 + 25) / 6)


def test_filtered_run_segment_and_channel(tables, config):
    # Affluent = C1, C3; Phone contacts of theirs in March: S06, S07, S08 (C3).
    k = service_kpis(make_ctx(tables, config, segment=["Affluent"], channel=["Phone"]), MARCH, 2)
    assert k["contacts"] == 3
    assert k["avg_satisfaction"] == pytest.approx(1.5)  # (1 + 2) / 2, S08 unscored
    assert k["csat_pct"] == 0.0
    assert k["avg_handle_minutes"] == pytest.approx(65 / 3)
    assert k["fcr_rate"] == pytest.approx(1 / 3)
    assert k["issues_per_1000"] == pytest.approx(3 / 2 * 1000)


def test_empty_period_and_missing_customers_give_none_not_errors(tables, config, march_ctx):
    june = parse_period("2023-06")
    k = service_kpis(make_ctx(tables, config, june), june, 5)
    assert k == {
        "contacts": 0,
        "avg_satisfaction": None,
        "csat_pct": None,
        "avg_handle_minutes": None,
        "fcr_rate": None,
        "issues_per_1000": 0.0,
    }
    assert service_kpis(march_ctx, MARCH, 0)["issues_per_1000"] is None
    assert service_kpis(march_ctx, MARCH, None)["issues_per_1000"] is None
    visuals = visuals_by_key(tables, config, june)
    assert [v.key for v in visuals.values()] == [k for k, _ in PAGE_LAYOUT["service"]["visuals"]]
    for key in ("fcr_gauge", "resolution_funnel", "issues_by_segment_category"):
        assert visuals[key].data.empty and visuals[key].note


def test_partitions_add_up_to_the_total(tables, config):
    """Contacts, first contacts, resolved and FCR over every channel / segment = unfiltered."""
    columns = ["contacts", "first", "resolved_first", "fcr", "issues"]

    def counts(**filters):
        cube = contact_cube(make_ctx(tables, config, **filters), MARCH.start, MARCH.end)
        return cube[columns].sum().astype(int).tolist()

    total = counts()
    assert total == [12, 9, 6, 3, 6]
    for dimension, values in (("channel", SERVICE_CHANNELS), ("segment", SEGMENTS)):
        parts = [counts(**{dimension: [value]}) for value in values]
        assert [sum(col) for col in zip(*parts, strict=True)] == total


# ---- visuals ----------------------------------------------------------------------------
def test_visual_keys_kinds_and_metadata(config, march_ctx):
    visuals = service_visuals(march_ctx, MARCH, config)
    assert [(v.key, v.kind) for v in visuals] == list(PAGE_LAYOUT["service"]["visuals"])
    for v in visuals:
        assert v.title and v.caption and "\n" not in v.caption
        assert v.definitions
        assert set(v.units) <= set(v.data.columns)


def test_volume_by_channel(march_visuals):
    v = march_visuals["volume_by_channel"]
    # Service data starts in Dec 2023 (S16), so the 12-month window shows Dec–Mar.
    expected = pd.DataFrame(
        {
            "x": pd.to_datetime(["2023-12-01", "2024-01-01", "2024-02-01", "2024-03-01"]),
            "Phone": [0, 0, 1, 6],
            "In-person": [0, 0, 0, 1],
            "Email": [0, 0, 1, 1],
            "Chat": [1, 0, 0, 1],
            "Web": [0, 0, 0, 2],
            "Mobile App": [0, 0, 0, 1],
        }
    )
    got = v.data.copy()
    got["x"] = pd.to_datetime(got["x"])
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert v.options["orientation"] == "v"


def test_satisfaction_by_reason(march_visuals):
    data = march_visuals["satisfaction_by_reason"].data
    assert list(zip(data["label"], data["value"], strict=True)) == [
        ("Account Inquiry", 5.0),
        ("Password Reset", 5.0),
        ("Fee Inquiry", 4.0),  # (3 + 4 + 5) / 3
        ("Technical Support", 4.0),
        ("Investment Advice", 3.5),
        ("Transaction Issue", 2.0),
        ("Complaint", 1.5),  # (1 + 2) / 2; S08 has no score
    ]


def test_fcr_gauge_and_funnel(config, march_visuals):
    visuals = march_visuals
    gauge = visuals["fcr_gauge"].data
    assert gauge["value"].tolist() == pytest.approx([1 / 3])
    assert gauge["target"].tolist() == [config.measures.fcr_target]
    funnel = visuals["resolution_funnel"].data
    assert funnel["label"].tolist() == [
        "Contacts",
        "First contacts",
        "Resolved",
        "Resolved on first contact",
    ]
    assert funnel["value"].tolist() == [12, 9, 6, 3]


def test_issues_by_segment_and_primary_category(march_visuals):
    data = march_visuals["issues_by_segment_category"].data
    # C3 (Affluent, primary ETF) 3 complaints; C4 (HNW, primary Bond Fund) 2 technical;
    # C5 (Mass Market, no open position → None) 1 transaction issue.
    expected = pd.DataFrame(
        {
            "row": ["Mass Market", "Affluent", "High Net Worth"],
            "Bond Fund": [0, 0, 2],
            "ETF": [0, 3, 0],
            "None": [1, 0, 0],
        }
    )
    pd.testing.assert_frame_equal(data, expected, check_dtype=False)


def test_primary_category_uses_the_month_end_snapshot(march_ctx):
    ctx = march_ctx
    got = execute(primary_category(ctx, MARCH.end))
    got = dict(zip(got["customer_id"], got["category"], strict=True))
    # C1: Beta ETF 4,000 beats Alpha Bond 3,000 (its 03-31 row; the 03-15 row of 5,000 is
    # superseded). C5 has no open position at E.
    assert got == {"C1": "ETF", "C2": "Savings Account", "C3": "ETF", "C4": "Bond Fund"}


def test_top_contact_reasons(march_visuals):
    v = march_visuals["top_contact_reasons"]
    d = v.data.set_index("reason")
    assert d.index.tolist() == [
        "Complaint",
        "Fee Inquiry",
        "Technical Support",
        "Account Inquiry",
        "Investment Advice",
        "Password Reset",
        "Transaction Issue",
    ]
    assert d.loc["Complaint", "contacts"] == 3
    assert d.loc["Complaint", "share"] == pytest.approx(0.25)
    assert d.loc["Complaint", "avg_satisfaction"] == pytest.approx(1.5)
    assert d.loc["Complaint", "avg_handle_minutes"] == pytest.approx(65 / 3)
    assert d.loc["Complaint", "fcr_rate"] == pytest.approx(1 / 3)
    assert d.loc["Complaint", "change"] == 3
    assert pd.isna(d.loc["Complaint", "change_pct"])  # none in February
    assert d.loc["Fee Inquiry", "fcr_rate"] == pytest.approx(1 / 2)  # S05 of S03, S05
    assert d.loc["Fee Inquiry", "change"] == 2  # S15 in February
    assert d.loc["Fee Inquiry", "change_pct"] == pytest.approx(2.0)
    assert pd.isna(d.loc["Account Inquiry", "fcr_rate"])  # its only contact is a repeat
    assert d.loc["Account Inquiry", "change_pct"] == 0.0  # S01 in February
    assert d.loc["Technical Support", "fcr_rate"] == 0.0
    assert d["share"].sum() == pytest.approx(1.0)
    assert set(v.units) == set(v.data.columns)
    assert v.units["share"] == "pct" and v.units["avg_handle_minutes"] == "minutes"


def test_previous_period_comparison_kpis(tables, config):
    feb = parse_period("2024-02")
    k = service_kpis(make_ctx(tables, config, feb), feb, 4)
    # S01 (C1 Account Inquiry, repeated by S02 on 03-04 → not FCR) and S15 (C2 Fee Inquiry,
    # next is S03 on 03-05, 24 days later → FCR).
    assert k["contacts"] == 2
    assert k["fcr_rate"] == pytest.approx(1 / 2)
    assert k["avg_satisfaction"] == pytest.approx(4.0)
    assert k["issues_per_1000"] == 0.0
    assert date(2024, 2, 29) == feb.end


def test_many_periods_in_one_pass_equal_single_calls(march_ctx):
    periods = [MARCH, parse_period("2024-02"), parse_period("2023-03"), parse_period("2023-12")]
    actives = [4, 4, 5, None]
    ctx = march_ctx
    many = service_kpis_many(ctx, periods, actives)
    assert many == [service_kpis(ctx, p, a) for p, a in zip(periods, actives, strict=True)]
    assert many[0]["fcr_rate"] == pytest.approx(1 / 3)  # S01 (Feb) still seen as S02's repeat
    assert many[1]["contacts"] == 2 and many[1]["fcr_rate"] == pytest.approx(1 / 2)
    assert many[2]["contacts"] == 0
    assert many[3]["contacts"] == 1 and many[3]["fcr_rate"] == 1.0  # S16 alone
    assert service_kpis_many(ctx, [], []) == []


# ---- properties on generated data (tests/conftest.py: small_parquet) ----------------------
@pytest.fixture(scope="module")
def generated(small_parquet):
    return load_tables(connect(), small_parquet)


@pytest.mark.parametrize("spec", ["2024-12", "2024-Q2", "2023"])
def test_generated_rates_within_bounds_and_partitions(generated, config, spec):
    period = parse_period(spec)
    ctx = make_ctx(generated, config, period)
    active = int(execute(ctx.active_customers_at(period.end).count()))
    k = service_kpis(ctx, period, active)
    assert k["contacts"] > 0
    for key in ("csat_pct", "fcr_rate"):
        assert 0.0 <= k[key] <= 1.0, key
    assert 1.0 <= k["avg_satisfaction"] <= 5.0
    assert k["avg_handle_minutes"] > 0 and k["issues_per_1000"] >= 0

    columns = ["contacts", "first", "resolved_first", "fcr", "issues"]

    def counts(**filters):
        cube = contact_cube(
            make_ctx(generated, config, period, **filters), period.start, period.end
        )
        return cube[columns].sum().astype(int).tolist()

    total = counts()
    assert total[0] == k["contacts"]
    for dimension, values in (("segment", SEGMENTS), ("channel", SERVICE_CHANNELS)):
        parts = [counts(**{dimension: [v]}) for v in values]
        assert [sum(col) for col in zip(*parts, strict=True)] == total, dimension


def test_generated_fcr_is_realistic(generated, config):
    """The generator aims first-contact resolution at 65–80%; the measure must find it."""
    period = parse_period("2021-01..2024-12")
    fcr = service_kpis(make_ctx(generated, config, period), period, None)["fcr_rate"]
    assert 0.65 <= fcr <= 0.80


def test_generated_visuals_agree_with_kpis(generated, config):
    period = parse_period("2024-12")
    ctx = make_ctx(generated, config, period)
    active = int(execute(ctx.active_customers_at(period.end).count()))
    k = service_kpis(ctx, period, active)
    v = {x.key: x for x in service_visuals(ctx, period, config)}
    volume = v["volume_by_channel"].data
    assert len(volume) == 12
    assert int(volume.iloc[-1, 1:].sum()) == k["contacts"]
    funnel = v["resolution_funnel"].data["value"].tolist()
    assert funnel[0] == k["contacts"] and funnel == sorted(funnel, reverse=True)
    assert funnel[3] / funnel[1] == pytest.approx(k["fcr_rate"])
    assert v["fcr_gauge"].data["value"].iloc[0] == pytest.approx(k["fcr_rate"])
    issues = v["issues_by_segment_category"].data.drop(columns="row").to_numpy().sum()
    assert issues == pytest.approx(k["issues_per_1000"] * active / 1000)
    table = v["top_contact_reasons"].data
    assert table["contacts"].sum() == k["contacts"]
    assert table["share"].sum() == pytest.approx(1.0)
