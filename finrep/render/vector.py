"""matplotlib figures as vector drawings in reportlab: record once, replay on the PDF canvas.

A tiny matplotlib backend records what a figure draws (paths, text, images) as plain,
picklable operations in points, so charts can be drawn in worker processes and replayed on
the reportlab canvas of the main process. Replayed charts are true vectors (sharp at any zoom)
and their text is real text in the document's own embedded fonts (selectable, searchable,
one font subset for the whole PDF instead of one per chart).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from matplotlib.backend_bases import FigureCanvasBase, GraphicsContextBase, RendererBase
from matplotlib.path import Path as MplPath

from finrep.render.theme import text_runs, text_width

_BOLD_WEIGHTS = {"semibold", "demibold", "demi", "bold", "heavy", "extra bold", "black"}
_CAPS = {"butt": 0, "round": 1, "projecting": 2}
_JOINS = {"miter": 0, "round": 1, "bevel": 2}

# Operation tuples (kept small: thousands of them cross a process boundary):
#   ("path", segments, fill_rgba | None, stroke_rgba | None, linewidth, dash, cap, join, clip)
#   ("text", x, y, text, size, rgba, angle, bold, clip)
#   ("image", x, y, width, height, rgba_bytes, clip)
# segments: list of (code, flat coordinates); clip: (rect | None, segments | None).


@dataclass
class Drawing:
    """A recorded chart: its size in points and its operations (origin bottom-left)."""

    width: float
    height: float
    ops: list[tuple] = field(default_factory=list)


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


# Replay ---------------------------------------------------------------------------------------


def _add_segments(path, segments) -> None:
    last = (0.0, 0.0)
    for code, v in segments:
        if code == MplPath.MOVETO:
            path.moveTo(v[0], v[1])
            last = (v[0], v[1])
        elif code == MplPath.LINETO:
            path.lineTo(v[0], v[1])
            last = (v[0], v[1])
        elif code == MplPath.CURVE3:
            # Quadratic → cubic Bézier with the same shape.
            (x0, y0), (qx, qy), (x, y) = last, (v[0], v[1]), (v[2], v[3])
            path.curveTo(
                x0 + 2 / 3 * (qx - x0),
                y0 + 2 / 3 * (qy - y0),
                x + 2 / 3 * (qx - x),
                y + 2 / 3 * (qy - y),
                x,
                y,
            )
            last = (x, y)
        elif code == MplPath.CURVE4:
            path.curveTo(*v[:6])
            last = (v[4], v[5])
        elif code == MplPath.CLOSEPOLY:
            path.close()


def _apply_clip(canvas, clip) -> None:
    if clip is None:
        return
    rect, segs = clip
    if rect is not None:
        p = canvas.beginPath()
        p.rect(*rect)
        canvas.clipPath(p, stroke=0, fill=0)
    if segs:
        p = canvas.beginPath()
        _add_segments(p, segs)
        canvas.clipPath(p, stroke=0, fill=0)


def replay(drawing: Drawing, canvas, x: float, y: float, family: str) -> None:
    """Draw `drawing` on a reportlab canvas with its bottom-left corner at (x, y)."""
    canvas.saveState()
    canvas.translate(x, y)
    for op in drawing.ops:
        kind = op[0]
        if kind == "path":
            _, segs, fill, stroke, lw, dash, cap, join, clip = op
            canvas.saveState()
            _apply_clip(canvas, clip)
            p = canvas.beginPath()
            _add_segments(p, segs)
            if fill is not None:
                canvas.setFillColorRGB(*fill[:3], alpha=fill[3])
            if stroke is not None:
                canvas.setStrokeColorRGB(*stroke[:3], alpha=stroke[3])
                canvas.setLineWidth(lw)
                canvas.setLineCap(cap)
                canvas.setLineJoin(join)
                if dash:
                    canvas.setDash(list(dash[1]), dash[0])
            canvas.drawPath(p, stroke=int(stroke is not None), fill=int(fill is not None))
            canvas.restoreState()
        elif kind == "text":
            _, tx, ty, text, size, rgba, angle, bold, clip = op
            canvas.saveState()
            _apply_clip(canvas, clip)
            canvas.translate(tx, ty)
            if angle:
                canvas.rotate(angle)
            canvas.setFillColorRGB(*rgba[:3], alpha=rgba[3])
            draw_runs(canvas, 0.0, 0.0, text, size, family, bold)
            canvas.restoreState()
        elif kind == "image":
            _, ix, iy, w, h, data, clip = op
            from PIL import Image
            from reportlab.lib.utils import ImageReader

            img = Image.frombytes("RGBA", (w, h), data)
            canvas.saveState()
            _apply_clip(canvas, clip)
            canvas.drawImage(ImageReader(img), ix, iy, w, h, mask="auto")
            canvas.restoreState()
    canvas.restoreState()


def draw_runs(canvas, x: float, y: float, text: str, size: float, family: str, bold=False) -> float:
    """Draw `text` left-aligned at baseline (x, y), switching to the fallback font where the
    main font lacks a glyph; returns the width drawn."""
    from reportlab.pdfbase import pdfmetrics

    start = x
    for name, chunk in text_runs(text, family, bold):
        canvas.setFont(name, size)
        canvas.drawString(x, y, chunk)
        x += pdfmetrics.stringWidth(chunk, name, size)
    return x - start
