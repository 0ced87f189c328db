"""`make_report` options checked before any work: formats, pages, data folder."""

from __future__ import annotations

import pytest

from finrep.config import load_config
from finrep.errors import ConfigError, DataError
from finrep.report import make_report, parse_formats, parse_pages

CONFIG = load_config().with_overrides(report={"chart_workers": 1})


def test_formats_and_pages_are_checked():
    assert parse_formats("pdf, XLSX", CONFIG) == ("pdf", "xlsx")
    assert parse_formats(None, CONFIG) == ("pdf", "xlsx")  # config report.formats
    with pytest.raises(ConfigError, match="unknown report format docx"):
        parse_formats("pdf,docx", CONFIG)
    assert parse_pages("all", CONFIG) == (
        "executive", "products", "customers", "service", "digital",
    )  # fmt: skip
    assert parse_pages("digital,executive", CONFIG) == ("executive", "digital")
    with pytest.raises(ConfigError, match="unknown page finance"):
        parse_pages("executive,finance", CONFIG)


def test_missing_data_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="data folder not found"):
        make_report(tmp_path / "nope", config=CONFIG, formats="pdf", out_dir=tmp_path / "out")
