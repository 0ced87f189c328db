"""The PDF pack, read back with pypdf: pages, outline, text, metadata, determinism."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import pandas as pd
import pytest
from pypdf import PdfReader
from sample_pack import HOSTILE_NAMES, HOSTILE_PRODUCT, make_sample_pack

from finrep.filters import Filters
from finrep.pack import Visual
from finrep.render import formats
from finrep.render.charts import ChartPool
from finrep.render.pdf import render_pdf
from finrep.render.theme import default_theme

THEME = default_theme()
FILTERS = Filters.of(segment=["Ultra High Net Worth"], region=["West"])


def render(pack, theme=THEME, workers=1) -> bytes:
    with ChartPool(workers) as pool:
        return render_pdf(pack, theme, pool=pool)


@pytest.fixture(scope="module")
def pdf_bytes(sample_pack) -> bytes:
    return render(sample_pack)


@pytest.fixture(scope="module")
def reader(pdf_bytes) -> PdfReader:
    return PdfReader(io.BytesIO(pdf_bytes))


@pytest.fixture(scope="module")
def text(reader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def outline_titles(reader: PdfReader) -> list[str]:
    out = []

    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                out.append(item.title)

    walk(reader.outline)
    return out


def test_page_count(reader):
    # cover + contents + five sections of two pages + three one-page appendices
    assert len(reader.pages) == 1 + 1 + 5 * 2 + 3


def test_outline_has_every_section_and_appendix(reader):
    assert outline_titles(reader) == [
        "Cover",
        "Contents",
        "Executive Summary",
        "Product Performance",
        "Customer Insights",
        "Service Quality",
        "Digital Engagement",
        "Definitions",
        "Data quality",
        "Run information",
    ]


def test_outline_entries_point_at_their_pages(reader):
    pages = {item.title: reader.get_destination_page_number(item) + 1 for item in reader.outline}
    assert pages["Executive Summary"] == 3
    assert pages["Product Performance"] == 5
    assert pages["Digital Engagement"] == 11
    assert pages["Run information"] == 15


def test_landscape_letter_by_default(reader):
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (792, 612)


def test_every_kpi_value_appears_exactly_as_formatted(sample_pack, text):
    # Hand-formatted values of the sample pack's headline KPIs …
    for expected in ("$243.0M", "$1.2M", "982", "98.7%", "$152.5K", "+7.12%", "-0.43%",
                     "72.1%", "12.6 min", "61.10", "3.87", "38.4 mo", "58.1%"):  # fmt: skip
        assert expected in text
    # … and every KPI on every page, formatted by the shared formats module.
    for page in sample_pack.pages:
        for kpi in page.kpis:
            assert formats.format_value(kpi.value, kpi.unit) in text, kpi.key


def test_kpi_changes_are_shown_with_arrows(text):
    assert "▲ 1.3%" in text  # AUM vs November: 243.01M / 239.88M − 1
    assert "▼ 0.3 pts" in text  # retention 98.71% vs 99.02%
    assert "vs Nov 2024" in text and "vs Dec 2023" in text


def test_headers_footers_and_confidentiality(text, reader):
    page3 = reader.pages[2].extract_text()
    assert "Northwind Wealth Partners · Executive Summary" in page3
    assert "December 2024 · All clients" in page3
    assert "Page 3 of 15" in page3
    assert "Data as of 31 December 2024" in page3
    assert "Confidential: for internal use only. Do not forward." in page3


def small_pack(*keys, **overrides):
    """The sample pack with only some pages (renders in a fraction of the time)."""
    full = make_sample_pack(**overrides)
    return replace(full, pages=tuple(full.page(k) for k in keys))


def test_filters_in_force_are_printed_on_every_page():
    data = render(small_pack("executive", filters=FILTERS))
    reader = PdfReader(io.BytesIO(data))
    label = "Segment: Ultra High Net Worth · Region: West"
    for number, page in enumerate(reader.pages[1:], start=2):
        assert label in page.extract_text(), f"page {number}"
    assert label in reader.pages[0].extract_text()  # the cover
    assert label in (reader.metadata.subject or "")


def test_metadata_from_config_and_as_of_date(reader):
    meta = reader.metadata
    assert meta.title == "Monthly Client & Asset Report — December 2024"
    assert meta.author == "finrep"
    assert meta.subject == "Northwind Wealth Partners · December 2024 · All clients"
    assert meta.creator == "finrep 0.1.0"
    assert meta["/CreationDate"].startswith("D:20241231")
    assert meta["/ModDate"].startswith("D:20241231")


def test_hostile_strings_render_as_text(text):
    assert HOSTILE_PRODUCT in text  # escaped, not interpreted as markup
    for name in HOSTILE_NAMES:
        assert name in text


def test_appendices(text):
    assert "Appendix A · Definitions" in text
    assert "Assets under management" in text
    assert "Appendix B · Data quality" in text
    assert "balance_identity" in text and "20311" in text
    assert "AUM reconciliation" in text and "$243.0M" in text
    assert "Appendix C · Run information" in text
    sha = re.search(r"\b[0-9a-f]{64}\b", text)
    assert sha is not None
    assert "88,412" in text  # account_balances rows


def test_contents_lists_sections_with_page_numbers(reader):
    contents = reader.pages[1].extract_text()
    for title in ("Executive Summary", "Service Quality", "Definitions", "Run information"):
        assert title in contents
    assert re.search(r"Digital Engagement\s*\.*\s*11", contents) or "11" in contents


def test_same_pack_gives_byte_identical_pdfs_whatever_the_workers(pdf_bytes):
    # A fresh pack object, charts drawn on two worker processes instead of in-process.
    assert render(make_sample_pack(), workers=2) == pdf_bytes


def test_a4_from_the_theme():
    data = render(small_pack("service"), theme=replace(THEME, page_size="A4"))
    box = PdfReader(io.BytesIO(data)).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (842, 595)


def test_a_subset_of_pages():
    full = make_sample_pack()
    pack = replace(full, pages=(full.page("executive"), full.page("service")))
    reader = PdfReader(io.BytesIO(render(pack)))
    assert len(reader.pages) == 2 + 2 * 2 + 3
    titles = outline_titles(reader)
    assert "Service Quality" in titles and "Product Performance" not in titles


def test_empty_visual_draws_a_no_data_panel():
    full = make_sample_pack()
    page = full.page("service")
    empty = tuple(
        replace(v, data=v.data.iloc[0:0], note="No contacts matched these filters.")
        if v.key in ("volume_by_channel", "top_contact_reasons") else v
        for v in page.visuals
    )  # fmt: skip
    pack = replace(full, pages=(replace(page, visuals=empty),))
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(render(pack))).pages)
    assert text.count("No data") >= 2
    assert "No contacts matched these filters." in text


def test_unknown_visuals_still_get_a_place():
    full = make_sample_pack()
    page = full.page("digital")
    extra = Visual("extra_bar", "An extra chart", "Not in the grid.", "bar",
                   pd.DataFrame({"label": ["x"], "value": [1.0]}))  # fmt: skip
    pack = replace(full, pages=(replace(page, visuals=(*page.visuals, extra)),))
    reader = PdfReader(io.BytesIO(render(pack)))
    assert "An extra chart" in "\n".join(p.extract_text() for p in reader.pages)


def test_long_findings_list_splits_across_pages_with_repeated_header(sample_pack):
    many = tuple(
        replace(sample_pack.findings[0], row=i, message=f"finding number {i}") for i in range(150)
    )
    reader = PdfReader(io.BytesIO(render(replace(sample_pack, findings=many, pages=()))))
    quality = [p.extract_text() for p in reader.pages if "finding number" in p.extract_text()]
    assert len(quality) >= 2
    assert all("Severity" in page and "Message" in page for page in quality)
    assert "finding number 149" in quality[-1]


def test_pdf_is_small(pdf_bytes):
    assert len(pdf_bytes) < 2 * 1024 * 1024


def test_logo_from_the_config_is_on_the_cover(tmp_path):
    from PIL import Image

    logo = tmp_path / "logo.png"
    Image.new("RGB", (120, 40), (31, 58, 95)).save(logo)
    data = render(small_pack(), theme=replace(THEME, logo=str(logo)))
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages[0].images) == 1
    assert len(reader.pages[1].images) == 0


def test_charts_queued_page_by_page_give_the_same_pdf(sample_pack, pdf_bytes):
    from finrep.render.pdf import PageCharts

    with ChartPool(2) as pool:
        charts = PageCharts(THEME, pool)
        for page in sample_pack.pages:  # as build_pack hands them over
            charts.add(page)
        queued = len(charts._queued)
        data = render_pdf(sample_pack, THEME, pool=pool, charts=charts)
    assert queued == sum(v.kind != "table" for p in sample_pack.pages for v in p.visuals)
    assert charts._queued == {}  # every queued chart was used, none drawn twice
    assert data == pdf_bytes


def test_a_queued_chart_of_another_visual_is_not_used(sample_pack, pdf_bytes):
    from finrep.render.pdf import PageCharts

    page = sample_pack.pages[0]
    # Same keys and sizes, other data: the renderer must not take these drawings.
    other = replace(page, visuals=tuple(replace(v, caption=v.caption) for v in page.visuals))
    with ChartPool(1) as pool:
        charts = PageCharts(THEME, pool)
        charts.add(other)
        data = render_pdf(sample_pack, THEME, pool=pool, charts=charts)
    assert len(charts._queued) == sum(v.kind != "table" for v in page.visuals)  # none taken
    assert data == pdf_bytes
