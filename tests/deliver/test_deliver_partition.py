"""A burst computes each value on its own part of the data (finrep.deliver.partition): every
KPI, visual, reconciliation and workbook table of each value's pack must equal `build_pack`
with that value's filter on the whole data.

The data is the small generated set, skewed so that a part differs from the whole where it
matters: the smallest segment and the smallest category have no balance rows in the latest
month (a part's own dates would move the as-of date and `latest`), and rows of a customer
who does not exist (orphans) hold the latest balances and the first service and engagement
dates, and the smallest segment's service and engagement rows start inside the trend window
(a part's own first dates would cut the service and digital trends short).
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from finrep import engine
from finrep.config import load_config
from finrep.deliver.burst import burst, burst_values
from finrep.deliver.partition import Partitions
from finrep.filters import Filters
from finrep.measures.assets import data_coverage
from finrep.pack import build_pack
from finrep.period import parse_period
from finrep.sources import load_tables

CONFIG = load_config()
ORPHAN = "CUS999999"  # no such customer
LATEST = "2024-12"
SEGMENT_STARTS = "2024-03-01"  # the skewed segment's first service and engagement date
KPI_FIELDS = ("value", "previous", "last_year", "change", "change_pct", "change_ly",
              "change_ly_pct")  # fmt: skip


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


def _write(frame: pd.DataFrame, folder: Path, name: str) -> None:
    frame.to_csv(folder / f"{name}.csv", index=False)


@pytest.fixture(scope="module")
def skewed(small_data, tmp_path_factory) -> dict:
    """The small data with the skews of the module docstring; and which values lack what."""
    folder = tmp_path_factory.mktemp("skewed") / "data"
    shutil.copytree(small_data, folder)
    customers = _read(folder, "customers")
    products = _read(folder, "products")
    enrollments = _read(folder, "enrollments")
    segment = customers.customer_segment.value_counts().idxmin()
    held = products[products.product_id.isin(enrollments.product_id)]
    category = held.product_category.value_counts().idxmin()
    of_segment = set(customers.customer_id[customers.customer_segment == segment])
    of_category = set(products.product_id[products.product_category == category])
    largest = held.product_category.value_counts().idxmax()
    other_product = sorted(held.product_id[held.product_category == largest])[0]

    b = _read(folder, "account_balances")
    assert b.date.max().startswith(LATEST)  # the generated data ends in LATEST
    latest = b.date.str.startswith(LATEST)
    drop = latest & (b.customer_id.isin(of_segment) | b.product_id.isin(of_category))
    assert drop.any() and (latest & ~drop).any()
    orphans = pd.DataFrame(
        {
            "balance_id": ["BAL99999998", "BAL99999999"],
            "customer_id": [ORPHAN, ORPHAN],
            "product_id": [other_product] * 2,
            "date": ["2024-11-30", b.date.max()],
            "balance": ["1000.00", "1010.00"],
            "contributions_mtd": ["0.00", "0.00"],
            "withdrawals_mtd": ["0.00", "0.00"],
            "investment_returns_mtd": ["0.00", "10.00"],
            "fees_mtd": ["0.00", "0.00"],
        }
    )
    _write(pd.concat([b[~drop], orphans]), folder, "account_balances")

    firsts = {}
    for name, id_column in (("engagement", "engagement_id"),
                            ("service_interactions", "interaction_id")):  # fmt: skip
        t = _read(folder, name)
        first = (pd.Timestamp(t.date.min()) - pd.Timedelta(days=45)).date()
        # The segment's rows start inside the trend window (the 12 months to LATEST).
        t = t[~(t.customer_id.isin(of_segment) & (t.date < SEGMENT_STARTS))]
        row = {c: "" for c in t.columns}
        row.update({id_column: f"{id_column[:3].upper()}9999999", "customer_id": ORPHAN,
                    "date": first.isoformat()})  # fmt: skip
        if name == "engagement":
            row.update(action_type="Login", device_type="Desktop", session_duration="1.5",
                       pages_viewed="2", actions_taken="1")  # fmt: skip
        else:
            row.update(channel="Phone", reason_code="Fee Inquiry", duration_minutes="4.0",
                       satisfaction_score="5", resolution_status="Resolved")  # fmt: skip
        _write(pd.concat([t, pd.DataFrame([row])]), folder, name)
        firsts[name] = first
    return {"data": folder, "segment": segment, "category": category, "firsts": firsts,
            "orphan_category": largest}  # fmt: skip


@pytest.fixture(scope="module")
def whole(skewed):
    return load_tables(engine.connect(CONFIG), skewed["data"])


@pytest.fixture(scope="module")
def wanted(whole):
    """build_pack on the whole data for one (key, value), each built once per module."""
    packs = {}

    def get(key: str, value: str):
        if (key, value) not in packs:
            packs[key, value] = build_pack(whole, "latest", Filters.of(**{key: [value]}), CONFIG)
        return packs[key, value]

    return get


def _same_frame(got: pd.DataFrame, want: pd.DataFrame, where: str, rtol: float = 1e-9) -> None:
    try:
        pd.testing.assert_frame_equal(
            got.reset_index(drop=True), want.reset_index(drop=True), check_exact=False,
            rtol=rtol, atol=1e-6, check_dtype=False,
        )  # fmt: skip
    except AssertionError as exc:
        raise AssertionError(f"{where}: {exc}") from None


def _same_visual(got, want, where: str) -> None:
    """Equal frames; a forecast's fitted columns to 1e-5: the model's optimiser turns the
    last-digit differences of sums taken in another order (1e-10 of the actuals, checked to
    1e-9 here) into up to 1e-6 of the far bands on a steeply falling series."""
    if want.kind != "forecast":
        _same_frame(got.data, want.data, where)
        return
    fitted = [c for c in want.data.columns if c not in ("x", "actual")]
    _same_frame(got.data.drop(columns=fitted), want.data.drop(columns=fitted), where)
    _same_frame(got.data[fitted], want.data[fitted], where, rtol=1e-5)


def assert_same_pack(got, want) -> None:
    assert (got.period, got.comparison, got.last_year) == (
        want.period,
        want.comparison,
        want.last_year,
    )
    assert got.as_of == want.as_of
    assert got.filters.as_dict() == want.filters.as_dict()
    assert list(got.kpis) == list(want.kpis)
    for key, kpi in want.kpis.items():
        for f in KPI_FIELDS:
            w, g = getattr(kpi, f), getattr(got.kpis[key], f)
            base = {"change_pct": kpi.previous, "change_ly_pct": kpi.last_year}.get(f)
            if base is not None and abs(base) < 1e-6:
                # A change relative to a rounding-noise base (the reconciliation residual is
                # zero up to 1e-10) is noise over noise: the order of a sum changes it (and
                # whether the base is exactly 0, when it is undefined).
                continue
            assert (g is None) == (w is None), (key, f, g, w)
            if w is not None:
                assert g == pytest.approx(w, rel=1e-9, abs=1e-6), (key, f)
    assert [p.key for p in got.pages] == [p.key for p in want.pages]
    for gp, wp in zip(got.pages, want.pages, strict=True):
        assert gp.narrative == wp.narrative, wp.key
        for gv, wv in zip(gp.visuals, wp.visuals, strict=True):
            assert (gv.key, gv.kind, gv.note) == (wv.key, wv.kind, wv.note)
            _same_visual(gv, wv, f"{wp.key}/{wv.key}")
    _same_frame(got.reconciliation, want.reconciliation, "reconciliation")
    assert list(got.facts) == list(want.facts)
    for name, frame in want.facts.items():
        _same_frame(got.facts[name], frame, f"facts/{name}")


@pytest.mark.slow
@pytest.mark.parametrize("key", ["segment", "category"])
def test_each_part_gives_the_whole_datas_pack(key, skewed, whole, wanted, tmp_path):
    coverage = data_coverage(whole)
    period = parse_period("latest", coverage.last)
    values = burst_values(whole, key, Filters(), CONFIG, period)
    assert skewed[key] in values and len(values) > 2
    parts = Partitions(whole, key, values, tmp_path / "parts", coverage)
    try:
        lacking = parts.tables_for(skewed[key])
        # The trap the coverage avoids: this part alone ends a month early.
        assert data_coverage(lacking).last < date(2024, 12, 1) <= coverage.last
        if key == "segment":  # its own first dates are later than the whole table's
            for name, first in skewed["firsts"].items():
                t = lacking[name]
                own = pd.Timestamp(engine.execute(t.filter(t.customer_id != ORPHAN).date.min()))
                assert own >= pd.Timestamp(SEGMENT_STARTS) > pd.Timestamp(first)
        checked = values
        if key == "category":  # eight categories: the skewed one, the orphans' one, one more
            checked = list(dict.fromkeys([skewed[key], skewed["orphan_category"], values[0]]))
        for value in checked:
            f = Filters.of(**{key: [value]})
            got = build_pack(parts.tables_for(value), "latest", f, CONFIG)
            want = wanted(key, value)
            assert got.period.spec == LATEST
            assert_same_pack(got, want)
    finally:
        parts.close()
    assert not (tmp_path / "parts").exists()


def test_rows_go_to_their_values_only(skewed, whole, tmp_path):
    """Each customer-keyed row is written once, to its customer's segment (orphans nowhere,
    apart from the first-date rows the other parts carry)."""
    coverage = data_coverage(whole)
    customers = _read(skewed["data"], "customers")
    segment_of = dict(zip(customers.customer_id, customers.customer_segment, strict=True))
    values = sorted(set(segment_of.values()))
    parts = Partitions(whole, "segment", values, tmp_path / "parts", coverage)
    try:
        raw = _read(skewed["data"], "account_balances")
        counts = raw.customer_id.map(segment_of).value_counts()
        for value in values:
            b = parts.tables_for(value)["account_balances"]
            frame = engine.execute(b.select("customer_id"))
            assert len(frame) == counts[value]
            assert set(frame.customer_id.map(segment_of)) == {value}
            e = parts.tables_for(value)["engagement"]
            ids = set(engine.execute(e.select("customer_id")).customer_id)
            assert ORPHAN in ids  # the first-date row of no customer
    finally:
        parts.close()


def test_burst_packs_match_whole_data_packs(skewed, wanted, tmp_path):
    """The burst end to end: its summaries (headline KPIs, as-of date) equal the whole
    data's packs, the run information names the whole data's files, and the temporary
    parts are gone afterwards."""
    import tempfile

    before = set(Path(tempfile.gettempdir()).glob("finrep-burst-*"))
    result = burst(skewed["data"], "segment", config=CONFIG, formats="xlsx",
                   out_dir=tmp_path / "out", allow_invalid=True)  # fmt: skip
    # Nothing of this run is left (other processes' bursts may come and go meanwhile).
    assert set(Path(tempfile.gettempdir()).glob("finrep-burst-*")) - before == set()
    for value, built in result.packs.items():
        want = wanted("segment", value)
        assert built.summary.as_of == want.as_of
        assert built.summary.period == want.period
        for line in built.summary.kpis:
            assert line.value == pytest.approx(want.kpis[line.key].value, rel=1e-9, abs=1e-6)
        assert built.paths["xlsx"].is_file()
    # The workbook's run information: the whole data's files, row counts and hashes.
    import hashlib

    from openpyxl import load_workbook

    path = skewed["data"] / "account_balances.csv"
    rows, digest = len(_read(skewed["data"], "account_balances")), hashlib.sha256()
    digest.update(path.read_bytes())
    book = load_workbook(result.packs[skewed["segment"]].paths["xlsx"], read_only=True)
    cells = [
        [c for c in row if c is not None]
        for ws in book.worksheets
        for row in ws.iter_rows(values_only=True)
    ]
    found = [r[2:4] for r in cells if len(r) >= 4 and r[:2] == ["account_balances", path.name]]
    assert found == [[rows, digest.hexdigest()]]
