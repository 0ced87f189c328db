"""A native Excel bubble chart (``<c:bubbleChart>``), which xlsxwriter does not offer.

`ChartBubble` is xlsxwriter's scatter chart with the series written as bubble series: x
values, y values and a ``size`` range, all bound to worksheet cells like any other series.
The element order follows ECMA-376 ``CT_BubbleSer``/``CT_BubbleChart``. Tested structurally
in tests/render/test_xlsx_charts.py (chart XML) and opened by LibreOffice while developing.

Use ``add_bubble_chart(workbook)`` instead of ``workbook.add_chart({"type": "bubble"})`` and
pass ``size`` (a range, like ``values``) to ``add_series``.
"""

from __future__ import annotations

from typing import Any

from xlsxwriter.chart_scatter import ChartScatter


class ChartBubble(ChartScatter):
    def __init__(self) -> None:
        super().__init__({"subtype": "marker_only"})
        self.label_position_default = "center"

    def add_series(self, options: dict[str, Any] | None = None) -> None:
        options = dict(options or {})
        size = options.pop("size", None)
        super().add_series(options)
        if not self.series or size is None:
            return
        formula = self._list_to_formula(size)
        self.series[-1]["bubble_size"] = formula
        self.series[-1]["size_data_id"] = self._get_data_id(formula, None)

    def _write_chart_type(self, args: dict) -> None:
        series = (
            self._get_primary_axes_series()
            if args["primary_axes"]
            else self._get_secondary_axes_series()
        )
        if not series:
            return
        self._xml_start_tag("c:bubbleChart")
        self._xml_empty_tag("c:varyColors", [("val", 0)])
        for data in series:
            self._write_ser(data)
        self._xml_empty_tag("c:bubbleScale", [("val", 100)])
        self._xml_empty_tag("c:showNegBubbles", [("val", 0)])
        self._write_axis_ids(args)
        self._xml_end_tag("c:bubbleChart")

    def _write_ser(self, series: dict) -> None:
        index = self.series_index
        self.series_index += 1
        self._xml_start_tag("c:ser")
        self._write_idx(index)
        self._write_order(index)
        self._write_series_name(series)
        self._write_sp_pr(series)
        self._xml_empty_tag("c:invertIfNegative", [("val", 0)])
        self._write_d_lbls(series.get("labels"))
        self._write_x_val(series)
        self._write_y_val(series)
        formula = series.get("bubble_size")
        if formula:
            self._xml_start_tag("c:bubbleSize")
            data = self.formula_data[series["size_data_id"]]
            self._write_num_ref(formula, data, "num")
            self._xml_end_tag("c:bubbleSize")
        self._xml_empty_tag("c:bubble3D", [("val", 0)])
        self._xml_end_tag("c:ser")


def add_bubble_chart(workbook: Any) -> ChartBubble:
    """Create a bubble chart in `workbook`, as `Workbook.add_chart` does for its own types."""
    chart = ChartBubble()
    chart.embedded = True
    chart.date_1904 = workbook.date_1904
    chart.remove_timezone = workbook.remove_timezone
    workbook.charts.append(chart)
    return chart
