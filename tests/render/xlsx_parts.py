"""Read a workbook's zip parts for tests: which charts sit on which sheet, and what they plot."""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass
from xml.etree import ElementTree as ET

NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
    "c": "http://schemas.openxmlformats.org/drawingml/2006/chart",
}
PLOTS = ("lineChart", "areaChart", "barChart", "doughnutChart", "pieChart", "scatterChart",
         "bubbleChart", "radarChart")  # fmt: skip


@dataclass
class Series:
    plot: str  # e.g. "barChart"
    name_ref: str | None
    category_ref: str | None  # c:cat or c:xVal
    value_refs: list[str]  # c:val / c:yVal / c:bubbleSize


@dataclass
class Chart:
    part: str
    plots: list[str]  # plot element names in the chart, in order
    bar_dirs: list[str]
    groupings: list[str]
    series: list[Series]


def _rels(z: zipfile.ZipFile, part: str) -> dict[str, str]:
    folder, name = posixpath.split(part)
    rels = posixpath.join(folder, "_rels", name + ".rels")
    if rels not in z.namelist():
        return {}
    root = ET.fromstring(z.read(rels))
    out = {}
    for rel in root.findall("rel:Relationship", NS):
        target = rel.get("Target")
        out[rel.get("Id")] = posixpath.normpath(posixpath.join(folder, target))
    return out


def _ref(el) -> str | None:
    if el is None:
        return None
    f = el.find(".//c:f", NS)
    return f.text if f is not None else None


def parse_chart(z: zipfile.ZipFile, part: str) -> Chart:
    root = ET.fromstring(z.read(part))
    plots, bar_dirs, groupings, series = [], [], [], []
    plot_area = root.find(".//c:plotArea", NS)
    for el in plot_area:
        tag = el.tag.split("}")[1]
        if tag not in PLOTS:
            continue
        plots.append(tag)
        bd = el.find("c:barDir", NS)
        if bd is not None:
            bar_dirs.append(bd.get("val"))
        gr = el.find("c:grouping", NS)
        if gr is not None:
            groupings.append(gr.get("val"))
        for ser in el.findall("c:ser", NS):
            cat = ser.find("c:cat", NS)
            if cat is None:
                cat = ser.find("c:xVal", NS)
            values = [
                _ref(ser.find(t, NS))
                for t in ("c:val", "c:yVal", "c:bubbleSize")
                if ser.find(t, NS) is not None
            ]
            series.append(Series(tag, _ref(ser.find("c:tx", NS)), _ref(cat), values))
    return Chart(part, plots, bar_dirs, groupings, series)


def charts_by_sheet(path) -> dict[str, list[Chart]]:
    """Sheet name → its charts (in drawing order)."""
    with zipfile.ZipFile(path) as z:
        wb = ET.fromstring(z.read("xl/workbook.xml"))
        wb_rels = _rels(z, "xl/workbook.xml")
        out: dict[str, list[Chart]] = {}
        for sheet in wb.find("m:sheets", NS):
            name = sheet.get("name")
            part = wb_rels[sheet.get(f"{{{NS['r']}}}id")]
            charts = []
            for target in _rels(z, part).values():
                if "/drawings/drawing" in target:
                    for chart_part in _rels(z, target).values():
                        if "/charts/chart" in chart_part:
                            charts.append(parse_chart(z, chart_part))
            out[name] = sorted(charts, key=lambda c: int(re.findall(r"\d+", c.part)[-1]))
        return out


_REF = re.compile(r"^(?:'((?:[^']|'')+)'|([^!]+))!\$?([A-Z]+)\$?(\d+)(?::\$?([A-Z]+)\$?(\d+))?$")


def split_ref(ref: str) -> tuple[str, str]:
    """``'Sheet name'!$B$5:$B$9`` → (``Sheet name``, ``B5:B9``)."""
    m = _REF.match(ref)
    if not m:
        raise ValueError(ref)
    sheet = (m.group(1) or m.group(2)).replace("''", "'")
    a = f"{m.group(3)}{m.group(4)}"
    b = f"{m.group(5)}{m.group(6)}" if m.group(5) else a
    return sheet, f"{a}:{b}"
