"""`finrep report` end to end through the CLI: files, summary, exit codes, messages."""

from __future__ import annotations

import re
import shutil

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from finrep.cli.app import app

ENV = {"NO_COLOR": "1", "COLUMNS": "120"}


def run(*args: str):
    return CliRunner().invoke(app, ["--quiet", *args], env=ENV)


@pytest.mark.slow
def test_report_writes_the_pdf_and_prints_a_summary(small_data, tmp_path):
    out = tmp_path / "reports"
    result = run("report", "--data", str(small_data), "--out", str(out), "--format", "pdf",
                 "--period", "2024-12", "--segment", "Ultra High Net Worth", "--region", "West")  # fmt: skip
    assert result.exit_code == 0, result.output
    pdf = out / "finrep-2024-12-segment-ultra-high-net-worth-region-west.pdf"
    assert pdf.is_file()
    lines = result.stdout.splitlines()
    assert re.fullmatch(rf"Wrote {re.escape(str(pdf))} \(PDF, \d+ KB\)", lines[0])
    assert "December 2024 · Segment: Ultra High Net Worth · Region: West" in result.stdout
    for label in ("Executive Summary", "AUM", "Retention rate", "Contacts", "Avg session"):
        assert label in result.stdout
    # Every value in the summary is the value printed in the PDF (same pack, same formats).
    text = "\n".join(p.extract_text() for p in PdfReader(pdf).pages)
    values = re.findall(r"^\s+(AUM|Net flows|Active customers)\s+(\S+)", result.stdout, re.M)
    assert len(values) == 3
    for _, value in values:
        assert value in text


@pytest.mark.slow
def test_default_formats_come_from_the_config(small_data, tmp_path):
    config = tmp_path / "finrep.toml"
    config.write_text('[report]\nformats = ["pdf"]\nchart_workers = 1\n', encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["--quiet", "--config", str(config), "report", "--data", str(small_data), "--out",
         str(out), "--pages", "executive"],
        env=ENV,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["finrep-2024-12.pdf"]


def test_unknown_format_is_an_error_naming_the_choices(small_data, tmp_path):
    result = run("report", "--data", str(small_data), "--out", str(tmp_path), "--format", "docx")
    assert result.exit_code == 1
    assert "Error: unknown report format docx; use pdf or xlsx" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_page_is_an_error(small_data, tmp_path):
    result = run("report", "--data", str(small_data), "--out", str(tmp_path), "--pages", "hr")
    assert result.exit_code == 1
    assert "Error: unknown page hr" in result.stderr


def test_missing_data_folder(tmp_path):
    result = run("report", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path))
    assert result.exit_code == 1
    assert "data folder not found" in result.stderr


@pytest.mark.slow
def test_period_without_data_names_the_range(small_data, tmp_path):
    result = run("report", "--data", str(small_data), "--out", str(tmp_path), "--format", "pdf",
                 "--period", "2030-01")  # fmt: skip
    assert result.exit_code == 1
    assert "2030" in result.stderr and "Traceback" not in result.output
    assert not any(tmp_path.glob("*.pdf"))


@pytest.mark.slow
def test_validation_errors_exit_1_with_a_hint(small_data, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(small_data, data)
    (data / "products.csv").write_text("product_id,product_name\n", encoding="utf-8")
    result = run("report", "--data", str(data), "--out", str(tmp_path / "out"), "--format", "pdf")
    assert result.exit_code == 1
    assert "--allow-invalid" in result.stderr
    assert "products.csv" in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
