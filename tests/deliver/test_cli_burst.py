"""`finrep report --burst KEY` on the command line."""

import pytest
from typer.testing import CliRunner

from finrep.cli.app import app

ENV = {"NO_COLOR": "1", "COLUMNS": "200"}


@pytest.mark.slow
def test_report_burst_by_region_writes_one_pack_per_region(small_data, tmp_path):
    out = tmp_path / "reports"
    args = ["report", "--data", str(small_data), "--period", "2024-11", "--out", str(out),
            "--format", "xlsx", "--pages", "executive", "--segment", "Ultra High Net Worth",
            "--burst", "region"]  # fmt: skip
    result = CliRunner().invoke(app, args, env=ENV)
    assert result.exit_code == 0, result.output
    names = [f"finrep-2024-11-segment-ultra-high-net-worth-region-{r}.xlsx"
             for r in ("midwest", "northeast", "south", "west")]  # fmt: skip
    assert sorted(p.name for p in (out / "2024-11").glob("*.xlsx")) == names
    for region, name in zip(("Midwest", "Northeast", "South", "West"), names, strict=True):
        assert f"region {region}: {name} (" in result.stdout
    assert f"4 packs in {out / '2024-11'}" in result.stdout


def test_unknown_burst_key_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(app, ["report", "--burst", "colour"], env=ENV)
    assert result.exit_code == 2
    assert "use one of segment, region, state, category, advisor" in result.output
