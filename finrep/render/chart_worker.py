"""A chart-drawing worker process: ``python -m finrep.render.chart_worker [R,W ...]``.

Protocol on stdin/stdout: frames of an 8-byte big-endian length and a pickle. The parent sends
``(spec, theme, width, height)``; the worker answers ``("ok", Drawing)`` or
``("error", message)``. End of input ends the worker. Each ``R,W`` argument names a pipe pair
(read fd, write fd) served the same way by one more worker, forked from this one once it has
warmed up, so the start-up (matplotlib's import and caches) is paid once for all of them.

A fresh interpreter (rather than multiprocessing's fork or spawn from the caller) never
inherits the caller's threads (DuckDB's, say) and never re-imports the caller's main module, so
charts can be drawn in parallel from any script, notebook or service; the workers forked here
come from this single-purpose process, which runs no threads of its own.
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


def worker_env() -> dict[str, str]:
    """The environment for a worker interpreter (`python -m finrep…`): this one's, with finrep
    importable from wherever this process imported it (a checkout or a wheel)."""
    from pathlib import Path

    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


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


def serve(source, sink) -> None:
    """Answer jobs from `source` on `sink` until end of input."""
    from finrep.errors import FinrepError
    from finrep.render.charts import draw_chart

    while (frame := read_frame(source)) is not None:
        spec, theme, width, height = pickle.loads(frame)
        try:
            result: tuple = ("ok", draw_chart(spec, theme, width, height))
        except FinrepError as exc:
            result = ("error", str(exc))
        except Exception as exc:  # never die silently: the parent reports it
            result = ("error", f"visual {spec.key!r}: {type(exc).__name__}: {exc}")
        write_frame(sink, pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))


def _fork_workers(pairs: list[tuple[int, int]]) -> list[int]:
    """Fork one more worker per (input fd, output fd) pair, after the warm-up, so they share
    this process's imported modules and caches instead of paying the start-up again; their
    process ids."""
    mine = {fd for pair in pairs for fd in pair}
    pids = []
    for read_fd, write_fd in pairs:
        try:
            pid = os.fork()
        except OSError:
            pid = -1  # the parent sees end of file on this pair and draws those charts itself
        if pid == 0:
            # Keep only this pair: the first worker's stdin/stdout and the other pairs must
            # see end of file when their owner closes them, not stay open here.
            for fd in (mine - {read_fd, write_fd}) | {0, 1}:
                with contextlib.suppress(OSError):
                    os.close(fd)
            with contextlib.suppress(BaseException):
                serve(os.fdopen(read_fd, "rb"), os.fdopen(write_fd, "wb"))
            os._exit(0)
        if pid > 0:
            pids.append(pid)
    for fd in mine:
        os.close(fd)
    return pids


def main() -> None:
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must never corrupt the protocol
    from finrep.render.charts import draw_chart

    _warm_up(draw_chart)
    pairs = [(int(r), int(w)) for r, w in (arg.split(",") for arg in sys.argv[1:])]
    forked = _fork_workers(pairs) if pairs else []
    serve(source, sink)
    for pid in forked:  # their input ends with ours; waiting also counts their CPU time in ours
        with contextlib.suppress(OSError):
            os.waitpid(pid, 0)
    # Every answer is written and flushed: skip the interpreter's teardown (a second or so
    # with matplotlib loaded), which the parent would otherwise wait for.
    os._exit(0)


if __name__ == "__main__":
    main()
