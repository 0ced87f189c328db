"""A chart-drawing worker process: ``python -m finrep.render.chart_worker``.

Protocol on stdin/stdout: frames of an 8-byte big-endian length and a pickle. The parent sends
``(spec, theme, width, height)``; the worker answers ``("ok", Drawing)`` or
``("error", message)``. End of input ends the worker.

A fresh interpreter (rather than multiprocessing's fork or spawn) never inherits the caller's
threads (DuckDB's, say) and never re-imports the caller's main module, so charts can be drawn
in parallel from any script, notebook or service.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys


def read_frame(stream) -> bytes | None:
    header = stream.read(8)
    if len(header) < 8:
        return None
    size = int.from_bytes(header, "big")
    data = stream.read(size)
    if len(data) < size:
        return None
    return data


def write_frame(stream, payload: bytes) -> None:
    stream.write(len(payload).to_bytes(8, "big"))
    stream.write(payload)
    stream.flush()


def _warm_up(draw_chart) -> None:
    """Load fonts and matplotlib's caches while the parent is still computing measures."""
    import pandas as pd

    from finrep.render.charts import ChartSpec
    from finrep.render.theme import Theme

    theme = Theme(("#0072B2",), "#1F3A5F", "#0072B2", "#009E73", "#D55E00", "#6B7280",
                  "#FFFFFF", "#E5E7EB", "DejaVu Sans")  # fmt: skip
    frame = pd.DataFrame({"x": ["a", "b"], "y": [1.0, 2.0]})
    with contextlib.suppress(Exception):  # warming up is an optimisation only
        draw_chart(ChartSpec("warm_up", "line", frame), theme, 120, 80)


def main() -> None:
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must never corrupt the protocol
    from finrep.errors import FinrepError
    from finrep.render.charts import draw_chart

    _warm_up(draw_chart)
    while (frame := read_frame(source)) is not None:
        spec, theme, width, height = pickle.loads(frame)
        try:
            result: tuple = ("ok", draw_chart(spec, theme, width, height))
        except FinrepError as exc:
            result = ("error", str(exc))
        except Exception as exc:  # never die silently: the parent reports it
            result = ("error", f"visual {spec.key!r}: {type(exc).__name__}: {exc}")
        write_frame(sink, pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    # Every answer is written and flushed: skip the interpreter's teardown (a second or so
    # with matplotlib loaded), which the parent would otherwise wait for.
    os._exit(0)


if __name__ == "__main__":
    main()
