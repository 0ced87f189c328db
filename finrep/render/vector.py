"""matplotlib figures as vector drawings in reportlab: record once, replay on the PDF canvas.

A tiny matplotlib backend records what a figure draws (paths, text, images) as plain,
picklable operations in points, so charts can be drawn in worker processes and replayed on
the reportlab canvas of the main process. Replayed charts are true vectors (sharp at any zoom)
and their text is real text in the document's own embedded fonts (selectable, searchable,
one font subset for the whole PDF instead of one per chart).
"""

from __future__ import annotations

import numpy as np
from matplotlib.backend_bases import FigureCanvasBase, GraphicsContextBase, RendererBase
from matplotlib.path import Path as MplPath

from finrep.render.replay import Drawing, draw_runs, replay  # noqa: F401 (re-exported)
from finrep.render.theme import text_width

_BOLD_WEIGHTS = {"semibold", "demibold", "demi", "bold", "heavy", "extra bold", "black"}
_CAPS = {"butt": 0, "round": 1, "projecting": 2}
_JOINS = {"miter": 0, "round": 1, "bevel": 2}

# Operation tuples (kept small: thousands of them cross a process boundary):
#   ("path", segments, fill_rgba | None, stroke_rgba | None, linewidth, dash, cap, join, clip)
#   ("text", x, y, text, size, rgba, angle, bold, clip)
#   ("image", x, y, width, height, rgba_bytes, clip)
# segments: list of (code, flat coordinates); clip: (rect | None, segments | None).


def _rgba(values) -> tuple[float, float, float, float]:
    v = tuple(float(x) for x in values)
    return v if len(v) == 4 else (*v[:3], 1.0)


def _segments(path: MplPath, transform) -> list[tuple[int, tuple[float, ...]]]:
    out = []
    for verts, code in path.iter_segments(transform, remove_nans=True, simplify=False):
        out.append((int(code), tuple(round(float(v), 3) for v in verts)))
    return out


class _Renderer(RendererBase):
    def __init__(self, width: float, height: float, family: str) -> None:
        super().__init__()
        self.width = width
        self.height = height
        self.family = family
        self.ops: list[tuple] = []

    # Geometry: one display unit = one point (the figure is drawn at 72 dpi).
    def get_canvas_width_height(self):
        return self.width, self.height

    def points_to_pixels(self, points):
        return points

    def flipy(self):
        return False

    def option_image_nocomposite(self):
        return True

    def get_text_width_height_descent(self, s, prop, ismath):
        w, h, d = super().get_text_width_height_descent(s, prop, False)
        # The width as reportlab will draw it, so alignment matches on the page.
        bold = _is_bold(prop)
        return text_width(s, prop.get_size_in_points(), self.family, bold), h, d

    def _clip(self, gc: GraphicsContextBase):
        rect = gc.get_clip_rectangle()
        rect = None if rect is None else tuple(round(float(v), 3) for v in rect.bounds)
        path, trans = gc.get_clip_path()
        segs = None if path is None else _segments(path, trans)
        return (rect, segs) if rect is not None or segs is not None else None

    def draw_path(self, gc, path, transform, rgbFace=None):
        fill = None
        if rgbFace is not None:
            face = _rgba(rgbFace)
            alpha = gc.get_alpha() if gc.get_forced_alpha() or len(rgbFace) < 4 else face[3]
            fill = (*face[:3], float(alpha))
            if fill[3] <= 0:
                fill = None
        lw = float(gc.get_linewidth())
        stroke = _rgba(gc.get_rgb())
        if lw <= 0 or stroke[3] <= 0:
            stroke = None
        if fill is None and stroke is None:
            return
        offset, dashes = gc.get_dashes()
        dash = None if not dashes else (float(offset or 0), tuple(float(d) for d in dashes))
        self.ops.append(
            (
                "path",
                _segments(path, transform),
                fill,
                stroke,
                lw,
                dash,
                _CAPS.get(gc.get_capstyle(), 0),
                _JOINS.get(gc.get_joinstyle(), 0),
                self._clip(gc),
            )
        )

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if not s.strip():
            return
        self.ops.append(
            (
                "text",
                round(float(x), 3),
                round(float(y), 3),
                s,
                float(prop.get_size_in_points()),
                _rgba(gc.get_rgb()),
                float(angle),
                _is_bold(prop),
                self._clip(gc),
            )
        )

    def draw_image(self, gc, x, y, im, transform=None):
        arr = np.asarray(im, dtype=np.uint8)
        h, w = arr.shape[:2]
        self.ops.append(("image", float(x), float(y), w, h, arr.tobytes(), self._clip(gc)))


def _is_bold(prop) -> bool:
    weight = prop.get_weight()
    return weight >= 600 if isinstance(weight, int) else weight in _BOLD_WEIGHTS


class RecordingCanvas(FigureCanvasBase):
    """Canvas whose renderer records operations instead of painting pixels."""

    def __init__(self, figure, family: str) -> None:
        super().__init__(figure)
        self.family = family
        self._renderer: _Renderer | None = None

    def get_renderer(self) -> _Renderer:
        w, h = self.figure.bbox.size
        if self._renderer is None or (self._renderer.width, self._renderer.height) != (w, h):
            self._renderer = _Renderer(float(w), float(h), self.family)
        return self._renderer

    def record(self) -> Drawing:
        renderer = self.get_renderer()
        renderer.ops = []
        self.figure.draw(renderer)
        return Drawing(renderer.width, renderer.height, renderer.ops)


def record_figure(figure, family: str) -> Drawing:
    """Record `figure` (its dpi must be 72) as a `Drawing`."""
    canvas = figure.canvas if isinstance(figure.canvas, RecordingCanvas) else None
    return (canvas or RecordingCanvas(figure, family)).record()
