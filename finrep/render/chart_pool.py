"""Chart jobs and the pool of worker processes that draws them.

`ChartSpec` is what a chart needs from a `pack.Visual`, as plain picklable data. `ChartPool`
draws many charts on ``python -m finrep.render.chart_worker`` processes and returns their
recorded `Drawing`s in order. This module does not import matplotlib (only the workers do),
so the process that writes the PDF stays light.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import pickle
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
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


@dataclass(eq=False)
class Job:
    """One chart queued on a `ChartPool` (see `ChartPool.submit`)."""

    spec: ChartSpec
    theme: Theme
    width: float
    height: float
    future: futures.Future = field(default_factory=futures.Future)


class _WorkerBroken(Exception):
    """The worker process died or answered garbage: the chart is drawn in this process."""


def _cost(spec: ChartSpec) -> int:
    return len(spec.data) + (5_000 if spec.kind in ("scatter", "bubble", "sankey") else 0)


class _Worker:
    """One chart worker process, reached over a pair of pipes (`proc`: the process when it is
    our child; a worker forked by the first one is not)."""

    def __init__(self, stdin, stdout, proc=None) -> None:
        self.stdin, self.stdout, self.proc = stdin, stdout, proc

    def call(self, job: tuple) -> tuple:
        from finrep.render.chart_worker import read_frame, write_frame

        write_frame(self.stdin, pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL))
        frame = read_frame(self.stdout)
        if frame is None:
            raise OSError("chart worker stopped")
        return pickle.loads(frame)

    def end_input(self) -> None:
        with contextlib.suppress(OSError):
            self.stdin.close()  # end of input: the worker exits

    def close(self) -> None:
        import subprocess

        self.end_input()
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(OSError):
            self.stdout.close()


def _start_workers(n: int) -> list[_Worker]:
    """`n` chart workers. Where the OS can fork, one fresh interpreter is started and, once it
    has imported matplotlib and warmed up, it forks the other n − 1 (they share its memory
    pages and its start-up is paid once); elsewhere n interpreters are started."""
    import subprocess
    import sys

    from finrep.render.chart_worker import worker_env

    env = worker_env()
    env.setdefault("MPLBACKEND", "Agg")
    forking = hasattr(os, "fork")
    extra = n - 1 if forking else 0
    pairs = [(os.pipe(), os.pipe()) for _ in range(extra)]  # (to the worker, from the worker)
    child_ends = [fd for (r_in, _), (_, w_out) in pairs for fd in (r_in, w_out)]
    args = [f"{r_in},{w_out}" for (r_in, _), (_, w_out) in pairs]

    def start(args: list[str], pass_fds: Sequence[int] = ()) -> _Worker:
        proc = subprocess.Popen(
            [sys.executable, "-m", "finrep.render.chart_worker", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # Not read (a worker's stray output must not fill a pipe and stall it).
            stderr=subprocess.DEVNULL,
            env=env,
            pass_fds=tuple(pass_fds),
        )
        return _Worker(proc.stdin, proc.stdout, proc)

    try:
        workers = [start(args, child_ends)]
    except OSError:
        for (r_in, w_in), (r_out, w_out) in pairs:
            for fd in (r_in, w_in, r_out, w_out):
                os.close(fd)
        raise
    finally:
        for fd in child_ends:  # held by the worker now; the parent keeps only its own ends
            with contextlib.suppress(OSError):
                os.close(fd)
    for (_, w_in), (r_out, _) in pairs:
        workers.append(_Worker(os.fdopen(w_in, "wb"), os.fdopen(r_out, "rb")))
    while len(workers) < n:
        workers.append(start([]))
    return workers


class ChartPool:
    """Draws charts on `workers` worker processes (0: one per core; 1: in this process).

    Start it early (e.g. before computing measures): the workers' start-up (importing
    matplotlib) then overlaps that work. `submit` queues charts and returns at once, so charts
    of pages already computed are drawn while later pages compute; `collect` waits for them.
    Results are identical whatever the number of workers; a worker that cannot start or dies
    is replaced by drawing in this process (the only case where this process imports
    matplotlib).
    """

    def __init__(self, workers: int = 0) -> None:
        self.workers = workers if workers > 0 else (os.cpu_count() or 1)
        self._procs: list[_Worker] = []
        self._threads: list[threading.Thread] = []
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()

    def start(self) -> ChartPool:
        if self.workers > 1 and not self._procs:
            try:
                self._procs = _start_workers(self.workers)
            except OSError:  # no subprocesses here (sandbox): draw in this process
                self.close()
                return self
            self._threads = [
                threading.Thread(target=self._serve, args=(p,), daemon=True, name="finrep-chart")
                for p in self._procs
            ]
            for t in self._threads:
                t.start()
        return self

    def _serve(self, worker: _Worker) -> None:
        """One thread per worker process: send it queued jobs, one at a time."""
        while True:
            _, _, job = self._queue.get()
            if job is None:  # close()
                return
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                job.future.set_result(worker.call((job.spec, job.theme, job.width, job.height)))
            except (OSError, EOFError, ValueError, pickle.UnpicklingError) as exc:
                job.future.set_exception(_WorkerBroken(str(exc)))
                return  # this worker is gone; the others (or this process) do the rest

    def submit(self, jobs: Sequence[tuple[ChartSpec, float, float]], theme: Theme) -> list[Job]:
        """Queue every (spec, width, height) and return at once; the largest charts go first.
        With one worker, nothing is drawn until `collect`."""
        handles = [Job(spec, theme, w, h) for spec, w, h in jobs]
        if self.workers > 1 and len(handles) > 1:
            self.start()  # (a lone chart is not worth starting processes for)
        if self._threads:
            for job in sorted(handles, key=lambda j: -_cost(j.spec)):
                self._queue.put((-_cost(job.spec), next(self._order), job))
        return handles

    def collect(
        self, handles: Sequence[Job], progress: Callable[[int, int], None] | None = None
    ) -> list[Drawing]:
        """The drawings of `handles` (from `submit`), in order. Raises RenderError when a
        chart cannot be drawn (after every chart has been tried)."""
        total, done = len(handles), 0
        results: list[Drawing | None] = [None] * total
        error: str | None = None
        queued = bool(self._threads)
        waiting = {job.future: i for i, job in enumerate(handles) if queued}
        local = [] if queued else list(range(total))
        while waiting:
            finished, _ = futures.wait(waiting, timeout=0.5, return_when=futures.FIRST_COMPLETED)
            if not finished and not any(t.is_alive() for t in self._threads):
                # Every worker died: what is still queued is drawn here.
                finished = {f for f in waiting if f.cancel() or f.done()}
            for f in finished:
                i = waiting.pop(f)
                if f.cancelled() or isinstance(f.exception(), _WorkerBroken):
                    local.append(i)
                    continue
                status, payload = f.result()
                if status == "ok":
                    results[i] = payload
                else:
                    error = error or payload
                    results[i] = Drawing(0, 0)
                done += 1
                if progress:
                    progress(done, total)
        for i in sorted(local):
            from finrep.render.charts import draw_chart  # matplotlib only when needed here

            job = handles[i]
            try:
                results[i] = draw_chart(job.spec, job.theme, job.width, job.height)
            except RenderError as exc:
                error, results[i] = error or str(exc), Drawing(0, 0)
            done += 1
            if progress:
                progress(done, total)
        if error:
            raise RenderError(error)
        return results  # type: ignore[return-value]

    def draw(
        self,
        jobs: Sequence[tuple[ChartSpec, float, float]],
        theme: Theme,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Drawing]:
        """Draw every (spec, width, height); results in the order of `jobs`."""
        return self.collect(self.submit(jobs, theme), progress)

    def close(self) -> None:
        """Stop the workers; charts still queued are not drawn (their handles are cancelled)."""
        while True:
            try:
                _, _, job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.future.cancel()
        for _ in self._threads:
            self._queue.put((math.inf, next(self._order), None))
        for t in self._threads:  # a chart being drawn is finished first
            t.join(timeout=30)
        for proc in self._procs:  # all at once: the first worker waits for those it forked
            proc.end_input()
        for proc in self._procs:
            proc.close()
        self._procs, self._threads = [], []

    def __enter__(self) -> ChartPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
