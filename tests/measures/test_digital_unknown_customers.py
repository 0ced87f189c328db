"""Sessions whose customer is not in customers.csv (or is blank) count nowhere: not in the
sessions, not in the users, not in the device mix. The digital pass reads the engagement
table without checking every row's customer first and narrows after grouping, so this is
checked on the hand-made fixture of test_measures_digital.py plus three such sessions in
March 2024 (expected values as worked out there: 5 users, 7 sessions, 44 minutes, 2 mobile
users; device mix Desktop 4, Mobile Phone 1, Tablet 1, Smart TV 1)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from finrep.config import load_config
from finrep.engine import connect
from finrep.filters import Filters
from finrep.measures.context import MeasureContext
from finrep.measures.digital import digital_kpis, digital_visuals
from finrep.period import parse_period
from finrep.sources import load_tables

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "service_digital_tiny"
MARCH = parse_period("2024-03")
EXTRA = [
    "G90,C99,2024-03-10,Login,Mobile Phone,100,1,1",  # no such customer
    "G91,,2024-03-11,Login,Mobile Phone,100,1,1",  # blank customer
    "G92,C98,2024-03-12,Login,Tablet,50,1,1",
]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    shutil.copytree(FIXTURE, data, dirs_exist_ok=True)
    with (data / "engagement.csv").open("a") as fh:
        fh.write("\n".join(EXTRA) + "\n")
    tables = load_tables(connect(), data)
    return MeasureContext(tables, Filters(), load_config(), at=MARCH.end)


def test_unknown_customers_count_nowhere(ctx):
    k = digital_kpis(ctx, MARCH, 4)
    assert k["digital_active_users"] == 5
    assert k["sessions"] == 7
    assert k["avg_session_minutes"] == pytest.approx(44 / 7)
    assert k["mobile_adoption_rate"] == pytest.approx(2 / 5)
    assert k["digital_engagement_rate"] == pytest.approx(5 / 4)


def test_unknown_customers_not_in_the_device_mix(ctx):
    visuals = {v.key: v for v in digital_visuals(ctx, MARCH, load_config())}
    devices = visuals["device_distribution"].data
    assert dict(zip(devices["label"], devices["value"], strict=True)) == {
        "Desktop": 4,
        "Mobile Phone": 1,
        "Tablet": 1,
        "Smart TV": 1,
    }
