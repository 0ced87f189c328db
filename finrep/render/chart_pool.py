"""Chart jobs and the pool of worker processes that draws them.

`ChartSpec` is what a chart needs from a `pack.Visual`, as plain picklable data. `ChartPool`
draws many charts on ``python -m finrep.render.chart_worker`` processes and returns their
recorded `Drawing`s in order. This module does not import matplotlib (only the workers do),
so the process that writes the PDF stays light.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from finrep.errors import RenderError
from finrep.render.replay import Drawing
from finrep.render.theme import Theme


@dataclass(frozen=True)
class ChartSpec:
    """What a chart needs from a `pack.Visual`, as plain picklable data."""

    key: str
    kind: str
    data: pd.DataFrame
    units: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @classmethod
    def from_visual(cls, visual: Any) -> ChartSpec:
        return cls(
            key=visual.key,
            kind=visual.kind,
            data=visual.data,
            units=dict(visual.units),
            labels=dict(visual.labels),
            options=dict(visual.options),
            note=visual.note,
        )

    def unit(self, column: str) -> str:
        return self.units.get(column, "number")

    def label(self, column: str) -> str:
        return self.labels.get(column, column)


def _cost(spec: ChartSpec) -> int:
    return len(spec.data) + (5_000 if spec.kind in ("scatter", "bubble", "sankey") else 0)


class _Worker:
    """One `finrep.render.chart_worker` process."""

    def __init__(self) -> None:
        import subprocess
        import sys
        from pathlib import Path

        env = dict(os.environ)
        # The worker imports finrep from wherever this process did (a checkout or a wheel).
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        env.setdefault("MPLBACKEND", "Agg")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "finrep.render.chart_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )

    def call(self, job: tuple) -> tuple:
        import pickle

        from finrep.render.chart_worker import read_frame, write_frame

        assert self.proc.stdin is not None and self.proc.stdout is not None
        write_frame(self.proc.stdin, pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL))
        frame = read_frame(self.proc.stdout)
        if frame is None:
            raise OSError("chart worker stopped")
        return pickle.loads(frame)

    def close(self) -> None:
        import subprocess

        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


class ChartPool:
    """Draws charts on `workers` worker processes (0: one per core; 1: in this process).

    Start it early (e.g. before computing measures): the workers' start-up (importing
    matplotlib) then overlaps that work. Results are identical whatever the number of workers;
    a worker that cannot start or dies is replaced by drawing in this process.
    """

    def __init__(self, workers: int = 0) -> None:
        self.workers = workers if workers > 0 else (os.cpu_count() or 1)
        self._procs: list[_Worker] = []

    def start(self) -> ChartPool:
        if self.workers > 1 and not self._procs:
            try:
                self._procs = [_Worker() for _ in range(self.workers)]
            except OSError:  # no subprocesses here (sandbox): draw in this process
                self.close()
        return self

    def draw(
        self,
        jobs: Sequence[tuple[ChartSpec, float, float]],
        theme: Theme,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Drawing]:
        """Draw every (spec, width, height); results in the order of `jobs`."""
        import queue
        import threading

        total = len(jobs)
        results: list[Drawing | None] = [None] * total
        done = 0

        def finish(i: int, drawing: Drawing) -> None:
            nonlocal done
            results[i] = drawing
            done += 1
            if progress:
                progress(done, total)

        if self.workers > 1 and total > 1:
            self.start()
        if not self._procs or total <= 1:
            from finrep.render.charts import draw_chart

            for i, (spec, w, h) in enumerate(jobs):
                finish(i, draw_chart(spec, theme, w, h))
            return results  # type: ignore[return-value]

        todo: queue.Queue[int] = queue.Queue()
        for i in sorted(range(total), key=lambda i: -_cost(jobs[i][0])):
            todo.put(i)
        out: queue.Queue[tuple[int, str, Any]] = queue.Queue()

        def serve(worker: _Worker) -> None:
            while True:
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    break
                spec, w, h = jobs[i]
                try:
                    status, payload = worker.call((spec, theme, w, h))
                except (OSError, EOFError, ValueError) as exc:
                    out.put((i, "broken", exc))
                    break
                out.put((i, status, payload))
            out.put((-1, "exit", None))

        threads = [threading.Thread(target=serve, args=(p,), daemon=True) for p in self._procs]
        for t in threads:
            t.start()
        from finrep.render.charts import draw_chart

        error: str | None = None
        running = len(threads)
        while running:
            i, status, payload = out.get()
            if status == "exit":
                running -= 1
            elif status == "ok":
                finish(i, payload)
            elif status == "error":
                error = error or payload
                finish(i, Drawing(0, 0))
            else:  # the worker died: draw this chart here
                finish(i, draw_chart(*jobs[i][:1], theme, *jobs[i][1:]))
        for t in threads:
            t.join()
        while not todo.empty():  # every worker died before the queue emptied
            i = todo.get_nowait()
            spec, w, h = jobs[i]
            finish(i, draw_chart(spec, theme, w, h))
        if error:
            raise RenderError(error)
        return results  # type: ignore[return-value]

    def close(self) -> None:
        for proc in self._procs:
            proc.close()
        self._procs = []

    def __enter__(self) -> ChartPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
