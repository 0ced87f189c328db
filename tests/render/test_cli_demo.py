"""`finrep demo`: generate data when absent, then report the latest month."""

from __future__ import annotations

import json
import shutil

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from typer.testing import CliRunner

from finrep.cli.app import app

ENV = {"NO_COLOR": "1", "COLUMNS": "120"}


@pytest.mark.slow
def test_demo_from_nothing(tmp_path, monkeypatch):
    """As on a fresh install: no data/, no config, no reports/ (default options throughout)."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["--quiet", "demo"], env=ENV)
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["row_counts"]["customers"] == 1000
    pdf = tmp_path / "reports" / "finrep-2024-12.pdf"
    xlsx = tmp_path / "reports" / "finrep-2024-12.xlsx"
    assert "Generated a demo dataset (1,000 customers) in data/" in result.stdout
    assert f"Wrote {pdf.relative_to(tmp_path)} (PDF" in result.stdout
    assert f"Wrote {xlsx.relative_to(tmp_path)} (XLSX" in result.stdout
    assert "Done. Open reports/finrep-2024-12.pdf" in result.stdout
    assert len(PdfReader(pdf).pages) >= 15
    assert "Summary" in load_workbook(xlsx, read_only=True).sheetnames


@pytest.mark.slow
def test_demo_keeps_existing_data(small_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(small_data, tmp_path / "data")
    before = (tmp_path / "data" / "manifest.json").read_bytes()
    (tmp_path / "finrep.toml").write_text(
        '[report]\nformats = ["pdf"]\nchart_workers = 1\n', encoding="utf-8"
    )
    result = CliRunner().invoke(app, ["--quiet", "demo"], env=ENV)
    assert result.exit_code == 0, result.output
    assert "Using the data already in data/" in result.stdout
    assert (tmp_path / "data" / "manifest.json").read_bytes() == before
    assert [p.name for p in (tmp_path / "reports").iterdir()] == ["finrep-2024-12.pdf"]
