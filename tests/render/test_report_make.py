"""`make_report` on generated data: names, contents, validation gate, atomic writes."""

from __future__ import annotations

import io
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from pypdf import PdfReader

import finrep.pack
from finrep.config import load_config
from finrep.errors import DataError, RenderError
from finrep.filters import Filters
from finrep.render import formats as fmt
from finrep.render import pdf as pdf_module
from finrep.report import make_report

# Each test here builds or renders a real pack on generated data (seconds each).
pytestmark = pytest.mark.slow

CONFIG = load_config().with_overrides(report={"chart_workers": 1})
FILTERS = Filters.of(segment=["Ultra High Net Worth"], region=["West"])
STEM = "finrep-2024-12-segment-ultra-high-net-worth-region-west"


@pytest.fixture(scope="module")
def filtered(small_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    steps: list[tuple[str, int, int]] = []
    result = make_report(
        small_data, period="2024-12", filters=FILTERS, config=CONFIG, formats=["pdf"],
        out_dir=out, progress=lambda *a: steps.append(a),
    )  # fmt: skip
    return result, out, steps


def pdf_text(path: Path) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(path).pages)


def test_file_name_has_period_and_sanitised_filters(filtered):
    result, out, _ = filtered
    assert result.paths == {"pdf": out / f"{STEM}.pdf"}
    assert sorted(p.name for p in out.iterdir()) == [f"{STEM}.pdf"]  # no temporary files left


def test_pdf_shows_the_packs_kpis_and_filters(filtered):
    result, _, _ = filtered
    text = pdf_text(result.paths["pdf"])
    assert "Segment: Ultra High Net Worth · Region: West" in text
    for page in result.pack.pages:
        for kpi in page.kpis:
            assert fmt.format_value(kpi.value, kpi.unit) in text, kpi.key
    assert result.pack.filters == FILTERS
    assert result.pack.period.spec == "2024-12"


def test_run_information_records_the_options(filtered):
    result, _, _ = filtered
    text = pdf_text(result.paths["pdf"])
    assert "customers.csv" in text and "account_balances.csv" in text
    assert "executive,products,customers,service,digital" in text


def test_progress_reports_every_step(filtered):
    _, _, steps = filtered
    names = [s for s, _, _ in steps]
    assert "Drawing charts" in names and "Laying out the PDF" in names
    assert ("Report", 1, 2) in steps and ("Report", 2, 2) in steps


def test_pages_subset(small_data, tmp_path, monkeypatch, filtered):
    result, _, _ = filtered
    # The pack is the real one computed above; only the page selection is under test here.
    monkeypatch.setattr(finrep.pack, "build_pack", lambda *a, **k: result.pack)
    made = make_report(small_data, period="2024-12", filters=FILTERS, config=CONFIG,
                       formats="pdf", out_dir=tmp_path, pages="service,executive")  # fmt: skip
    assert [p.key for p in made.pack.pages] == ["executive", "service"]
    titles = [item.title for item in PdfReader(made.paths["pdf"]).outline]
    assert titles[:4] == ["Cover", "Contents", "Executive Summary", "Service Quality"]
    assert "Product Performance" not in titles


def test_failed_render_keeps_the_earlier_pack_and_leaves_no_partial_file(
    small_data, tmp_path, monkeypatch, filtered
):
    result, _, _ = filtered
    earlier = tmp_path / f"{STEM}.pdf"
    shutil.copy(result.paths["pdf"], earlier)
    before = earlier.read_bytes()
    monkeypatch.setattr(finrep.pack, "build_pack", lambda *a, **k: result.pack)

    def explode(self, canvas):
        raise RenderError("disk full while drawing")

    # Fails in the middle of the document, after the cover and contents are drawn.
    monkeypatch.setattr(pdf_module.DashboardSheet, "paint", explode)
    with pytest.raises(RenderError, match="disk full"):
        make_report(small_data, period="2024-12", filters=FILTERS, config=CONFIG,
                    formats=["pdf"], out_dir=tmp_path)  # fmt: skip
    assert earlier.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [earlier.name]


def test_interrupt_keeps_the_earlier_pack(small_data, tmp_path, monkeypatch, filtered):
    result, _, _ = filtered
    earlier = tmp_path / f"{STEM}.pdf"
    earlier.write_bytes(b"%PDF-earlier")
    monkeypatch.setattr(finrep.pack, "build_pack", lambda *a, **k: result.pack)

    def ctrl_c(self, canvas):
        raise KeyboardInterrupt

    monkeypatch.setattr(pdf_module.DashboardSheet, "paint", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        make_report(small_data, period="2024-12", filters=FILTERS, config=CONFIG,
                    formats=["pdf"], out_dir=tmp_path)  # fmt: skip
    assert earlier.read_bytes() == b"%PDF-earlier"
    assert [p.name for p in tmp_path.iterdir()] == [earlier.name]


def test_both_formats_are_renamed_together(small_data, tmp_path, monkeypatch, filtered):
    """A workbook failure must not leave a new PDF beside an old workbook."""
    import finrep.render.xlsx as xlsx_module

    result, _, _ = filtered
    monkeypatch.setattr(finrep.pack, "build_pack", lambda *a, **k: result.pack)
    (tmp_path / f"{STEM}.pdf").write_bytes(b"old pdf")
    (tmp_path / f"{STEM}.xlsx").write_bytes(b"old xlsx")

    def fail(*a, **k):
        raise RenderError("workbook broke")

    monkeypatch.setattr(xlsx_module, "render_xlsx", fail)
    with pytest.raises(RenderError, match="workbook broke"):
        make_report(small_data, period="2024-12", filters=FILTERS, config=CONFIG,
                    formats="pdf,xlsx", out_dir=tmp_path)  # fmt: skip
    assert (tmp_path / f"{STEM}.pdf").read_bytes() == b"old pdf"
    assert (tmp_path / f"{STEM}.xlsx").read_bytes() == b"old xlsx"
    assert len(list(tmp_path.iterdir())) == 2


@pytest.fixture
def broken_data(small_data, tmp_path) -> Path:
    """The small dataset with one customer in an unknown segment (a validation error)."""
    data = tmp_path / "data"
    shutil.copytree(small_data, data)
    path = data / "customers.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    col = header.index("customer_segment")
    cells = lines[1].rstrip("\n").split(",")
    cells[col] = "Platinum"
    lines[1] = ",".join(cells) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    return data


def test_validation_errors_stop_the_report(broken_data, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(DataError) as info:
        make_report(broken_data, config=CONFIG, formats="pdf", out_dir=out)
    message = str(info.value)
    assert "--allow-invalid" in message
    assert "customers.csv" in message and "Platinum" in message
    assert not out.exists() or not any(out.iterdir())


def test_validation_reports_its_progress_from_its_own_process(broken_data, tmp_path):
    import os

    from finrep import report as report_module

    seen = []
    checking = report_module._Validation(broken_data, CONFIG, True, lambda *s: seen.append(s))
    findings = checking.result()
    assert checking.proc.pid != os.getpid() and checking.proc.returncode == 0
    # The findings came over the pipe (no fallback validation in this process).
    assert checking.outcome is not None and checking.outcome[0] == "findings"
    assert [f.value for f in findings if f.severity == "error"] == ["Platinum"]
    assert seen and seen[-1][0] == seen[0][0] and seen[-1][1] == seen[-1][2]  # step done


def test_validation_errors_stop_the_report_where_no_subprocess_can_run(
    broken_data, tmp_path, monkeypatch
):
    import sys

    monkeypatch.setattr(sys, "executable", "/bin/false")  # starts, then exits at once
    with pytest.raises(DataError, match="Platinum"):
        make_report(broken_data, config=CONFIG, formats="pdf", out_dir=tmp_path / "out")


@pytest.mark.slow
def test_allow_invalid_reports_and_lists_the_errors(broken_data, tmp_path):
    result = make_report(broken_data, config=CONFIG, formats="pdf", out_dir=tmp_path,
                         pages="executive", allow_invalid=True)  # fmt: skip
    errors = [f for f in result.pack.findings if f.severity == "error"]
    assert errors and errors[0].value == "Platinum"
    text = pdf_text(result.paths["pdf"])
    assert "Platinum" in text and "--allow-invalid" in text


def test_a_bad_logo_fails_before_any_work(small_data, tmp_path):
    config = replace(CONFIG, company=replace(CONFIG.company, logo="missing-logo.png"))
    with pytest.raises(RenderError, match="missing-logo.png"):
        make_report(small_data, config=config, formats="pdf", out_dir=tmp_path)


def test_pdf_reads_back_with_pypdf(filtered):
    result, _, _ = filtered
    data = result.paths["pdf"].read_bytes()
    assert data.startswith(b"%PDF-")
    assert len(PdfReader(io.BytesIO(data)).pages) >= 2 + 5 * 2 + 3


def test_build_pack_hands_over_each_page_as_soon_as_it_is_complete(small_data):
    from finrep.pack import PAGE_KEYS
    from finrep.pack_builder import build_pack

    seen, steps = [], []

    def progress(step, done, total):
        steps.append((step, done))

    def on_page(page):
        # Called before the "Pages" step of that page is reported done.
        seen.append((page, [d for s, d in steps if s == "Pages"][-1]))

    pack = build_pack(small_data, "2024-12", config=CONFIG, progress=progress, facts=False,
                      on_page=on_page)  # fmt: skip
    assert [p.key for p, _ in seen] == list(PAGE_KEYS)
    assert all(p is q for (p, _), q in zip(seen, pack.pages, strict=True))
    assert [done for _, done in seen] == list(range(len(PAGE_KEYS)))


def test_measures_out_of_duckdb_memory_is_a_config_error_naming_the_setting(small_data, tmp_path):
    from finrep.errors import ConfigError

    tiny = CONFIG.with_overrides(engine={"memory_limit": "1MB", "memory_limit_max": "1MB"})
    with pytest.raises(ConfigError, match=r"memory_limit.*\"1GB\""):
        make_report(small_data, config=tiny, formats="pdf", out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_ctrl_c_during_the_measures_leaves_no_validation_process(small_data, tmp_path, monkeypatch):
    from finrep import report as report_module

    started = []
    real_init = report_module._Validation.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        started.append(self)

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report_module._Validation, "__init__", init)
    monkeypatch.setattr(finrep.pack, "build_pack", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        make_report(small_data, config=CONFIG, formats="pdf", out_dir=tmp_path)
    assert len(started) == 1 and started[0].proc.returncode is not None  # ended, and reaped
