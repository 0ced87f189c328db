"""Charts drawn on worker processes: same result as in-process, errors and dead workers."""

from __future__ import annotations

import os
import sys

import pandas as pd
import pytest

from finrep.errors import RenderError
from finrep.render.charts import ChartPool, ChartSpec, draw_chart
from finrep.render.theme import default_theme

THEME = default_theme()


def jobs(n: int = 6):
    out = []
    for i in range(n):
        frame = pd.DataFrame({"label": [f"item {j}" for j in range(i + 2)],
                              "value": [float(j + i) for j in range(i + 2)]})  # fmt: skip
        out.append((ChartSpec(f"chart{i}", "bar", frame), 240.0 + i, 160.0))
    return out


def test_workers_draw_exactly_what_this_process_draws():
    expected = [draw_chart(spec, THEME, w, h) for spec, w, h in jobs()]
    seen = []
    with ChartPool(2) as pool:
        got = pool.draw(jobs(), THEME, progress=lambda done, total: seen.append((done, total)))
    assert [d.ops for d in got] == [d.ops for d in expected]
    assert seen[-1] == (6, 6) and len(seen) == 6


def test_a_chart_error_in_a_worker_is_a_render_error():
    bad = [(ChartSpec("broken", "bar", pd.DataFrame({"label": ["a"]})), 200.0, 100.0)]
    with ChartPool(2) as pool, pytest.raises(RenderError, match="'broken'.*lacks column"):
        pool.draw(jobs(2) + bad, THEME)


def test_workers_that_cannot_run_fall_back_to_this_process(monkeypatch):
    expected = [draw_chart(spec, THEME, w, h).ops for spec, w, h in jobs(3)]
    monkeypatch.setattr(sys, "executable", "/bin/false")  # starts, then exits at once
    with ChartPool(2) as pool:
        got = pool.draw(jobs(3), THEME)
    assert [d.ops for d in got] == expected


def test_one_worker_means_no_subprocess():
    pool = ChartPool(1).start()
    assert pool._procs == []
    assert len(pool.draw(jobs(2), THEME)) == 2


def test_submitted_charts_are_drawn_while_the_caller_goes_on():
    expected = [draw_chart(spec, THEME, w, h).ops for spec, w, h in jobs(4)]
    with ChartPool(2) as pool:
        handles = pool.submit(jobs(4), THEME)  # returns before anything is drawn
        assert len(handles) == 4
        first = pool.collect(handles[:2])
        rest = pool.collect(handles[2:])
    assert [d.ops for d in first + rest] == expected


def test_charts_still_queued_at_close_are_drawn_here_when_collected():
    expected = [draw_chart(spec, THEME, w, h).ops for spec, w, h in jobs(6)]
    pool = ChartPool(2).start()
    handles = pool.submit(jobs(6), THEME)
    pool.close()  # workers stop; what they had not started is cancelled
    assert [d.ops for d in pool.collect(handles)] == expected


def test_one_worker_draws_nothing_until_collected():
    pool = ChartPool(1)
    handles = pool.submit(jobs(2), THEME)
    assert pool._procs == [] and not any(h.future.done() for h in handles)
    assert [d.ops for d in pool.collect(handles)] == [
        draw_chart(spec, THEME, w, h).ops for spec, w, h in jobs(2)
    ]


def test_workers_exit_as_soon_as_their_input_ends():
    import time

    pool = ChartPool(2).start()
    pool.draw(jobs(2), THEME)
    procs = [w.proc for w in pool._procs if w.proc is not None]
    began = time.perf_counter()
    pool.close()
    # Exit code 0: the worker finished cleanly (os._exit after its last answer), not killed.
    assert procs and [p.returncode for p in procs] == [0] * len(procs)
    assert time.perf_counter() - began < 10


@pytest.mark.skipif(not hasattr(os, "fork"), reason="workers are forked only where fork exists")
def test_one_interpreter_is_started_and_the_other_workers_are_forked_from_it():
    expected = [draw_chart(spec, THEME, w, h).ops for spec, w, h in jobs(6)]
    pool = ChartPool(3).start()
    started = [w for w in pool._procs if w.proc is not None]
    forked = [w for w in pool._procs if w.proc is None]
    assert len(started) == 1 and len(forked) == 2
    # Each forked worker answers on its own pipes.
    for worker in forked:
        spec, w, h = jobs(1)[0]
        status, drawing = worker.call((spec, THEME, w, h))
        assert status == "ok" and drawing.ops == expected[0]
    assert [d.ops for d in pool.draw(jobs(6), THEME)] == expected
    # End of input ends a forked worker: its end of the pipe closes (end of file here).
    worker = forked[0]
    worker.stdin.close()
    assert worker.stdout.read() == b""
    pool.close()
