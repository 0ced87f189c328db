"""Per-invocation CLI state (global options) and the shared consoles."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from finrep.config import Config


def console_out() -> Console:
    return Console(file=sys.stdout, no_color="NO_COLOR" in os.environ)


def console_err() -> Console:
    return Console(file=sys.stderr, no_color="NO_COLOR" in os.environ)


@dataclass
class State:
    quiet: bool = False
    debug: bool = False
    config: Config | None = field(default=None)

    @contextmanager
    def progress(self) -> Iterator[Callable[[str, int, int], None]]:
        """A callback ``(step, done, total)`` shown as rich progress bars on a terminal.

        Silent with --quiet or when stderr is not a terminal (cron, pipes, tests).
        """
        if self.quiet or not sys.stderr.isatty():
            yield lambda step, done, total: None
            return
        bars = Progress(
            TextColumn("{task.description:<28}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console_err(),
            transient=False,
        )
        tasks: dict[str, int] = {}

        def update(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bars.add_task(step, total=total)
            bars.update(tasks[step], completed=done, total=total)

        with bars:
            yield update
