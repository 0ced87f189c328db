"""Digital measures on a hand-made fixture (tests/fixtures/service_digital_tiny).

Period P = March 2024 (E = 2024-03-31). Active customers at E: C1, C2, C3, C4 (C5's only
position is Closed). Age bands at E: C1 30-44, C2 60+, C3 Under 30, C4 45-59, C5 30-44.

Sessions in P (engagement.csv; G07–G09 are earlier, G11 is in April):

  id  cust  device        action              minutes
  G01 C1    Desktop       Login               10
  G02 C1    Mobile Phone  View Balance         4
  G03 C2    Desktop       Login                6
  G04 C2    Desktop       Download Statement   8
  G05 C3    Tablet        Login                3
  G06 C5    Smart TV      Research Product    12
  G10 C4    Desktop       Update Profile       1

users C1 C2 C3 C4 C5 = 5; sessions 7; minutes 44 → 44/7; mobile users C1 (phone), C3
(tablet) → 2/5. Engagement rate 5 users / 4 active customers = 1.25: C5 used the app in P
but holds no open position at E — the definition as written (users in P over customers
active at E) lets the rate pass 1.
"""

from __future__ import annotations

from pathlib import Path

import ibis
import pandas as pd
import pytest

from finrep.config import load_config
from finrep.engine import connect, execute
from finrep.filters import Filters
from finrep.measures.context import MeasureContext
from finrep.measures.digital import (
    KPIS,
    digital_kpis,
    digital_kpis_many,
    digital_visuals,
    is_mobile_expr,
)
from finrep.pack import PAGE_LAYOUT
from finrep.period import parse_period
from finrep.schema import DEVICE_TYPES, SEGMENTS, is_mobile_device
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
    return {v.key: v for v in digital_visuals(march_ctx, MARCH, config)}


def test_kpis_by_hand(march_ctx):
    k = digital_kpis(march_ctx, MARCH, 4)
    assert k["digital_active_users"] == 5
    assert k["sessions"] == 7
    assert k["avg_session_minutes"] == pytest.approx(44 / 7)
    assert k["mobile_adoption_rate"] == pytest.approx(2 / 5)
    assert k["digital_engagement_rate"] == pytest.approx(5 / 4)
    assert set(k) == set(KPIS)
    assert set(PAGE_LAYOUT["digital"]["kpis"]) <= set(k)


def test_device_filter(tables, config):
    # Desktop sessions: G01 (C1) 10, G03 G04 (C2) 6 + 8, G10 (C4) 1.
    k = digital_kpis(make_ctx(tables, config, device=["Desktop"]), MARCH, 4)
    assert k == {
        "digital_active_users": 3,
        "digital_engagement_rate": pytest.approx(3 / 4),
        "mobile_adoption_rate": 0.0,
        "sessions": 4,
        "avg_session_minutes": pytest.approx(25 / 4),
    }


def test_segment_filter(tables, config):
    # Affluent = C1, C3 (both active at E): G01, G02, G05.
    k = digital_kpis(make_ctx(tables, config, segment=["Affluent"]), MARCH, 2)
    assert k["digital_active_users"] == 2
    assert k["digital_engagement_rate"] == pytest.approx(1.0)
    assert k["mobile_adoption_rate"] == pytest.approx(1.0)
    assert k["sessions"] == 3
    assert k["avg_session_minutes"] == pytest.approx(17 / 3)


def test_no_sessions_and_no_customers_give_none(tables, config, march_ctx):
    june = parse_period("2023-06")
    k = digital_kpis(make_ctx(tables, config, june), june, 5)
    assert k == {
        "digital_active_users": 0,
        "digital_engagement_rate": 0.0,
        "mobile_adoption_rate": None,
        "sessions": 0,
        "avg_session_minutes": None,
    }
    assert digital_kpis(march_ctx, MARCH, 0)["digital_engagement_rate"] is None
    assert digital_kpis(march_ctx, MARCH, None)["digital_engagement_rate"] is None
    visuals = digital_visuals(make_ctx(tables, config, june), june, config)
    assert [(v.key, v.kind) for v in visuals] == list(PAGE_LAYOUT["digital"]["visuals"])
    for v in visuals:
        if v.key != "engagement_vs_growth":
            assert v.data.empty and v.note, v.key


def test_mobile_rule_in_the_engine_matches_schema():
    devices = [
        "Mobile Phone",
        "Tablet",
        "Desktop",
        "Smart TV",
        "Voice Assistant",
        "Mobile Browser",
        "smart mobile",
        "Tablet PC",
        "MOBILE",
    ]
    t = ibis.memtable(pd.DataFrame({"device_type": devices}))
    got = execute(t.select("device_type", mobile=is_mobile_expr(t.device_type)))
    assert dict(zip(got["device_type"], got["mobile"], strict=True)) == {
        d: is_mobile_device(d) for d in devices
    }
    # Spelled out too, so the test does not only agree with schema.py:
    assert got["mobile"].tolist() == [True, True, False, False, False, True, True, False, True]


def test_visual_keys_kinds_and_metadata(march_visuals):
    assert [(v.key, v.kind) for v in march_visuals.values()] == list(
        PAGE_LAYOUT["digital"]["visuals"]
    )
    for v in march_visuals.values():
        assert v.title and v.caption and "\n" not in v.caption
        assert v.definitions
        assert set(v.units) <= set(v.data.columns)


def test_engagement_trend_and_duration_trend(march_visuals):
    # Engagement data starts in January 2024 (G09), so the 24-month window shows Jan–Mar.
    months = pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"])
    trend = march_visuals["engagement_trend"]
    assert pd.to_datetime(trend.data["x"]).tolist() == months.tolist()
    assert trend.data["mau"].tolist() == [1, 2, 5]  # C3 | C1 C4 | C1 C2 C3 C4 C5
    assert trend.data["sessions"].tolist() == [1, 2, 7]
    assert tuple(trend.options["secondary"]) == ("sessions",)
    duration = march_visuals["session_duration_trend"].data
    assert duration["mean"].tolist() == pytest.approx([2.0, 6.0, 44 / 7])
    # March minutes sorted: 1 3 4 6 8 10 12 → median 6; February 5, 7 → 6.
    assert duration["median"].tolist() == pytest.approx([2.0, 6.0, 6.0])


def test_device_distribution_and_actions(march_visuals):
    devices = march_visuals["device_distribution"].data
    assert list(zip(devices["label"], devices["value"], strict=True)) == [
        ("Desktop", 4),
        ("Mobile Phone", 1),
        ("Tablet", 1),
        ("Smart TV", 1),
    ]
    actions = march_visuals["digital_actions"].data
    assert list(zip(actions["label"], actions["value"], strict=True)) == [
        ("Login", 3),
        ("View Balance", 1),
        ("Download Statement", 1),
        ("Research Product", 1),
        ("Update Profile", 1),
    ]


def test_usage_by_age_and_device(march_visuals):
    v = march_visuals["usage_by_age_device"]
    expected = pd.DataFrame(
        {
            "x": ["Under 30", "30-44", "45-59", "60+"],
            "Desktop": [0, 1, 1, 2],
            "Mobile Phone": [0, 1, 0, 0],
            "Tablet": [1, 0, 0, 0],
            "Smart TV": [0, 1, 0, 0],
        }
    )
    pd.testing.assert_frame_equal(v.data, expected, check_dtype=False)
    assert v.options["orientation"] == "h"


def test_engagement_vs_growth(march_visuals):
    """Per state: x = sessions in P / active at E; y = AUM at E vs AUM at E−12 months.

    CA: C1 (G01 G02) + C4 (G10) = 3 sessions, 2 active; AUM 3,000 + 4,000 + 7,000 = 14,000
        (C1's 03-31 rows; the 03-15 row is superseded) vs 2,000 + 2,000 + 7,000 = 11,000.
    NY: C2 (G03 G04) + C5 (G06) = 3 sessions, 1 active (C2); AUM 2,000 vs 1,000 + 600.
    TX: C3 (G05) = 1 session, 1 active; AUM 1,000 vs 500.
    """
    v = march_visuals["engagement_vs_growth"]
    expected = pd.DataFrame(
        {
            "x": [3.0, 1.0, 1.5],
            "y": [400 / 1600, 500 / 500, 3000 / 11000],
            "group": ["Northeast", "South", "West"],
            "size": [1, 1, 2],
            "label": ["NY", "TX", "CA"],
        }
    )
    pd.testing.assert_frame_equal(v.data, expected, check_dtype=False)
    assert v.units["y"] == "return"
    assert v.note == ""


def test_many_periods_in_one_pass_equal_single_calls(march_ctx):
    periods = [MARCH, parse_period("2024-02"), parse_period("2024-Q1"), parse_period("2023-03")]
    actives = [4, 4, 4, None]
    ctx = march_ctx
    many = digital_kpis_many(ctx, periods, actives)
    assert many == [digital_kpis(ctx, p, a) for p, a in zip(periods, actives, strict=True)]
    # February: G07 (C1, Desktop, 5 min), G08 (C4, Voice Assistant, 7 min).
    assert many[1] == {
        "digital_active_users": 2,
        "digital_engagement_rate": 0.5,
        "mobile_adoption_rate": 0.0,
        "sessions": 2,
        "avg_session_minutes": 6.0,
    }
    # Q1: users C1..C5; mobile C1 (G02) and C3 (G05, G09); 10 sessions, 2 + 5 + 7 + 44 = 58 min.
    assert many[2]["digital_active_users"] == 5
    assert many[2]["mobile_adoption_rate"] == pytest.approx(2 / 5)
    assert many[2]["sessions"] == 10
    assert many[2]["avg_session_minutes"] == pytest.approx(5.8)
    assert many[3]["sessions"] == 0
    assert digital_kpis_many(ctx, [], []) == []


# ---- properties on generated data (tests/conftest.py: small_parquet) ----------------------
@pytest.fixture(scope="module")
def generated(small_parquet):
    return load_tables(connect(), small_parquet)


@pytest.mark.parametrize("spec", ["2024-12", "2024-Q2", "2023"])
def test_generated_rates_within_bounds_and_partitions(generated, config, spec):
    period = parse_period(spec)
    ctx = make_ctx(generated, config, period)
    active = int(execute(ctx.active_customers_at(period.end).count()))
    k = digital_kpis(ctx, period, active)
    assert k["sessions"] > 0
    for key in ("digital_engagement_rate", "mobile_adoption_rate"):
        assert 0.0 <= k[key] <= 1.0, key
    # Each customer has one segment: users and sessions partition by segment.
    parts = [
        digital_kpis(make_ctx(generated, config, period, segment=[s]), period, None)
        for s in SEGMENTS
    ]
    assert sum(p["digital_active_users"] for p in parts) == k["digital_active_users"]
    assert sum(p["sessions"] for p in parts) == k["sessions"]
    # Sessions (not users: one user may use several devices) partition by device.
    by_device = [
        digital_kpis(make_ctx(generated, config, period, device=[d]), period, None)["sessions"]
        for d in DEVICE_TYPES
    ]
    assert sum(by_device) == k["sessions"]


def test_generated_visuals_agree_with_kpis(generated, config):
    period = parse_period("2024-Q4")
    ctx = make_ctx(generated, config, period)
    active = int(execute(ctx.active_customers_at(period.end).count()))
    k = digital_kpis(ctx, period, active)
    v = {x.key: x for x in digital_visuals(ctx, period, config)}
    assert v["device_distribution"].data["value"].sum() == k["sessions"]
    assert v["digital_actions"].data["value"].sum() == k["sessions"]
    assert v["usage_by_age_device"].data.drop(columns="x").to_numpy().sum() == k["sessions"]
    trend = v["engagement_trend"].data
    assert len(trend) == config.report.trend_months
    assert trend["sessions"].iloc[-3:].sum() == k["sessions"]
    scatter = v["engagement_vs_growth"].data
    assert len(scatter) > 10 and scatter["size"].sum() <= active
    assert scatter[["x", "y"]].notna().all().all()
