"""One look for every document: palette, fonts, sizes and company details from the config.

`Theme` is plain, picklable data (it travels to the chart worker processes). Fonts are
TrueType files found through matplotlib's font manager, so the PDF text and the chart text use
the very same font file; DejaVu Sans ships with matplotlib, so the default always resolves.
Characters the main font lacks (e.g. CJK names) fall back, glyph by glyph, to a system font
that has them when one is installed; otherwise they still extract as text but draw as boxes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from finrep.errors import RenderError

if TYPE_CHECKING:
    from finrep.config import Config

# reportlab font names: fixed, whatever family the config names, so code never spells a family.
REGULAR = "FinrepSans"
BOLD = "FinrepSans-Bold"
FALLBACK = "FinrepFallback"
MONO = "FinrepMono"  # SHA-256 digests in the run-information appendix

# Families tried, in order, for glyphs the main font lacks (CJK mostly). TrueType outlines only:
# reportlab cannot embed CFF-flavoured OpenType, so such candidates are skipped.
_FALLBACK_FAMILIES = (
    "Droid Sans Fallback",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "AR PL UMing CN",
    "Arial Unicode MS",
    "Microsoft YaHei",
    "SimHei",
    "MS Gothic",
)


@dataclass(frozen=True)
class Theme:
    """Colours are ``#RRGGBB``; sizes are points; `page_size` is ``Letter`` or ``A4``."""

    palette: tuple[str, ...]
    primary: str  # headings, cover band, totals
    accent: str  # the main series
    positive: str  # a change for the better
    negative: str  # a change for the worse
    neutral: str  # axes, muted text, flat changes
    background: str
    grid: str
    font: str  # family name, e.g. "DejaVu Sans"
    company: str = "finrep"
    title: str = "Report"
    author: str = "finrep"
    confidentiality: str = ""
    currency_symbol: str = "$"
    logo: str = ""  # absolute path, or "" for none
    page_size: str = "Letter"
    max_categories: int = 12
    ink: str = "#1F2937"  # body text
    muted: str = "#6B7280"  # captions, labels
    panel: str = "#F4F6F9"  # KPI tiles, narrative box
    border: str = "#DDE1E7"  # card outlines, table rules
    other: str = "#B8BEC8"  # the "Other" bucket in charts

    @classmethod
    def from_config(cls, config: Config) -> Theme:
        t, c, r = config.theme, config.company, config.report
        logo = ""
        if c.logo:
            path = Path(c.logo)
            if not path.is_absolute():
                path = Path(config.base_dir) / path
            if not path.is_file():
                raise RenderError(
                    f"company.logo: {path} not found; fix the path (relative to the config "
                    'file) or set logo = ""'
                )
            logo = str(path)
        return cls(
            palette=tuple(t.palette) or ("#0072B2",),
            primary=t.primary,
            accent=t.accent,
            positive=t.positive,
            negative=t.negative,
            neutral=t.neutral,
            background=t.background,
            grid=t.grid,
            font=t.font,
            company=c.name,
            title=r.title,
            author=r.author,
            confidentiality=c.confidentiality,
            currency_symbol=c.currency_symbol,
            logo=logo,
            page_size=r.page_size,
            max_categories=max(2, r.max_categories),
        )

    def colour(self, i: int) -> str:
        """The i-th series colour (cycling through the palette)."""
        return self.palette[i % len(self.palette)]

    def direction_colour(self, direction: str) -> str:
        """Colour for `formats.direction` results: good, bad, flat."""
        return {"good": self.positive, "bad": self.negative}.get(direction, self.neutral)


def default_theme() -> Theme:
    """The packaged configuration's theme (for tests and previews)."""
    from finrep.config import load_config

    return Theme.from_config(load_config())


# Fonts that ship inside matplotlib's package: found without importing matplotlib (the
# process writing the PDF need not import it when worker processes draw the charts).
_BUNDLED = {
    "DejaVu Sans": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    "DejaVu Serif": ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf"),
    "DejaVu Sans Mono": ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf"),
}


@dataclass(frozen=True)
class FontFiles:
    regular: str
    bold: str
    mono: str  # SHA-256 digests


def _bundled_dir() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"
    return folder if folder.is_dir() else None


@functools.cache
def font_files(family: str) -> FontFiles:
    """Locate the TrueType files of `family` (regular, bold) and of the monospaced font."""
    folder = _bundled_dir()
    if folder is not None and family in _BUNDLED:
        regular, bold = (folder / name for name in _BUNDLED[family])
        mono = folder / _BUNDLED["DejaVu Sans Mono"][0]
        if regular.is_file() and bold.is_file() and mono.is_file():
            return FontFiles(str(regular), str(bold), str(mono))
    from matplotlib import font_manager

    def find(name: str, weight: str) -> str:
        prop = font_manager.FontProperties(family=name, weight=weight)
        try:
            path = font_manager.findfont(prop, fallback_to_default=False)
        except ValueError:
            raise RenderError(
                f"theme.font: font {name!r} is not installed; install it or use "
                '"DejaVu Sans" (ships with matplotlib)'
            ) from None
        if not path.lower().endswith(".ttf"):
            raise RenderError(
                f"theme.font: {name!r} resolves to {path}, which is not a TrueType (.ttf) "
                'file; choose a TrueType font such as "DejaVu Sans"'
            )
        return path

    return FontFiles(find(family, "normal"), find(family, "bold"),
                     find("DejaVu Sans Mono", "normal"))  # fmt: skip


@functools.cache
def fallback_file() -> str | None:
    """A TrueType font with the glyphs DejaVu lacks (CJK), when the system has one."""
    from matplotlib import font_manager

    by_name: dict[str, str] = {}
    for entry in font_manager.fontManager.ttflist:
        by_name.setdefault(entry.name, entry.fname)
    for name in _FALLBACK_FAMILIES:
        path = by_name.get(name)
        if path and path.lower().endswith(".ttf") and _is_truetype(path):
            return path
    return None


def _is_truetype(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) in (b"\x00\x01\x00\x00", b"true")
    except OSError:
        return False


@functools.cache
def register_fonts(family: str) -> tuple[str, str]:
    """Register the theme fonts with reportlab once per process; returns (regular, bold)."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    files = font_files(family)
    pdfmetrics.registerFont(TTFont(REGULAR, files.regular))
    pdfmetrics.registerFont(TTFont(BOLD, files.bold))
    pdfmetrics.registerFont(TTFont(MONO, files.mono))
    for bold, italic, name in ((0, 0, REGULAR), (1, 0, BOLD), (0, 1, REGULAR), (1, 1, BOLD)):
        addMapping(REGULAR, bold, italic, name)
    return REGULAR, BOLD


@functools.cache
def fallback_font() -> str | None:
    """Register the fallback font on first need (most packs never need it); its name or None."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    path = fallback_file()
    if path is None:
        return None
    try:
        pdfmetrics.registerFont(TTFont(FALLBACK, path))
    except Exception:  # a font reportlab cannot read: do without the fallback
        return None
    return FALLBACK


@functools.cache
def _coverage(font_name: str) -> frozenset[int]:
    from reportlab.pdfbase import pdfmetrics

    return frozenset(pdfmetrics.getFont(font_name).face.charToGlyph)


def text_runs(text: str, family: str, bold: bool = False) -> list[tuple[str, str]]:
    """Split `text` into (reportlab font name, chunk) runs, using the fallback font only for
    characters the main font lacks."""
    regular, bold_name = register_fonts(family)
    main = bold_name if bold else regular
    have = _coverage(main)
    if all(ord(ch) in have or ord(ch) < 32 for ch in text):
        return [(main, text)] if text else []
    fallback = fallback_font()
    alt = _coverage(fallback) if fallback else frozenset()
    runs: list[tuple[str, str]] = []
    for ch in text:
        code = ord(ch)
        name = main if code in have or code < 32 or code not in alt else fallback
        if runs and runs[-1][0] == name:
            runs[-1] = (name, runs[-1][1] + ch)
        else:
            runs.append((name, ch))
    return runs


def text_width(text: str, size: float, family: str, bold: bool = False) -> float:
    """Width in points of `text` as reportlab draws it (fallback runs included)."""
    from reportlab.pdfbase import pdfmetrics

    return sum(
        pdfmetrics.stringWidth(chunk, name, size) for name, chunk in text_runs(text, family, bold)
    )


def mpl_rc(theme: Theme) -> dict[str, object]:
    """matplotlib rcParams for charts drawn in this theme (sizes in points)."""
    return {
        "font.family": [theme.font],
        "font.size": 7.0,
        "text.parse_math": False,  # "$1.2M – $3.4M" is money, not mathtext
        "text.color": theme.ink,
        "axes.edgecolor": theme.border,
        "axes.labelcolor": theme.muted,
        "axes.labelsize": 7.0,
        "axes.titlesize": 7.5,
        "axes.linewidth": 0.6,
        "axes.facecolor": "none",
        "axes.grid": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.unicode_minus": False,
        "axes.prop_cycle": __import__("cycler").cycler(color=list(theme.palette)),
        "xtick.color": theme.muted,
        "ytick.color": theme.muted,
        "xtick.labelsize": 6.5,
        "ytick.labelsize": 6.5,
        "xtick.major.size": 2.5,
        "ytick.major.size": 0,
        "xtick.major.width": 0.6,
        "ytick.major.pad": 3,
        "grid.color": theme.grid,
        "grid.linewidth": 0.6,
        "legend.fontsize": 6.5,
        "legend.frameon": False,
        "legend.handlelength": 1.2,
        "legend.handleheight": 0.8,
        "legend.borderaxespad": 0.2,
        "legend.columnspacing": 1.0,
        "lines.linewidth": 1.6,
        "lines.solid_capstyle": "round",
        "figure.facecolor": "none",
        "figure.dpi": 72,
        "savefig.dpi": 72,
        "hatch.linewidth": 0.5,
        "svg.hashsalt": "finrep",
    }


# Tile-grid map of the US (row, column of each state; 8 rows × 12 columns), shared by the
# PDF chart and the workbook's cell grid so both documents draw the same picture.
STATE_TILES: dict[str, tuple[int, int]] = {
    "AK": (0, 0), "ME": (0, 11),
    "VT": (1, 9), "NH": (1, 10),
    "WA": (2, 0), "ID": (2, 1), "MT": (2, 2), "ND": (2, 3), "MN": (2, 4), "IL": (2, 5),
    "WI": (2, 6), "MI": (2, 7), "NY": (2, 8), "RI": (2, 9), "MA": (2, 10),
    "OR": (3, 0), "NV": (3, 1), "WY": (3, 2), "SD": (3, 3), "IA": (3, 4), "IN": (3, 5),
    "OH": (3, 6), "PA": (3, 7), "NJ": (3, 8), "CT": (3, 9),
    "CA": (4, 0), "UT": (4, 1), "CO": (4, 2), "NE": (4, 3), "MO": (4, 4), "KY": (4, 5),
    "WV": (4, 6), "VA": (4, 7), "MD": (4, 8), "DE": (4, 9),
    "AZ": (5, 1), "NM": (5, 2), "KS": (5, 3), "AR": (5, 4), "TN": (5, 5), "NC": (5, 6),
    "SC": (5, 7), "DC": (5, 8),
    "OK": (6, 3), "LA": (6, 4), "MS": (6, 5), "AL": (6, 6), "GA": (6, 7),
    "HI": (7, 0), "TX": (7, 3), "FL": (7, 8),
}  # fmt: skip
