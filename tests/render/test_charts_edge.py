"""Every chart kind on edge data: empty, one point, zeros, long names, many categories."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from finrep.errors import RenderError
from finrep.render.charts import CHARTS, HEXBIN_ABOVE, OTHER, ChartSpec, draw_chart, top_n
from finrep.render.theme import default_theme
from finrep.render.vector import Drawing

THEME = default_theme()
LONG = "An Extraordinarily Long Product Name That Goes On And On Without Any Mercy At All"
MONTHS = [date(2024, m, 1) for m in range(1, 13)]


def texts(drawing: Drawing) -> list[str]:
    return [op[3] for op in drawing.ops if op[0] == "text"]


def draw(kind, data, w=320.0, h=200.0, **kw) -> Drawing:
    return draw_chart(ChartSpec("v", kind, pd.DataFrame(data), **kw), THEME, w, h)


# One typical frame per kind, used to derive the edge cases.
TYPICAL = {
    "line": {"x": MONTHS, "a": np.arange(12.0), "b": np.arange(12.0) * 2},
    "forecast": {
        "x": MONTHS,
        "actual": [1.0, 2, 3, 4, 5, 6, 7, 8, 9, None, None, None],
        "forecast": [None] * 8 + [9.0, 10, 11, 12],
        "lo80": [None] * 8 + [9.0, 9, 10, 10],
        "hi80": [None] * 8 + [9.0, 11, 12, 14],
        "lo95": [None] * 8 + [9.0, 8, 9, 9],
        "hi95": [None] * 8 + [9.0, 12, 13, 15],
    },
    "donut": {"label": ["A", "B", "C"], "value": [3.0, 2.0, 1.0]},
    "combo": {"x": MONTHS, "inflows": [5.0] * 12, "withdrawals": [3.0] * 12, "net": [2.0] * 12},
    "waterfall": {
        "label": ["Open", "Up", "Down", "Close"],
        "value": [100.0, 20.0, -5.0, 115.0],
        "total": [True, False, False, True],
    },
    "bar": {"label": ["A", "B", "C"], "value": [3.0, 2.0, 1.0]},
    "diverging": {"label": ["A", "B"], "value": [0.1, -0.05], "group": ["Top", "Bottom"]},
    "stacked": {"x": MONTHS, "Phone": [3.0] * 12, "Web": [2.0] * 12},
    "bubble": {
        "label": ["A", "B"],
        "x": [0.1, 0.2],
        "y": [0.05, -0.01],
        "size": [10.0, 5.0],
        "group": ["Bond Fund", "ETF"],
    },  # fmt: skip
    "scatter": {"x": [1.0, 2, 3], "y": [10.0, 20, 15], "group": ["Affluent"] * 3},
    "heatmap": {"row": ["r1", "r2"], "c1": [1.0, 2.0], "c2": [3.0, None]},
    "state_map": {"state": ["CA", "NY"], "value": [10.0, 5.0], "value2": [1e6, 5e5]},
    "sankey": {
        "source": ["Web", "Web", "Bond Fund"],
        "target": ["Bond Fund", "ETF", "Active"],
        "value": [5.0, 3.0, 4.0],
        "stage": [0, 0, 1],
    },  # fmt: skip
    "gauge": {"value": [0.72], "target": [0.75]},
    "funnel": {"label": ["All", "First", "Resolved"], "value": [100.0, 80.0, 60.0]},
}


def test_every_kind_has_a_typical_case():
    assert set(TYPICAL) == set(CHARTS)


@pytest.mark.parametrize("kind", sorted(CHARTS))
def test_typical_data_draws_vector_ops(kind):
    d = draw(kind, TYPICAL[kind])
    assert isinstance(d, Drawing)
    assert (d.width, d.height) == (320.0, 200.0)
    assert any(op[0] == "path" for op in d.ops)
    assert not any(op[0] == "image" for op in d.ops)  # vectors only, never pixels


@pytest.mark.parametrize("kind", sorted(CHARTS))
def test_empty_frame_draws_a_no_data_panel(kind):
    empty = pd.DataFrame({c: [] for c in TYPICAL[kind]})
    d = draw_chart(ChartSpec("v", kind, empty, note="No contacts in this period."), THEME,
                   300, 180)  # fmt: skip
    assert "No data" in texts(d)
    assert "No contacts in this period." in texts(d)


@pytest.mark.parametrize("kind", sorted(CHARTS))
def test_single_row(kind):
    one = pd.DataFrame(TYPICAL[kind]).iloc[:1]
    d = draw(kind, one)
    assert d.ops


@pytest.mark.parametrize("kind", sorted(CHARTS))
def test_all_zero_values(kind):
    frame = pd.DataFrame(TYPICAL[kind])
    for col in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[col]) and col not in ("stage",):
            frame[col] = 0.0
    d = draw(kind, frame)
    assert d.ops


@pytest.mark.parametrize("kind", ["bar", "donut", "diverging", "funnel", "waterfall", "bubble"])
def test_very_long_names_are_shortened(kind):
    frame = pd.DataFrame(TYPICAL[kind])
    frame["label"] = [LONG + f" {i}" for i in range(len(frame))]
    d = draw(kind, frame)
    drawn = " ".join(texts(d))
    assert LONG not in drawn
    assert "…" in drawn


@pytest.mark.parametrize("kind", ["bar", "donut"])
def test_200_categories_fold_into_other(kind):
    frame = pd.DataFrame({"label": [f"Category {i:03d}" for i in range(200)],
                          "value": np.linspace(200, 1, 200)})  # fmt: skip
    d = draw(kind, frame, h=260)
    labels = texts(d)
    assert any(t.startswith(OTHER) for t in labels)
    assert not any("Category 150" in t for t in labels)


def test_200_categories_in_a_heatmap_stacked_and_sankey():
    wide = pd.DataFrame({"row": [f"r{i}" for i in range(200)], "v": np.arange(200.0)})
    assert draw("heatmap", wide, h=400).ops
    stacked = pd.DataFrame({"x": ["a", "b"]} | {f"s{i}": [1.0, 2.0] for i in range(200)})
    assert OTHER in texts(draw("stacked", stacked))
    flows = pd.DataFrame({"source": [f"c{i}" for i in range(200)], "target": ["T"] * 200,
                          "value": np.arange(1.0, 201.0), "stage": [0] * 200})  # fmt: skip
    assert any(t.startswith(OTHER) for t in texts(draw("sankey", flows)))


def test_top_n_sums_the_rest_into_other_for_additive_units():
    frame = pd.DataFrame({"label": list("abcde"), "value": [5.0, 4, 3, 2, 1]})
    folded = top_n(frame, "label", "value", 3, additive=True)
    assert list(folded["label"]) == ["a", "b", OTHER]
    assert list(folded["value"]) == [5.0, 4.0, 6.0]  # 3 + 2 + 1
    cut = top_n(frame, "label", "value", 3, additive=False)
    assert list(cut["label"]) == ["a", "b", "c"]


def test_scatter_switches_to_hexbin_above_the_threshold():
    rng = np.random.default_rng(1)
    n = HEXBIN_ABOVE + 1
    big = pd.DataFrame({"x": rng.uniform(0, 60, n), "y": rng.lognormal(11, 1, n),
                        "group": ["Affluent"] * n})  # fmt: skip
    d = draw("scatter", big, units={"y": "currency"})
    paths = [op for op in d.ops if op[0] == "path"]
    assert len(paths) < 5_000  # hexagons, not one marker per point
    assert any("points" in t for t in texts(d))


def test_scatter_pins_extreme_outliers_to_the_edge():
    y = [0.01 * i for i in range(30)] + [240.0]  # one state grew 24,000%
    frame = pd.DataFrame({"x": np.arange(31.0), "y": y, "group": ["West"] * 31})
    d = draw("scatter", frame, units={"y": "return"})
    assert any("off scale" in t for t in texts(d))
    assert not any(t.startswith("24,000") for t in texts(d))  # the axis is not stretched


def test_money_in_labels_is_not_mathtext():
    frame = pd.DataFrame({"label": ["$1M – $5M", "$5M+"], "value": [2.0, 1.0]})
    assert "$1M – $5M" in texts(draw("bar", frame))


def test_hostile_and_unicode_labels_pass_through_verbatim():
    frame = pd.DataFrame({"label": ["<b>Bold & Co</b>", "Dvořák", "王"], "value": [3.0, 2, 1]})
    drawn = texts(draw("bar", frame))
    for name in ("<b>Bold & Co</b>", "Dvořák", "王"):
        assert name in drawn


def test_axis_ticks_use_the_shared_formats():
    frame = pd.DataFrame({"x": MONTHS, "aum": np.linspace(200e6, 260e6, 12)})
    drawn = texts(draw("line", frame, units={"aum": "currency"}))
    assert "$220M" in drawn or "$240M" in drawn
    assert "Jan\n2024" not in drawn and "Jan" in drawn and "2024" in drawn


def test_waterfall_labels_signed_changes_and_levels():
    drawn = texts(draw("waterfall", TYPICAL["waterfall"], units={"value": "currency"}))
    assert {"$100", "+$20", "-$5", "$115"} <= set(drawn)


def test_gauge_reads_value_and_gap_to_target():
    drawn = texts(draw("gauge", TYPICAL["gauge"], units={"value": "pct", "target": "pct"}))
    assert "72.0%" in drawn
    assert "Target 75.0%" in drawn
    assert any(t.startswith("▼ 3.0 pts") for t in drawn)


def test_missing_column_is_a_clear_render_error():
    with pytest.raises(RenderError, match="lacks column.*value"):
        draw("bar", {"label": ["a"]})


def test_unknown_kind_is_a_render_error():
    with pytest.raises(RenderError, match="no chart for kind 'pie3d'"):
        draw("pie3d", {"label": ["a"], "value": [1.0]})


def test_drawing_is_deterministic():
    a = draw("sankey", TYPICAL["sankey"])
    b = draw("sankey", TYPICAL["sankey"])
    assert a.ops == b.ops
