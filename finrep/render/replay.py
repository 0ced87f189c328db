"""Replay recorded charts (`Drawing`) on a reportlab canvas: paths, text and images.

Kept free of matplotlib so that the process writing the PDF need not import it when the
charts are drawn by worker processes (see `finrep.render.vector` for the recording side).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from finrep.render.theme import text_runs

# matplotlib.path.Path codes, as recorded.
MOVETO, LINETO, CURVE3, CURVE4, CLOSEPOLY = 1, 2, 3, 4, 79


@dataclass
class Drawing:
    """A recorded chart: its size in points and its operations (origin bottom-left)."""

    width: float
    height: float
    ops: list[tuple] = field(default_factory=list)


def _add_segments(path, segments) -> None:
    last = (0.0, 0.0)
    for code, v in segments:
        if code == MOVETO:
            path.moveTo(v[0], v[1])
            last = (v[0], v[1])
        elif code == LINETO:
            path.lineTo(v[0], v[1])
            last = (v[0], v[1])
        elif code == CURVE3:
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
        elif code == CURVE4:
            path.curveTo(*v[:6])
            last = (v[4], v[5])
        elif code == CLOSEPOLY:
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
