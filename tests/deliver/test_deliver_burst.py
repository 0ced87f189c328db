"""Bursting: the values come from the data under the other filters; one pack per value."""

import pandas as pd
import pytest

from finrep import engine
from finrep.config import load_config
from finrep.deliver.burst import burst_values
from finrep.errors import ConfigError
from finrep.filters import Filters
from finrep.period import parse_period
from finrep.schema import REGION_STATES
from finrep.sources import load_tables

CONFIG = load_config()
PERIOD = parse_period("2024-11")


@pytest.fixture(scope="module")
def tables(small_data):
    return load_tables(engine.connect(CONFIG), small_data)


@pytest.fixture(scope="module")
def raw(small_data):
    """The CSV files read independently (pandas), to compute expected values."""
    return {
        name: pd.read_csv(small_data / f"{name}.csv", dtype=str)
        for name in ("customers", "enrollments", "products")
    }


def test_segments_states_regions(tables, raw):
    c = raw["customers"]
    assert burst_values(tables, "segment", Filters(), CONFIG, PERIOD) == sorted(
        c.customer_segment.unique()
    )
    states = sorted(c.address_state.unique())
    assert burst_values(tables, "state", Filters(), CONFIG, PERIOD) == states
    regions = sorted({r for r, sts in REGION_STATES.items() if set(sts) & set(states)})
    assert burst_values(tables, "region", Filters(), CONFIG, PERIOD) == regions


def test_values_respect_the_other_filters(tables, raw):
    c = raw["customers"]
    west = sorted(set(c.address_state) & set(REGION_STATES["West"]))
    assert burst_values(tables, "state", Filters.of(region=["West"]), CONFIG, PERIOD) == west

    uhnw = c[c.customer_segment == "Ultra High Net Worth"].customer_id
    e = raw["enrollments"]
    advisors = sorted(e[e.customer_id.isin(uhnw)].advisor_id.dropna().unique())
    got = burst_values(
        tables, "advisor", Filters.of(segment=["Ultra High Net Worth"]), CONFIG, PERIOD
    )
    assert got == advisors and len(got) < e.advisor_id.nunique()


def test_categories_are_those_held(tables, raw):
    e, p = raw["enrollments"], raw["products"]
    held = sorted(p[p.product_id.isin(e.product_id)].product_category.unique())
    assert burst_values(tables, "category", Filters(), CONFIG, PERIOD) == held


def test_unknown_burst_key(tables):
    with pytest.raises(ConfigError, match="cannot burst by 'colour'"):
        burst_values(tables, "colour", Filters(), CONFIG, PERIOD)
