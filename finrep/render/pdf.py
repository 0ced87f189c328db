"""The PDF pack (reportlab): cover, contents, one section of two landscape pages per dashboard
page, and the appendices Definitions, Data quality and Run information.

Layout is a fixed grid per page (`GRIDS`), so every chart is drawn by `charts` at the exact
size it occupies; charts are replayed as vectors with the document's embedded fonts. The
document is deterministic: reportlab's invariant mode, the document dates taken from the data's
as-of date, and no clock, random or hash-order anywhere, so the same pack gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import pandas as pd
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape, letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.doctemplate import LayoutError

from finrep.errors import RenderError
from finrep.pack import KPI, Pack, Page, Visual
from finrep.period import Period
from finrep.render import formats
from finrep.render.chart_pool import ChartPool, ChartSpec
from finrep.render.replay import Drawing, draw_runs, replay
from finrep.render.theme import (
    BOLD,
    FALLBACK,
    MONO,
    REGULAR,
    Theme,
    register_fonts,
    text_runs,
    text_width,
)

# Page geometry (points). Content sits between the header and footer bands.
MARGIN_X = 30.0
TOP = 42.0  # header band height
BOTTOM = 34.0  # footer band height
GAP = 10.0  # between cards
CARD_PAD = 8.0
TITLE_H = 14.0  # card title line
CAPTION_LINE = 8.6
SECTION_TITLE_H = 28.0
KPI_H = 66.0

# Grid per dashboard page: sheets (printed pages) → rows → (visual key, width share).
# Visuals a page holds that are not listed here are added on extra rows, two per row.
GRIDS: dict[str, tuple[tuple[tuple[tuple[str, float], ...], ...], ...]] = {
    "executive": (
        ((("aum_trend", 0.6), ("aum_by_category", 0.4)),),
        (
            (("net_flows_trend", 0.55), ("aum_bridge", 0.45)),
            (("products_per_customer_by_segment", 0.38), ("customer_map", 0.62)),
        ),
    ),
    "products": (
        (
            (("product_matrix", 1.0),),
            (("top_bottom_products", 0.5), ("fee_revenue_by_product", 0.5)),
        ),
        (
            (("risk_return", 0.58), ("aum_by_risk", 0.42)),
            (("roi_vs_benchmark", 1.0),),
        ),
    ),
    "customers": (
        ((("acquisition_trend", 0.5), ("customer_growth", 0.5)),),
        (
            (("balance_by_segment_age", 0.45), ("channel_flows", 0.55)),
            (("customer_value", 0.5), ("retention_cohorts", 0.5)),
        ),
    ),
    "service": (
        ((("volume_by_channel", 0.58), ("satisfaction_by_reason", 0.42)),),
        (
            (("fcr_gauge", 0.25), ("resolution_funnel", 0.3), ("issues_by_segment_category", 0.45)),
            (("top_contact_reasons", 1.0),),
        ),
    ),
    "digital": (
        ((("engagement_trend", 0.6), ("device_distribution", 0.4)),),
        (
            (("digital_actions", 0.5), ("usage_by_age_device", 0.5)),
            (("session_duration_trend", 0.5), ("engagement_vs_growth", 0.5)),
        ),
    ),
}  # fmt: skip

APPENDICES = (
    ("definitions", "Definitions"),
    ("data_quality", "Data quality"),
    ("run_information", "Run information"),
)


def page_size(name: str) -> tuple[float, float]:
    """Landscape Letter or A4, in points."""
    return landscape(A4 if name == "A4" else letter)


def comparison_label(period: Period) -> str:
    """Short name of a comparison period: ``Nov 2024``, ``Q3 2024``, ``2023``."""
    if period.n_months == 1:
        return formats.format_month(period.start, "medium")
    return period.label


# Text helpers ----------------------------------------------------------------------------------


def markup(text: object, family: str, bold: bool = False) -> str:
    """`text` from data, escaped for reportlab paragraphs, with fallback-font runs marked."""
    out = []
    for name, chunk in text_runs(str(text), family, bold):
        safe = escape(chunk)
        out.append(f'<font name="{FALLBACK}">{safe}</font>' if name == FALLBACK else safe)
    return "".join(out)


def fit_text(text: str, size: float, width: float, family: str, bold: bool = False) -> str:
    """`text` cut with "…" so that it fits `width` points."""
    if text_width(text, size, family, bold) <= width:
        return text
    while text and text_width(text + "…", size, family, bold) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _draw(canvas, x, y, text, size, colour, family, bold=False, anchor="start") -> float:
    width = text_width(text, size, family, bold)
    if anchor == "end":
        x -= width
    elif anchor == "middle":
        x -= width / 2
    canvas.setFillColor(colors.HexColor(colour))
    draw_runs(canvas, x, y, text, size, family, bold)
    return width


@dataclass
class Styles:
    body: ParagraphStyle
    small: ParagraphStyle
    cell: ParagraphStyle
    cell_right: ParagraphStyle
    head: ParagraphStyle
    head_right: ParagraphStyle
    h1: ParagraphStyle
    h2: ParagraphStyle
    narrative: ParagraphStyle
    caption: ParagraphStyle
    mono: ParagraphStyle


def make_styles(theme: Theme) -> Styles:
    ink, muted = colors.HexColor(theme.ink), colors.HexColor(theme.muted)
    base = ParagraphStyle("body", fontName=REGULAR, fontSize=8.2, leading=11.5, textColor=ink)
    cell = ParagraphStyle("cell", base, fontSize=6.9, leading=8.4)
    head = ParagraphStyle("head", cell, fontName=BOLD, textColor=muted, fontSize=6.5)
    return Styles(
        body=base,
        small=ParagraphStyle("small", base, fontSize=7, leading=9.5, textColor=muted),
        cell=cell,
        cell_right=ParagraphStyle("cell_right", cell, alignment=TA_RIGHT),
        head=head,
        head_right=ParagraphStyle("head_right", head, alignment=TA_RIGHT),
        h1=ParagraphStyle(
            "h1",
            base,
            fontName=BOLD,
            fontSize=16,
            leading=20,
            textColor=colors.HexColor(theme.primary),
            spaceAfter=6,
        ),  # fmt: skip
        h2=ParagraphStyle(
            "h2",
            base,
            fontName=BOLD,
            fontSize=10,
            leading=13,
            spaceBefore=10,
            spaceAfter=4,
            textColor=ink,
        ),  # fmt: skip
        narrative=ParagraphStyle("narrative", base, fontSize=8.4, leading=11.8),
        caption=ParagraphStyle(
            "caption", base, fontSize=6.6, leading=CAPTION_LINE, textColor=muted, alignment=TA_LEFT
        ),  # fmt: skip
        mono=ParagraphStyle("mono", cell, fontName=MONO, fontSize=6.2, leading=8),
    )


# Layout plan -----------------------------------------------------------------------------------


@dataclass
class Cell:
    visual: Visual
    x: float  # card, relative to the content frame's bottom-left corner
    y: float
    w: float
    h: float
    caption_lines: int = 1

    @property
    def chart_box(self) -> tuple[float, float, float, float]:
        """(x, y, w, h) of the chart area inside the card."""
        bottom = CARD_PAD + self.caption_lines * CAPTION_LINE + 3
        return (
            self.x + CARD_PAD,
            self.y + bottom,
            self.w - 2 * CARD_PAD,
            self.h - bottom - CARD_PAD - TITLE_H,
        )


@dataclass
class Sheet:
    """One printed dashboard page."""

    page: Page
    index: int  # 0: the section's first page (KPI strip, narrative)
    cells: list[Cell] = field(default_factory=list)
    narrative_h: float = 0.0


@dataclass
class Context:
    pack: Pack
    theme: Theme
    styles: Styles
    width: float  # content frame
    height: float
    drawings: dict[str, Drawing] | None = None  # None in the counting pass
    section_pages: dict[str, int] = field(default_factory=dict)
    total_pages: int = 0


def _rows_for(page: Page) -> list[list[list[tuple[Visual, float]]]]:
    by_key = {v.key: v for v in page.visuals}
    used: set[str] = set()
    sheets: list[list[list[tuple[Visual, float]]]] = []
    for sheet in GRIDS.get(page.key, ()):
        rows = []
        for row in sheet:
            cells = [(by_key[k], share) for k, share in row if k in by_key]
            used.update(v.key for v, _ in cells)
            if cells:
                rows.append(cells)
        sheets.append(rows)
    extra = [v for v in page.visuals if v.key not in used]
    if not sheets:
        sheets.append([])
    # Unlisted visuals: first page gets up to one row, the following pages two rows each.
    first_rows = sheets[0]
    while extra and not first_rows:
        first_rows.append([(v, 0.5) for v in extra[:2]])
        extra = extra[2:]
    while extra:
        if len(sheets) == 1 or len(sheets[-1]) >= 2:
            sheets.append([])
        sheets[-1].append([(v, 0.5) for v in extra[:2]])
        extra = extra[2:]
    return [s for s in sheets if s] or [[]]


def plan_sheets(pack: Pack, ctx: Context) -> list[Sheet]:
    """Place every visual of every page on a grid of cards."""
    return [sheet for page in pack.pages for sheet in plan_page(page, ctx)]


def plan_page(page: Page, ctx: Context) -> list[Sheet]:
    """The printed sheets of one dashboard page (depends on the page, the theme and the
    frame size only, so charts can be sized before the rest of the pack exists)."""
    sheets: list[Sheet] = []
    for index, rows in enumerate(_rows_for(page)):
        sheet = Sheet(page, index)
        top = ctx.height - SECTION_TITLE_H
        if index == 0:
            if page.kpis:
                top -= KPI_H + GAP
            if page.narrative:
                sheet.narrative_h = _narrative_height(page, ctx)
                top -= sheet.narrative_h + GAP
        heights = _row_heights(rows, top, ctx)
        y = top
        for row, row_h in zip(rows, heights, strict=True):
            total = sum(share for _, share in row)
            x = 0.0
            free = ctx.width - GAP * (len(row) - 1)
            for visual, share in row:
                w = free * share / total
                cell = Cell(visual, x, y - row_h, w, row_h)
                cell.caption_lines = _caption_lines(visual, cell, ctx)
                sheet.cells.append(cell)
                x += w + GAP
            y -= row_h + GAP
        sheets.append(sheet)
    return sheets


MIN_ROW = 170.0  # a chart row is never squeezed below this height by a table row


def _chrome(lines: int = 1) -> float:
    """Card height that is not content: paddings, title and caption."""
    return 2 * CARD_PAD + TITLE_H + lines * CAPTION_LINE + 3


def _row_heights(rows, available: float, ctx: Context) -> list[float]:
    """Rows holding one table take the height the table needs (within limits); the other rows
    share the rest equally."""
    n = len(rows)
    free = available - GAP * (n - 1)
    wanted: list[float | None] = []
    for row in rows:
        if len(row) == 1 and row[0][0].kind == "table":
            visual = row[0][0]
            body = max(3, len(visual.data)) * ROW_H + HEAD_H + 4
            wanted.append(_chrome(2) + body)
        else:
            wanted.append(None)
    flexible = sum(w is None for w in wanted)
    heights = []
    for w in wanted:
        if w is None:
            heights.append(0.0)
        else:
            cap = free - MIN_ROW * flexible
            heights.append(min(w, max(cap, free / n)))
    rest = free - sum(heights)
    return [h if w is not None else rest / flexible for h, w in zip(heights, wanted, strict=True)]


def _narrative_height(page: Page, ctx: Context) -> float:
    para = Paragraph(" ".join(markup(s, ctx.theme.font) for s in page.narrative),
                     ctx.styles.narrative)  # fmt: skip
    _, h = para.wrap(ctx.width - 28, 1000)
    return h + 16


def _caption_text(visual: Visual) -> str:
    text = visual.caption
    if visual.note and not visual.data.empty:
        text = f"{text} {visual.note}".strip()
    return text


def _caption_lines(visual: Visual, cell: Cell, ctx: Context) -> int:
    text = _caption_text(visual)
    if not text:
        return 1
    para = Paragraph(markup(text, ctx.theme.font), ctx.styles.caption)
    _, h = para.wrap(cell.w - 2 * CARD_PAD, 1000)
    return max(1, min(2, round(h / CAPTION_LINE)))


# Flowables -------------------------------------------------------------------------------------


class Anchor(Flowable):
    """A zero-size mark: a PDF bookmark + outline entry, and the section shown in headers."""

    def __init__(self, key: str, title: str, ctx: Context, level: int = 0) -> None:
        super().__init__()
        self.key, self.title, self.ctx, self.level = key, title, ctx, level
        self.width = self.height = 0

    def wrap(self, aw, ah):
        return 0, 0

    def draw(self):
        c = self.canv
        c.bookmarkPage(self.key)
        c.addOutlineEntry(self.title, self.key, level=self.level, closed=False)
        c._finrep_section = self.title  # read by the header of this page
        self.ctx.section_pages[self.key] = c.getPageNumber()


class _Fixed(Flowable):
    """A flowable filling the whole content frame, drawn by `paint`."""

    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx

    def wrap(self, aw, ah):
        return self.ctx.width, self.ctx.height - 0.5

    def draw(self):
        self.paint(self.canv)

    def paint(self, c) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class CoverPage(_Fixed):
    def paint(self, c) -> None:
        ctx, theme, pack = self.ctx, self.ctx.theme, self.ctx.pack
        font = theme.font
        w, h = ctx.width, ctx.height
        pw, ph = page_size(theme.page_size)
        # The band bleeds to the page edges: draw it in page coordinates.
        c.saveState()
        c.translate(-MARGIN_X, -BOTTOM)
        band_h = ph * 0.38
        c.setFillColor(colors.HexColor(theme.primary))
        c.rect(0, ph - band_h, pw, band_h, stroke=0, fill=1)
        c.setFillColor(colors.HexColor(theme.accent))
        c.rect(0, ph - band_h, pw, 4, stroke=0, fill=1)
        x = MARGIN_X
        top = ph - 58
        if theme.logo:
            c.drawImage(theme.logo, pw - MARGIN_X - 150, ph - 86, 140, 48,
                        preserveAspectRatio=True, anchor="ne", mask="auto")  # fmt: skip
        _draw(c, x, top, fit_text(theme.company, 13, pw - 260, font, True), 13, "#FFFFFF",
              font, True)  # fmt: skip
        _draw(c, x, top - 70, fit_text(pack.title, 30, pw - 2 * x, font, True), 30, "#FFFFFF",
              font, True)  # fmt: skip
        _draw(c, x, top - 104, pack.period.label, 18, "#FFFFFF", font)
        compared = f"Compared with {pack.comparison.label} and {pack.last_year.label}"
        _draw(c, x, top - 126, compared, 9.5, "#D5DEEA", font)
        filters = pack.filters.label() or "All clients, products and channels"
        para = Paragraph(
            f'<font color="#FFFFFF">{markup(filters, font)}</font>',
            ParagraphStyle("cf", ctx.styles.body, fontSize=9.5, leading=12),
        )
        _, fh = para.wrap(pw - 2 * x, 60)
        para.drawOn(c, x, ph - band_h + 18)
        c.restoreState()
        # Headline figures.
        kpis = _cover_kpis(pack)
        y = h - band_h + BOTTOM - 40
        _draw(c, 0, y, "Headline figures", 10, theme.ink, font, True)
        _draw(c, text_width("Headline figures", 10, font, True) + 8, y,
              f"{pack.period.label} · as of {formats.format_date(pack.as_of)}", 8, theme.muted,
              font)  # fmt: skip
        if kpis:
            tile_h = 84
            draw_kpi_strip(c, 0, y - 14 - tile_h, w, tile_h, kpis, ctx, big=True)
        story = " ".join(pack.page("executive").narrative) if _has_page(pack, "executive") else ""
        if story:
            top = y - 14 - 84 - 16
            # The story must end above the two footer lines (y ≤ 40): shrink the type until
            # it fits rather than let a long narrative run into them.
            for size in (9.5, 9, 8.5, 8, 7.5):
                style = ParagraphStyle("cover_story", ctx.styles.narrative, fontSize=size,
                                       leading=size * 1.42)  # fmt: skip
                para = Paragraph(markup(story, font), style)
                _, ph2 = para.wrap(w - 40, top - 50)
                if top - (ph2 + 34) >= 40:
                    break
            box = ph2 + 34
            c.setFillColor(colors.HexColor(theme.panel))
            c.roundRect(0, top - box, w, box, 5, stroke=0, fill=1)
            c.setFillColor(colors.HexColor(theme.primary))
            c.rect(0, top - box + 6, 2.2, box - 12, stroke=0, fill=1)
            _draw(c, 16, top - 16, "At a glance", 8, theme.muted, font, True)
            para.drawOn(c, 16, top - 24 - ph2)
        foot = (f"Prepared by finrep {pack.run.finrep_version} from {len(pack.run.sources)} "
                f"source files · data as of {formats.format_date(pack.as_of)}")  # fmt: skip
        _draw(c, 0, 26, foot, 7, theme.muted, font)
        if theme.confidentiality:
            _draw(c, 0, 14, fit_text(theme.confidentiality, 7, w - 28, font), 7, theme.muted, font)


def _has_page(pack: Pack, key: str) -> bool:
    return any(p.key == key for p in pack.pages)


def _cover_kpis(pack: Pack) -> list[KPI]:
    if _has_page(pack, "executive"):
        return list(pack.page("executive").kpis)
    keys = ("aum", "net_flows", "active_customers", "retention_rate", "fee_revenue")
    return [pack.kpis[k] for k in keys if k in pack.kpis] or [
        p.kpis[0] for p in pack.pages if p.kpis
    ]


class ContentsPage(_Fixed):
    def paint(self, c) -> None:
        ctx, theme, pack = self.ctx, self.ctx.theme, self.ctx.pack
        font = theme.font
        w, h = ctx.width, ctx.height
        _draw(c, 0, h - 22, "Contents", 18, theme.primary, font, True)
        entries = contents_entries(pack)
        y = h - 62
        left = 40
        col_w = w * 0.62
        for number, key, title, blurb in entries:
            if number == "A":
                y -= 10
                _draw(c, left, y, "Appendices", 7.5, theme.muted, font, True)
                y -= 16
            page = ctx.section_pages.get(key)
            _draw(c, left, y, number, 11, theme.accent, font, True)
            _draw(c, left + 26, y, title, 11, theme.ink, font, True)
            page_text = str(page) if page else ""
            _draw(c, left + col_w, y, page_text, 11, theme.ink, font, True, anchor="end")
            tw = text_width(title, 11, font, True)
            c.setStrokeColor(colors.HexColor(theme.border))
            c.setDash([1, 2], 0)
            c.line(left + 26 + tw + 6, y + 2, left + col_w - 20, y + 2)
            c.setDash([], 0)
            if blurb:
                _draw(c, left + 26, y - 12, fit_text(blurb, 7.5, col_w - 60, font), 7.5,
                      theme.muted, font)  # fmt: skip
            if page:
                c.linkRect("", key, (left, y - 14, left + col_w, y + 12), relative=1, thickness=0)
            y -= 34 if blurb else 24
        # About this report.
        bx, bw = left + col_w + 40, w - (left + col_w + 40)
        c.setFillColor(colors.HexColor(theme.panel))
        c.roundRect(bx, h - 62 - 220 + 14, bw, 220, 6, stroke=0, fill=1)
        about = [
            ("Period", pack.period.label),
            ("Compared with", f"{pack.comparison.label}; {pack.last_year.label}"),
            ("Filters", pack.filters.label() or "None (all clients)"),
            ("Data as of", formats.format_date(pack.as_of)),
            ("Engine", pack.run.engine),
            ("Findings", _findings_summary(pack)),
        ]
        yy = h - 62
        _draw(c, bx + 12, yy, "About this report", 9, theme.ink, font, True)
        yy -= 18
        for label, value in about:
            _draw(c, bx + 12, yy, label, 6.8, theme.muted, font, True)
            para = Paragraph(markup(value, font), ctx.styles.small)
            _, ph = para.wrap(bw - 24, 60)
            para.drawOn(c, bx + 12, yy - 3 - ph)
            yy -= ph + 16


def contents_entries(pack: Pack) -> list[tuple[str, str, str, str]]:
    """(number, bookmark key, title, one-line description) for each section and appendix."""
    out = []
    for i, page in enumerate(pack.pages, start=1):
        titles = ", ".join(v.title for v in page.visuals[:4])
        out.append((str(i), f"section_{page.key}", page.title, titles))
    blurbs = {
        "definitions": "Every measure in plain words",
        "data_quality": "Validation findings and the AUM reconciliation",
        "run_information": "Source files with row counts and SHA-256, engine, version, filters",
    }
    for letter_, (key, title) in zip("ABC", APPENDICES, strict=True):
        out.append((letter_, key, title, blurbs[key]))
    return out


def _findings_summary(pack: Pack) -> str:
    sev = [str(getattr(f, "severity", "warning")).lower() for f in pack.findings]
    errors, warnings = sev.count("error"), len(sev) - sev.count("error")
    if not sev:
        return "No validation findings"
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' * (errors != 1)}")
    parts.append(f"{warnings} warning{'s' * (warnings != 1)}")
    return ", ".join(parts) + " (see Data quality)"


def draw_kpi_strip(c, x, y, w, h, kpis: Sequence[KPI], ctx: Context, big: bool = False) -> None:
    n = len(kpis)
    gap = 8.0
    tile_w = (w - gap * (n - 1)) / max(1, n)
    for i, kpi in enumerate(kpis):
        draw_kpi_tile(c, x + i * (tile_w + gap), y, tile_w, h, kpi, ctx, big)


def kpi_lines(kpi: KPI, pack: Pack, symbol: str) -> tuple[str, list[tuple[str, str, str]]]:
    """The value text and the two comparison lines (change text, direction, "vs …")."""
    value = formats.format_value(kpi.value, kpi.unit, symbol)
    lines = []
    for change, pct, period in (
        (kpi.change, kpi.change_pct, pack.comparison),
        (kpi.change_ly, kpi.change_ly_pct, pack.last_year),
    ):
        text = formats.format_change(change, pct, kpi.unit, symbol)
        lines.append((text, formats.direction(change, kpi.higher_is_better),
                      f"vs {comparison_label(period)}"))  # fmt: skip
    return value, lines


def draw_kpi_tile(c, x, y, w, h, kpi: KPI, ctx: Context, big: bool = False) -> None:
    theme, font = ctx.theme, ctx.theme.font
    c.setFillColor(colors.HexColor(theme.panel))
    c.roundRect(x, y, w, h, 5, stroke=0, fill=1)
    c.setFillColor(colors.HexColor(theme.accent))
    c.rect(x, y + 8, 2.2, h - 16, stroke=0, fill=1)
    pad = 10
    value, lines = kpi_lines(kpi, ctx.pack, theme.currency_symbol)
    label_size = 7.6 if big else 7.0
    _draw(c, x + pad, y + h - 14, fit_text(kpi.label, label_size, w - 2 * pad, font, True),
          label_size, theme.muted, font, True)  # fmt: skip
    size = 20.0 if big else 16.0
    while size > 9 and text_width(value, size, font, True) > w - 2 * pad:
        size -= 0.5
    _draw(c, x + pad, y + h - 16 - size, value, size, theme.ink, font, True)
    small = 7.0 if big else 6.5
    yy = y + (22 if big else 18)
    for text, direction, vs in lines:
        colour = theme.direction_colour(direction)
        used = _draw(c, x + pad, yy, text, small, colour, font, True)
        _draw(c, x + pad + used + 3, yy,
              fit_text(vs, small, w - 2 * pad - used - 3, font), small, theme.muted, font)  # fmt: skip
        yy -= small + 3.5


class DashboardSheet(_Fixed):
    """One printed page of a dashboard section: title, KPI strip, narrative, cards."""

    def __init__(self, ctx: Context, sheet: Sheet) -> None:
        super().__init__(ctx)
        self.sheet = sheet

    def paint(self, c) -> None:
        ctx, sheet, theme = self.ctx, self.sheet, self.ctx.theme
        font = theme.font
        w, h = ctx.width, ctx.height
        title = sheet.page.title
        used = _draw(c, 0, h - 18, title, 15, theme.primary, font, True)
        if sheet.index:
            _draw(c, used + 8, h - 18, "continued", 9, theme.muted, font)
        pack = ctx.pack
        right = (f"{pack.period.label} · compared with {comparison_label(pack.comparison)} "
                 f"and {comparison_label(pack.last_year)}")  # fmt: skip
        _draw(c, w, h - 17, right, 7.5, theme.muted, font, anchor="end")
        top = h - SECTION_TITLE_H
        if sheet.index == 0 and sheet.page.kpis:
            draw_kpi_strip(c, 0, top - KPI_H, w, KPI_H, sheet.page.kpis, ctx)
            top -= KPI_H + GAP
        if sheet.index == 0 and sheet.page.narrative:
            nh = sheet.narrative_h
            c.setFillColor(colors.HexColor(theme.panel))
            c.roundRect(0, top - nh, w, nh, 5, stroke=0, fill=1)
            c.setFillColor(colors.HexColor(theme.primary))
            c.rect(0, top - nh + 6, 2.2, nh - 12, stroke=0, fill=1)
            para = Paragraph(" ".join(markup(s, font) for s in sheet.page.narrative),
                             ctx.styles.narrative)  # fmt: skip
            _, ph = para.wrap(w - 28, nh)
            para.drawOn(c, 14, top - nh + (nh - ph) / 2)
        for cell in sheet.cells:
            self._card(c, cell)

    def _card(self, c, cell: Cell) -> None:
        ctx, theme = self.ctx, self.ctx.theme
        font = theme.font
        c.setStrokeColor(colors.HexColor(theme.border))
        c.setLineWidth(0.6)
        c.setFillColor(colors.HexColor(theme.background))
        c.roundRect(cell.x, cell.y, cell.w, cell.h, 5, stroke=1, fill=1)
        title = fit_text(cell.visual.title, 9, cell.w - 2 * CARD_PAD, font, True)
        _draw(c, cell.x + CARD_PAD, cell.y + cell.h - CARD_PAD - 9, title, 9, theme.ink, font, True)
        caption = _caption_text(cell.visual)
        if caption:
            para = Paragraph(markup(caption, font), ctx.styles.caption)
            _, ph = para.wrap(cell.w - 2 * CARD_PAD, 1000)
            if ph > cell.caption_lines * CAPTION_LINE + 1:
                short = fit_text(caption, 6.6, (cell.w - 2 * CARD_PAD) * cell.caption_lines * 0.97,
                                 font)  # fmt: skip
                para = Paragraph(markup(short, font), ctx.styles.caption)
                para.wrap(cell.w - 2 * CARD_PAD, 1000)
            para.drawOn(c, cell.x + CARD_PAD, cell.y + CARD_PAD - 1)
        bx, by, bw, bh = cell.chart_box
        if cell.visual.kind == "table":
            draw_table_card(c, cell.visual, bx, by, bw, bh, ctx)
        elif ctx.drawings is not None:
            drawing = ctx.drawings.get(cell.visual.key)
            if drawing is not None:
                replay(drawing, c, bx, by, font)


# Tables -----------------------------------------------------------------------------------------

ROW_H = 11.6
HEAD_H = 20.0


def table_text(visual: Visual, column: str, value: object, symbol: str) -> str:
    unit = visual.unit_of(column)
    if unit == "text" or not _is_number(value):
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return formats.NA if unit != "text" else ""
        return str(value) if unit == "text" else formats.format_value(value, unit, symbol)
    return formats.format_value(value, unit, symbol)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) or hasattr(value, "dtype")


def draw_table_card(c, visual: Visual, x, y, w, h, ctx: Context) -> None:
    """A dashboard table: as many rows as fit, one line per cell (long text cut with "…"),
    numbers right-aligned, data bars behind `options["bars"]` columns, returns coloured by sign."""
    theme, styles, font = ctx.theme, ctx.styles, ctx.theme.font
    data = visual.data.reset_index(drop=True)
    if data.empty:
        _no_data_panel(c, x, y, w, h, visual.note, theme)
        return
    columns = list(data.columns)
    units = [visual.unit_of(col) for col in columns]
    widths = _column_widths(data, columns, units, w, font)
    fit = max(1, int((h - HEAD_H) // ROW_H))
    shown = data if len(data) <= fit else data.iloc[: fit - 1]
    header = []
    for col, unit, cw in zip(columns, units, widths, strict=True):
        style = styles.head if unit == "text" else styles.head_right
        label = visual.label_of(col)
        para = Paragraph(markup(label, font), style)
        if para.wrap(cw - 6, 1000)[1] > HEAD_H - 2:  # more than two lines: cut it
            label = fit_text(label, style.fontSize, (cw - 6) * 1.8, font, True)
            para = Paragraph(markup(label, font), style)
        header.append(para)
    body = []
    for _, row in shown.iterrows():
        line = []
        for col, unit, cw in zip(columns, units, widths, strict=True):
            value = row[col]
            text = table_text(visual, col, value, theme.currency_symbol)
            signed = _is_number(value) and pd.notna(value) and value != 0
            if signed and unit not in ("return", "text") and _is_change(col):
                text = formats.format_signed(value, unit, theme.currency_symbol)
            text = fit_text(text, styles.cell.fontSize, cw - 6, font)
            style = styles.cell if unit == "text" else styles.cell_right
            safe = markup(text, font)
            if signed and unit == "return":
                colour = theme.positive if value > 0 else theme.negative
                safe = f'<font color="{colour}">{safe}</font>'
            line.append(Paragraph(safe, style))
        body.append(line)
    more = len(data) - len(shown)
    if more:
        note = f"… and {more} more (all {len(data)} rows are in the workbook)"
        body.append([Paragraph(markup(note, font), styles.small)] + [""] * (len(columns) - 1))
    table = Table([header, *body], colWidths=widths, rowHeights=[HEAD_H] + [ROW_H] * len(body))
    style = [
        ("VALIGN", (0, 0), (-1, 0), "BOTTOM"),
        ("VALIGN", (0, 1), (-1, -1), "MIDDLE"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.HexColor(theme.ink)),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 0),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]
    if more:
        style.append(("SPAN", (0, len(body)), (-1, len(body))))
    table.setStyle(TableStyle(style))
    _, th = table.wrap(w, h)
    bottom = y + h - th
    # Zebra rows, then data bars, then the text on top.
    c.setFillColor(colors.HexColor(theme.panel))
    for i in range(1, len(shown), 2):
        row_top = y + h - HEAD_H - i * ROW_H
        c.rect(x, row_top - ROW_H, sum(widths), ROW_H, stroke=0, fill=1)
    # Data bars behind the listed columns (drawn first: the numbers sit on top).
    xs = [x + sum(widths[:j]) for j in range(len(widths) + 1)]
    for col in (c_ for c_ in visual.options.get("bars", ()) if c_ in columns):
        j = columns.index(col)
        values = pd.to_numeric(shown[col], errors="coerce")
        peak = values.abs().max()
        if not peak or pd.isna(peak):
            continue
        span = (xs[j + 1] - xs[j]) - 6
        c.setFillColor(colors.HexColor(theme.accent), alpha=0.16)
        for i, v in enumerate(values):
            if pd.isna(v) or v == 0:
                continue
            bar_w = span * abs(v) / peak
            row_top = y + h - HEAD_H - i * ROW_H
            c.rect(xs[j + 1] - 3 - bar_w, row_top - ROW_H + 2, bar_w, ROW_H - 4, stroke=0, fill=1)
        c.setFillColor(colors.black, alpha=1)
    table.drawOn(c, x, bottom)


def _is_change(column: str) -> bool:
    return column.lower().startswith(("change", "delta"))


def _column_widths(data, columns, units, width, family) -> list[float]:
    natural = []
    for col, unit in zip(columns, units, strict=True):
        sample = [str(col)] + [str(v) for v in data[col].head(40)]
        longest = max(text_width(s, 6.9, family) for s in sample) + 8
        if unit == "text":
            natural.append(min(longest, 170.0))
        else:
            natural.append(min(max(longest, 44.0), 80.0))
    total = sum(natural)
    if total <= width:
        extra = width - total
        text_cols = [i for i, u in enumerate(units) if u == "text"] or list(range(len(columns)))
        for i in text_cols:
            natural[i] += extra / len(text_cols)
        return natural
    return [n * width / total for n in natural]


def _no_data_panel(c, x, y, w, h, note: str, theme: Theme) -> None:
    c.setFillColor(colors.HexColor(theme.panel))
    c.rect(x, y, w, h, stroke=0, fill=1)
    _draw(c, x + w / 2, y + h / 2 + 4, "No data", 9, theme.muted, theme.font, True, "middle")
    text = fit_text(note or "Nothing to show for this period and these filters.", 6.5, w - 20,
                    theme.font)  # fmt: skip
    _draw(c, x + w / 2, y + h / 2 - 10, text, 6.5, theme.muted, theme.font, anchor="middle")


# Appendices -------------------------------------------------------------------------------------


def _grid_table(rows, widths, ctx: Context, numeric: Sequence[int] = ()) -> Table:
    theme, styles, font = ctx.theme, ctx.styles, ctx.theme.font
    out = []
    for r, row in enumerate(rows):
        line = []
        for j, value in enumerate(row):
            if isinstance(value, Flowable):
                line.append(value)
                continue
            if r == 0:
                style = styles.head_right if j in numeric else styles.head
            else:
                style = styles.cell_right if j in numeric else styles.cell
            line.append(Paragraph(markup(value, font), style))
        out.append(line)
    table = Table(out, colWidths=widths, repeatRows=1)
    style = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.HexColor(theme.ink)),
        ("LINEBELOW", (0, 1), (-1, -1), 0.3, colors.HexColor(theme.border)),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    table.setStyle(TableStyle(style))
    return table


def appendix_definitions(ctx: Context) -> list[Flowable]:
    pack, styles = ctx.pack, ctx.styles
    out: list[Flowable] = [Anchor("definitions", "Definitions", ctx),
                           Paragraph("Appendix A · Definitions", styles.h1)]  # fmt: skip
    out.append(Paragraph(
        "How every number in this pack is computed, in plain words. Amounts are in "
        f"{escape(ctx.theme.currency_symbol)}; AUM is a month-end stock and is never summed "
        "over months.", styles.small))  # fmt: skip
    out.append(Spacer(1, 8))
    rows = [("Measure", "Definition")]
    rows += [(d.label, d.text) for d in pack.definitions]
    if len(rows) == 1:
        rows.append(("—", "No definitions were recorded in this pack."))
    out.append(_grid_table(rows, [150, ctx.width - 150], ctx))
    return out


def _finding_attr(finding: Any, name: str) -> str:
    value = getattr(finding, name, None)
    if value is None and isinstance(finding, dict):
        value = finding.get(name)
    return "" if value is None else str(value)


def appendix_data_quality(ctx: Context) -> list[Flowable]:
    pack, styles, theme = ctx.pack, ctx.styles, ctx.theme
    out: list[Flowable] = [Anchor("data_quality", "Data quality", ctx),
                           Paragraph("Appendix B · Data quality", styles.h1)]  # fmt: skip
    out.append(Paragraph("Validation findings", styles.h2))
    if not pack.findings:
        out.append(Paragraph("The data passed every validation check.", styles.body))
    else:
        errors = [f for f in pack.findings if _finding_attr(f, "severity").lower() == "error"]
        intro = (f"{_findings_summary(pack).replace(' (see Data quality)', '')}. Warnings do not "
                 "stop a report; they are listed so that readers can judge the figures.")  # fmt: skip
        if errors:
            intro += (" This pack was produced although the data has errors "
                      "(--allow-invalid): treat the affected figures with care.")  # fmt: skip
        out.append(Paragraph(escape(intro), styles.small))
        out.append(Spacer(1, 4))
        rows = [("Severity", "File", "Row", "Column", "Value", "Rule", "Message")]
        for f in pack.findings:
            value = _finding_attr(f, "value")
            rows.append((
                _finding_attr(f, "severity").capitalize(),
                _finding_attr(f, "file"),
                _finding_attr(f, "row"),
                _finding_attr(f, "column"),
                value if len(value) <= 40 else value[:39] + "…",
                _finding_attr(f, "rule"),
                _finding_attr(f, "message"),
            ))  # fmt: skip
        widths = [48, 100, 40, 80, 90, 100]
        widths.append(ctx.width - sum(widths))
        table = _grid_table(rows, widths, ctx, numeric=(2,))
        for r, f in enumerate(pack.findings, start=1):
            if _finding_attr(f, "severity").lower() == "error":
                table.setStyle(TableStyle([("TEXTCOLOR", (0, r), (0, r),
                                            colors.HexColor(theme.negative))]))  # fmt: skip
        out.append(table)
    out.append(CondPageBreak(120))
    out.append(Paragraph("AUM reconciliation", styles.h2))
    out.append(Paragraph(escape(
        "Each month, closing AUM should equal opening AUM plus net flows plus investment "
        "returns minus fees. The residual is what the data leaves unexplained; it is flagged "
        "when larger than the tolerance set in the configuration."), styles.small))  # fmt: skip
    out.append(Spacer(1, 4))
    out.append(_reconciliation_table(pack.reconciliation, ctx))
    return out


_RECON_COLUMNS = (
    ("month", "Month"),
    ("aum_open", "Opening AUM"),
    ("new_money", "New money"),
    ("contributions", "Contributions"),
    ("withdrawals", "Withdrawals"),
    ("investment_returns", "Returns"),
    ("fees", "Fees"),
    ("aum", "Closing AUM"),
    ("residual", "Residual"),
    ("flagged", "Flag"),
)


def _reconciliation_table(frame: pd.DataFrame, ctx: Context) -> Flowable:
    if frame is None or frame.empty:
        return Paragraph("No months to reconcile.", ctx.styles.body)
    symbol = ctx.theme.currency_symbol
    cols = [(c, label) for c, label in _RECON_COLUMNS if c in frame.columns]
    rows: list[tuple] = [tuple(label for _, label in cols)]
    for _, r in frame.iterrows():
        line = []
        for c, _ in cols:
            v = r[c]
            if c == "month":
                d = pd.Timestamp(v).date() if not isinstance(v, str) else None
                line.append(formats.format_month(d, "medium") if d else str(v))
            elif c == "flagged":
                line.append("Flagged" if bool(v) else "OK")
            else:
                # Two decimals: a residual of a few cents must be visible, not rounded away.
                line.append(formats.format_currency(v, symbol, decimals=2) if c == "residual"
                            else formats.format_currency(v, symbol))  # fmt: skip
        rows.append(tuple(line))
    n = len(cols)
    widths = [ctx.width / n] * n
    return _grid_table(rows, widths, ctx, numeric=tuple(range(1, n - 1)))


def appendix_run(ctx: Context) -> list[Flowable]:
    pack, styles = ctx.pack, ctx.styles
    run = pack.run
    out: list[Flowable] = [Anchor("run_information", "Run information", ctx),
                           Paragraph("Appendix C · Run information", styles.h1)]  # fmt: skip
    facts = [
        ("Item", "Value"),
        ("finrep version", run.finrep_version),
        ("Engine", run.engine),
        ("Data folder", run.data_dir),
        ("Period", f"{pack.period.label} ({pack.period.start.isoformat()} to "
                   f"{pack.period.end.isoformat()})"),
        ("Compared with", f"{pack.comparison.label} (previous period); {pack.last_year.label} "
                          "(a year earlier)"),
        ("Filters", pack.filters.label() or "None"),
        ("Data as of", formats.format_date(pack.as_of, "iso")),
    ]  # fmt: skip
    for key, value in sorted(dict(run.options).items()):
        if key in ("filters", "period") or value in (None, "", (), [], {}):
            continue  # shown above
        if isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, dict):
            text = "; ".join(f"{k}={', '.join(map(str, v)) if isinstance(v, list | tuple) else v}"
                             for k, v in value.items())  # fmt: skip
        elif isinstance(value, list | tuple):
            text = ", ".join(map(str, value))
        else:
            text = str(value)
        facts.append((f"Option: {key.replace('_', ' ')}", text))
    out.append(_grid_table(facts, [150, ctx.width - 150], ctx))
    out.append(Paragraph("Source files", styles.h2))
    rows: list[tuple] = [("Table", "File", "Format", "Rows", "SHA-256")]
    for s in run.sources:
        rows.append((s.table, s.path, s.format, formats.format_count(s.rows),
                     Paragraph(escape(s.sha256), styles.mono)))  # fmt: skip
    widths = [110, 160, 50, 70]
    widths.append(ctx.width - sum(widths))
    out.append(_grid_table(rows, widths, ctx, numeric=(3,)))
    return out


# Document ---------------------------------------------------------------------------------------


def _canvas_class(pack: Pack, theme: Theme):
    stamp = f"D:{pack.as_of:%Y%m%d}000000+00'00'"

    class _PackCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            kwargs["invariant"] = 1
            super().__init__(*args, **kwargs)
            # Documents are dated by the data's as-of date, never by the clock.
            self.setDateFormatter(lambda *_: stamp)
            self.setCreator(f"finrep {pack.run.finrep_version}")
            self.setProducer("finrep (ReportLab)")
            self.showOutline()

    return _PackCanvas


def _header_footer(ctx: Context) -> Callable:
    def draw(c, doc) -> None:
        page = c.getPageNumber()
        if page == 1:
            return
        theme, pack, font = ctx.theme, ctx.pack, ctx.theme.font
        pw, ph = page_size(theme.page_size)
        c.saveState()
        c.setFillColor(colors.HexColor(theme.primary))
        c.rect(0, ph - 4, pw, 4, stroke=0, fill=1)
        section = getattr(c, "_finrep_section", "")
        left = " · ".join(x for x in (theme.company, section) if x)
        right = pack.period.label + " · " + (pack.filters.label() or "All clients")
        y = ph - 22
        lw = _draw(c, MARGIN_X, y, fit_text(left, 7.5, pw * 0.4, font, True), 7.5, theme.ink,
                   font, True)  # fmt: skip
        size = 7.5
        room = pw - 2 * MARGIN_X - lw - 20
        while size > 5.5 and text_width(right, size, font) > room:
            size -= 0.25
        _draw(c, pw - MARGIN_X, y, fit_text(right, size, room, font), size, theme.muted, font,
              anchor="end")  # fmt: skip
        c.setStrokeColor(colors.HexColor(theme.border))
        c.setLineWidth(0.6)
        c.line(MARGIN_X, ph - 29, pw - MARGIN_X, ph - 29)
        c.line(MARGIN_X, 24, pw - MARGIN_X, 24)
        total = ctx.total_pages or page
        _draw(c, pw - MARGIN_X, 13, f"Page {page} of {total}", 7, theme.ink, font, anchor="end")
        middle = f"Data as of {formats.format_date(pack.as_of)}"
        _draw(c, pw / 2, 13, middle, 7, theme.muted, font, anchor="middle")
        conf = fit_text(theme.confidentiality, 6.8, pw / 2 - MARGIN_X - 80, font)
        _draw(c, MARGIN_X, 13, conf, 6.8, theme.muted, font)
        c.restoreState()

    return draw


def _story(ctx: Context, sheets: list[Sheet]) -> list[Flowable]:
    story: list[Flowable] = [
        Anchor("cover", "Cover", ctx),
        CoverPage(ctx),
        NextPageTemplate("body"),
        PageBreak(),
        Anchor("contents", "Contents", ctx),
        ContentsPage(ctx),
        PageBreak(),
    ]
    for sheet in sheets:
        if sheet.index == 0:
            story.append(Anchor(f"section_{sheet.page.key}", sheet.page.title, ctx))
        story.append(DashboardSheet(ctx, sheet))
        story.append(PageBreak())
    story += appendix_definitions(ctx)
    story.append(PageBreak())
    story += appendix_data_quality(ctx)
    story.append(PageBreak())
    story += appendix_run(ctx)
    return story


def _build(ctx: Context, sheets: list[Sheet]) -> bytes:
    theme, pack = ctx.theme, ctx.pack
    pw, ph = page_size(theme.page_size)
    buffer = io.BytesIO()
    filters = pack.filters.label() or "All clients"
    doc = BaseDocTemplate(
        buffer,
        pagesize=(pw, ph),
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=TOP,
        bottomMargin=BOTTOM,
        title=f"{pack.title} — {pack.period.label}",
        author=theme.author,
        subject=f"{theme.company} · {pack.period.label} · {filters}",
        creator=f"finrep {pack.run.finrep_version}",
        keywords=["finrep", pack.period.spec, *[v for _, vs in pack.filters.items() for v in vs]],
        invariant=1,
        pageCompression=1,
        lang="en",
    )
    frame = Frame(MARGIN_X, BOTTOM, ctx.width, ctx.height, 0, 0, 0, 0, id="content")
    header = _header_footer(ctx)
    doc.addPageTemplates([
        PageTemplate("cover", frames=[frame], onPageEnd=header),
        PageTemplate("body", frames=[frame], onPageEnd=header),
    ])  # fmt: skip
    try:
        doc.build(_story(ctx, sheets), canvasmaker=_canvas_class(pack, theme))
    except LayoutError as exc:
        raise RenderError(f"the PDF could not be laid out: {exc}") from exc
    ctx.total_pages = doc.page
    return buffer.getvalue()


def chart_jobs(sheets: list[Sheet]) -> list[tuple[ChartSpec, float, float]]:
    jobs = []
    for sheet in sheets:
        for cell in sheet.cells:
            if cell.visual.kind == "table":
                continue
            _, _, w, h = cell.chart_box
            jobs.append((ChartSpec.from_visual(cell.visual), w, h))
    return jobs


def _layout_context(theme: Theme, pack: Pack | None = None) -> Context:
    register_fonts(theme.font)  # text is measured with the document's fonts
    pw, ph = page_size(theme.page_size)
    return Context(pack, theme, make_styles(theme), pw - 2 * MARGIN_X, ph - TOP - BOTTOM)  # type: ignore[arg-type]


class PageCharts:
    """Charts queued page by page while a pack is still being computed.

    `add(page)` sizes the page's charts exactly as `render_pdf` will and queues them on the
    pool, so workers draw the first pages while the measures of later pages run; `render_pdf`
    then collects them instead of drawing. A chart whose page or size differs at render time
    is simply drawn then.
    """

    def __init__(self, theme: Theme, pool: ChartPool) -> None:
        self.theme, self.pool = theme, pool
        self._ctx: Context | None = None
        self._queued: dict[tuple[str, float, float], tuple[Visual, Any]] = {}

    def add(self, page: Page) -> None:
        if self._ctx is None:
            self._ctx = _layout_context(self.theme)
        cells = [c for sheet in plan_page(page, self._ctx) for c in sheet.cells]
        jobs = chart_jobs([Sheet(page, 0, cells)])
        visuals = [c.visual for c in cells if c.visual.kind != "table"]
        for visual, (spec, w, h), handle in zip(
            visuals, jobs, self.pool.submit(jobs, self.theme), strict=True
        ):
            self._queued[(spec.key, w, h)] = (visual, handle)

    def take(self, visual: Visual, width: float, height: float) -> Any | None:
        """The queued job of this very visual at this size, or None."""
        found = self._queued.get((visual.key, width, height))
        if found is None or found[0] is not visual:
            return None
        del self._queued[(visual.key, width, height)]
        return found[1]


def render_pdf(
    pack: Pack,
    theme: Theme,
    *,
    pool: ChartPool | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    charts: PageCharts | None = None,
) -> bytes:
    """The PDF pack as bytes. Charts are drawn on `pool` (one is made when None); those
    queued already on `charts` (same pool) are collected rather than drawn again."""
    ctx = _layout_context(theme, pack)
    sheets = plan_sheets(pack, ctx)
    jobs = chart_jobs(sheets)

    def step(done: int, total: int) -> None:
        if progress:
            progress("Drawing charts", done, total)

    own = pool is None
    pool = pool or (charts.pool if charts is not None else ChartPool(1))
    try:
        visuals = [c.visual for sheet in sheets for c in sheet.cells if c.visual.kind != "table"]
        handles = [charts.take(v, w, h) if charts is not None else None
                   for v, (_, w, h) in zip(visuals, jobs, strict=True)]  # fmt: skip
        missing = [i for i, h in enumerate(handles) if h is None]
        for i, handle in zip(missing, pool.submit([jobs[i] for i in missing], theme), strict=True):
            handles[i] = handle
        if progress:
            progress("Laying out the PDF", 0, 2)
        # Pass 1 counts pages and finds where sections start; it replays no chart, so it runs
        # while the workers finish drawing. Pass 2 draws everything with "page x of y" and the
        # contents page numbers known.
        _build(ctx, sheets)
        ctx.section_pages = dict(ctx.section_pages)
        drawings = pool.collect(handles, step)
    finally:
        if own and charts is None:
            pool.close()
    ctx.drawings = {spec.key: d for (spec, _, _), d in zip(jobs, drawings, strict=True)}
    if progress:
        progress("Laying out the PDF", 1, 2)
    data = _build(ctx, sheets)
    if progress:
        progress("Laying out the PDF", 2, 2)
    return data


__all__ = [
    "GRIDS",
    "PageCharts",
    "comparison_label",
    "contents_entries",
    "kpi_lines",
    "page_size",
    "render_pdf",
]
