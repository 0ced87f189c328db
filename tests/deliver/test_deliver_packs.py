"""Pack store: a built pack is found again (files + summary), an interrupted one is not."""

from datetime import date

import pandas as pd
import pytest

from finrep.config import load_config
from finrep.deliver.packs import DataSession, PackStore
from finrep.deliver.summary import PackSummary
from finrep.errors import ConfigError
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


def test_a_pack_on_disk_is_found_again_only_when_complete(tmp_path):
    session = DataSession(tmp_path / "no-data", CONFIG)
    store = PackStore(session, SEPT, out_dir=tmp_path / "reports")
    folder = tmp_path / "reports" / "2024-09"
    assert store.folder == folder
    stem = "finrep-2024-09-region-west"
    assert store.paths(stem) == {"pdf": folder / f"{stem}.pdf", "xlsx": folder / f"{stem}.xlsx"}
    assert store.existing(WEST, stem) is None
    folder.mkdir(parents=True)
    (folder / f"{stem}.pdf").write_bytes(b"%PDF")
    (folder / f"{stem}.xlsx").write_bytes(b"PK")
    assert store.existing(WEST, stem) is None  # no summary yet: an interrupted build
    PackSummary.from_pack(_pack()).save(folder / f"{stem}.summary.json")

    found = store.existing(WEST, stem)
    assert found is not None and found.reused and found.files == list(store.paths(stem).values())
    # the same stem holding another filter set is not this pack
    assert store.existing(Filters.of(region=["South"]), stem) is None
    (folder / f"{stem}.xlsx").unlink()
    assert store.existing(WEST, stem) is None


def test_formats_and_pages_are_checked(tmp_path):
    session = DataSession(tmp_path / "no-data", CONFIG)
    with pytest.raises(ConfigError, match="docx"):
        PackStore(session, SEPT, formats="pdf,docx")
    with pytest.raises(ConfigError, match="nonsense"):
        PackStore(session, SEPT, pages=["executive", "nonsense"])
    store = PackStore(session, SEPT, formats="xlsx", pages="service,executive")
    assert store.formats == ("xlsx",) and store.pages == ("executive", "service")
