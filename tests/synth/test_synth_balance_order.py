"""Row order of generated account_balances: position by position, months ascending.

Readers rely on it (validate checks consecutive rows of a position in file order), so it is
checked on the files, independently of the generator, across several chunks of customers.
"""

from __future__ import annotations

import pandas as pd
import pytest

import finrep.synth as synth


@pytest.fixture(scope="module")
def balances(tmp_path_factory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("order")
    with pytest.MonkeyPatch.context() as mp:
        # 250 customers in chunks of 60: five chunks, built ahead by the builder thread.
        mp.setattr(synth, "chunk_size", lambda n_months: 60)
        synth.generate(out, customers=250, start="2023-01", end="2024-12", seed=11)
    return pd.read_csv(out / "account_balances.csv", dtype=str, keep_default_na=False)


def test_each_position_is_one_run_of_rows(balances):
    pair = balances["customer_id"] + "/" + balances["product_id"]
    run_starts = pair != pair.shift()
    # As many runs as positions: no position's rows are split.
    assert run_starts.sum() == pair.nunique()
    assert pair.nunique() > 250  # several customers hold more than one product


def test_dates_ascend_within_a_position_one_row_per_month(balances):
    b = balances.assign(date=pd.to_datetime(balances["date"], format="%Y-%m-%d"))
    same = (b["customer_id"] == b["customer_id"].shift()) & (
        b["product_id"] == b["product_id"].shift()
    )
    step = b["date"].dt.to_period("M").astype("int64").diff()
    assert (step[same] == 1).all()
    assert (b["date"][same] > b["date"].shift()[same]).all()


def test_positions_follow_customers_then_open_date_then_product(balances):
    b = balances.assign(date=pd.to_datetime(balances["date"], format="%Y-%m-%d"))
    pair = b["customer_id"] + "/" + b["product_id"]
    firsts = b[pair != pair.shift()][["customer_id", "date", "product_id"]]
    ordered = firsts.sort_values(["customer_id", "date", "product_id"], kind="stable")
    assert list(firsts.index) == list(ordered.index)
    # Balance ids are numbered in file order.
    ids = balances["balance_id"].str[3:].astype(int)
    assert (ids.diff().dropna() == 1).all()
