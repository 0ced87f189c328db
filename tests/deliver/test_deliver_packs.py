"""Pack store: a built pack is found again (files + summary), an interrupted one is not."""

from datetime import date

import pandas as pd
import pytest

from finrep.config import load_config
from finrep.deliver.packs import PackStore
from finrep.deliver.summary import PackSummary
from finrep.errors import RenderError
from finrep.filters import Filters
from finrep.pack import KPI, Pack, Page, RunInfo
from finrep.period import Period

SEPT = Period(date(2024, 9, 1), date(2024, 9, 30))
CONFIG = load_config()
WEST = Filters.of(region=["West"])


def _pack(filters: Filters = WEST) -> Pack:
    kpis = {
        "aum": KPI("aum", "AUM", "currency", 1.5e8, 1.4e8, None, 1e7, 1e7 / 1.4e8),
        "retention_rate": KPI(
            "retention_rate", "Retention rate", "pct", 0.9, 0.95, 0.9, -0.05, -0.05 / 0.95, 0.0, 0.0
        ),
        "churned_customers": KPI(
            "churned_customers",
            "Churned customers",
            "count",
            3,
            2,
            1,
            1,
            0.5,
            higher_is_better=False,
        ),
    }
    page = Page("executive", "Executive Summary", tuple(kpis.values()), (), ("AUM rose.",))
    return Pack(
        company="Northwind Wealth Partners",
        title="Monthly Client & Asset Report",
        period=SEPT,
        comparison=SEPT.previous(),
        last_year=SEPT.last_year(),
        filters=filters,
        as_of=date(2024, 9, 30),
        kpis=kpis,
        pages=(page,),
        definitions=(),
        findings=(),
        reconciliation=pd.DataFrame(),
        facts={},
        run=RunInfo("0.1.0", "duckdb", "data", ()),
    )


def test_summary_keeps_headline_kpis_in_executive_order_and_round_trips(tmp_path):
    s = PackSummary.from_pack(_pack())
    # only the executive page's headline keys (aum … fee_revenue) that the pack holds
    assert [k.key for k in s.kpis] == ["aum", "retention_rate"]
    assert s.kpis[0].last_year is None and s.kpis[1].change == -0.05
    assert s.narrative == ("AUM rose.",)
    s.save(tmp_path / "x.summary.json")
    back = PackSummary.load(tmp_path / "x.summary.json")
    assert back == s


def test_placed_pack_is_found_again(tmp_path):
    store = PackStore(tmp_path / "data", SEPT, CONFIG, out_dir=tmp_path / "reports")
    staging = tmp_path / "staging"
    staging.mkdir()
    made = {"pdf": staging / "any-name.pdf", "xlsx": staging / "any-name.xlsx"}
    made["pdf"].write_bytes(b"%PDF")
    made["xlsx"].write_bytes(b"PK")
    built = store.place(_pack(), made, "finrep-2024-09-region-west")
    folder = tmp_path / "reports" / "2024-09"
    assert built.paths == {
        "pdf": folder / "finrep-2024-09-region-west.pdf",
        "xlsx": folder / "finrep-2024-09-region-west.xlsx",
    }
    assert (folder / "finrep-2024-09-region-west.pdf").read_bytes() == b"%PDF"
    assert not made["pdf"].exists()  # moved, not copied

    found = store.existing(WEST, "finrep-2024-09-region-west")
    assert found is not None and found.reused and found.summary == built.summary
    # another filter set under the same stem is not this pack
    assert store.existing(Filters.of(region=["South"]), "finrep-2024-09-region-west") is None
    # a pack without its summary (interrupted build) is not a pack
    (folder / "finrep-2024-09-region-west.summary.json").unlink()
    assert store.existing(WEST, "finrep-2024-09-region-west") is None


def test_a_missing_format_is_a_render_error(tmp_path):
    store = PackStore(tmp_path / "data", SEPT, CONFIG, out_dir=tmp_path / "reports")
    (tmp_path / "a.pdf").write_bytes(b"%PDF")
    with pytest.raises(RenderError, match="xlsx"):
        store.place(_pack(), {"pdf": tmp_path / "a.pdf"}, "finrep-2024-09")
